"""Exact numbers under a budget: literals, division, powers, factorials and binomials that
refuse to run away (``9^{9^{9^9}}``, ``100000000!``, ``\\binom{10^6}{500000}``) instead of
letting sympy grind on them.

Two sizes of "too large":

- ``HugePower``: an exact integer power with more than ``MAX_EXACT_DIGITS`` digits; opaque to
  sympy's automatic simplification, evaluated in floating point on demand (``2^{100000}``).
- ``Oversized``: beyond any evaluation (an exponent over ``MAX_EXPONENT**2``, a tower, a
  factorial of more than ``MAX_FACTORIAL``): kept as an opaque node that sympy can still cancel
  (``10^{10^{100}} - 10^{10^{100}}`` is 0) and ``verifiers.math_magnitude`` can size, never
  evaluated. An answer left holding one is judged wrong (``verifiers.math``): a value the
  verifier cannot check is no answer, and a policy must gain nothing by writing one.
"""
from __future__ import annotations

import math

import mpmath
import sympy

from verifiers.math_tokens import BudgetExceeded

MAX_NUMBER_DIGITS = 20_000  # a literal this long is read exactly (by halves: Python's int() stops at 4300)
MAX_EXACT_DIGITS = 20_000  # exact integer results beyond this stay unevaluated (HugePower)
MAX_EXPONENT = 10**6  # beyond this (10**12 for integers) a power is not evaluated at all
MAX_FACTORIAL = 5000  # 5000! has 16,326 digits: the largest exact factorial worth computing


def number(text: str) -> sympy.Expr:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BudgetExceeded(f"a number of {len(text)} digits, over the budget of {MAX_NUMBER_DIGITS}")
    if "e" in text.lower():
        mantissa, _, exponent = text.lower().partition("e")
        return number(mantissa) * sympy.Integer(10) ** int(exponent)
    whole, _, fraction = text.partition(".")
    return sympy.Rational(_integer(whole + fraction), 10 ** len(fraction))


def _integer(digits: str) -> int:
    """int(digits) past Python's 4300-digit guard, by halves that each stay under it."""
    if len(digits) <= 4000:
        return int(digits or "0")
    half = len(digits) // 2
    return _integer(digits[:-half]) * 10**half + _integer(digits[-half:])


