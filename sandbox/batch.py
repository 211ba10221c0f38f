"""Many programs through one sandbox's ``run``, a bounded number at a time, results in order."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from sandbox.result import ExecResult


def run_batch(run: Callable[..., ExecResult], codes: Sequence[str], stdins: Sequence[str | None] | None,
              timeout_s: float, workers: int) -> list[ExecResult]:
    stdins = list(stdins) if stdins is not None else [None] * len(codes)
    if len(stdins) != len(codes):
        raise ValueError(f"{len(codes)} programs but {len(stdins)} stdins")
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(codes) or 1))) as ex:
        return list(ex.map(lambda pair: run(pair[0], stdin=pair[1], timeout_s=timeout_s), zip(codes, stdins)))
