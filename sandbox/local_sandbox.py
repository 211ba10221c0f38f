"""``LocalSandbox``: the same interface as ``DockerSandbox``, with subprocesses and rlimits.

NOT a security boundary. The program runs as your user, on your filesystem, with
your network: only time, memory, file size, open files and output are limited, and
only its own process group is killed afterwards (a program that calls ``setsid``
escapes). For machines without Docker, trusted code, and tests of the plumbing;
it refuses to start without ``unsafe=True``.

    >>> from sandbox.local_sandbox import LocalSandbox
    >>> with LocalSandbox(unsafe=True) as box:                   # doctest: +SKIP
    ...     box.run("assert sum([1, 2]) == 3").status
    'passed'
"""
from __future__ import annotations

import logging
import marshal
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import Sequence

from sandbox.batch import run_batch
from sandbox.container import RUNNER_SOURCE, TESTS_SOURCE
from sandbox.result import ExecResult, SandboxLimits
from sandbox.supervisor import execute, spawn_child, spawn_tests

_WARNING = ("LocalSandbox runs untrusted code as your own user with no filesystem or network isolation; "
            "use DockerSandbox for anything a model wrote")


class LocalSandbox:
    """Run programs as local subprocesses (see the module docstring before using it)."""

    def __init__(self, *, unsafe: bool = False, size: int = 4, limits: SandboxLimits = SandboxLimits(),
                 python: str = sys.executable) -> None:
        if not unsafe:
            raise ValueError(f"{_WARNING}; pass unsafe=True to accept that")
        warnings.warn(_WARNING, RuntimeWarning, stacklevel=2)
        logging.getLogger(__name__).warning(_WARNING)
        self.size = size
        self.limits = limits
        self.python = python
        # Compiled once here when the runner's interpreter is this one (same marshal format).
        same = os.path.realpath(python) == os.path.realpath(sys.executable)
        self._runner_code = marshal.dumps(compile(RUNNER_SOURCE, "<runner>", "exec")) if same else None

    def run(self, code: str, *, stdin: str | None = None, timeout_s: float = 10.0, tests: str | None = None,
            plain_results: bool = True, mutates: bool = False, entry_point: str | None = None) -> ExecResult:
        """As ``DockerSandbox.run``: ``tests``, when given, run in a process of their own (same user here)."""
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        scratch = tempfile.mkdtemp(prefix="rlvr-local-")
        try:
            child = spawn_child(self.python, RUNNER_SOURCE, new_session=True, runner_code=self._runner_code)
            sessions = [child.pid]

            def start_tests(program):
                tests_process = spawn_tests(self.python, TESTS_SOURCE, program)
                sessions.append(tests_process.pid)
                return tests_process

            frame = execute(child, {"code": code, "stdin": stdin, "timeout_s": timeout_s, "cwd": scratch,
                                    "tests": tests, "plain_results": plain_results, "mutates": mutates,
                                    "entry_point": entry_point, "max_output_bytes": self.limits.max_output_bytes,
                                    "limits": self.limits.for_runner(timeout_s)},
                            kill_tree=lambda: _kill_sessions(sessions), start_tests=start_tests)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return ExecResult.from_supervisor(frame, "local")

    def run_batch(self, codes: Sequence[str], *, stdins: Sequence[str | None] | None = None,
                  timeout_s: float = 10.0, concurrency: int | None = None,
                  tests: Sequence[str | None] | None = None, plain_results: bool = True,
                  mutates: bool = False, entry_point: str | None = None) -> list[ExecResult]:
        return run_batch(self.run, codes, stdins, timeout_s, concurrency or self.size, tests,
                         plain_results=plain_results, mutates=mutates, entry_point=entry_point)

    def close(self) -> None:
        pass  # nothing outlives a run

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_sessions(pids: list[int]) -> None:
    """SIGKILL the process group of each of ``pids`` (each leads a session of its own), and reap them."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # already reaped when it exited on its own
