"""A served model as a verifier: the ``Judge``, batch in, verdicts out.

    judge = Judge(config, cache_path="runs/x/judge_cache.sqlite")   # config: rl.config.JudgeConfig, or the same fields
    judge.ping()                                                     # the served model ids, or JudgeUnavailable
    verdicts = judge.judge([JudgeItem("What is 2+3?", "<think>..</think> 5", "5", item_id="p1")])
    judge.stats()   # {"requests": 1, "cache_hits": 0, "prefiltered": 0, "unparsable": 0, ...} since the last call

Each item goes: think block stripped -> pre-filter (``prefilter``: no answer / master keys are wrong,
no call) -> cache -> the backend, every pending item of the batch at once -> the strict reply parser
(``parse``) -> cache. A judge that could not be reached, ran out of time or replied without a verdict
line gives an unjudged verdict (status ``timeout`` / ``error``) naming the item: the training loop masks
it and counts it against ``run.max_unjudged_fraction``; nothing here raises for one bad item.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from verifiers.judge.backend import JudgeBackend, OpenAIBackend
from verifiers.judge.cache import JudgeCache, cache_key
from verifiers.judge.parse import parse_reply
from verifiers.judge.prefilter import prefilter
from verifiers.judge.prompt import answer_part, fill_template, load_template
from verifiers.verdict import Verdict, unjudged

log = logging.getLogger("rlvr.judge")


class JudgeSettings(Protocol):
    """What the judge reads from its config (``rl.config.JudgeConfig`` has these fields, each documented there)."""

    backend: str
    base_url: str
    model: str
    api_key_env: str
    template: str
    template_without_reference: str
    verdict_format: str
    score_range: tuple[float, float]
    strip_thinking: bool
    max_concurrency: int
    batch_size: int
    timeout_s: float
    retries: int
    backoff_s: float
    max_tokens: int
    cache: bool
    prefilter: bool
    num_gpus: float
    load_timeout_s: float


@dataclass(frozen=True)
class JudgeItem:
    question: str  # the prompt the response answers (its last user turn)
    response: str  # the completion as sampled, think block and all
    reference: str = ""  # "" -> the template without a reference
    item_id: str | None = None  # named in the reasons of verdicts that went wrong


COUNTERS = ("requests", "retries", "cache_hits", "duplicates", "prefiltered", "unparsable", "timeouts", "errors")


def make_backend(config: JudgeSettings) -> JudgeBackend:
    if config.backend == "openai":
        return OpenAIBackend(config.base_url, config.model, api_key_env=config.api_key_env,
                             max_concurrency=config.max_concurrency, timeout_s=config.timeout_s, retries=config.retries,
                             backoff_s=config.backoff_s, max_tokens=config.max_tokens)
    if config.backend == "local":  # one Ray actor holding a transformers model, shared by every caller
        from verifiers.judge.local import LocalBackend

        return LocalBackend(config.model, num_gpus=config.num_gpus, batch_size=config.batch_size, max_tokens=config.max_tokens,
                            timeout_s=config.timeout_s, load_timeout_s=config.load_timeout_s)
    raise ValueError(f"unknown judge backend {config.backend!r}; expected 'openai' or 'local'")


class Judge:
    def __init__(self, config: JudgeSettings, *, cache_path: str | Path | None = None, backend: JudgeBackend | None = None):
        self.config = config
        self.templates = (load_template(config.template), load_template(config.template_without_reference))
        self.cache = JudgeCache(cache_path) if config.cache and cache_path is not None else None
        self.backend = backend or make_backend(config)
        self._reset()

    def _reset(self) -> None:
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._latency_sum = 0.0

    def swap_counts(self, counts: tuple[dict[str, int], float] | None = None) -> tuple[dict[str, int], float]:
        """Put ``counts`` (fresh ones when None) in place of the counters and return the old: how a caller counts
        a batch of its own apart (``rl.engine.judging.JudgeRouting.counted_apart``), then gives the rest back."""
        old = (self._counts, self._latency_sum)
        if counts is None:
            self._reset()
        else:
            self._counts, self._latency_sum = dict(counts[0]), counts[1]
        return old

    def ping(self) -> list[str]:
        return self.backend.ping()

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order."""
        verdicts: list[Verdict | None] = [None] * len(items)
        asked: list[tuple[int, str, str, str]] = []  # (index, message, cache key, answer shown)
        repeats: dict[str, list[int]] = {}  # cache key -> later items asking exactly what an asked item asks
        for index, item in enumerate(items):
            answer = answer_part(item.response, self.config.strip_thinking)
            early = prefilter(answer) if self.config.prefilter else None
            if early is not None:
                verdicts[index] = early
                self._counts["prefiltered"] += 1
                continue
            if answer is None:  # pre-filter off: still nothing to show a judge
                verdicts[index] = Verdict(0.0, "no_answer", None, "no answer after the think block")
                continue
            template = self.templates[0] if item.reference.strip() else self.templates[1]
            key = cache_key(template, self.config.model, item.question, answer, item.reference, self.config.verdict_format)
            cached = self.cache.get(key) if self.cache else None
            if cached is not None:
                verdicts[index] = cached
                self._counts["cache_hits"] += 1
                continue
            if key in repeats:  # a group's samples often give the same answer: one request answers them all
                repeats[key].append(index)
                self._counts["duplicates"] += 1
                continue
            repeats[key] = []
            message = fill_template(template, question=item.question, reference=item.reference, response=answer)
            asked.append((index, message, key, answer))
        replies = self.backend.complete([message for _, message, _, _ in asked]) if asked else []
        unparsable: list[str] = []
        for (index, _, key, answer), reply in zip(asked, replies):
            verdict = self._verdict(items[index], reply, answer)
            if reply.status == "ok" and verdict.unjudged:
                unparsable.append(verdict.reason)
            elif not verdict.unjudged and self.cache is not None:
                self.cache.put(key, verdict)
            verdicts[index] = verdict
            for repeat in repeats[key]:  # the same verdict, naming its own item where it names one
                label = f"item {items[repeat].item_id!r}: "
                reason = verdict.reason.replace(f"item {items[index].item_id!r}: ", label, 1) if verdict.unjudged else verdict.reason
                verdicts[repeat] = Verdict(verdict.score, verdict.status, verdict.extracted, reason)
        if unparsable:  # one example per batch: enough to see what the judge says, not a flood
            log.warning("judge: %d of %d replies had no verdict line, e.g. %s", len(unparsable), len(asked), unparsable[0])
        return verdicts  # type: ignore[return-value]  # every slot is filled above

    def _verdict(self, item: JudgeItem, reply, answer: str) -> Verdict:
        label = f"item {item.item_id!r}: " if item.item_id is not None else ""
        self._counts["requests"] += 1
        self._counts["retries"] += reply.retries
        if reply.status != "ok":
            self._counts["timeouts" if reply.status == "timeout" else "errors"] += 1
            return unjudged(reply.status, label + reply.reason, answer[:200])
        self._latency_sum += reply.latency_s
        verdict = parse_reply(reply.text, self.config.verdict_format, tuple(self.config.score_range))
        if verdict.unjudged:
            self._counts["unparsable"] += 1
            return unjudged(verdict.status, label + verdict.reason, answer[:200])
        return Verdict(verdict.score, verdict.status, answer[:200], verdict.reason)

    def stats(self) -> dict[str, float]:
        """Counts since the previous call: requests sent, retries, cache hits, duplicates (items of a batch answered
        by an identical item's request), pre-filtered, unparsable replies, timeouts, errors, and ``latency_s``, the
        mean seconds of an answered request (0 when none was)."""
        answered = self._counts["requests"] - self._counts["timeouts"] - self._counts["errors"]
        out: dict[str, float] = {**self._counts, "latency_s": self._latency_sum / answered if answered else 0.0}
        self._reset()
        return out

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
