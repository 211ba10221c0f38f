"""The built-in tools, ``calculator`` and ``python`` (registered in ``rl.registries.TOOLS``).

    >>> calculator("123456*789")
    '97406784'
    >>> python("print(6 * 7)")                                 # doctest: +SKIP
    '42'

Both bound their own work, because a call the ``ToolBox`` abandons keeps running on its
thread: ``calculator`` refuses sizes it could not compute quickly (``rl.envs.calculator``),
and ``python`` asks the sandbox to stop the program before the box's deadline
(``rl.envs.tools.time_left``), so the model hears "stopped at its time limit" with the
output so far rather than nothing.

``python`` runs in this process's shared sandbox pool, the one the ``code`` verifier uses
(``verifiers.code.get_sandbox``: Docker; ``RLVR_CODE_SANDBOX=local`` for the unsafe local
fallback on trusted code; ``RLVR_CODE_SANDBOX_SIZE`` containers, which is also how many
programs run at once); ``python_tool(sandbox)`` binds it to another. A plain program needs
no tests, so it runs without the guard: the container's isolation is the boundary
(``sandbox/__init__.py``, properties 1-8).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from rl.envs.calculator import evaluate
from rl.envs.tool_calls import EnvironmentFailure
from rl.envs.tools import time_left, truncate_middle

PYTHON_TIMEOUT_S = 10.0  # a program's limit when called outside a ToolBox; inside, the box's own deadline bounds it
_STOP_MARGIN_S = 0.5  # the program is stopped this long before the box would abandon the call: the reply's way back
MAX_STREAM_CHARS = 4000  # of stdout and of stderr each, cut in the middle: the model needs the ends, not 1 MiB


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. 123456*789, 2**100, 1/3 + 1/6, sqrt(8), sin(pi/6).

    Args:
        expression: The expression in Python syntax: + - * / // % and ** (or ^) for powers, functions such as sqrt, log, sin, factorial, binomial, gcd; letters are symbols.
    """
    return evaluate(expression)


def python(code: str) -> str:
    """Run a Python 3 program in a sandbox and return what it printed: its stdout, then its stderr and how it ended if it failed.

    Args:
        code: The complete program. Print what you need to see; nothing is kept between calls, and there is no network.
    """
    return run_python(code, None)


def python_tool(sandbox: Any) -> Callable[[str], str]:
    """The ``python`` tool bound to ``sandbox`` (anything with ``DockerSandbox.run``) instead of the shared pool."""

    def bound(code: str) -> str:
        return run_python(code, sandbox)

    return functools.update_wrapper(bound, python)  # the same name, docstring and schema


def run_python(code: str, sandbox: Any | None) -> str:
    """Run ``code`` as a plain program; its output in words, ``TimeoutError`` at its time limit,
    ``EnvironmentFailure`` when the sandbox cannot run it at all."""
    try:
        if sandbox is None:
            from verifiers.code import get_sandbox

            # Created on the process's first use, which takes seconds: create it before the first turn.
            sandbox = get_sandbox()
    except Exception as exc:
        raise EnvironmentFailure(f"the sandbox is unavailable: {type(exc).__name__}: {exc}") from exc
    limit = min(PYTHON_TIMEOUT_S, time_left(PYTHON_TIMEOUT_S) - _STOP_MARGIN_S)
    if limit <= 0:
        raise TimeoutError("no time was left to run the program")
    try:
        # The run may first wait for a free container: that wait is not bounded by ``limit``,
        # so with a pool smaller than a turn's calls the box may abandon a call that waited.
        result = sandbox.run(code, timeout_s=limit)
    except Exception as exc:  # the program's own failures come back as a result: this is the sandbox's
        raise EnvironmentFailure(f"the sandbox could not run the program: {type(exc).__name__}: {exc}") from exc
    if result.status == "sandbox_error":
        raise EnvironmentFailure(f"sandbox fault in container {result.sandbox_id}: {result.detail}")
    text = describe(result)
    if result.status == "timeout":
        raise TimeoutError(f"the program was stopped at its time limit of {limit:.3g} s; its output until then:\n{text}")
    return text


def describe(result: Any) -> str:
    """A sandbox ``ExecResult`` as the model reads it: stdout, ``[stderr]`` and stderr, then how it ended."""
    parts = []
    if result.stdout:
        parts.append(truncate_middle(result.stdout.rstrip("\n"), MAX_STREAM_CHARS))
    if result.stderr:
        parts.append("[stderr]\n" + truncate_middle(result.stderr.rstrip("\n"), MAX_STREAM_CHARS))
    # sys.exit(0) ends a plain program normally, although it never reached its last line.
    ended_well = result.passed or (result.status == "failed" and result.exit_code == 0)
    if not ended_well and result.status != "timeout":
        parts.append(f"[{result.detail}]")
    return "\n".join(parts) or "[no output]"