def divide(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return a * b**-1 if b != 0 else sympy.nan


def power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if not isinstance(base, sympy.Expr) or not isinstance(exponent, sympy.Expr):
        return base**exponent  # matrices
    if _odd_root(base, exponent):
        return real_power(base, exponent)
    if not (base.is_number and exponent.is_number):
        return base**exponent  # x^{10^{100}} is evaluated at sample points, where it is cheap
    if exponent.has(Oversized) or (base.has(Oversized) and not exponent.is_Integer):
        return OversizedPower(base, exponent)
    if exponent.is_Integer:
        if abs(int(exponent)) > MAX_EXPONENT**2 and base not in (0, 1, -1):
            return OversizedPower(base, exponent)
        size = abs(int(exponent)) * _log10_size(base)
        if size > MAX_EXACT_DIGITS and isinstance(base, sympy.Rational):
            return HugePower(base, exponent)
        return base**exponent
    if _exceeds(exponent, MAX_EXPONENT):
        return OversizedPower(base, exponent)  # e^{e^{e^{10}}}: a tower
    return base**exponent


def root(value: sympy.Expr, index: sympy.Expr) -> sympy.Expr:
    """\\sqrt[n]{a}: a^(1/n), so a real root for an odd n (\\sqrt[3]{-8} is -2), principal for an even one."""
    return power(value, 1 / index) if index.is_Integer and index != 0 else sympy.root(value, index)


def real_power(base: sympy.Expr, exponent: sympy.Rational) -> sympy.Expr:
    """a^(p/q) for an odd q as real analysis reads it: sign(a)^p |a|^(p/q) ((-8)^(1/3) = -2,
    x^(2/3) = cbrt(x^2) for every real x). Symbols are real (``verifiers.math_equiv``)."""
    return sympy.sign(base) ** exponent.p * sympy.Abs(base) ** exponent


def _odd_root(base: sympy.Expr, exponent: sympy.Expr) -> bool:
    """A rational exponent with an odd denominator over a real base (a number or a real symbol)."""
    if not (exponent.is_Rational and exponent.q % 2 == 1 and exponent.q > 1):
        return False
    # Not over another real root: sign(b) and |b| each hold b, so nesting them doubles the tree per level.
    if base.has(Oversized, sympy.I, sympy.sign):
        return False
    return base.is_extended_real is not False and not base.is_Matrix


def factorial(value: sympy.Expr) -> sympy.Expr:
    if value.is_number and (value.has(Oversized) or _exceeds(value, MAX_FACTORIAL)):
        return OversizedFactorial(value)
    return sympy.factorial(value)


def binomial(n: sympy.Expr, k: sympy.Expr) -> sympy.Expr:
    """C(n, k); Oversized beyond MAX_EXACT_DIGITS digits (sympy takes 90 s on C(10^6, 500000))."""
    if not (n.is_number and k.is_number):
        return sympy.binomial(n, k)
    if n.has(Oversized) or k.has(Oversized):
        return OversizedBinomial(n, k)
    if n.is_Integer and k.is_Integer and 0 <= k <= n:
        too_long = _binomial_digits(int(n), min(int(k), int(n - k))) > MAX_EXACT_DIGITS
    elif k.is_Integer and k > 0:  # a negative or fractional n: sympy multiplies out k factors, |C| < (|n| + k)^k
        too_long = k > MAX_FACTORIAL or _exceeds(n, 10.0 ** min(300, MAX_EXACT_DIGITS / int(k)))
    else:
        too_long = False  # a fractional k: gamma functions, evaluated in floating point
    return OversizedBinomial(n, k) if too_long else sympy.binomial(n, k)


def _binomial_digits(n: int, k: int) -> float:
    """log10 C(n, k) for 0 <= k <= n/2: log-gamma where doubles are precise enough, else the bound k log10 n."""
    if k == 0:
        return 0.0
    if n > 10**15:
        return k * math.log10(n)
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(10)


def _exceeds(value: sympy.Expr, limit: float) -> bool:
    """|value| > limit, decided on a 5-digit evaluation; an unevaluable value counts as too large."""
    try:
        approx = abs(complex(value.evalf(5)))
    except (TypeError, ValueError, OverflowError):
        return True
    return not math.isfinite(approx) or approx > limit


class HugePower(sympy.Function):
    """``b**e`` with too many digits to compute exactly: kept opaque so that sympy's
    automatic simplification never expands it, evaluated in floating point on demand."""

    nargs = 2

    def _eval_is_zero(self):
        return False if self.args[0] != 0 else None

    def _eval_evalf(self, prec):
        base, exponent = self.args
        with mpmath.workprec(prec):
            value = mpmath.power(mpmath.mpf(int(base.p)) / int(base.q), int(exponent))
        return sympy.Float._new(value._mpf_, prec)


class Oversized(sympy.Function):
    """A number beyond any evaluation: no ``_eval_evalf``, so evaluation leaves it symbolic
    (and ``verifiers.math_sample.evaluate`` returns None); ``verifiers.math_magnitude`` sizes it."""


class OversizedPower(Oversized):
    nargs = 2  # base, exponent


class OversizedFactorial(Oversized):
    nargs = 1


class OversizedBinomial(Oversized):
    nargs = 2  # n, k


def _log10_size(value: sympy.Expr) -> float:
    if isinstance(value, sympy.Rational):
        return max(math.log10(abs(int(value.p)) + 1), math.log10(int(value.q) + 1))
    return 1.0
