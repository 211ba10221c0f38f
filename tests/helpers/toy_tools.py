"""Plug-in tools for the multi-turn tests: plain typed functions, loaded by ``module:function``."""
from __future__ import annotations

import time


def lookup(key: str) -> str:
    """Look a word up in a tiny fixed table.

    Args:
        key: the word to look up
    """
    table = {"apple": "red", "sky": "blue"}
    if key not in table:
        raise KeyError(f"no entry for {key!r}")
    return table[key]


def long_text(n: int) -> str:
    """A long, numbered text, for truncation.

    Args:
        n: how many numbered words
    """
    return " ".join(f"word{i}" for i in range(n))


def nap(seconds: float) -> str:
    """Sleep, then say so.

    Args:
        seconds: how long to sleep
    """
    time.sleep(seconds)
    return f"slept {seconds}"


def broken() -> str:
    """A tool whose infrastructure is down: the sandbox behind it cannot be reached."""
    from rl.envs.tools import EnvironmentFailure

    raise EnvironmentFailure("sandbox unreachable: connection refused")
