"""Where the judge's replies come from: a small interface and the OpenAI-compatible HTTP backend.

A backend turns a batch of user messages into a batch of ``Reply``; it never raises for one request
that failed: a reply that did not come is a ``Reply`` with status ``timeout`` or ``error`` and a reason,
which the judge turns into an unjudged verdict. Any server speaking ``/v1/chat/completions`` works
(vLLM, SGLang, ``transformers serve``, a hosted API)::

    backend = OpenAIBackend("http://127.0.0.1:8000/v1", "Qwen/Qwen3-8B", max_concurrency=8, timeout_s=30)
    backend.complete(["Question: ... VERDICT?"])     # [Reply(text='...VERDICT: YES', status='ok', ...)]
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

# A local server needs no key, but the client refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed-for-a-local-server"


@dataclass(frozen=True)
class Reply:
    text: str | None  # the judge's reply; None when none came
    status: Literal["ok", "timeout", "error"] = "ok"
    reason: str = ""  # why no reply came
    latency_s: float = 0.0  # from the first attempt to the answer, retries and their waits included
    retries: int = 0


class JudgeBackend(Protocol):
    def complete(self, messages: Sequence[str]) -> list[Reply]: ...
    def ping(self) -> list[str]: ...
    def close(self) -> None: ...


class JudgeUnavailable(RuntimeError):
    """The judge endpoint does not answer; the message names it."""


class OpenAIBackend:
    """Chat completions over HTTP with the ``openai`` client: at most ``max_concurrency`` requests in flight,
    each with a ``timeout_s`` deadline, and ``retries`` more attempts after a connection error, a 5xx or a 429,
    waiting ``backoff_s``, then twice that, and so on. Greedy decoding: a judge must say the same thing twice."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", max_concurrency: int = 8,
                 timeout_s: float = 30.0, retries: int = 2, backoff_s: float = 0.5, max_tokens: int = 512):
        self.base_url, self.model = base_url.rstrip("/"), model
        self.api_key_env, self.max_concurrency = api_key_env, max_concurrency
        self.timeout_s, self.retries, self.backoff_s, self.max_tokens = timeout_s, retries, backoff_s, max_tokens
        # One loop for the judge's life: the HTTP client's connections belong to the loop that opened them.
        self._loop = asyncio.new_event_loop()
        self._client = None

    def _connect(self):
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(base_url=self.base_url, api_key=os.environ.get(self.api_key_env) or PLACEHOLDER_API_KEY,
                                       max_retries=0, timeout=self.timeout_s)  # retries are ours: counted, and 5xx/429 only
        return self._client

    def complete(self, messages: Sequence[str]) -> list[Reply]:
        return self._loop.run_until_complete(self._complete_all(messages))

    async def _complete_all(self, messages: Sequence[str]) -> list[Reply]:
        limit = asyncio.Semaphore(self.max_concurrency)
        return list(await asyncio.gather(*(self._complete_one(message, limit) for message in messages)))

    async def _complete_one(self, message: str, limit: asyncio.Semaphore) -> Reply:
        import openai

        client = self._connect()
        # The slot is held through the backoff too: a server answering 429 or 503 needs less load, not a queue jump.
        async with limit:
            start, problem = time.monotonic(), ""
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                try:
                    response = await asyncio.wait_for(client.chat.completions.create(
                        model=self.model, messages=[{"role": "user", "content": message}],
                        temperature=0.0, max_tokens=self.max_tokens), self.timeout_s)
                    return Reply(response.choices[0].message.content or "", "ok", "", time.monotonic() - start, attempt)
                except (asyncio.TimeoutError, openai.APITimeoutError):
                    # Not retried: a judge too slow for its deadline stays slow, and each retry would add a deadline to the step.
                    return Reply(None, "timeout", f"judge {self.base_url} gave no reply within timeout_s={self.timeout_s:g}",
                                 time.monotonic() - start, attempt)
                except openai.APIConnectionError as exc:
                    problem = f"cannot connect ({exc.__cause__ or exc})"
                except openai.APIStatusError as exc:
                    problem = f"HTTP {exc.status_code}: {_short(exc.message)}"
                    if exc.status_code != 429 and exc.status_code < 500:  # our request is wrong: asking again will not help
                        return Reply(None, "error", f"judge {self.base_url}: {problem}", time.monotonic() - start, attempt)
                except Exception as exc:  # a malformed answer, say: this item goes unjudged, the batch goes on
                    return Reply(None, "error", f"judge {self.base_url}: {type(exc).__name__}: {_short(str(exc))}",
                                 time.monotonic() - start, attempt)
            return Reply(None, "error", f"judge {self.base_url}: {problem}, {self.retries + 1} attempts",
                         time.monotonic() - start, self.retries)

    def ping(self) -> list[str]:
        """The ids of the models the endpoint serves (GET /v1/models); ``JudgeUnavailable`` naming the URL otherwise."""
        async def models() -> list[str]:
            page = await self._connect().models.list(timeout=self.timeout_s)
            return [m.id for m in page.data]
        try:
            return self._loop.run_until_complete(models())
        except Exception as exc:
            raise JudgeUnavailable(f"judge endpoint {self.base_url}/models does not answer: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._client is not None:
            self._loop.run_until_complete(self._client.close())
        self._loop.close()


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
