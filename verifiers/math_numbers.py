"""Exact numbers under a budget: literals, division, powers and factorials that refuse to
run away (``9^{9^{9^9}}``, ``100000000!``) instead of letting sympy grind on them."""
from __future__ import annotations

import math

import mpmath
import sympy

from verifiers.math_tokens import BudgetExceeded

MAX_NUMBER_DIGITS = 4000  # Python refuses int(str) beyond 4300 digits anyway
MAX_EXACT_DIGITS = 20_000  # exact integer results beyond this stay unevaluated (HugePower)
MAX_EXPONENT = 10**6  # beyond this (10**12 for integers) a power is not evaluated at all


def number(text: str) -> sympy.Expr:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BudgetExceeded(f"number longer than {MAX_NUMBER_DIGITS} digits")
    if "e" in text.lower():
        mantissa, _, exponent = text.lower().partition("e")
        return sympy.Rational(mantissa) * sympy.Integer(10) ** int(exponent)
    return sympy.Rational(text) if "." in text else sympy.Integer(text)


def divide(a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
    return a * b**-1 if b != 0 else sympy.nan


def power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if not isinstance(base, sympy.Expr) or not isinstance(exponent, sympy.Expr):
        return base**exponent  # matrices
    if base.is_number and exponent.is_number and exponent.is_Integer:
        if abs(int(exponent)) > MAX_EXPONENT**2 and base not in (0, 1, -1):
            raise BudgetExceeded("power too large to evaluate")
        size = abs(int(exponent)) * _log10_size(base)
        if size > MAX_EXACT_DIGITS and isinstance(base, sympy.Rational):
            return HugePower(base, exponent)
    if base.is_number and exponent.is_number and not exponent.is_Integer and abs(exponent.evalf(5)) > MAX_EXPONENT:
        raise BudgetExceeded("tower of powers too large to evaluate")
    return base**exponent


class HugePower(sympy.Function):
    """``b**e`` with too many digits to compute exactly: kept opaque so that sympy's
    automatic simplification never expands it, evaluated in floating point on demand."""

    nargs = 2

    def _eval_evalf(self, prec):
        base, exponent = self.args
        with mpmath.workprec(prec):
            value = mpmath.power(mpmath.mpf(int(base.p)) / int(base.q), int(exponent))
        return sympy.Float._new(value._mpf_, prec)


def _log10_size(value: sympy.Expr) -> float:
    if isinstance(value, sympy.Rational):
        return max(math.log10(abs(int(value.p)) + 1), math.log10(int(value.q) + 1))
    return 1.0


def factorial(value: sympy.Expr) -> sympy.Expr:
    if value.is_Integer and int(value) > 5000:
        raise BudgetExceeded("factorial too large to evaluate")
    return sympy.factorial(value)
