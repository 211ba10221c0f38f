"""Decide whether a parsed answer is mathematically the reference.

Conventions (each one a deliberate choice, tested in tests/test_math_verifier.py):
- Numbers compare exactly: rationals by value, other numbers to ~280 significant digits (parsed numbers are exact).
  A decimal *reference* with d places is matched by an exact answer that rounds
  to it (``1/3`` for ``0.33``); a decimal *answer* is never rounded up to an
  exact reference (``3.14`` is not ``\\pi``, ``0.333`` is not ``1/3``).
- Symbolic expressions must use the same variables (``X`` is not ``x``) and agree
  at several mixed-sign points, complex values included (``|x|`` is not ``x``).
- ``x = 2`` and ``2 = x`` match the value ``2``; equations match equations that
  differ by a non-zero factor or by swapped sides.
- Inequalities, intervals and unions compare as sets of reals.
- Sets and bare lists ("1, 2") are unordered; tuples and vectors are ordered.
- A percentage ``p%`` matches ``p%``, ``p`` and ``p/100``.
- Several answers ("1 or 2", ``\\pm 2``, two different boxes) never match a
  single-valued reference.
"""
from __future__ import annotations

import mpmath
import sympy

from verifiers.math_parse import Alternatives, Percent, Relation, Seq, Text, Union

REL_TOL = 1e-9          # first screen at 30 digits: evaluation noise is far below this
CONFIRM_DIGITS = 300    # exact numbers that pass the screen must agree to ~280 digits
# Mixed signs catch |x| vs x and sqrt(x^2) vs x; distinct per variable catch x*y vs x^2.
_POINTS = ((0.7317, -1.2281, 1.9137, -0.4429), (1.3173, 0.5521, -0.8311, 2.1059), (-1.6127, 0.9433, 0.3671, -2.2741))
_INTERVAL_BRACKETS = {"()", "[]", "(]", "[)"}


class Comparison:
    """Context of one comparison: how the reference's number was written."""

    def __init__(self, ref_decimals: int | None = None, pred_is_decimal: bool = False):
        self.ref_decimals = ref_decimals
        self.pred_is_decimal = pred_is_decimal


def equivalent(pred, ref, ctx: Comparison | None = None) -> tuple[bool, str]:
    ctx = ctx or Comparison()
    pred, ref = _collapse(pred), _collapse(ref)
    if isinstance(ref, Text) or isinstance(pred, Text):
        same = _text_key(pred) == _text_key(ref)
        return same, "same text" if same else "text differs from the reference"
    pred_set, ref_set = _as_set(pred), _as_set(ref)
    if pred_set is not None and ref_set is not None and not _both_tuples(pred, ref):
        return _verdict(_sets_equal(pred_set, ref_set), "set of reals")
    if _is_multi(pred) and not _is_multi(ref):
        return False, "several different answers given for a single-valued reference"
    if _is_multi(ref):
        if not _is_multi(pred):
            return False, "one answer given where the reference has several"
        return _verdict(_unordered_equal(_members(pred), _members(ref), ctx), "set of answers")
    if isinstance(ref, Percent) or isinstance(pred, Percent):
        return _verdict(_percent_equal(pred, ref, ctx), "percentage")
    if isinstance(ref, Relation):
        return _verdict(_relation_matches(pred, ref, ctx), "equation")
    if isinstance(pred, Relation):
        value = _value_side(pred)
        return _verdict(value is not None and _equal(value, ref, ctx), "value of the equation")
    if isinstance(ref, Seq) or isinstance(pred, Seq) or _is_matrix(ref) or _is_matrix(pred):
        return _verdict(_ordered_equal(pred, ref, ctx), "tuple")
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
    items = value.items
    # "x = 1 or x = 2" lists the values 1 and 2.
    return tuple(_value_side(i) if isinstance(i, Relation) and _value_side(i) is not None else i for i in items)


def _is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixBase)


def _both_tuples(pred, ref) -> bool:
    return isinstance(pred, Seq) and isinstance(ref, Seq) and pred.brackets == ref.brackets


def _value_side(rel: Relation):
    """The value an equation states: 'x = 2' -> 2, '2 = x' -> 2, '3 + 4 = 7' -> 7."""
    if any(op != "=" for op in rel.ops):
        return None
    values = [p for p in rel.parts if not (isinstance(p, sympy.Symbol))]
    return values[-1] if values else None


def _text_key(value) -> str:
    text = value.text if isinstance(value, Text) else str(value)
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


def _relation_matches(pred, ref: Relation, ctx: Comparison) -> bool:
    if isinstance(pred, Relation) and pred.ops == ("=",) and ref.ops == ("=",):
        return _equations_equal(pred, ref, ctx)
    value = _value_side(ref)
    if value is not None and not isinstance(pred, Relation):
        return _equal(pred, value, ctx)
    return False


def _equations_equal(pred: Relation, ref: Relation, ctx: Comparison) -> bool:
    (pl, pr), (rl, rr) = pred.parts, ref.parts
    if isinstance(pl, sympy.Symbol) and pl == rl:
        return _equal(pr, rr, ctx)
    f, g = pl - pr, rl - rr
    if f.free_symbols != g.free_symbols:
        return False
    ratios = [r for r in (_evaluate(f / g, point) for point in _assignments(f.free_symbols)) if r is not None]
    return len(ratios) >= 2 and abs(ratios[0]) > 1e-12 and all(_close(r, ratios[0]) for r in ratios)


