"""The expression grammar of a final answer: a Pratt parser from tokens to sympy.

``\\frac{\\sqrt{2}}{2}`` and ``sqrt(2)/2``, ``\\cos^2 x`` and ``cos(x)^2``, ``3\\frac12``
(a mixed number), matrices and absolute values all become sympy objects built directly:
no ``eval``, no ``parse_expr``, so a completion can never run code. Nesting depth is
capped (``MAX_DEPTH``), raising ``BudgetExceeded`` instead of exhausting the stack.
"""
from __future__ import annotations

import functools
import operator
import sys

import sympy

from verifiers import math_numbers as num
from verifiers.math_tokens import CONSTANTS, FUNCTIONS, GREEK, INVERSE, MULT, BudgetExceeded, ParseError

MAX_DEPTH = 600

# A 600-deep answer needs ~5 Python frames a level; the default limit (1000) would
# turn legitimate nesting into RecursionError. Pure-Python frames are cheap in 3.11.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 8 * MAX_DEPTH + 1000))


def parse_expression(tokens: list[str]) -> sympy.Expr:
    """One expression (no commas, relations or "or" at its top level) as a sympy value."""
    return ExprParser(tokens).parse()


_BP_ADD, _BP_MUL, _BP_IMPLICIT, _BP_UNARY = 10, 20, 22, 25


