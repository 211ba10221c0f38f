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

Budgets: an answer that exhausts one (a number of 5000 digits, nesting 600 deep, a power
or factorial beyond evaluation such as ``10^{10^{100}}``) is judged wrong, with the reason:
by size where sizes prove it differs (``verifiers.math_magnitude``), else because it cannot
be checked. That is a verdict on the completion, never ``timeout``: a masked sample costs
the policy nothing, so an unjudgeable answer would be a free escape from every penalty.
``timeout`` is kept for the verifier's own failures (a comparison that recursed too deep,
an item killed by the pool's deadline) and counted as such. A reference beyond the budget
is ``invalid_reference``. Hard time limits are the caller's: run it through
``verifiers.VerifierPool`` (what ``rlvr score`` and the RL loop do).
"""
from __future__ import annotations

import re
from typing import Any

from verifiers.math_equiv import Comparison, equivalent
from verifiers.math_extract import extract_answer
from verifiers.math_magnitude import holds_oversized, oversized_reason
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
    except (BudgetExceeded, RecursionError) as exc:
        # The completion's doing, so a verdict on it: masking it would let a policy dodge every penalty.
        why = str(exc) if isinstance(exc, BudgetExceeded) else "nesting too deep"
        return wrong(answer, f"the answer is beyond the evaluation budget ({why}), so it cannot be checked: judged wrong")
    if holds_oversized(ref):
        if pred == ref:
            return correct(answer, "the same value as the reference")
        return unjudged("invalid_reference", "reference too large to evaluate", answer)
    if holds_oversized(pred):
        return wrong(answer, oversized_reason(pred, ref))
    try:
        ctx = Comparison(_decimals(reference_text), _decimals(answer) is not None, _significant_digits(answer))
        same, reason = equivalent(pred, ref, ctx)
    except RecursionError:  # within every parse budget, so the verifier's own failure: counted as such
        return unjudged("timeout", "comparison recursed beyond Python's stack", answer)
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
