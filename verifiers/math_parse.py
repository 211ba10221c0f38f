"""Parse a final answer, LaTeX or plain text, into sympy values — without executing it.

The answer's structure (lists, alternatives, relations, intervals) is read here; each
single expression goes to the Pratt parser in ``verifiers.math_expr``, which builds
sympy objects directly (no ``eval``), so a completion can never run code. Shapes beyond
a single expression are small frozen records:

    Relation  x = 2, 1 < x <= 3         Seq     (1, 2), [1, 3), \\{1, 2\\}, "1, 2", "1; 2"
    Alternatives  "1 or 2", "\\pm 3"     Union   (-oo, 1) \\cup (2, oo)
    Percent  50\\%                       Text    an answer that is not mathematics
    Label    the named side of g(x) = 3x-1, (a, b) = (2, 5), m:n = 3:8, \\angle ABC = 38
    Ratio    3:8                        ClockTime  20:34 (8:34 PM is normalised to it)
    Difference  \\mathbb{R} \\setminus \\{3\\}  Seq(..., "parts")  (a) 5, (b) 7: numbered parts

Work is bounded: nesting depth, token count, literal length, list and union sizes and the
number of variables are capped, raising ``BudgetExceeded`` early instead of letting sympy
grind on an adversarial input; powers, factorials and binomials too large to evaluate stay
opaque ``Oversized`` numbers (``verifiers.math_numbers``). ``verifiers.math`` judges an answer
that meets either wrong.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import sympy

from verifiers.math_expr import parse_expression
from verifiers.math_normalize import normalize
from verifiers.math_tokens import CLOSERS, GREEK, OPENERS, RELATIONS, BudgetExceeded, ParseError, tokenize

MAX_ITEMS = 256  # items of one list, set, tuple or hedge
MAX_UNION = 16   # sets joined by \cup
MAX_SYMBOLS = 40  # distinct variables of one answer


@dataclass(frozen=True)
class Relation:
    parts: tuple      # sympy expressions, or Label / Seq / Ratio for labelled answers
    ops: tuple        # "=", "<", "<=", ">", ">=", "!="


@dataclass(frozen=True)
class Seq:
    items: tuple
    brackets: str     # "()", "[]", "(]", "[)", "{}" for a set, "" for a bare list, "parts" for (a) 5, (b) 7


@dataclass(frozen=True)
class Alternatives:
    items: tuple      # "a or b": several candidate answers


@dataclass(frozen=True)
class Union:
    items: tuple


@dataclass(frozen=True)
class Difference:
    left: object       # \mathbb{R} \setminus \{3\}: a set minus another
    right: object


@dataclass(frozen=True)
class Percent:
    value: sympy.Expr  # 50% -> Percent(50)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Label:
    """A side of an equation that only names the value on the other side."""

    name: str          # canonical spelling: "g(x)", "(a,b)", "m:n", "\\angleABC"
    args: tuple = ()   # g(x) -> (x,): what a function depends on; (a, b) -> (a, b): what a tuple names
    kind: str = "name"  # "function", "tuple" or "name"


@dataclass(frozen=True)
class Ratio:
    items: tuple       # 3:8 -> (3, 8)


@dataclass(frozen=True)
class ClockTime:
    seconds: int       # since midnight: 20:34 -> 74040


# ---------------------------------------------------------------- top level
def parse_answer(text: str):
    """Parse one final answer into a sympy expression or one of the records above."""
    value = _parse_answer(text)
    names = set().union(*(v.free_symbols for v in sympy_values(value)))
    if len(names) > MAX_SYMBOLS:  # sampling 3000 variables at four points takes minutes
        raise BudgetExceeded(f"{len(names)} variables, over the budget of {MAX_SYMBOLS}")
    return value


def sympy_values(value):
    """The sympy objects in a parsed answer, its records opened."""
    if isinstance(value, sympy.Basic):
        yield value
    elif dataclasses.is_dataclass(value) or isinstance(value, tuple):
        for item in (getattr(value, f.name) for f in dataclasses.fields(value)) if dataclasses.is_dataclass(value) else value:
            yield from sympy_values(item)


def _parse_answer(text: str):
    text = normalize(text)
    if not text:
        raise ParseError("empty answer")
    if r"\pm" in text or r"\mp" in text:
        plus, minus = text.replace(r"\mp", "-").replace(r"\pm", "+"), text.replace(r"\mp", "+").replace(r"\pm", "-")
        return Alternatives((parse_answer(plus), parse_answer(minus)))
    parts = numbered_parts(text)
    if parts is not None:
        return Seq(tuple(parse_answer(p) for p in parts), "parts")
    named = _WORD_LABEL_RE.fullmatch(text) if "=" in text else None
    if named and _is_prose(named.group(1)):  # "\text{Area} = 12": a value named in words
        return Relation((Label(" ".join(named.group(1).lower().split())), parse_answer(named.group(2))), ("=",))
    return _parse_structure(_drop_redundant_groups(tokenize(text)))


# Numbered parts: (a) 5, (b) 7 / a) 5 b) 7 / (i) 5 (ii) 7 / (1) 5; (2) 7 / Part 1: 5, Part 2: 7.
_PART_MARK_RE = re.compile(r"(?:^|(?<=[\s,;]))(?:part\s*\(?(\w{1,4})\)?\s*[:.)]?|\((\w{1,4})\)|(\w{1,4})\))\s*", re.I)
_PART_SEQUENCES = ("abcdefgh", ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii"), "12345678")
_WORD_LABEL_RE = re.compile(r"([A-Za-z][A-Za-z ]*[A-Za-z])\s*=\s*([^=<>]+)")


def numbered_parts(text: str) -> list[str] | None:
    """The answers of numbered parts, in order, when the text is nothing else; None otherwise.

    The marks must run a, b, c... (or i, ii... or 1, 2...) from the very start of the text.
    """
    if ")" not in text:
        return None  # every mark has one: most answers skip the scan
    marks = list(_PART_MARK_RE.finditer(text))
    if len(marks) < 2 or marks[0].start() != 0:
        return None
    names = [next(g for g in m.groups() if g is not None).lower() for m in marks]
    if not any(list(names) == list(seq[: len(names)]) for seq in _PART_SEQUENCES):
        return None
    ends = [m.start() for m in marks[1:]] + [len(text)]
    parts = [re.sub(r"(?:[,;]|\band\b)\s*$", "", text[m.end():end].strip()).strip() for m, end in zip(marks, ends)]
    return parts if all(parts) else None


def _is_prose(words: str) -> bool:
    """A name in words ('side length', 'Area'), not a product of variables ('xy')."""
    try:
        for word in words.split():
            tokenize(word)
    except ParseError:
        return True
    return False


def _drop_redundant_groups(tokens: list[str]) -> list[str]:
    """((((1)))) -> (1): nesting that adds nothing must not cost recursion depth."""
    pairs, stack = {}, []
    for i, tok in enumerate(tokens):
        if tok in ("(", "{"):
            stack.append(i)
        elif tok in (")", "}") and stack:
            pairs[stack.pop()] = i
    drop = {i for i, j in pairs.items() if pairs.get(i + 1) == j - 1 and tokens[i] == tokens[i + 1]}
    drop |= {pairs[i] for i in drop}
    if r"\frac" in tokens or r"\sqrt" in tokens or "^" in tokens or "_" in tokens:
        return tokens  # braces there are arguments: {{x}} vs {x} is safe, but keep it simple
    return [t for i, t in enumerate(tokens) if i not in drop]


def _split_top(tokens: list[str], is_sep) -> list[list[str]]:
    parts, current, depth = [], [], 0
    for tok in tokens:
        if tok in OPENERS or tok in (r"\begin",):
            depth += 1
        elif tok in CLOSERS or tok == r"\end":
            depth -= 1
        if depth == 0 and is_sep(tok):
            parts.append(current)
            current = []
        else:
            current.append(tok)
    parts.append(current)
    return parts


def _matching_close(tokens: list[str]) -> int:
    """Index where the bracket opened at tokens[0] closes (any closer counts: intervals mix them)."""
    depth = 0
    for i, tok in enumerate(tokens):
        if tok in OPENERS:
            depth += 1
        elif tok in CLOSERS:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _parse_structure(tokens: list[str]):
    if not tokens:
        raise ParseError("empty answer")
    if len(tokens) > 2 and tokens[1] == r"\in" and _lone_name(tokens[:1]):
        return _parse_structure(tokens[2:])  # "x \in A \cup B" is the set A \cup B, whatever its parts
    alternatives = _split_top(tokens, lambda t: t in ("or", r"\lor", r"\vee"))
    if len(alternatives) > 1:
        return Alternatives(tuple(_parse_structure(p) for p in _within_budget(alternatives)))
    difference = _split_top(tokens, lambda t: t in (r"\setminus", "\\backslash"))
    if len(difference) == 2 and all(difference):
        return Difference(_parse_structure(difference[0]), _parse_structure(difference[1]))
    union = _split_top(tokens, lambda t: t == r"\cup")
    if len(union) > MAX_UNION:  # sympy takes 3 s to join 64 intervals, 31 s for 200
        raise BudgetExceeded(f"a union of {len(union)} sets, over the budget of {MAX_UNION}")
    if len(union) > 1:
        return Union(tuple(_parse_structure(p) for p in union))
    items = _split_top(tokens, lambda t: t in (",", ";", "and"))
    if len(items) > 1:
        return Seq(tuple(_parse_structure(p) for p in _within_budget(items)), "")
    relation = _split_top(tokens, lambda t: t in RELATIONS or t == r"\in")
    if len(relation) > 1:
        return _relation(tokens, relation)
    ratio = _split_top(tokens, lambda t: t == ":")
    if len(ratio) > 1:
        return _ratio(ratio)
    if tokens[0] in OPENERS and _matching_close(tokens) == len(tokens) - 1:
        inner = tokens[1:-1]
        brackets = tokens[0][-1] + tokens[-1][-1]
        if brackets == "{}" and tokens[0] == "{":  # a plain TeX group, not a set
            return _parse_structure(inner)
        if brackets == "{}" and (condition := _set_builder(inner)) is not None:
            return condition
        parts = _split_top(inner, lambda t: t in (",", ";"))
        if brackets == "{}" or len(parts) > 1:
            return Seq(tuple(_parse_structure(p) for p in _within_budget(parts) if p or brackets != "{}"), brackets)
    if tokens[-1] in ("%", r"\%"):
        return Percent(parse_expression(tokens[:-1]))
    return parse_expression(tokens)


def _within_budget(items: list) -> list:
    """A list, set, tuple or hedge of at most MAX_ITEMS items (comparing them is quadratic in their number)."""
    if len(items) > MAX_ITEMS:
        raise BudgetExceeded(f"{len(items)} items, over the budget of {MAX_ITEMS}")
    return items


def _set_builder(inner: list[str]):
    """\\{x \\mid x > 2\\} is the set its condition describes; None for a plain set."""
    parts = _split_top(inner, lambda t: t in (r"\mid", "|", ":"))
    if len(parts) != 2 or not parts[1]:
        return None
    try:
        condition = _parse_structure(parts[1])
    except ParseError:
        return None
    return condition if isinstance(condition, (Relation, Union, Alternatives)) else None


def _relation(tokens: list[str], parts: list[list[str]]):
    ops = [RELATIONS.get(t, t) for t in _top_level_tokens(tokens) if t in RELATIONS or t == r"\in"]
    if r"\in" in ops:  # "x \in [1, 2)" -> the set itself
        return _parse_structure(parts[-1])
    return Relation(tuple(_side(p) for p in parts), tuple(ops))


def _side(tokens: list[str]):
    if not tokens:
        raise ParseError("empty side of a relation")
    return _label(tokens) or _parse_structure(tokens)


def _ratio(parts: list[list[str]]):
    if len(parts) in (2, 3) and all(len(p) == 1 and p[0].isdigit() for p in parts) and _is_clock(parts):
        hours, minutes, *seconds = (int(p[0]) for p in parts)
        return ClockTime(3600 * hours + 60 * minutes + (seconds[0] if seconds else 0))
    return Ratio(tuple(parse_expression(p) for p in parts))


def _is_clock(parts: list[list[str]]) -> bool:
    """20:34 and 8:05:30 are times of day (two-digit minutes and seconds); 3:8 and 2:15:4 are ratios."""
    hours, *rest = (p[0] for p in parts)
    return int(hours) <= 24 and all(len(r) == 2 and int(r) < 60 for r in rest)


def _top_level_tokens(tokens: list[str]) -> list[str]:
    depth, out = 0, []
    for tok in tokens:
        if tok in OPENERS:
            depth += 1
        elif tok in CLOSERS:
            depth -= 1
        elif depth == 0:
            out.append(tok)
    return out


# ---------------------------------------------------------------- labels
# Commands that name a geometric object: "\angle ABC = 38^\circ" answers 38.
_GEOMETRY_NAMES = {r"\angle", r"\measuredangle", r"\overline", r"\overarc", r"\widehat", r"\triangle", r"\arc"}
_EVENT_TOKENS = set(RELATIONS) | {"|", r"\mid"}


def _label(tokens: list[str]) -> Label | None:
    """The side of an equation that names a value: g(x), (a, b), m:n, \\angle ABC, AB."""
    name = "".join(tokens)
    if tokens[0] in _GEOMETRY_NAMES or tokens[:2] == ["m", r"\angle"]:
        return Label(name)
    if _points(tokens) or (tokens[0] == tokens[-1] == "|" and _points(tokens[1:-1])):
        return Label(name)  # a segment or an angle named by its points, or its length: AB, ABC, |AB|
    if tokens[0] == r"\frac" and tokens[1:2] == ["{"]:  # \frac{AB}{BC}: a ratio of lengths
        middle = _matching_close(tokens[1:]) + 1
        if tokens[middle + 1:middle + 2] == ["{"] and _closes_at_end(tokens[middle + 1:]):
            if _points(tokens[2:middle]) and _points(tokens[middle + 2:-1]):
                return Label(name)
    if tokens[0].lstrip("\\") in _TRIG and (_lone_name(tokens[1:]) or (tokens[1:2] == ["("] and _lone_name(tokens[2:-1]))):
        return Label(name)  # sin(theta) = 1/2 names the value of sin(theta)
    head = _function_name_length(tokens)  # f, f', f^{-1}
    if _lone_name(tokens[:1]) and tokens[head:head + 1] == ["("] and _closes_at_end(tokens[head:]):
        args = _split_top(tokens[head + 1:-1], lambda t: t == ",")
        if all(_lone_name(a) for a in args):
            return Label(name, tuple(sympy.Symbol("".join(a)) for a in args), "function")
        if all(_lone_name(a) or (len(a) == 1 and a[0].isdigit()) for a in args):
            return Label(name)  # f(2): a value of the function, named
        if any(t in _EVENT_TOKENS for t in tokens):
            return Label(name)  # P(X = 2), P(A | B)
        return None  # a(b + c) is a product
    if tokens[0] == "(" and _closes_at_end(tokens):
        items = _split_top(tokens[1:-1], lambda t: t == ",")
        if len(items) > 1 and all(_lone_name(i) for i in items):
            return Label(name, tuple(sympy.Symbol("".join(i)) for i in items), "tuple")
        return None
    items = _split_top(tokens, lambda t: t == ":")
    return Label(name) if len(items) > 1 and all(_lone_name(i) or _points(i) for i in items) else None


_TRIG = {"sin", "cos", "tan", "cot", "sec", "csc"}


def _points(tokens: list[str]) -> bool:
    """AB, ABC, ABCD: a segment, angle or polygon named by its points."""
    return 2 <= len(tokens) <= 4 and all(len(t) == 1 and t.isupper() for t in tokens)


def _function_name_length(tokens: list[str]) -> int:
    """Tokens naming a function before its "(": f, f', f'', f^{-1}."""
    end = 1
    while tokens[end:end + 1] == ["'"]:
        end += 1
    for inverse in (["^", "{", "-", "1", "}"], ["^", "-", "1"]):
        if tokens[end:end + len(inverse)] == inverse:
            return end + len(inverse)
    return end


def _lone_name(tokens: list[str]) -> bool:
    """x, \\alpha, x_1, x_{12}: one variable, nothing else."""
    if not tokens or not ((len(tokens[0]) == 1 and tokens[0].isalpha()) or tokens[0][1:] in GREEK):
        return False
    rest = tokens[1:]
    return not rest or (rest[0] == "_" and (len(rest) == 2 or (rest[1] == "{" and rest[-1] == "}" and "}" not in rest[2:-1])))


def _closes_at_end(tokens: list[str]) -> bool:
    return _matching_close(tokens) == len(tokens) - 1
