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


def assignments(symbols) -> list[dict]:
    """Four points, a distinct value per variable at each."""
    ordered = sorted(symbols, key=lambda s: s.name)
    return [{s: sympy.Float(row[i % len(row)] + 0.37 * (i // len(row))) for i, s in enumerate(ordered)} for row in _POINTS]


def evaluate(expr, point: dict, digits: int = 30) -> mpmath.mpc | None:
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
