"""Tools a model may call: finding them, describing them to the chat template, running a turn's calls.

    >>> from rl.envs.tools import ToolBox, parse_tool_calls
    >>> box = ToolBox(["calculator"])
    >>> turn = '<tool_call>\\n{"name": "calculator", "arguments": {"expression": "123456*789"}}\\n</tool_call>'
    >>> box.run(parse_tool_calls(turn).calls)
    [ToolResult(name='calculator', content='97406784', status='ok')]
    >>> box.close()

A tool is a plain typed function with a Google-style docstring: the docstring and the type
hints are its JSON schema (``tool_schema``), which goes to ``tokenizer.apply_chat_template(
tools=box.schemas)``, and the model calls it by the function's name. It returns text (or
anything with a ``str()``; other values go through ``json.dumps`` when they can). Built-ins
(``python``, ``calculator``) are in ``rl.registries.TOOLS``; a plug-in is an entry point in
the group ``rlvr.tools`` or any ``module:function``.

Nothing the model writes crashes a rollout: each call ends as a ``ToolResult`` whose status
says whose fault a failure was (``rl.envs.tool_calls.TOOL_STATUSES``). A tool signals that
its own infrastructure failed, not the model's input, by raising ``EnvironmentFailure``
(status "env_failure"), and that it ran out of time by raising ``TimeoutError`` ("timeout").
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from queue import SimpleQueue
from typing import Any

from rl.envs.tool_calls import EnvironmentFailure, ToolResult
from rl.registries import TOOLS
from verifiers.tool_call_syntax import ParsedCalls, ToolCall, argument_problem, parse_tool_calls

__all__ = ["EnvironmentFailure", "ParsedCalls", "ToolBox", "ToolCall", "ToolNotFound", "ToolResult", "load_tool",
           "parse_tool_calls", "time_left", "tool_schema", "truncate_middle"]

ENTRY_POINT_GROUP = "rlvr.tools"


class ToolNotFound(LookupError):
    pass


def load_tool(name: str | Callable) -> Callable:
    """A tool by registered name, entry point (group ``rlvr.tools``) or ``module:function``; a callable as is."""
    if callable(name):
        return name
    from verifiers.registry import load_plugin  # the same resolution as verifiers', errors included

    spec = str(name).strip()
    if spec in TOOLS:
        return TOOLS.get(spec)
    return load_plugin(spec, group=ENTRY_POINT_GROUP, what="tool", error=ToolNotFound, known=TOOLS.names())


def tool_schema(fn: Callable) -> dict:
    """The OpenAI-style function schema of ``fn``, from its type hints and Google-style docstring."""
    from transformers.utils import get_json_schema

    try:
        return get_json_schema(fn)
    except Exception as exc:  # transformers' own exceptions say what is missing, but not whose
        where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        raise ValueError(f"tool {where} has no usable JSON schema: {exc}. A tool needs a type hint on every "
                         "argument and a Google-style docstring with a description and an 'Args:' line for each") from exc


# ---------------------------------------------------------------- running calls
_current = threading.local()  # the deadline of the call this worker thread is running


def time_left(default: float) -> float:
    """Seconds left to the tool call running on this thread; ``default`` outside a ``ToolBox`` call.

    Built-in tools bound their own work by it, so that they stop (and say so) before the box
    abandons them: an abandoned call still holds its thread, and a sandbox container, until it ends.
    """
    deadline = getattr(_current, "deadline", None)
    return default if deadline is None else deadline - time.monotonic()


class _Job:
    __slots__ = ("abandoned", "call", "fn", "result", "started")

    def __init__(self, call: ToolCall, fn: Callable) -> None:
        self.call, self.fn = call, fn
        self.started: float | None = None
        self.result: ToolResult | None = None
        self.abandoned = False


class ToolBox:
    """The tools of one environment, and a pool of threads that runs a turn's calls concurrently.

    names:       tools to offer (see ``load_tool``); the model calls each by its function's name.
    timeout_s:   the most one call may take, from the moment it starts; then it is abandoned.
    max_workers: calls running at once; further calls wait for a free worker.
    """

    def __init__(self, names: Sequence[str], *, timeout_s: float = 10.0, max_workers: int = 16) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.timeout_s = timeout_s
        self.max_workers = max_workers
        self.schemas: list[dict] = []
        self._tools: dict[str, tuple[Callable, dict]] = {}
        for name in names:
            fn = load_tool(name)
            schema = tool_schema(fn)
            called = schema["function"]["name"]
            if called in self._tools:
                raise ValueError(f"two tools are called {called!r} (from {name!r}); a model could not tell them apart")
            self._tools[called] = (fn, schema)
            self.schemas.append(schema)
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._changed = threading.Condition()  # a job started or finished
        self._workers = 0
        self._closed = False

    def run(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Run every call concurrently, each bounded by ``timeout_s``; results in call order."""
        if self._closed:
            raise RuntimeError("this ToolBox is closed")
        results: list[ToolResult | None] = [None] * len(calls)
        jobs: list[tuple[int, _Job]] = []
        for i, call in enumerate(calls):
            problem = self._check(call)
            if problem:
                results[i] = ToolResult(call.name, problem, "bad_call")
            else:
                jobs.append((i, _Job(call, self._tools[call.name][0])))
        self._start_workers()
        for _, job in jobs:
            self._jobs.put(job)
        self._wait([job for _, job in jobs])
        for i, job in jobs:
            results[i] = job.result
        return results  # type: ignore[return-value]  # every slot is filled by now

    def close(self) -> None:
        """Stop the idle workers. Idempotent; calls already abandoned end on their own."""
        if self._closed:
            return
        self._closed = True
        for _ in range(self._workers):
            self._jobs.put(None)

    def __enter__(self) -> ToolBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, call: ToolCall) -> str | None:
        """What is wrong with the call itself (unknown tool, wrong arguments), in words for the model."""
        if call.name not in self._tools:
            return f"unknown tool {call.name!r}; the tools are: {', '.join(self._tools)}"
        return argument_problem(call.name, self._tools[call.name][1], call.arguments)

    def _start_workers(self) -> None:
        with self._changed:
            missing, self._workers = self.max_workers - self._workers, self.max_workers
        for _ in range(missing):
            self._spawn()

    def _spawn(self) -> None:
        # Daemon threads, not a ThreadPoolExecutor: the executor's threads are joined at
        # interpreter exit, so one tool that never returns would hang the trainer's exit.
        threading.Thread(target=self._work, name="rlvr-tool", daemon=True).start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._changed:
                job.started = time.monotonic()
                self._changed.notify_all()
            _current.deadline = job.started + self.timeout_s
            result = call_tool(job.fn, job.call)
            _current.deadline = None
            with self._changed:
                if job.result is None:
                    job.result = result
                self._changed.notify_all()
                if job.abandoned:
                    return  # a replacement took this thread's place while it was stuck

    def _wait(self, jobs: list[_Job]) -> None:
        """Until every job has a result: its own, or "timeout" once it ran ``timeout_s``."""
        with self._changed:
            while True:
                now, next_deadline = time.monotonic(), None
                for job in jobs:
                    if job.result is not None or job.started is None:
                        continue
                    deadline = job.started + self.timeout_s
                    if now < deadline:
                        next_deadline = min(deadline, next_deadline or deadline)
                        continue
                    # Python cannot stop a thread: the call is abandoned, still running, and its
                    # worker is replaced so that the calls queued behind it are not starved.
                    job.abandoned = True
                    job.result = ToolResult(job.call.name, f"{job.call.name} did not finish within {self.timeout_s:g} s; "
                                            "the call was abandoned", "timeout")
                    self._spawn()
                if all(job.result is not None for job in jobs):
                    return
                self._changed.wait(None if next_deadline is None else next_deadline - now)


