"""Tiny verifiers for tests, importable by worker processes as ``tests.helpers.toy_verifiers:NAME``.

They stand in for the real math verifier so that scoring tests depend on nothing
but exact string matches.
"""
from __future__ import annotations

import re
import time

from verifiers.verdict import Verdict, correct, unjudged, wrong

_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_SAYS = re.compile(r"answer is\s*([^\s.]+)", re.IGNORECASE)


def exact(completion: str, reference, **fields) -> Verdict:
    """The last ``\\boxed{...}`` or "answer is X", compared with the reference as a string."""
    found = _BOXED.findall(completion) or _SAYS.findall(completion)
    if not found:
        return unjudged("no_answer", "no boxed answer and no 'answer is'")
    answer = found[-1].strip()
    if answer == str(reference).strip():
        return correct(answer)
    return wrong(answer, f"{answer!r} differs from {str(reference)!r}")


def explode(completion: str, reference, **fields) -> Verdict:
    raise RuntimeError("toy verifier failure")


def hang(completion: str, reference, **fields) -> Verdict:
    time.sleep(60)
    return correct(None)


def fields_seen(completion: str, reference, **fields) -> Verdict:
    """Correct, with the names of the extra fields it was given as its reason."""
    return Verdict(1.0, "ok", None, ",".join(sorted(fields)))
