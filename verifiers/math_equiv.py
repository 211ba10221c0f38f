"""Decide whether a parsed answer is mathematically the reference.

Conventions (each one a deliberate choice, tested in tests/test_math_verifier.py):
- Text that is the same after normalisation is the same answer, before any parsing
  (``verifiers.math``): ``even $k$`` and ``\\text{even } k``. Answers in words compare as words,
  without case, articles or text commands (``\\text{an Ellipse}`` is ``ellipse``, ``Yes`` is
  ``yes``; ``verifiers.math_words``); "no solution" and "the empty set" are ``\\emptyset``.
- Numbers compare exactly: rationals by value, other numbers to ~280 significant digits (parsed numbers are exact).
  A decimal *reference* with d places is matched by an exact answer that rounds to it (``1/3``
  for ``0.33``), not by one that holds a decimal itself (``e^{0.693}`` is not ``2.00``: it is an
  approximation already); a short decimal *answer* is never rounded up to an exact reference
  (``3.14`` is not ``\\pi``). A decimal answer of 12 or more significant digits is a print-out of
  the exact value when every digit it prints is right (the gap under one unit of its last place:
  ``0.142857142857143`` is ``1/7``, ``0.142857142857999`` is not), and one of 16 or more, a double's
  print-out, when it is off by rounding noise only (``0.30000000000000004`` is ``0.3``).
  ``0.\\overline{3}`` is ``1/3``. ``exact \\approx decimal`` means its exact part, on either side.
  An angle in degrees is compared in radians against a reference with pi (``30^\\circ``, ``\\pi/6``).
- Symbols are real numbers of either sign (``|x|`` is not ``x``, ``\\sqrt{x^2}`` is ``|x|``,
  ``\\ln e^x`` is ``x``), unless the sample's ``symbols`` field says ``positive``. Functions take
  their principal values where a real input leaves their real domain, so a rule that holds only
  for positive numbers is no identity (``\\sqrt x\\sqrt y`` is not ``\\sqrt{xy}``, ``(x^a)^b`` is not
  ``x^{ab}``, ``\\ln(ab)`` is not ``\\ln a + \\ln b``: sampled at an all-negative point too);
  a power with an odd denominator of a real base is real (``(-8)^{1/3} = \\sqrt[3]{-8} = -2``,
  ``x^{2/3} = \\sqrt[3]{x^2}``); ``n``, ``m`` and ``k`` are integers (``(-1)^{2n} = 1``); ``a^b^c`` is
  ``a^{(b^c)}``. Expressions must use the same variables (``X`` is not ``x``) and agree at
  four points (``verifiers.math_sample``).
- An equation states a value only when one side is a label: a lone variable (``x = 3``,
  ``y = 2x + 3``: a bare ``2x + 3`` answers it), a function (``g(x) = 3x-1``), a tuple or ratio
  of variables (``(a,b) = (2,5)``, ``m:n = 3:8``), a geometric name (``\\angle ABC = 38^\\circ``,
  ``|AB| = 5``, ``AB:BC = 2:3``), a value of a function (``\\sin\\theta = 1/2``), a name in words
  (``\\text{Area} = 12``), or when it is all numbers (``3 + 4 = 7``). An equation that is a
  condition (``2a - b = 0``, ``x + y = 5``) is not matched by a bare value.
  Equations match equations that differ by a non-zero factor or by swapped sides, and
  ``y = 3x-1`` matches ``g(x) = 3x-1`` (one function, two names for its value).
- Inequalities, intervals and unions compare as sets of reals; inequalities in several
  variables match up to a positive factor (``a > b`` is ``b < a``, not ``a < b``). A range as
  an inequality of a function value (``f(x) \\ge 2``) is the set it describes; inequalities
  joined by "and" hold together; ``]2, 5[`` is ``(2, 5)``; ``\\mathbb{R} \\setminus \\{3\\}`` is ``x \\ne 3``.
- Sets and bare lists ("1, 2", "1; 2", "2 or 3") are unordered; tuples and vectors are ordered;
  ``[1, 2, 3]`` (three items or more) is a list. Named values match by name (``x = 1, y = -2``
  is ``(x, y) = (1, -2)``) and, against a plain tuple, in the alphabetical order of their names
  (``y = 2, x = 3`` is ``(3, 2)``); indexed names of roots (``x_1 = 2, x_2 = 3``) are a set.
  Numbered parts (``(a) 5, (b) 7``, ``Part 1: 5``, boxes under such marks) are ordered,
  against a bare list too: its order is the parts'.
- Ratios ``a:b`` match proportional ratios (``6:16`` is ``3:8``) and, with two terms,
  the number ``a/b``. ``h:mm`` (two-digit minutes) is a time of day; ``8:34 PM`` is ``20:34``.
- A percentage ``p%`` (or "p percent", "twenty-five percent") matches ``p%``, ``p`` and ``p/100``;
  a bare ``p`` does not match ``p/100``.
- Digit grouping: ``1,234``, ``1{,}234``, ``12,\\!345``, ``1\\,234`` and ``1 250 000`` are one number.
  Decimal comma: ``3,5`` is 3.5 in a completion written in a language that uses the
  decimal comma (French, Spanish, German, Portuguese, Italian, Russian; ``verifiers.math_extract``),
  never inside brackets; ``2{,}5`` (one or two digits after) is 2.5 anywhere; and a bare ``3,5``
  (no space) against a single-number reference is 3.5 (as the list 3, 5 it could only be wrong),
  unless the completion states 3 and 5 on their own ("the roots are 3 and 5"). ``3, 5`` is a list.
- A multiple-choice answer ``(C) 12`` or ``option C: 12`` is ``C`` against a letter reference, else ``12``.
- Several answers ("1 or 2", ``\\pm 2``, two different boxes) never match a single-valued
  reference. Against n values, the last n boxes (one per part, nothing taking one back between
  them) or the n numbers of the closing sentence ("3 apples and 4 pears") are the answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy

from verifiers.math_parse import Alternatives, ClockTime, Percent, Ratio, Relation, Seq, Text, Union
from verifiers.math_relations import as_set, named_values, relation_matches, sets_equal, value_of
from verifiers.math_sample import CONFIRM_DIGITS, assignments, close, evaluate

FLOAT_DIGITS = 12       # a decimal answer this long is a float print-out of an exact value
DOUBLE_DIGITS = 16      # ... and this long, a double's print-out (repr gives 16 or 17 digits)
DOUBLE_NOISE = 1e-15    # a few units in a double's last place: rounding noise of a computation


@dataclass(frozen=True)
class Comparison:
    """Context of one comparison: how the reference's and the answer's numbers were written."""

    ref_decimals: int | None = None  # places of a decimal reference (0.33: 2), None for an exact one
    pred_is_decimal: bool = False    # the answer is one decimal number
    pred_digits: int = 0             # ... with this many significant digits
    pred_decimals: int = 0           # ... and this many places
    pred_inexact: bool = False       # a decimal anywhere in the answer (e^{0.693}): an approximation already
    positive: bool = False           # the sample's symbols are positive (its field symbols: positive)


def equivalent(pred, ref, ctx: Comparison | None = None) -> tuple[bool, str]:
    ctx = ctx or Comparison()
    pred, ref = _collapse(pred), _collapse(ref)
    if isinstance(ref, Text) or isinstance(pred, Text):
        same = _text_key(pred) == _text_key(ref)
        return same, "same text" if same else "text differs from the reference"
    if _is_parts(ref) or _is_parts(pred):
        return _verdict(_parts_equal(pred, ref, ctx), "numbered parts")
    pred_names, ref_names = named_values(pred), named_values(ref)
    if pred_names is not None and ref_names is not None:  # "(a, b) = (3, -2)" vs "a = 3, b = -2"
        same = pred_names.keys() == ref_names.keys() and all(_equal(pred_names[k], ref_names[k], ctx) for k in ref_names)
        return _verdict(same, "named values")
    if (pred_names is None) != (ref_names is None):  # "x = 3, y = 2" vs "(3, 2)"
        names, other = (pred_names, ref) if pred_names is not None else (ref_names, pred)
        if isinstance(other, Seq) and other.brackets == "()":
            listed = _alphabetical_tuple(names)
            return _verdict(_ordered_equal(*((listed, other) if pred_names is not None else (other, listed)), ctx), "tuple")
    # "S = \{1, 2, 3\}" against a bare set: the value the equation states.
    if isinstance(pred, Relation) and not isinstance(ref, Relation) and value_of(pred) is not None:
        pred = _collapse(value_of(pred))
    elif isinstance(ref, Relation) and not isinstance(pred, Relation) and value_of(ref) is not None:
        ref = _collapse(value_of(ref))
    pred_set, ref_set = as_set(pred), as_set(ref)
    if pred_set is not None and ref_set is not None and not _both_tuples(pred, ref):
        return _verdict(sets_equal(pred_set, ref_set), "set of reals")
    if _is_multi(ref) and _is_bracketed_list(pred):
        pred = Seq(pred.items, "")  # [1, 2, 3] against the list 1, 2, 3: its items, as listed
    elif _is_multi(pred) and _is_bracketed_list(ref) and isinstance(pred, Seq) and pred.brackets == "":
        return _verdict(_ordered_equal(Seq(pred.items, "()"), ref, ctx), "tuple")
    if _is_multi(pred) and not _is_multi(ref):
        return False, "several different answers given for a single-valued reference"
    if _is_multi(ref):
        if not _is_multi(pred):
            return False, "one answer given where the reference has several"
        return _verdict(_unordered_equal(_members(pred), _members(ref), ctx), "set of answers")
    if isinstance(ref, Percent) or isinstance(pred, Percent):
        return _verdict(_percent_equal(pred, ref, ctx), "percentage")
    if isinstance(ref, Relation) or isinstance(pred, Relation):
        return _verdict(relation_matches(pred, ref, lambda a, b: _equal(a, b, ctx)), "equation")
    if isinstance(ref, Ratio) or isinstance(pred, Ratio):  # before times: 6:16 is a ratio where 3:8 is asked
        return _verdict(_ratios_equal(pred, ref, ctx), "ratio")
    if isinstance(ref, ClockTime) or isinstance(pred, ClockTime):
        return _verdict(_times_equal(pred, ref), "time of day")
    if isinstance(ref, Seq) or isinstance(pred, Seq) or _is_matrix(ref) or _is_matrix(pred):
        return _verdict(_ordered_equal(pred, ref, ctx), "tuple")
    if isinstance(ref, Union) and isinstance(pred, Union):
        return _verdict(_unordered_equal(pred.items, ref.items, ctx), "union")
    if not (isinstance(pred, sympy.Expr) and isinstance(ref, sympy.Expr)):
        return _verdict(_structurally_equal(pred, ref), "answer")  # a bare label, a union vs a value
    return _verdict(_equal(pred, ref, ctx), "value")


def _verdict(same: bool, what: str) -> tuple[bool, str]:
    return same, f"equivalent {what}" if same else f"{what} differs from the reference"


# ---------------------------------------------------------------- shapes
def _collapse(value):
    """'2, 2' or '\\boxed{2} or \\boxed{2}' is one answer; a one-item list is its item."""
    if isinstance(value, (Alternatives, Seq)) and (isinstance(value, Alternatives) or value.brackets == ""):
        items = _dedupe(value.items)
        if len(items) == 1:
            return _collapse(items[0])
        return type(value)(items, "") if isinstance(value, Seq) else Alternatives(items)
    return value


def _dedupe(items) -> tuple:
    out: list = []
    for item in items:
        if not any(_structurally_equal(item, seen) for seen in out):
            out.append(item)
    return tuple(out)


def _structurally_equal(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # sympy refuses == between some types; then they differ
        return False


def _is_multi(value) -> bool:
    return isinstance(value, Alternatives) or (isinstance(value, Seq) and value.brackets in ("", "{}"))


def _members(value) -> tuple:
    # "x = 1 or x = 2" lists the values 1 and 2.
    return tuple(value_of(i) if isinstance(i, Relation) and value_of(i) is not None else i for i in value.items)


def _is_bracketed_list(value) -> bool:
    """(1, 2, 3) or [1, 2, 3]: three items or more, so no interval."""
    return isinstance(value, Seq) and value.brackets in ("()", "[]") and len(value.items) >= 3


def _is_parts(value) -> bool:
    return isinstance(value, Seq) and value.brackets == "parts"


def _parts_equal(pred, ref, ctx: Comparison) -> bool:
    """Numbered parts are ordered, on either side: a reference listing the answers of parts in
    order ("\\frac12, 4") is not matched by the parts answered the other way round."""
    if not _is_parts(ref):
        if isinstance(ref, Seq) and ref.brackets == "{}":
            return _unordered_equal(pred.items, ref.items, ctx)  # a set stays a set
        ref = Seq(_members(ref), "") if isinstance(ref, Seq) else ref
        return _ordered_equal(Seq(pred.items, ""), ref, ctx)
    if isinstance(pred, Seq) and pred.brackets in ("", "()", "[]", "parts"):
        return _ordered_equal(Seq(pred.items, ""), Seq(ref.items, ""), ctx)
    return False


def _is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixBase)


def _both_tuples(pred, ref) -> bool:
    return isinstance(pred, Seq) and isinstance(ref, Seq) and pred.brackets == ref.brackets


def _alphabetical_tuple(names: dict) -> Seq:
    """'y = 2, x = 3' as the tuple (3, 2): a tuple lists its unknowns in alphabetical order."""
    return Seq(tuple(value for _, value in sorted(names.items(), key=lambda kv: str(kv[0]))), "()")


def _text_key(value) -> str:
    if isinstance(value, Text):
        text = value.text
    else:
        try:
            text = str(value)
        except ValueError:  # Python will not print an integer of more than 4300 digits: no text either
            return "\0"
    return "".join(ch for ch in text.lower() if ch.isalnum())


# ---------------------------------------------------------------- comparisons
def _unordered_equal(preds: tuple, refs: tuple, ctx: Comparison) -> bool:
    preds, refs = _dedupe(preds), _dedupe(refs)
    if len(preds) != len(refs):
        return False
    unmatched = list(preds)
    for ref in refs:
        match = next((p for p in unmatched if equivalent(p, ref, ctx)[0]), None)
        if match is None:
            return False
        unmatched.remove(match)
    return True


def _ordered_equal(pred, ref, ctx: Comparison) -> bool:
    p_items, p_brackets = _items(pred)
    r_items, r_brackets = _items(ref)
    if p_items is None or r_items is None or len(p_items) != len(r_items):
        return False
    if _is_matrix(pred) and _is_matrix(ref) and pred.shape != ref.shape:
        return False  # a row vector is not a column vector
    if p_brackets and r_brackets and p_brackets != r_brackets and len(r_items) == 2:
        return False  # (1, 2) vs [1, 2]: different intervals
    return all(equivalent(p, r, ctx)[0] for p, r in zip(p_items, r_items))


def _items(value):
    if isinstance(value, Seq):
        return value.items, value.brackets
    if _is_matrix(value):
        if 1 in value.shape:  # a vector matches a tuple of its entries
            return tuple(value), ""
        return tuple(Seq(tuple(value.row(i)), "()") for i in range(value.rows)), "matrix"
    if isinstance(value, tuple):
        return value, ""
    return None, None


def _percent_equal(pred, ref, ctx: Comparison) -> bool:
    if isinstance(pred, Percent) and isinstance(ref, Percent):
        return _equal(pred.value, ref.value, ctx)
    if isinstance(pred, Percent):
        return any(_equal(v, ref, ctx) for v in (pred.value, pred.value / 100))
    return any(_equal(pred, v, ctx) for v in (ref.value, ref.value / 100))


def _times_equal(pred, ref) -> bool:
    if isinstance(pred, ClockTime) and isinstance(ref, ClockTime):
        return pred.seconds == ref.seconds
    return False


def _ratios_equal(pred, ref, ctx: Comparison) -> bool:
    if isinstance(pred, ClockTime) and isinstance(ref, Ratio):  # "2:15" read as a ratio where one is asked
        pred = Ratio((sympy.Integer(pred.seconds // 3600), sympy.Integer(pred.seconds // 60 % 60)))
    if isinstance(pred, Ratio) and isinstance(ref, Ratio):
        if len(pred.items) != len(ref.items) or not all(isinstance(v, sympy.Expr) for v in pred.items + ref.items):
            return False
        p0, r0 = pred.items[0], ref.items[0]
        return all(_equal(p * r0, r * p0, ctx) for p, r in zip(pred.items[1:], ref.items[1:])) and _nonzero(p0 * r0)
    ratio, other = (pred, ref) if isinstance(pred, Ratio) else (ref, pred)
    if len(ratio.items) != 2 or not isinstance(other, sympy.Expr):
        return False
    return _equal(*((ratio.items[0] / ratio.items[1], other) if ratio is pred else (other, ratio.items[0] / ratio.items[1])), ctx)


def _nonzero(value: sympy.Expr) -> bool:
    return value.is_zero is False


def _equal(pred, ref, ctx: Comparison) -> bool:
    if not (isinstance(ref, sympy.Expr) and isinstance(pred, sympy.Expr)) or _is_matrix(pred) or _is_matrix(ref):
        return equivalent(pred, ref, ctx)[0]
    if _structurally_equal(pred, ref):
        return True
    symbols = pred.free_symbols | ref.free_symbols
    if not symbols:
        return _numbers_equal(pred, ref, ctx)
    # Distinct values per variable: X+1 and x+1 differ, sin^2 x + cos^2 x and 1 agree.
    return _functions_equal(pred, ref, symbols, ctx.positive)


def _numbers_equal(pred: sympy.Expr, ref: sympy.Expr, ctx: Comparison) -> bool:
    if (pred == 0 and ref.is_zero is False) or (ref == 0 and pred.is_zero is False):
        return False  # 10^{-10^{10}} is tiny, not 0 (its value underflows every tolerance)
    if ctx.ref_decimals is None:
        difference = pred - ref  # exact where terms cancel: 2^100000 + 1 vs 2^100000 differ by 1
        if difference.is_Rational:
            if difference == 0:
                return True
            if not (ctx.pred_is_decimal and ctx.pred_digits >= FLOAT_DIGITS):
                return False
    a, b = evaluate(pred, {}), evaluate(ref, {})
    if a is None or b is None:
        return False
    if ctx.ref_decimals is not None and not ctx.pred_inexact:
        return abs(a - b) <= 0.5 * mpmath.mpf(10) ** (-ctx.ref_decimals) * (1 + 1e-9)
    if ctx.ref_decimals is None and ctx.pred_is_decimal and ctx.pred_digits >= FLOAT_DIGITS:
        return abs(a - b) < mpmath.mpf(10) ** (-ctx.pred_decimals)  # every printed digit right
    if not close(a, b):
        return False
    if ctx.pred_is_decimal and ctx.pred_digits >= DOUBLE_DIGITS and abs(a - b) <= DOUBLE_NOISE * abs(b):
        return True  # 0.30000000000000004: a double's print-out, off by its rounding noise
    # Parsed numbers are exact, so agreement must hold far past float noise:
    # 2^(2^-300) and 1 agree to 90 digits and still differ.
    a, b = evaluate(pred, {}, CONFIRM_DIGITS), evaluate(ref, {}, CONFIRM_DIGITS)
    return a is not None and b is not None and close(a, b, mpmath.mpf(10) ** (20 - CONFIRM_DIGITS))


def _functions_equal(pred: sympy.Expr, ref: sympy.Expr, symbols, positive: bool = False) -> bool:
    agreed = 0
    for point in assignments(symbols, positive):
        a, b = evaluate(pred, point), evaluate(ref, point)
        if a is None or b is None:
            continue
        if not close(a, b):
            return False
        agreed += 1
    if agreed >= 2:
        return True
    return sympy.simplify(pred - ref) == 0  # rare: undefined at every sample point