def _equal(pred, ref, ctx: Comparison) -> bool:
    if isinstance(pred, (Seq, Relation, Alternatives, Union, Percent, Text)) or _is_matrix(pred) or _is_matrix(ref):
        return equivalent(pred, ref, ctx)[0]
    if not isinstance(ref, sympy.Basic) or not isinstance(pred, sympy.Basic):
        return equivalent(pred, ref, ctx)[0]
    if _structurally_equal(pred, ref):
        return True
    symbols = pred.free_symbols | ref.free_symbols
    if not symbols:
        return _numbers_equal(pred, ref, ctx)
    # Distinct values per variable: X+1 and x+1 differ, sin^2 x + cos^2 x and 1 agree.
    return _functions_equal(pred, ref, symbols)


def _numbers_equal(pred: sympy.Expr, ref: sympy.Expr, ctx: Comparison) -> bool:
    if ctx.ref_decimals is None:
        difference = pred - ref  # exact where terms cancel: 2^100000 + 1 vs 2^100000 differ by 1
        if difference.is_Rational:
            return difference == 0
    a, b = _evaluate(pred, {}), _evaluate(ref, {})
    if a is None or b is None:
        return False
    if ctx.ref_decimals is not None and not ctx.pred_is_decimal:
        return abs(a - b) <= 0.5 * mpmath.mpf(10) ** (-ctx.ref_decimals) * (1 + 1e-9)
    if not _close(a, b):
        return False
    # Parsed numbers are exact, so agreement must hold far past float noise:
    # 2^(2^-300) and 1 agree to 90 digits and still differ.
    a, b = _evaluate(pred, {}, CONFIRM_DIGITS), _evaluate(ref, {}, CONFIRM_DIGITS)
    return a is not None and b is not None and _close(a, b, mpmath.mpf(10) ** (20 - CONFIRM_DIGITS))


def _functions_equal(pred: sympy.Expr, ref: sympy.Expr, symbols) -> bool:
    agreed = 0
    for point in _assignments(symbols):
        a, b = _evaluate(pred, point), _evaluate(ref, point)
        if a is None or b is None:
            continue
        if not _close(a, b):
            return False
        agreed += 1
    if agreed >= 2:
        return True
    return sympy.simplify(pred - ref) == 0  # rare: undefined at every sample point


def _assignments(symbols) -> list[dict]:
    ordered = sorted(symbols, key=lambda s: s.name)
    return [{s: sympy.Float(row[i % len(row)] + 0.37 * (i // len(row))) for i, s in enumerate(ordered)} for row in _POINTS]


def _evaluate(expr, point: dict, digits: int = 30) -> mpmath.mpc | None:
    """A finite complex value, any magnitude (10^(10^10) included); None if undefined."""
    try:
        value = expr.evalf(digits, subs=point) if point else expr.evalf(digits)
        if not value.is_number or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            return None
        re, im = (sympy.Float(part, digits) for part in value.as_real_imag())
        with mpmath.workdps(digits):
            result = mpmath.mpc(mpmath.mpf(re._mpf_), mpmath.mpf(im._mpf_))
        return result if mpmath.isfinite(result) else None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return None


def _close(a: mpmath.mpc, b: mpmath.mpc, rel_tol: float = REL_TOL) -> bool:
    with mpmath.workdps(CONFIRM_DIGITS + 10):
        gap = abs(a - b)
        return gap <= rel_tol * max(abs(a), abs(b)) or gap < mpmath.mpf(10) ** (-CONFIRM_DIGITS)


# ---------------------------------------------------------------- sets of reals
def _as_set(value):
    """An interval, union or one-variable inequality as a sympy Set; None if it is none of these."""
    try:
        if isinstance(value, Seq) and value.brackets in _INTERVAL_BRACKETS and len(value.items) == 2:
            lo, hi = value.items
            if not (isinstance(lo, sympy.Expr) and isinstance(hi, sympy.Expr)) or lo.free_symbols or hi.free_symbols:
                return None
            return sympy.Interval(lo, hi, value.brackets[0] == "(", value.brackets[1] == ")")
        if isinstance(value, (Union, Alternatives)):
            parts = [_as_set(item) for item in value.items]
            return None if any(p is None for p in parts) else sympy.Union(*parts)
        if isinstance(value, Relation) and any(op != "=" for op in value.ops):
            return _inequality_set(value)
    except (TypeError, ValueError):
        return None
    return None


_RELATIONALS = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge, "!=": sympy.Ne, "=": sympy.Eq}


def _inequality_set(rel: Relation):
    symbols = set().union(*(p.free_symbols for p in rel.parts))
    if len(symbols) != 1:
        return None
    (x,) = symbols
    result = sympy.S.Reals
    for (lhs, rhs), op in zip(zip(rel.parts, rel.parts[1:]), rel.ops):
        result = result.intersect(_RELATIONALS[op](lhs, rhs).as_set() if (lhs - rhs).free_symbols else sympy.S.Reals)
    return result


def _sets_equal(a, b) -> bool:
    if a == b:
        return True
    return sympy.Complement(a, b) is sympy.S.EmptySet and sympy.Complement(b, a) is sympy.S.EmptySet
