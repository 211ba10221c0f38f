"""The calculator tool's arithmetic: Python-syntax expressions read by ``ast`` and built in sympy.

    >>> evaluate("123456*789"), evaluate("1/3 + 1/6"), evaluate("0.1 + 0.2"), evaluate("2^10")
    ('97406784', '1/2 ≈ 0.5', '0.3', '1024')

Never executed: ``ast.parse`` only reads the text, and each node of a short list (numbers,
+ - * / // % ** and ^ for power, named constants, a fixed set of functions, free symbols)
becomes a sympy object built directly, so no code the model wrote can run.
(``verifiers.math_expr`` also parses without executing, but it reads final answers: there
``7 % 3`` is a percentage and powers group left to right, both wrong for a calculator.)

Bounded: the text's length, and the size of every exact number before it is computed
(powers, factorials, binomials) or after (products, sums), so ``10**10**10`` or
``factorial(10**6)`` is refused at once with a message instead of grinding. Integers and
rationals stay exact; a decimal in the input makes the answer a decimal (15 digits).
"""
from __future__ import annotations

import ast
import math
import re
from fractions import Fraction

import sympy

MAX_LENGTH = 1000  # characters of one expression: a calculator needs no more
MAX_DIGITS = 4000  # of an exact number: Python will not print an int beyond 4300 digits anyway
MAX_DEPTH = 100  # of nested operations: beyond it, evaluation time and Python's stack run out
MAX_EXPONENT = 10_000  # of a power whose base is an irrational number (sqrt(2)**n is exact, and grows)
SHOWN_DIGITS = 15  # significant digits of a decimal answer

CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E, "I": sympy.I, "oo": sympy.oo, "inf": sympy.oo}
MAX_GROWTH_ARGUMENT = 10**6  # of exp, sinh, cosh, tanh: even the size of exp(10**4000) takes a minute to find
FUNCTIONS = {
    "sqrt": sympy.sqrt, "cbrt": sympy.cbrt, "ln": sympy.log,
    "log": lambda x, base=None: sympy.log(x) if base is None else sympy.log(x, base),
    "log2": lambda x: sympy.log(x, 2), "log10": lambda x: sympy.log(x, 10),
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "asin": sympy.asin, "acos": sympy.acos,
    "atan": sympy.atan, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "abs": sympy.Abs, "floor": sympy.floor, "ceil": sympy.ceiling, "ceiling": sympy.ceiling,
    "gcd": sympy.gcd, "lcm": sympy.lcm, "min": sympy.Min, "max": sympy.Max,
    "factorial": lambda n: _factorial(n), "binomial": lambda n, k: _binomial(n, k),
}
FUNCTIONS["comb"] = FUNCTIONS["binomial"]
# Functions whose value can be far larger than their arguments (the rest shrink them, keep their
# size, or stay within a constant): only these, and *, / and **, need the result's size checked.
_GROWING = {"exp", "sinh", "cosh", "factorial", "binomial", "comb", "tan", "lcm"}
for _name in ("exp", "sinh", "cosh", "tanh"):
    FUNCTIONS[_name] = lambda x, _f=getattr(sympy, _name): _f(_bounded_growth(x))
_LIMIT = sympy.Integer(10) ** MAX_DIGITS
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_SPELLINGS = {"^": "**", "×": "*", "÷": "/", "−": "-"}  # as people and models write maths


class TooLarge(ValueError):
    """The expression or its result would be too large to compute quickly."""


def evaluate(expression: str) -> str:
    """The value of ``expression`` as text; ValueError (TooLarge included) or ZeroDivisionError saying why not."""
    text = expression.strip()
    if not text:
        raise ValueError("empty expression")
    if len(text) > MAX_LENGTH:
        raise TooLarge(f"expression longer than {MAX_LENGTH} characters")
    for spelling, operator in _SPELLINGS.items():
        text = text.replace(spelling, operator)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:  # ValueError: e.g. a null byte
        hint = "; write products with * (2*x, not 2x)" if "decimal literal" in str(getattr(exc, "msg", "")) else ""
        raise ValueError(f"not an expression: {getattr(exc, 'msg', exc)}{hint}") from None
    reader = _Reader(text)
    value = reader.read(tree.body)
    return show(value, decimal=reader.saw_decimal)


