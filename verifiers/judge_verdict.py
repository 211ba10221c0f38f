"""Reading a judge model's verdict line, and checking it against the expected one.

A judge (a served model that reads question, reference answer and response) ends its reply with
one line, ``VERDICT: YES`` or ``VERDICT: NO``; whatever comes before it (an empty think block,
a sentence of reasons) is not read. ``verify_verdict`` is the verifier of the judge's own training
data (``rl.data.judge_tasks``): ``rlvr`` evals of a judge checkpoint score its accuracy through it.

    >>> parse_verdict("<think>\\n\\n</think>\\n\\nVERDICT: YES\\n")
    'YES'
    >>> verify_verdict("VERDICT: NO", "YES").score
    0.0
    >>> verify_verdict("yes", "YES").status     # no verdict line: the judge gave no answer
    'no_answer'
"""
from __future__ import annotations

from typing import Any

from verifiers.verdict import Verdict, correct, unjudged, wrong

VERDICT_PREFIX = "VERDICT: "
VERDICTS = ("YES", "NO")


def parse_verdict(reply: str) -> str | None:
    """"YES" or "NO" when the last non-empty line of ``reply`` is exactly ``VERDICT: YES`` / ``VERDICT: NO``
    (surrounding whitespace aside); None otherwise. Nothing looser: a judge that drifts from the
    protocol must show up as unparsable, not be read generously."""
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith(VERDICT_PREFIX):
        return None
    verdict = lines[-1][len(VERDICT_PREFIX):]
    return verdict if verdict in VERDICTS else None


def verify_verdict(completion: str, reference: Any, **fields: Any) -> Verdict:
    """1.0 when the judge's verdict line says ``reference`` ("YES"/"NO"), 0.0 when it says the other;
    ``no_answer`` (wrong) when there is no verdict line, ``invalid_reference`` when the reference is neither."""
    expected = str(reference).strip().upper()
    if expected not in VERDICTS:
        return unjudged("invalid_reference", f"a judge's expected verdict is YES or NO, got {reference!r}")
    verdict = parse_verdict(completion)
    if verdict is None:
        return Verdict(0.0, "no_answer", None, "no 'VERDICT: YES' or 'VERDICT: NO' as the last line")
    if verdict == expected:
        return correct(verdict, "the expected verdict")
    return wrong(verdict, f"said {verdict}, expected {expected}")
