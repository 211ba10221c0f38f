"""The math-answer verifier (registered as ``math``).

Extracts the final answer (``verifiers.math_extract``); if it is the reference's text
after normalisation (``verifiers.math_normalize``) it is correct without more ado; else
parses answer and reference into sympy values without executing anything
(``verifiers.math_parse``) and decides equivalence (``verifiers.math_equiv``, whose
docstring lists the conventions). Binary score: 1.0 equivalent, 0.0 not.

    >>> verify_math("... so the answer is $\\\\frac{\\\\sqrt{2}}{2}$.", "1/sqrt(2)").score
    1.0
    >>> verify_math("It is either 1 or 2.", "1").reason
    'several different answers given for a single-valued reference'

Hard time limits are the caller's: run it through ``verifiers.VerifierPool``
(what ``rlvr score`` and the RL loop do). In-process, adversarial inputs are cut
short by the parser's budgets and come back as ``timeout``.
"""
from __future__ import annotations

import re
from typing import Any

from verifiers.math_equiv import Comparison, equivalent
from verifiers.math_extract import extract_answer
from verifiers.math_normalize import normalize
from verifiers.math_parse import Text, parse_answer
from verifiers.math_tokens import BudgetExceeded, ParseError
from verifiers.verdict import Verdict, correct, unjudged, wrong

VERSION = "2"  # bump when a verdict on some input changes; recorded in run manifests
_DECIMAL_RE = re.compile(r"-?\d*\.(\d+)")
_CHOICE_RE = re.compile(r"\(?([A-E])\)\s*(\S.*)")  # "(C) 12", "C) 12"


def verify_math(completion: str, reference: Any, **fields: Any) -> Verdict:
    reference_text = _reference_text(reference)
    if not reference_text:
        return unjudged("invalid_reference", "the reference answer is empty")
    extracted = extract_answer(completion if isinstance(completion, str) else str(completion))
    if extracted is None:
        return unjudged("no_answer", "no final answer found in the completion")
    answer = _choice(extracted.text, reference_text)
    if same_text(answer, reference_text):
        return correct(answer, "the same text as the reference")
    try:
        ref = _parse_or_text(reference_text)
    except BudgetExceeded as exc:
        return unjudged("invalid_reference", f"reference too large to evaluate: {exc}", answer)
    if isinstance(ref, Text) and "\\" in ref.text:
        return unjudged("invalid_reference", f"cannot parse the reference {reference_text!r}", answer)
    try:
        pred = _parse_or_text(answer)
        ctx = Comparison(_decimals(reference_text), _decimals(answer) is not None, _significant_digits(answer))
        same, reason = equivalent(pred, ref, ctx)
    except BudgetExceeded as exc:
        return unjudged("timeout", f"answer exceeds the evaluation budget: {exc}", answer)
    except RecursionError:
        return unjudged("timeout", "answer nested beyond the evaluation budget", answer)
    return correct(answer, reason) if same else wrong(answer, reason)


def same_text(answer: str, reference: str) -> bool:
    """Equal after normalisation, spaces next to symbols aside: the same answer, whatever it means."""
    return _canonical(answer) == _canonical(reference) != ""


def _canonical(text: str) -> str:
    return re.sub(r"\s*([^\w\s])\s*", r"\1", normalize(text))


def _choice(answer: str, reference: str) -> str:
    """A multiple-choice answer "(C) 12": the letter against a letter reference, else the value."""
    match = _CHOICE_RE.fullmatch(normalize(answer))
    if not match:
        return answer
    return match.group(1) if re.fullmatch(r"[A-E]", normalize(reference)) else match.group(2)


def _reference_text(reference: Any) -> str:
    if reference is None:
        return ""
    text = str(reference).strip()
    # A full worked solution as reference: its boxed answer is the reference.
    extracted = extract_answer(text) if "\\boxed" in text or "\\fbox" in text else None
    return extracted.text if extracted else text


def _parse_or_text(text: str):
    try:
        return parse_answer(text)
    except ParseError:
        return Text(normalize(text))


def _decimals(text: str) -> int | None:
    match = _DECIMAL_RE.fullmatch(normalize(text))
    return len(match.group(1)) if match else None


def _significant_digits(text: str) -> int:
    match = _DECIMAL_RE.fullmatch(normalize(text))
    return len(match.group(0).lstrip("-").replace(".", "").lstrip("0")) if match else 0
