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

Budgets, each tested with answers built to exhaust it: 20,000 tokens, nesting 600 deep, a
literal of 20,000 digits, 256 items to a list, 16 sets to a union, 40 variables (parser);
a power whose integer exponent passes 10^12 or whose other exponent passes 10^6, a
factorial past 5000, a binomial past 20,000 digits (kept as opaque ``Oversized`` numbers,
``verifiers.math_numbers``). An answer that exhausts one is judged wrong (status ok, score
0), with the reason: by size where sizes prove it differs (``10^{10^{100}}`` against 3,
``verifiers.math_magnitude``), else because it cannot be checked. That is a verdict on the
completion, never ``timeout``: a masked sample costs the policy nothing, so an unjudgeable
answer would be a free escape from every penalty. ``timeout`` is kept for the verifier's own
failures (a comparison that recursed too deep, an item killed by the pool's deadline) and
counted as such. A reference beyond a budget is ``invalid_reference``. Hard time limits are
the caller's: run it through ``verifiers.VerifierPool`` (what ``rlvr score`` and the RL loop do).
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import sympy

from verifiers.math_equiv import Comparison, equivalent
from verifiers.math_extract import extract_answer, part_boxes, sentence_values
from verifiers.math_magnitude import holds_oversized, oversized_reason
from verifiers.math_normalize import normalize
from verifiers.math_parse import Alternatives, Seq, Text, parse_answer
from verifiers.math_tokens import BudgetExceeded, ParseError
from verifiers.math_words import same_words
from verifiers.verdict import Verdict, correct, unjudged, wrong

VERSION = "3"  # bump when a verdict on some input changes; recorded in run manifests
_DECIMAL_RE = re.compile(r"-?\d*\.(\d+)")
_INEXACT_RE = re.compile(r"\.\d|\d[eE][-+]?\d")  # 0.693, 1.5e-3: a decimal somewhere in the answer
# 3,5  12,50  1.234,5  1 234,5 (not 1,234: three digits after a comma group thousands)
_BARE_DECIMAL_COMMA_RE = re.compile(r"-?\d+,(?!\d{3}\b)\d+|-?\d{1,3}(?:[. ]\d{3})+,\d+")
_DEGREES_RE = re.compile(r"\^\s*\{?\s*\\circ|°|\\degree|\bdeg(?:rees?)?\b")
_CHOICE_RE = re.compile(r"(?:\(?([A-E])\)\s*|(?i:option|choice)\s*\(?([A-E])\)?\s*[:.]?\s*)(\S.*)?")  # (C) 12, option C: 12


def verify_math(completion: str, reference: Any, symbols: str = "real", **fields: Any) -> Verdict:
    """``symbols``: a sample's field saying what its letters stand for: "real" (the default, any sign)
    or "positive" (the problem says so: then sqrt(x) sqrt(y) = sqrt(xy) and (x^a)^b = x^(ab) hold)."""
    reference_text = _reference_text(reference)
    if not reference_text:
        return unjudged("invalid_reference", "the reference answer is empty")
    if symbols not in ("real", "positive"):
        return unjudged("invalid_reference", f"unknown symbols field {symbols!r}: expected 'real' or 'positive'")
    extracted = extract_answer(completion if isinstance(completion, str) else str(completion))
    if extracted is None:
        return unjudged("no_answer", "no final answer found in the completion")
    answer = _choice(extracted.text, reference_text)
    if same_text(answer, reference_text):
        return correct(answer, "the same text as the reference")
    words = same_words(answer, reference_text)
    if words is not None:
        return correct(answer, "the same words") if words else wrong(answer, "different words from the reference")
    try:
        ref = _parse_or_text(reference_text)
    except BudgetExceeded as exc:
        return unjudged("invalid_reference", f"reference too large to evaluate: {exc}", answer)
    if isinstance(ref, Text) and "\\" in ref.text:
        return unjudged("invalid_reference", f"cannot parse the reference {reference_text!r}", answer)
    answer = _decimal_comma(answer, ref, completion)
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
    if _several(ref) and not _several(pred):
        answer, pred = _one_per_part(completion, extracted.source, ref, answer, pred)
    pred, ref = _same_angle_unit(answer, reference_text, pred, ref)
    if holds_oversized(pred):
        return wrong(answer, oversized_reason(pred, ref))
    try:
        ctx = replace(_comparison(answer, reference_text), positive=symbols == "positive")
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
    """A multiple-choice answer "(C) 12", "option C: 1/2": the letter against a letter reference, else the value."""
    match = _CHOICE_RE.fullmatch(normalize(answer))
    if not match:
        return answer
    letter, value = match.group(1) or match.group(2), match.group(3)
    if re.fullmatch(r"[A-E]", normalize(reference)):
        return letter
    return value or answer


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


def _several(value) -> bool:
    """A list, set, tuple, hedge or numbered parts of two items or more (not an interval)."""
    if isinstance(value, Alternatives):
        return len(value.items) > 1
    return isinstance(value, Seq) and len(value.items) > 1 and value.brackets in ("", "{}", "()", "parts")


def _one_per_part(completion: str, source: str, ref, answer: str, pred):
    """Against n answers, one value per part: the last n boxes when the completion boxed one per
    part ("(a) ... \\boxed{5}. (b) ... \\boxed{7}"), or the n numbers of its closing sentence
    ("The width is 4 m and the length is 9 m."). Under numbered parts they are ordered."""
    n = len(ref.items)
    found = part_boxes(completion) if source == "boxed" else sentence_values(completion) if source == "last_line" else None
    if not found or len(found[0]) < n:
        return answer, pred
    values, numbered = found[0][-n:], found[1]
    try:
        items = tuple(_parse_or_text(v) for v in values)
    except (BudgetExceeded, RecursionError):
        return answer, pred
    brackets = "parts" if numbered else "()" if isinstance(ref, Seq) and ref.brackets == "()" else ""
    return ", ".join(values), Seq(items, brackets)


def _same_angle_unit(answer: str, reference: str, pred, ref):
    """30° against pi/6: an angle in degrees is compared in radians when the other side has pi."""
    in_degrees = [bool(_DEGREES_RE.search(t)) for t in (answer, reference)]
    has_pi = [r"\pi" in normalize(t) for t in (answer, reference)]
    if in_degrees == [True, False] and has_pi[1] and isinstance(pred, sympy.Expr):
        return pred * sympy.pi / 180, ref
    if in_degrees == [False, True] and has_pi[0] and isinstance(ref, sympy.Expr):
        return pred, ref * sympy.pi / 180
    return pred, ref


def _decimal_comma(answer: str, ref, completion: str) -> str:
    """'3,5' against one number is 3.5 (as the list 3, 5 it could only be wrong); '1 234,5' is 1234.5.
    Not when the completion states both numbers on their own ("the roots are 3 and 5"): a list."""
    text = normalize(answer)
    if not (isinstance(ref, sympy.Expr) and ref.is_number) or not _BARE_DECIMAL_COMMA_RE.fullmatch(text):
        return answer
    whole, _, fraction = text.lstrip("-").rpartition(",")
    alone = [re.search(rf"(?<![\d.,]){re.escape(part)}(?![\d,]|\.\d)", completion.replace(answer, " ")) for part in (whole, fraction)]
    if all(alone):
        return answer
    return text.replace(".", "").replace(" ", "").replace(",", ".")


def _comparison(answer: str, reference: str) -> Comparison:
    """How the numbers were written: a decimal reference's places, a decimal answer's digits."""
    pred, ref = normalize(answer), normalize(reference)
    ref_match, pred_match = _DECIMAL_RE.fullmatch(ref), _DECIMAL_RE.fullmatch(pred)
    digits = len(pred_match.group(0).lstrip("-").replace(".", "").lstrip("0")) if pred_match else 0
    return Comparison(
        ref_decimals=len(ref_match.group(1)) if ref_match else None,
        pred_is_decimal=pred_match is not None,
        pred_digits=digits,
        pred_decimals=len(pred_match.group(1)) if pred_match else 0,
        pred_inexact=_INEXACT_RE.search(pred) is not None,
    )
