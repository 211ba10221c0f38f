"""Score many completions in worker processes, each item under a hard deadline.

Why processes: a verifier may hang (a giant power, a pathological simplify) and
``signal.alarm`` works neither off the main thread nor inside Ray actors. A pebble
process pool kills the worker that overruns and starts a fresh one, so one bad
item costs its own deadline and nothing else. Results come back in input order.

A worker killed from outside mid-item (the OOM killer, a person, a chaos test) is replaced
by the pool too, and its item runs once more on another worker: the item did nothing wrong
(yet). If that worker dies as well, the item is unjudged (``error``), never wrong. A worker
killed while no item runs breaks a pebble pool for good ("All workers expired"): the pool is
then replaced by a fresh one and the items it dropped run once more there.

    >>> from verifiers import VerifierPool, VerifyRequest
    >>> with VerifierPool("math", workers=2, timeout_s=5) as pool:
    ...     [v.score for v in pool.score([VerifyRequest("\\\\boxed{1/2}", "0.5")])]
    [1.0]
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from pebble import ProcessExpired, ProcessPool

from verifiers.registry import as_verdict, get_verifier
from verifiers.verdict import Verdict, unjudged

# Modules the fork server imports once, so a worker restarted after a kill is a
# cheap fork instead of a fresh interpreter importing sympy again.
_PRELOAD = ["sympy", "verifiers.math"]


@dataclass(frozen=True)
class VerifyRequest:
    """One item to judge. ``verifier`` overrides the pool's default for this item, ``timeout_s`` its
    per-item deadline (e.g. a code item's, derived from its test count: ``verifiers.code_budget``)."""

    completion: str
    reference: Any
    fields: Mapping[str, Any] = field(default_factory=dict)
    verifier: str | None = None
    item_id: str | None = None
    timeout_s: float | None = None


_resolved: dict[Any, Callable[..., Any]] = {}


def run_verifier(spec: str | Callable[..., Any], request: VerifyRequest) -> Verdict:
    """Call one verifier on one request; its exceptions become an ``error`` verdict naming the item."""
    label = f"item {request.item_id!r}: " if request.item_id is not None else ""
    try:
        fn = _resolved.get(spec) if isinstance(spec, str) else spec
        if fn is None:
            fn = _resolved[spec] = get_verifier(spec)
        return as_verdict(fn(request.completion, request.reference, **dict(request.fields)))
    except Exception as exc:  # a verifier bug is reported as such, never as a wrong answer
        return unjudged("error", f"{label}verifier {_spec_name(spec)} raised {type(exc).__name__}: {exc}")


def _spec_name(spec: Any) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__qualname__", repr(spec))


def _mp_context():
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


class VerifierPool:
    """A pool of verifier processes with a hard per-item deadline.

    verifier:  default verifier (name, ``module:function`` or an importable callable).
    workers:   processes; defaults to the CPU count.
    timeout_s: wall-clock budget of one item once a worker starts it.
    """

    def __init__(self, verifier: str | Callable[..., Any] = "math", *, workers: int | None = None, timeout_s: float = 5.0):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if isinstance(verifier, str):
            get_verifier(verifier)  # fail here, loudly, on a name that does not resolve
        self.verifier = verifier
        self.timeout_s = timeout_s
        self.workers = workers or os.cpu_count() or 1
        self._pool = self._new_pool()
        self._closed = False
        self.reruns = 0  # items run again because their worker died under them
        self.pool_restarts = 0  # pools replaced because pebble gave up on them

    def imap(self, requests: Iterable[VerifyRequest], *, window: int | None = None) -> Iterator[Verdict]:
        """Verdicts in input order, streaming: at most ``window`` requests (None: all of them) are
        in the pool at once, so a long input stays bounded in memory while every worker is busy."""
        if window is not None and window < 1:
            raise ValueError("window must be >= 1")
        pending: deque[tuple[VerifyRequest, Any]] = deque()
        for request in requests:
            pending.append((request, self._schedule(request)))
            if window is not None and len(pending) >= window:
                yield self._collect(*pending.popleft())
        while pending:
            yield self._collect(*pending.popleft())

    def _schedule(self, request: VerifyRequest) -> tuple[ProcessPool, Any]:
        try:
            return self._submit(request)
        except RuntimeError:  # pebble's pool is in its error state; ours is not closed: start afresh
            if self._closed:
                raise
            self._restart_pool()
            return self._submit(request)

    def _submit(self, request: VerifyRequest) -> tuple[ProcessPool, Any]:
        future = self._pool.schedule(run_verifier, args=(request.verifier or self.verifier, request),
                                     timeout=request.timeout_s or self.timeout_s)
        return self._pool, future

    def _new_pool(self) -> ProcessPool:
        return ProcessPool(max_workers=self.workers, context=_mp_context())

    def _restart_pool(self) -> None:
        broken, self._pool = self._pool, self._new_pool()
        self.pool_restarts += 1
        print("verifier pool broke (a worker died while none was busy); started a fresh one, "
              "the items it held run again there", flush=True)
        broken.stop()
        broken.join()

    def score(self, requests: Sequence[VerifyRequest]) -> list[Verdict]:
        return list(self.imap(requests))

    def _collect(self, request: VerifyRequest, scheduled: tuple[ProcessPool, Any], *, rerun: bool = False) -> Verdict:
        label = f"item {request.item_id!r}" if request.item_id is not None else "item"
        try:
            return _result(*scheduled)
        except FutureTimeout:
            return unjudged("timeout", f"{label} exceeded the {request.timeout_s or self.timeout_s:g}s budget; its worker was killed")
        except (ProcessExpired, BrokenProcessPool) as exc:
            why = f"exit code {exc.exitcode}" if isinstance(exc, ProcessExpired) else f"pool broken: {exc}"
            if not rerun:
                self.reruns += 1
                if isinstance(exc, ProcessExpired):  # a broken pool says so once, when it is replaced
                    print(f"verifier worker died ({why}) judging {label}; running it again", flush=True)
                return self._collect(request, self._schedule(request), rerun=True)
            return unjudged("error", f"{label}: verifier worker died twice ({why})")
        except Exception as exc:  # e.g. an unpicklable reference or result
            return unjudged("error", f"{label}: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        self._closed = True
        self._pool.stop()
        self._pool.join()

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _result(pool: ProcessPool, future) -> Any:
    """The item's result, or ``BrokenProcessPool`` if its pool stopped without running it: a pool that
    breaks aborts the items it holds, but one handed over in that very moment would wait forever."""
    while not future.done():
        futures.wait([future], timeout=1.0)
        if not future.done() and not pool.active:
            futures.wait([future], timeout=1.0)  # its abort may still be on the way
            if not future.done():
                raise BrokenProcessPool("the pool stopped before running this item")
    return future.result()


def score_batch(
    completions: Sequence[str],
    references: Sequence[Any],
    verifier: str | Callable[..., Any] = "math",
    *,
    workers: int | None = None,
    timeout_s: float = 5.0,
    fields: Sequence[Mapping[str, Any]] | None = None,
) -> list[Verdict]:
    """Judge ``completions[i]`` against ``references[i]``; one verdict per item, in order."""
    if len(completions) != len(references):
        raise ValueError(f"{len(completions)} completions but {len(references)} references")
    fields = fields or [{}] * len(completions)
    requests = [VerifyRequest(c, r, f, item_id=str(i)) for i, (c, r, f) in enumerate(zip(completions, references, fields))]
    with VerifierPool(verifier, workers=min(workers or os.cpu_count() or 1, max(1, len(requests))), timeout_s=timeout_s) as pool:
        return pool.score(requests)
