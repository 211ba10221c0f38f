"""Tokens of a final answer, LaTeX and plain text alike, and the errors of parsing it.

``\\frac{1}{2}``, ``sqrt(2)/2`` and ``2x^2`` all become flat token lists; letter runs are
split into known names (``sin``, ``pi``) and single-letter variables, and a long unknown
word is prose, not a product of variables.
"""
from __future__ import annotations

import re

import sympy

MAX_TOKENS = 20_000


class ParseError(ValueError):
    pass


class BudgetExceeded(RuntimeError):
    pass


# ---------------------------------------------------------------- tokens
TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+(?![A-Za-z]))?)"
    r"|(?P<cmd>\\(?:[A-Za-z]+|\\|[{}|,;:! %&]))"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<op>\*\*|<=|>=|!=|=<|=>|[-+*/^!=<>,;:|_&()\[\]{}%'])"
)
FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec,
    "csc": sympy.csc, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "sinh": sympy.sinh,
    "cosh": sympy.cosh, "tanh": sympy.tanh, "exp": sympy.exp, "ln": sympy.log, "log": sympy.log,
    "sqrt": sympy.sqrt, "abs": sympy.Abs, "floor": sympy.floor, "ceil": sympy.ceiling,
    "lfloor": sympy.floor, "lceil": sympy.ceiling,
}
INVERSE = {"sin": sympy.asin, "cos": sympy.acos, "tan": sympy.atan}
CONSTANTS = {"pi": sympy.pi, "infty": sympy.oo, "infinity": sympy.oo, "inf": sympy.oo, "oo": sympy.oo}
WORDS = sorted(list(FUNCTIONS) + list(CONSTANTS) + ["or", "and"], key=len, reverse=True)
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}
RELATIONS = {
    "=": "=", "<": "<", ">": ">", "<=": "<=", "=<": "<=", ">=": ">=", "=>": ">=", "!=": "!=",
    r"\le": "<=", r"\leq": "<=", r"\leqslant": "<=", r"\ge": ">=", r"\geq": ">=", r"\geqslant": ">=",
    r"\lt": "<", r"\gt": ">", r"\neq": "!=", r"\ne": "!=",
}
MULT = {"*", r"\cdot", r"\times", r"\ast"}
OPENERS = {"(": ")", "[": "]", "{": "}", r"\{": r"\}"}
CLOSERS = {")", "]", "}", r"\}"}


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        if kind == "word" and tokens[-2:-1] in ([r"\begin"], [r"\end"], [r"\operatorname"]):
            tokens.append(m.group())  # an environment or operator name, not a product
        elif kind == "word":
            tokens.extend(split_word(m.group()))
        elif kind == "cmd" and m.group() in (r"\,", r"\;", r"\:", r"\!", r"\ ", r"\quad", r"\qquad"):
            continue
        elif kind == "cmd" and m.group() == r"\colon":  # a ratio, 3 \colon 8
            tokens.append(":")
        else:
            tokens.append(m.group())
        if len(tokens) > MAX_TOKENS:
            raise BudgetExceeded(f"answer longer than {MAX_TOKENS} tokens")
    return tokens


def split_word(word: str) -> list[str]:
    """'xy' -> x, y; 'sinx' -> sin, x; a long unknown word is prose, not maths."""
    if word in WORDS or word in GREEK:
        return [word]
    out, i, letters = [], 0, 0
    while i < len(word):
        known = next((w for w in WORDS if word.startswith(w, i) and w not in ("or", "and")), None)
        out.append(known or word[i])
        i += len(known) if known else 1
        letters += not known
        if letters > 3:  # stop at once: a 50,000-letter word must not cost 50,000 look-ups
            raise ParseError(f"{word[:40]!r} reads as prose, not as a product of variables")
    return out
