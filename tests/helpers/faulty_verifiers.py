"""Verifiers that misbehave in the ways a pool must survive; importable by worker processes."""
from __future__ import annotations

import os
import time

from verifiers.verdict import Verdict


def echo_after(completion: str, reference, delay: float = 0.0, **fields) -> Verdict:
    """Correct iff completion == reference, after sleeping ``delay`` seconds (to scramble finish order)."""
    time.sleep(delay)
    return Verdict(float(completion == str(reference)), "ok", completion, "echo")


def crash(completion: str, reference, **fields) -> Verdict:
    os._exit(3)  # the worker process dies without a word


def spin(completion: str, reference, **fields) -> Verdict:
    while True:  # busy, ignores signals a thread-based timeout would rely on
        pass


def bad_return(completion: str, reference, **fields):
    return "yes"


def killed_once(completion: str, reference, marker: str = "", **fields) -> Verdict:
    """SIGKILLs its own worker mid-item the first time (whoever removes ``marker`` first), as the OOM
    killer or a person would; afterwards, judges as ``echo_after``."""
    import signal

    try:
        os.unlink(marker)
    except FileNotFoundError:
        return echo_after(completion, reference)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def worker_pid(completion: str, reference, **fields) -> Verdict:
    """Right, and names the worker process that judged it (so a test can kill that worker while idle)."""
    return Verdict(1.0, "ok", str(os.getpid()), "pid")
