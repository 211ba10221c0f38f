"""LocalSandbox: the same statuses and the same completion proof as the Docker pool, without Docker.
It isolates nothing else, so only those are tested here."""
from __future__ import annotations

import warnings

import pytest

from sandbox import LocalSandbox, SandboxLimits


@pytest.fixture(scope="module")
def box():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return LocalSandbox(unsafe=True, limits=SandboxLimits(max_output_bytes=10_000))


def test_refuses_without_unsafe():
    with pytest.raises(ValueError, match="unsafe=True"):
        LocalSandbox()


def test_warns_loudly():
    with pytest.warns(RuntimeWarning, match="no filesystem or network isolation"):
        LocalSandbox(unsafe=True)


@pytest.mark.parametrize("program, status", [
    ("x = 1\nassert x == 1", "passed"),
    ("assert 1 == 2", "failed"),
    ("import sys; sys.exit(0)\nassert False", "failed"),
    ("import os; os._exit(0)\nassert False", "failed"),
    ("import atexit, os; atexit.register(os._exit, 0)\nassert False", "failed"),
    ("print('rlvr-completed ' + '0' * 32); import os; os._exit(0)", "failed"),
    ("while True: pass", "timeout"),
    ("while True: print('x' * 100)", "output_limit"),
    ("hog = [bytearray(64 << 20) for _ in range(64)]", "memory"),
    ("def broken(:\n    pass", "failed"),
])
def test_statuses(box, program, status):
    result = box.run(program, timeout_s=1.5)
    assert result.status == status, result
    assert result.passed == (status == "passed")


def test_stdin_stdout_and_stderr(box):
    result = box.run("import sys\nprint(input()[::-1])\nprint('warn', file=sys.stderr)", stdin="abc\n")
    assert (result.stdout, result.stderr, result.exit_code) == ("cba\n", "warn\n", 0)


def test_traceback_shows_the_program_line(box):
    result = box.run("def f():\n    raise ValueError('boom')\nf()")
    assert "raise ValueError('boom')" in result.stderr and result.detail == "uncaught ValueError"


def test_output_is_capped_and_flagged(box):
    result = box.run("print('y' * 50_000)")
    assert result.status == "output_limit" and result.stdout_truncated and len(result.stdout) == 10_000


def test_batch_in_order(box):
    results = box.run_batch([f"print({i})" for i in range(6)], concurrency=3)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
