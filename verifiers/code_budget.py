"""Time budgets of the ``code`` verifier: one per-test limit, and the item deadline it implies.

A program that loops must cost its test cases (each killed at ``timeout_s``, judged failed:
status "ok", score 0 for those cases), never the whole item: the verifier pool's per-item
deadline must outlast every case of the item timing out, one after the other, plus the
sandbox's start-up in a fresh worker. Pure arithmetic: no torch, no docker, safe to import
from config validation.

    >>> from verifiers.code_budget import item_deadline_s, check_code_budget
    >>> item_deadline_s(per_test_s=5, n_tests=4, startup_s=20)
    44.0
    >>> check_code_budget(per_test_s=5, pool_deadline_s=30, max_tests=4)
    Traceback (most recent call last):
    ...
    ValueError: verifier deadline 30s is too short for code items: 4 tests x (5s limit + 1s per-case overhead) + 20s start-up = 44s; raise the deadline to 44s or more, or lower the per-test limit to 1.5s or less
"""
from __future__ import annotations

DEFAULT_TIMEOUT_S = 5.0  # per test case: generous for test-sized inputs, short enough that a loop costs little
# Beyond each case's own limit: the sandbox kills the runner, drains its pipes (at most 0.5 s
# when stray writers hold them) and starts the next runner; 1 s covers that on a busy machine.
CASE_OVERHEAD_S = 1.0
# A worker's first code item opens its sandbox: Docker starts the pool's containers in
# parallel (about a second each on a quiet machine, several under load).
DEFAULT_STARTUP_S = 20.0


def item_deadline_s(per_test_s: float = DEFAULT_TIMEOUT_S, n_tests: int = 1, startup_s: float = DEFAULT_STARTUP_S) -> float:
    """The per-item deadline the verifier pool must use so that an item whose ``n_tests`` cases all
    run into ``per_test_s`` is still judged: cases run one after another in the worst case (a pool
    of one container), each costing its limit plus ``CASE_OVERHEAD_S``, after ``startup_s``."""
    _positive(per_test_s=per_test_s)
    if not startup_s >= 0:
        raise ValueError(f"startup_s must be 0 or more, got {startup_s}")
    if n_tests < 1:
        raise ValueError(f"n_tests must be at least 1, got {n_tests}")
    return float(startup_s + n_tests * (per_test_s + CASE_OVERHEAD_S))


def check_code_budget(per_test_s: float, pool_deadline_s: float, max_tests: int,
                      startup_s: float = DEFAULT_STARTUP_S) -> None:
    """Raise ValueError, naming the numbers, unless ``pool_deadline_s`` fits ``max_tests`` cases of
    ``per_test_s`` each (see ``item_deadline_s``)."""
    _positive(pool_deadline_s=pool_deadline_s)
    needed = item_deadline_s(per_test_s, max_tests, startup_s)
    if pool_deadline_s >= needed:
        return
    fitting = (pool_deadline_s - startup_s) / max_tests - CASE_OVERHEAD_S
    lower = (f"lower the per-test limit to {fitting:.3g}s or less" if fitting > 0 else
             f"fewer tests per item: the {startup_s:g}s start-up and per-case overheads alone fill it")
    raise ValueError(
        f"verifier deadline {pool_deadline_s:g}s is too short for code items: {max_tests} tests x "
        f"({per_test_s:g}s limit + {CASE_OVERHEAD_S:g}s per-case overhead) + {startup_s:g}s start-up = {needed:g}s; "
        f"raise the deadline to {needed:g}s or more, or {lower}")


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")