def call_tool(fn: Callable, call: ToolCall) -> ToolResult:
    """One call, whatever the tool does: its text, or the failure in words with its status."""
    try:
        return ToolResult(call.name, as_text(fn(**call.arguments)), "ok")
    except EnvironmentFailure as exc:
        return ToolResult(call.name, f"{call.name} could not run: {exc}", "env_failure")
    except TimeoutError as exc:  # the tool bounded itself (see time_left)
        return ToolResult(call.name, str(exc) or f"{call.name} ran out of time", "timeout")
    except BaseException as exc:  # the model's input broke the tool: an observation, not a crash
        message = str(exc)
        return ToolResult(call.name, f"{type(exc).__name__}: {message}" if message else type(exc).__name__, "raised")


def as_text(value: Any) -> str:
    """A tool's return value as the tool message: text as is, data as JSON where it can be, else ``str``."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


# ---------------------------------------------------------------- long outputs
def truncate_middle(text: str, max_tokens: int, count_tokens: Callable[[str], int] | None = None) -> str:
    """``text`` cut to ``max_tokens`` (characters without ``count_tokens``) by removing its middle.

    The head and the tail stay (a traceback's last line, a program's final answer), and a
    marker says how many characters were cut, so the model knows output is missing. The
    result, marker included, fits ``max_tokens`` under ``count_tokens`` when it can; when
    not even the marker fits, the marker alone is returned.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    count = count_tokens or len
    if count(text) <= max_tokens:
        return text

    def cut(kept: int) -> str:
        head = (kept + 1) // 2
        return f"{text[:head]}\n...[{len(text) - kept:,} characters cut]...\n{text[len(text) - (kept - head):]}"

    # The most characters kept that still fit; token counts grow (almost) monotonically with it.
    low, high = 0, len(text) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if count(cut(middle)) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return cut(low)
