"""Sizes of numbers too large to evaluate: log10|x|, to say why an answer holding one is wrong.

``10^{10^{100}}`` cannot be evaluated (written out it has 10^100 digits) but its size can:
log10|x| = 10^100, against log10 3 = 0.48 for a reference 3. ``verifiers.math`` judges an
answer left holding an ``Oversized`` number wrong whatever its size; this module decides
which reason it gives: "differs in size" where the sizes prove it, "cannot be checked" where
they cannot (a sum whose terms may cancel, a tower too tall to size, a size equal to the
reference's).

log10|x| is an mpmath number, whose exponent is unbounded: the tower 10^{10^{10^{10}}} has
log10 = 10^(10^10), which it holds. Where even that is out of reach the size is None.
"""
from __future__ import annotations

import mpmath
import sympy

from verifiers.math_numbers import Oversized, OversizedBinomial, OversizedFactorial, OversizedPower
from verifiers.math_parse import sympy_values
from verifiers.math_sample import evaluate

_DIGITS = 30
_MAX_LOG = 10**6      # 10^L is computed only below this: mpmath needs ~3.3 L bits of exponent work
_DOMINANT = 40        # a term 10^40 times larger than the rest fixes a sum's size to ~1e-40


def log10_abs(expr) -> mpmath.mpf | None:
    """log10|expr| of a number, Oversized parts included; -inf for 0; None when unknown."""
    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    with mpmath.workdps(_DIGITS):
        try:
            size = _log10(expr)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
            return None
        return None if size is None or mpmath.isnan(size) else size


def sizes_differ(a: mpmath.mpf, b: mpmath.mpf) -> bool:
    """Whether two sizes prove the numbers different (computed to 30 digits; 1e-20 is far above the noise)."""
    if mpmath.isinf(a) or mpmath.isinf(b):
        return a != b
    return abs(a - b) > mpmath.mpf("1e-20") * max(1, abs(a), abs(b))


def describe(size: mpmath.mpf) -> str:
    """A size as a reader compares it: '3', '10^100', '10^(10^100)'."""
    if mpmath.isinf(size):
        return "0" if size < 0 else "infinite"
    if abs(size) < 6:
        return format(float(mpmath.power(10, size)), ".6g")
    if abs(size) < 10**6:
        return f"10^{float(size):.6g}"
    return f"10^({'-' if size < 0 else ''}10^{float(mpmath.log10(abs(size))):.6g})"


def _log10(expr: sympy.Expr) -> mpmath.mpf | None:
    if not expr.has(Oversized):
        if expr.is_zero:
            return mpmath.ninf
        value = evaluate(expr, {}, _DIGITS)
        return None if value is None else (mpmath.ninf if value == 0 else mpmath.log10(abs(value)))
    if isinstance(expr, OversizedPower):
        return _power_size(*expr.args)
    if isinstance(expr, OversizedFactorial):
        return _factorial_size(expr.args[0])
    if isinstance(expr, OversizedBinomial):
        return _binomial_size(*expr.args)
    if isinstance(expr, sympy.Pow):
        return _power_size(*expr.args)
    if isinstance(expr, sympy.Mul):
        sizes = [_log10(factor) for factor in expr.args]
        return None if any(s is None for s in sizes) else mpmath.fsum(sizes)
    if isinstance(expr, sympy.Add):
        return _sum_size(expr.args)
    if isinstance(expr, sympy.Abs):
        return _log10(expr.args[0])
    return None  # sin, log, ... of an Oversized number: no size we trust


def _power_size(base: sympy.Expr, exponent: sympy.Expr) -> mpmath.mpf | None:
    """log10|b^e| = e log10|b| for a real exponent (an Oversized one through its own size)."""
    base_size = _log10(base)
    if base_size is None:
        return None
    if exponent.has(Oversized):
        exponent_size = _log10(exponent)
        if exponent_size is None or exponent_size > _MAX_LOG or not _positive(exponent):
            return None
        value = mpmath.power(10, exponent_size)
    else:
        value = evaluate(exponent, {}, _DIGITS)
        if value is None or value.imag != 0:
            return None  # a complex exponent turns the size by the base's argument: not sized
        value = value.real
    if base_size == mpmath.ninf:
        return mpmath.ninf if value > 0 else None
    return value * base_size


def _factorial_size(n: sympy.Expr) -> mpmath.mpf | None:
    """log10 n! by Stirling: n is past MAX_FACTORIAL, where its error is below 1e-5."""
    value = _real_value(n)
    if value is None or value <= 0:
        return None
    return (value + mpmath.mpf(0.5)) * mpmath.log10(value) - value * mpmath.log10(mpmath.e) + mpmath.log10(2 * mpmath.pi) / 2


def _binomial_size(n: sympy.Expr, k: sympy.Expr) -> mpmath.mpf | None:
    """log10 C(n, k) for integers 0 <= k <= n (mpmath raises its precision as the sizes need)."""
    if n.has(Oversized) or k.has(Oversized) or not (n.is_Integer and k.is_Integer and 0 <= k <= n):
        return None
    return mpmath.log10(mpmath.binomial(mpmath.mpf(int(n)), mpmath.mpf(int(k))))


def _sum_size(terms) -> mpmath.mpf | None:
    """A sum's size where one term dominates the rest beyond any cancellation, else None."""
    sizes = [_log10(term) for term in terms]
    if any(s is None for s in sizes):
        return None
    sizes.sort(reverse=True)
    if sizes[0] - sizes[1] > _DOMINANT + mpmath.log10(len(sizes)):
        return sizes[0]
    return None


def _real_value(expr: sympy.Expr) -> mpmath.mpf | None:
    """A real value, through its size when it is Oversized (and positive)."""
    if expr.has(Oversized):
        size = _log10(expr)
        if size is None or size > _MAX_LOG or not _positive(expr):
            return None
        return mpmath.power(10, size)
    value = evaluate(expr, {}, _DIGITS)
    return None if value is None or value.imag != 0 else value.real


def _positive(expr: sympy.Expr) -> bool:
    """Known positive: a power of a positive base, a factorial, products and powers of those."""
    if isinstance(expr, OversizedFactorial):
        return True
    if isinstance(expr, (OversizedPower, sympy.Pow)):
        return _positive(expr.args[0])
    if isinstance(expr, sympy.Mul):
        return all(_positive(f) for f in expr.args)
    if expr.has(Oversized):
        return False
    value = evaluate(expr, {}, _DIGITS)
    return value is not None and value.imag == 0 and value.real > 0


def holds_oversized(value) -> bool:
    """Whether a parsed answer (a sympy value, or a record of them) holds an Oversized number."""
    return any(v.has(Oversized) for v in sympy_values(value))


def oversized_reason(pred, ref) -> str:
    """Why an answer holding an Oversized number is wrong: by size where the sizes prove it."""
    size, ref_size = log10_abs(pred), log10_abs(ref)
    if size is not None and ref_size is not None and sizes_differ(size, ref_size):
        return f"the answer's size is about {describe(size)}, the reference's {describe(ref_size)}: they differ"
    return "the answer holds a number beyond the evaluation budget, which cannot be checked: judged wrong"