class _Reader:
    """Builds the sympy value of one syntax tree, refusing anything not on the list."""

    def __init__(self, text: str) -> None:
        self.text = text  # decimals are read from their digits as written, not from a binary float
        self.saw_decimal = False
        self.depth = 0

    def read(self, node: ast.AST) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooLarge(f"expression nested more than {MAX_DEPTH} deep")
        try:
            return self._read(node)
        finally:
            self.depth -= 1

    def _read(self, node: ast.AST) -> sympy.Expr:
        if isinstance(node, ast.Constant):
            return self.number(node.value, ast.get_source_segment(self.text, node) or "")
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            operand = self.read(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return binary(_OPERATORS[type(node.op)], self.read(node.left), self.read(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id not in FUNCTIONS:
                raise ValueError(f"unknown function {node.func.id!r}; known: {', '.join(sorted(FUNCTIONS))}")
            args = [self.read(arg) for arg in node.args]
            try:
                value = FUNCTIONS[node.func.id](*args)
            except TypeError:
                raise ValueError(f"{node.func.id}() does not take {len(args)} argument(s)") from None
            return checked(value, grows=node.func.id in _GROWING)
        raise ValueError(f"not supported in a calculator: {_describe(node)}")

    def number(self, value: object, written: str) -> sympy.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"not a number: {value!r}")
        if isinstance(value, float):
            self.saw_decimal = True
            # Exactly as written: 0.1 is 1/10, and 12345678901234567890.5 keeps its digits.
            exact = Fraction(written.replace("_", ""))
            if abs(exact.numerator).bit_length() > 4 * MAX_DIGITS or exact.denominator.bit_length() > 4 * MAX_DIGITS:
                raise TooLarge(f"the number {written[:20]}... is too large")
            return checked(sympy.Rational(exact.numerator, exact.denominator))
        return checked(sympy.Integer(value))

    def name(self, name: str) -> sympy.Expr:
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise ValueError(f"{name} is a function: call it, e.g. {name}(2)")
        if name.startswith("_"):
            raise ValueError(f"not a variable name: {name}")
        return sympy.Symbol(name)


def binary(op: str, left: sympy.Expr, right: sympy.Expr) -> sympy.Expr:
    if op in ("/", "//", "%") and right == 0:
        raise ZeroDivisionError("division by zero")
    if op == "**":
        return checked(power(left, right), grows=True)
    value = {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
             "/": lambda: left / right, "//": lambda: sympy.floor(left / right), "%": lambda: sympy.Mod(left, right)}[op]()
    return checked(value, grows=op in ("*", "/"))


def power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """``base ** exponent``, refused before it is computed when the exact result would be huge."""
    if base.is_number and exponent.is_number and exponent.is_real and base not in (0, 1, -1):
        size = abs(float(exponent))
        if isinstance(base, sympy.Rational):
            digits = size * math.log10(max(abs(int(base.p)), int(base.q)))
            if digits > MAX_DIGITS:
                raise TooLarge(f"{base}**{_short(exponent)} would have about {digits:,.0f} digits; the limit is {MAX_DIGITS:,}")
        elif size > MAX_EXPONENT:
            raise TooLarge(f"exponent {_short(exponent)} is beyond the limit of {MAX_EXPONENT:,} for this base")
    if base == 0 and exponent.is_number and exponent.is_negative:
        raise ZeroDivisionError("0 cannot be raised to a negative power")
    return base**exponent


def _bounded_growth(x: sympy.Expr) -> sympy.Expr:
    if x.is_number and abs(x.evalf(5)) > MAX_GROWTH_ARGUMENT:
        raise TooLarge(f"an argument of {_short(x)} to an exponential is beyond the limit of {MAX_GROWTH_ARGUMENT:,}")
    return x


def _factorial(n: sympy.Expr) -> sympy.Expr:
    if n.is_Integer and n >= 0 and math.lgamma(float(n) + 1) / math.log(10) > MAX_DIGITS:
        raise TooLarge(f"factorial({_short(n)}) would have more than {MAX_DIGITS:,} digits")
    return sympy.factorial(n)


def _binomial(n: sympy.Expr, k: sympy.Expr) -> sympy.Expr:
    if n.is_Integer and k.is_Integer and 0 <= k <= n:
        if n > 10**300:
            raise TooLarge(f"binomial({_short(n)}, {_short(k)}) is too large")
        digits = (math.lgamma(float(n) + 1) - math.lgamma(float(k) + 1) - math.lgamma(float(n - k) + 1)) / math.log(10)
        if digits > MAX_DIGITS:
            raise TooLarge(f"binomial({_short(n)}, {_short(k)}) would have about {digits:,.0f} digits")
    return sympy.binomial(n, k)


def checked(value: sympy.Expr, *, grows: bool = False) -> sympy.Expr:
    """``value``, unless it is a number beyond ``MAX_DIGITS`` digits, before the next step works on it.

    Exact numbers are measured by their bits, never printed. Other numbers (exp(10**8)) are
    kept symbolic by sympy, cheap to build, but floor(), comparisons or a sine of one evaluate
    it to all its digits: its size to 5 digits is cheap, so it is measured here instead, after
    each step that can make a number much larger (``grows``), not after every step, which
    would evaluate a nest of n functions n times.
    """
    if isinstance(value, sympy.Rational):
        bits = max(abs(int(value.p)).bit_length(), int(value.q).bit_length())
        if bits * math.log10(2) > MAX_DIGITS:
            raise TooLarge(f"the result would have about {bits * math.log10(2):,.0f} digits; the limit is {MAX_DIGITS:,}")
    elif grows and isinstance(value, sympy.Expr) and value.is_number and value.is_finite:
        size = abs(value.evalf(5))
        if size.is_Float and size > _LIMIT:
            raise TooLarge(f"the result would be about {_tidy(str(size))}; the limit is 10**{MAX_DIGITS}")
    return value


def show(value: sympy.Expr, *, decimal: bool) -> str:
    """Exact integers as they are; other numbers exact with a decimal beside, or decimal alone
    when the input had decimals; symbolic results as sympy prints them."""
    if value.has(sympy.nan, sympy.zoo):
        raise ValueError("the result is undefined")
    if value.is_Integer or not value.is_number or value in (sympy.oo, -sympy.oo):
        return str(value)
    approx = _tidy(str(value.evalf(SHOWN_DIGITS)))
    real, imaginary = value.as_real_imag()
    if real.is_Integer and imaginary.is_Integer:  # 2*I: the decimal would add nothing
        return str(value)
    exact = str(value)
    return approx if decimal or len(exact) > 80 else f"{exact} ≈ {approx}"  # a 4,000-digit fraction helps no one


def _tidy(text: str) -> str:
    """0.500000000000000 -> 0.5, 1.20000000000000e+20 -> 1.2e+20, in every number of ``text``."""
    return re.sub(r"(\d+\.\d*?)0+(?=\D|$)", lambda m: m.group(1).rstrip("."), text)


def _short(value: sympy.Expr) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return "calling anything but a named function without keywords"
    if isinstance(node, ast.BinOp):
        return f"the operator {type(node.op).__name__}"
    return {ast.Compare: "comparisons", ast.Attribute: "attributes (a.b)", ast.Subscript: "indexing (a[b])",
            ast.Lambda: "lambda", ast.BoolOp: "and/or", ast.Tuple: "tuples (a, b)"}.get(type(node), type(node).__name__)
