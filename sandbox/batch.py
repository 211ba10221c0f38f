"""Many programs through one sandbox's ``run``, a bounded number at a time, results in order."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from sandbox.result import ExecResult


def run_batch(run: Callable[..., ExecResult], codes: Sequence[str], stdins: Sequence[str | None] | None,
              timeout_s: float, workers: int, tests: Sequence[str | None] | None = None,
              **options) -> list[ExecResult]:
    """``options`` (plain_results, mutates, entry_point) go to every run as they are."""
    stdins = list(stdins) if stdins is not None else [None] * len(codes)
    tests = list(tests) if tests is not None else [None] * len(codes)
    for name, values in (("stdins", stdins), ("tests", tests)):
        if len(values) != len(codes):
            raise ValueError(f"{len(codes)} programs but {len(values)} {name}")
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(codes) or 1))) as ex:
        return list(ex.map(lambda job: run(job[0], stdin=job[1], tests=job[2], timeout_s=timeout_s, **options),
                           zip(codes, stdins, tests)))
