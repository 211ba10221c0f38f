"""Reading the judge's reply: a strict last line, or no verdict at all.

``yes_no``: the last non-empty line is ``VERDICT: YES`` or ``VERDICT: NO`` (the word in any case),
nothing else on it -> 1.0 / 0.0. ``score``: the last non-empty line is ``SCORE: n`` with n in the
configured range -> n mapped linearly onto [0, 1]. Anything else is not a verdict: status ``error``
(unjudged, masked from the loss), never a 0 or a 1, because a judge that rambled said nothing about
the response.
"""
from __future__ import annotations

import re

from verifiers.verdict import Verdict, unjudged

VERDICT_FORMATS = ("yes_no", "score")
_YES_NO = re.compile(r"VERDICT:[ \t]*((?i:YES|NO))")  # the label as the template spells it; the word in any case
_SCORE = re.compile(r"SCORE:[ \t]*(-?\d+(?:\.\d+)?)")


def last_line(reply: str) -> str:
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def parse_reply(reply: str, verdict_format: str = "yes_no", score_range: tuple[float, float] = (0.0, 10.0)) -> Verdict:
    """The verdict a judge's ``reply`` states, or an unjudged ``error`` quoting the start of the reply."""
    line = last_line(reply)
    if verdict_format == "yes_no":
        match = _YES_NO.fullmatch(line)
        if match:
            yes = match.group(1).upper() == "YES"
            return Verdict(1.0 if yes else 0.0, "ok", None, f"judge: {line}")
    elif verdict_format == "score":
        match = _SCORE.fullmatch(line)
        low, high = score_range
        if match and low <= float(match.group(1)) <= high:
            return Verdict((float(match.group(1)) - low) / (high - low), "ok", None, f"judge: {line}")
    else:
        raise ValueError(f"unknown verdict format {verdict_format!r}; expected one of {VERDICT_FORMATS}")
    return unjudged("error", f"judge reply has no {verdict_format} verdict line: {unparsable_excerpt(reply)}")


def unparsable_excerpt(reply: str, limit: int = 80) -> str:
    text = " ".join(reply.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))