class ExprParser:
    """Pratt parser over one expression's tokens."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.in_abs = 0

    def parse(self) -> sympy.Expr:
        if not self.tokens:
            raise ParseError("empty expression")
        value = self.expr(0)
        if self.pos != len(self.tokens):
            raise ParseError(f"unexpected {self.tokens[self.pos]!r}")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ParseError(f"expected {expected or 'more'}, found {tok!r}")
        self.pos += 1
        return tok

    def expr(self, min_bp: int) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BudgetExceeded(f"nesting deeper than {MAX_DEPTH}")
        try:
            # The value so far is sum(terms) + left * prod(factors): sympy builds each Add and Mul
            # once, where one operation per operator costs time quadratic in their number.
            left, terms, factors = self.prefix(), [], []
            while (tok := self.peek()) is not None:
                if tok in ("+", "-") and min_bp < _BP_ADD:
                    self.take()
                    right = self.expr(_BP_ADD)
                    terms.append(_product(left, factors))
                    left, factors = (right if tok == "+" else -right), []
                elif (tok in MULT or tok in ("/", r"\div")) and min_bp < _BP_MUL:
                    self.take()
                    right = self.expr(_BP_MUL)
                    if tok in MULT:
                        factors.append(right)
                    else:
                        left, factors = num.divide(_product(left, factors), right), []
                elif self.starts_atom(tok) and min_bp < _BP_IMPLICIT:
                    factors.append(self.expr(_BP_IMPLICIT))
                elif tok in ("%", r"\%"):
                    self.take()
                    left, terms, factors = _sum([*terms, _product(left, factors)]) / 100, [], []
                else:
                    break
            return _sum([*terms, _product(left, factors)])
        finally:
            self.depth -= 1

    def starts_atom(self, tok: str) -> bool:
        if tok == "|" or tok in (r"\vert", r"\lvert", r"\rvert", r"\mid"):
            return not self.in_abs
        if tok in ("(", "{", r"\frac", r"\sqrt", r"\binom", r"\begin", r"\lfloor", r"\lceil", r"\operatorname"):
            return True
        if tok[0].isdigit() or tok[0] == ".":
            return True
        if tok[0].isalpha():
            return tok not in ("or", "and", "U")
        return tok.startswith("\\") and (tok[1:] in FUNCTIONS or tok[1:] in CONSTANTS or tok[1:] in GREEK)

    def prefix(self) -> sympy.Expr:
        tok = self.peek()
        if tok in ("-", "+"):
            self.take()
            operand = self.expr(_BP_UNARY)
            return -operand if tok == "-" else operand
        return self.postfix(self.atom())

    def postfix(self, base: sympy.Expr) -> sympy.Expr:
        while (tok := self.peek()) is not None:
            if tok in ("^", "**"):
                self.take()
                base = num.power(base, self.exponent())
            elif tok == "!":
                self.take()
                base = num.factorial(base)
            elif tok == "'":
                raise ParseError("derivative marks are not supported")
            else:
                return base
        return base

    def exponent(self) -> sympy.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BudgetExceeded(f"nesting deeper than {MAX_DEPTH}")
        try:
            if self.peek() in ("-", "+"):
                sign = -1 if self.take() == "-" else 1
                return sign * self.exponent()
            value = self.atom()
            if self.peek() in ("^", "**"):  # a^b^c is a^(b^c), as 2**3**2 is 512
                self.take()
                return num.power(value, self.exponent())
            return value
        finally:
            self.depth -= 1

    def group(self) -> sympy.Expr:
        """A TeX argument: ``{...}`` or a single token (``\\frac12``)."""
        if self.peek() == "{":
            self.take()
            value = self.expr(0)
            self.take("}")
            return value
        tok = self.peek()
        if tok is not None and tok[0].isdigit() and len(tok) > 1 and tok.isdigit():
            self.tokens[self.pos] = tok[1:]  # \frac12: each argument is one digit
            return sympy.Integer(tok[0])
        return self.atom()

    def atom(self) -> sympy.Expr:
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            return self.mixed_number(num.number(tok))
        if tok in ("(", "{", "["):
            close = {"(": ")", "{": "}", "[": "]"}[tok]
            value = self.expr(0)
            self.take(close)
            return value
        if tok in ("|", r"\vert", r"\lvert", r"\mid"):
            self.in_abs += 1
            value = self.expr(0)
            self.in_abs -= 1
            if self.take() not in ("|", r"\vert", r"\rvert", r"\mid"):
                raise ParseError("unclosed absolute value")
            return sympy.Abs(value)
        if tok == r"\frac":
            numerator = self.group()
            return num.divide(numerator, self.group())
        if tok == r"\binom":
            n = self.group()
            return num.binomial(n, self.group())
        if tok == r"\sqrt":
            if self.peek() == "[":
                self.take()
                index = self.expr(0)
                self.take("]")
                return num.root(self.group(), index)
            return sympy.sqrt(self.group())
        if tok == r"\begin":
            return self.matrix()
        if tok == r"\operatorname":
            name = "".join(self.raw_group())
            return self.function(name)
        if tok in (r"\lfloor", r"\lceil"):
            value = self.expr(0)
            self.take(r"\rfloor" if tok == r"\lfloor" else r"\rceil")
            return sympy.floor(value) if tok == r"\lfloor" else sympy.ceiling(value)
        name = tok[1:] if tok.startswith("\\") else tok
        if name in FUNCTIONS:
            return self.function(name)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if tok.startswith("\\") and name not in GREEK:
            raise ParseError(f"unsupported command {tok}")
        if not name.isalpha():
            raise ParseError(f"unexpected {tok!r}")
        return self.symbol(name, latex=tok.startswith("\\"))

    def symbol(self, name: str, latex: bool) -> sympy.Expr:
        if self.peek() == "_":
            self.take()
            sub = self.raw_group()
            return sympy.Symbol(f"{name}_{''.join(sub)}")
        if not latex and name == "e":
            return sympy.E
        if not latex and name == "i":
            return sympy.I
        return sympy.Symbol(name)

    def raw_group(self) -> list[str]:
        if self.peek() != "{":
            return [self.take()]
        self.take()
        out = []
        while self.peek() not in ("}", None):
            out.append(self.take())
        self.take("}")
        return out

    def function(self, name: str) -> sympy.Expr:
        base = None
        if name == "log" and self.peek() == "_":
            self.take()
            base = self.group()
        power = None
        if self.peek() in ("^", "**"):
            self.take()
            power = self.exponent()
        if self.peek() in ("(", "{"):
            arg = self.atom()
        else:  # "\sin 2x": the argument is the next implicit product, up to the next function
            arg = self.prefix()
            while (tok := self.peek()) is not None and self.starts_atom(tok) and not _is_function(tok):
                arg = arg * self.postfix(self.atom())
        fn = FUNCTIONS[name]
        if power == -1 and name in INVERSE:
            return INVERSE[name](arg)
        value = sympy.log(arg, base) if base is not None else fn(arg)
        return num.power(value, power) if power is not None else value

    def mixed_number(self, whole: sympy.Expr) -> sympy.Expr:
        """LaTeX mixed numbers: ``3\\frac{1}{2}`` is 7/2, not 3/2."""
        if self.peek() != r"\frac" or not (isinstance(whole, sympy.Integer) and whole >= 0):
            return whole
        start = self.pos
        self.take()
        frac = num.divide(self.group(), self.group())
        if isinstance(frac, sympy.Rational) and 0 < frac < 1:
            return whole + frac
        self.pos = start
        return whole

    def matrix(self) -> sympy.Expr:
        env = "".join(self.raw_group())
        if env not in ("pmatrix", "bmatrix", "matrix", "vmatrix", "Bmatrix", "smallmatrix", "array"):
            raise ParseError(f"unsupported environment {env}")
        if env == "array" and self.peek() == "{":
            self.raw_group()  # column spec
        rows: list[list] = [[]]
        while True:
            cell = []
            while self.peek() not in ("&", r"\\", r"\end", None):
                cell.append(self.take())
            if cell:
                rows[-1].append(ExprParser(cell).parse())
            sep = self.take()
            if sep == r"\\":
                rows.append([])
            elif sep == r"\end":
                self.raw_group()
                break
        rows = [r for r in rows if r]
        if not rows or len({len(r) for r in rows}) != 1:
            raise ParseError("ragged matrix")
        matrix = sympy.ImmutableMatrix(rows)
        return matrix.det() if env == "vmatrix" else matrix


def _product(first, factors: list):
    if not factors:
        return first
    if all(isinstance(f, sympy.Expr) and not f.is_Matrix for f in (first, *factors)):
        return sympy.Mul(first, *factors)
    return functools.reduce(operator.mul, factors, first)  # matrices: in order


def _sum(terms: list):
    if len(terms) == 1:
        return terms[0]
    if all(isinstance(t, sympy.Expr) and not t.is_Matrix for t in terms):
        return sympy.Add(*terms)
    return functools.reduce(operator.add, terms)


def _is_function(tok: str) -> bool:
    name = tok[1:] if tok.startswith("\\") else tok
    return name in FUNCTIONS or tok == r"\sqrt"
