"""Numerical evaluation for equivalence checks: values to N digits, at sample points.

Symbolic simplification can run for minutes on an adversarial answer; evaluating both
sides at a few points cannot. Everything here answers "how close?" for finite complex
values of any magnitude (``10^(10^10)`` included) and None for undefined ones.
"""
from __future__ import annotations

import mpmath
import sympy

REL_TOL = 1e-9          # first screen at 30 digits: evaluation noise is far below this
CONFIRM_DIGITS = 300    # exact numbers that pass the screen must agree to ~280 digits
# Symbols are real numbers: points are real, functions take their principal (complex) values
# where a real input leaves their real domain. Mixed signs catch |x| vs x and sqrt(x^2) vs x;
# distinct values per variable catch x*y vs x^2; the all-negative row catches rules that hold
# only for positive numbers (sqrt(x) sqrt(y) = sqrt(xy), (x^a)^b = x^(ab), ln(xy) = ln x + ln y).
_POINTS = (
    (0.7317, -1.2281, 1.9137, -0.4429), (1.3173, 0.5521, -0.8311, 2.1059), (-1.6127, 0.9433, 0.3671, -2.2741),
    (-0.8713, -1.4477, -0.6359, -1.7723),
)


# n, m and k name integers, as in "for any integer n": (-1)^(2n) is 1, sin(n pi) is 0.
INTEGER_NAMES = {"n", "m", "k"}
_INTEGER_POINTS = ((3, -2, 5, -4), (2, 4, -3, 6), (-5, 3, 2, -7), (-3, -6, -4, -2))


def assignments(symbols, positive: bool = False) -> list[dict]:
    """Four points, a distinct value per variable at each (an integer for n, m, k); with
    ``positive`` (the sample says its symbols are positive) their absolute values."""
    ordered = sorted(symbols, key=lambda s: s.name)
    return [{s: _value(s, i, row, ints, positive) for i, s in enumerate(ordered)} for row, ints in zip(_POINTS, _INTEGER_POINTS)]


def _value(symbol, i: int, row: tuple, ints: tuple, positive: bool) -> sympy.Expr:
    if symbol.name in INTEGER_NAMES:
        value = ints[i % len(ints)] + 9 * (i // len(ints))
        return sympy.Integer(abs(value) if positive else value)
    value = row[i % len(row)] + 0.37 * (i // len(row))
    return sympy.Float(abs(value) if positive else value)


def evaluate(expr, point: dict, digits: int = 30) -> mpmath.mpc | None:
    """A finite complex value, any magnitude (10^(10^10) included); None if undefined."""
    try:
        exact = {s: v for s, v in point.items() if v.is_Integer}
        if exact:  # integers substituted exactly: sin(3 pi) is 0, not 1e-31
            expr, point = expr.subs(exact), {s: v for s, v in point.items() if s not in exact}
        value = expr.evalf(digits, subs=point) if point else expr.evalf(digits)
        if not value.is_number or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            return None
        re, im = (sympy.Float(part, digits) for part in value.as_real_imag())
        with mpmath.workdps(digits):
            result = mpmath.mpc(mpmath.mpf(re._mpf_), mpmath.mpf(im._mpf_))
        return result if mpmath.isfinite(result) else None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return None


def close(a: mpmath.mpc, b: mpmath.mpc, rel_tol: float = REL_TOL) -> bool:
    with mpmath.workdps(CONFIRM_DIGITS + 10):
        gap = abs(a - b)
        return gap <= rel_tol * max(abs(a), abs(b)) or gap < mpmath.mpf(10) ** (-CONFIRM_DIGITS)


def constant_ratio(f: sympy.Expr, g: sympy.Expr) -> mpmath.mpc | None:
    """f / g when it is the same non-zero constant at every sample point, else None.

    Two equations f = 0 and g = 0 (or inequalities f > 0, g > 0) are the same
    condition when f is a constant multiple of g.
    """
    if f.free_symbols != g.free_symbols:
        return None
    ratios = [r for r in (evaluate(f / g, point) for point in assignments(f.free_symbols)) if r is not None]
    if len(ratios) < 2 or abs(ratios[0]) <= 1e-12 or not all(close(r, ratios[0]) for r in ratios):
        return None
    return ratios[0]
