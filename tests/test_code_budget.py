"""verifiers.code_budget: the item deadline a per-test limit implies, and the check config load uses."""
from __future__ import annotations

import doctest

import pytest

import verifiers.code_budget as code_budget
from verifiers.code_budget import CASE_OVERHEAD_S, check_code_budget, item_deadline_s


@pytest.mark.parametrize("per_test_s, n_tests, startup_s, expected", [
    (5.0, 1, 20.0, 20.0 + 5.0 + CASE_OVERHEAD_S),
    (2.0, 4, 0.0, 4 * (2.0 + CASE_OVERHEAD_S)),
    (0.5, 10, 3.0, 3.0 + 10 * (0.5 + CASE_OVERHEAD_S)),
])
def test_item_deadline(per_test_s, n_tests, startup_s, expected):
    assert item_deadline_s(per_test_s, n_tests, startup_s) == pytest.approx(expected)


def test_deadline_grows_with_tests_and_limit():
    assert item_deadline_s(5, 2) < item_deadline_s(5, 3) < item_deadline_s(6, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"per_test_s": 0, "n_tests": 1}, "per_test_s must be positive"),
    ({"per_test_s": 1, "n_tests": 0}, "n_tests must be at least 1"),
    ({"per_test_s": 1, "n_tests": 1, "startup_s": -1}, "startup_s must be 0 or more"),
])
def test_item_deadline_refuses_nonsense(kwargs, match):
    with pytest.raises(ValueError, match=match):
        item_deadline_s(**kwargs)


def test_budget_that_fits_passes():
    check_code_budget(per_test_s=5, pool_deadline_s=item_deadline_s(5, 4), max_tests=4)


def test_budget_that_does_not_fit_names_the_numbers():
    with pytest.raises(ValueError) as info:
        check_code_budget(per_test_s=5, pool_deadline_s=30, max_tests=4, startup_s=20)
    message = str(info.value)
    for number in ("30s", "4 tests", "5s limit", "20s start-up", "44s", "1.5s"):
        assert number in message, (number, message)


def test_budget_with_no_room_at_all_says_so():
    with pytest.raises(ValueError, match="start-up and per-case overheads alone fill it"):
        check_code_budget(per_test_s=5, pool_deadline_s=10, max_tests=4, startup_s=20)


def test_module_imports_neither_torch_nor_docker():
    import subprocess
    import sys

    code = "import sys, verifiers.code_budget; print(sorted(m for m in ('torch', 'docker') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_docstring_examples_run():
    failures, tried = doctest.testmod(code_budget)
    assert tried >= 2 and failures == 0
