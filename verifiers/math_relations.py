"""Relations in answers: equations, inequalities, labelled values, and sets of reals.

Used by ``verifiers.math_equiv`` (whose docstring states the conventions). Values on
the sides of a relation are compared with the ``equal`` callback it passes in, so a
labelled tuple ``(a, b) = (2, 5)`` compares its value like any tuple.
"""
from __future__ import annotations

from collections.abc import Callable

import sympy

from verifiers.math_parse import MAX_UNION, Alternatives, Difference, Label, Relation, Seq, Union
from verifiers.math_sample import constant_ratio

Equal = Callable[[object, object], bool]
_INTERVAL_BRACKETS = {"()", "[]", "(]", "[)"}
MAX_SOLVED_DEGREE = 8  # inequalities of higher degree are not solved into sets (see _too_hard)


# ---------------------------------------------------------------- labels and values
def is_label(part) -> bool:
    return isinstance(part, (sympy.Symbol, Label))


def value_of(rel: Relation):
    """The value an equation states, or None when it states a condition instead.

    'x = 2', '2 = x', 'g(x) = 3x - 1', '(a, b) = (2, 5)' and the all-numeric '3 + 4 = 7' state
    a value; '2a - b = 0' does not (0 is not what it asks for).
    """
    if any(op != "=" for op in rel.ops):
        return None
    values = [p for p in rel.parts if not is_label(p)]
    if not values:
        return None
    if len(values) < len(rel.parts):
        return values[-1]
    numeric = all(isinstance(v, sympy.Expr) and not v.free_symbols for v in values)
    return values[-1] if numeric else None


def _label_and_value(rel: Relation):
    """(label, value) of a two-sided equation with a label on one side, else (None, None)."""
    left, right = rel.parts
    if is_label(left) and not isinstance(right, Label):
        return left, right
    if is_label(right) and not isinstance(left, Label):
        return right, left
    return None, None


def _same_label(a, b) -> bool:
    if isinstance(a, Label) and isinstance(b, Label):
        return a.name == b.name
    return isinstance(a, sympy.Symbol) and a == b


def _same_function(a, b, va, vb) -> bool:
    """'y = 3x - 1' and 'g(x) = 3x - 1' define one function; 'x = 3' and 'y = 3' do not match."""
    if isinstance(a, Label) and isinstance(b, Label):
        return a.kind == b.kind == "function" and a.args == b.args
    if isinstance(b, sympy.Symbol):
        a, b = b, a
    if not (isinstance(a, sympy.Symbol) and isinstance(b, Label) and b.kind == "function" and b.args):
        return False
    used = set().union(*(v.free_symbols for v in (va, vb) if isinstance(v, sympy.Basic)))
    return a not in b.args and a not in used and used <= set(b.args)


def named_values(value) -> dict | None:
    """{name: value} of '(a, b) = (3, -2)' or 'a = 3, b = -2' (two names or more), else None."""
    if isinstance(value, Relation) and value.ops == ("=",):
        label, values = value.parts
        if isinstance(label, Label) and label.kind == "tuple" and isinstance(values, Seq) and values.brackets == "()":
            if len(values.items) == len(label.args):
                return dict(zip(label.args, values.items))
        return None
    if not (isinstance(value, Seq) and value.brackets == "" and len(value.items) > 1):
        return None
    pairs = [_label_and_value(i) if isinstance(i, Relation) and i.ops == ("=",) else (None, None) for i in value.items]
    names = [name for name, _ in pairs]
    if not all(isinstance(n, sympy.Symbol) for n in names) or len(set(names)) != len(names):
        return None
    return dict(pairs)


# ---------------------------------------------------------------- equations and inequalities
def relation_matches(pred, ref, equal: Equal) -> bool:
    if isinstance(pred, Relation) and isinstance(ref, Relation):
        if pred.ops == ("=",) and ref.ops == ("=",):
            return _equations_equal(pred, ref, equal)
        if "=" not in pred.ops and "=" not in ref.ops:
            return _inequalities_equal(pred, ref)
        p, r = value_of(pred), value_of(ref)
        return p is not None and r is not None and equal(p, r)
    if isinstance(ref, Relation):
        value = value_of(ref)
        return value is not None and equal(pred, value)
    value = value_of(pred)
    return value is not None and equal(value, ref)


def _equations_equal(pred: Relation, ref: Relation, equal: Equal) -> bool:
    p_label, p_value = _label_and_value(pred)
    r_label, r_value = _label_and_value(ref)
    if p_label is not None and r_label is not None:
        if _same_label(p_label, r_label) or _same_function(p_label, r_label, p_value, r_value):
            return equal(p_value, r_value)
    if not all(isinstance(p, sympy.Expr) for p in pred.parts + ref.parts):
        return False
    (pl, pr), (rl, rr) = pred.parts, ref.parts
    # The same condition: one side minus the other agree up to a non-zero factor.
    return constant_ratio(pl - pr, rl - rr) is not None


_CONDITION = {"<": ">", ">": ">", "<=": ">=", ">=": ">=", "!=": "!="}


def _conditions(rel: Relation) -> list[tuple[sympy.Expr, str]] | None:
    """Each link of a chain as 'expr > 0', 'expr >= 0' or 'expr != 0'."""
    out = []
    for (lhs, rhs), op in zip(zip(rel.parts, rel.parts[1:]), rel.ops):
        if not (isinstance(lhs, sympy.Expr) and isinstance(rhs, sympy.Expr)):
            return None
        out.append((rhs - lhs if op in ("<", "<=") else lhs - rhs, _CONDITION[op]))
    return out


def _inequalities_equal(pred: Relation, ref: Relation) -> bool:
    """'a > b' is 'b < a' and '2a > 2b'; not 'a < b' (a negative factor flips it)."""
    preds, refs = _conditions(pred), _conditions(ref)
    if preds is None or refs is None or len(preds) != len(refs):
        return False
    unmatched = list(preds)
    for expr, kind in refs:
        match = next((p for p in unmatched if p[1] == kind and _same_sign_multiple(p[0], expr, kind)), None)
        if match is None:
            return False
        unmatched.remove(match)
    return True


def _same_sign_multiple(f: sympy.Expr, g: sympy.Expr, kind: str) -> bool:
    ratio = constant_ratio(f, g)
    if ratio is None or abs(ratio.imag) > 1e-12:
        return False
    return kind == "!=" or ratio.real > 0


# ---------------------------------------------------------------- sets of reals
def as_set(value):
    """An interval, union or one-variable inequality as a sympy Set; None if it is none of these."""
    try:
        if isinstance(value, Seq) and value.brackets in _INTERVAL_BRACKETS and len(value.items) == 2:
            lo, hi = value.items
            if not (isinstance(lo, sympy.Expr) and isinstance(hi, sympy.Expr)) or lo.free_symbols or hi.free_symbols:
                return None
            return sympy.Interval(lo, hi, value.brackets[0] == "(", value.brackets[1] == ")")
        if isinstance(value, Seq) and value.brackets == "{}" and value.items:
            # Only rational members: a FiniteSet compares its members structurally.
            items = value.items
            return sympy.FiniteSet(*items) if all(isinstance(i, sympy.Rational) for i in items) else None
        if isinstance(value, (Union, Alternatives)):
            if len(value.items) > MAX_UNION:
                return None  # "x = 1 or ... or x = 40": a hedge to compare item by item, not a union to build
            parts = [as_set(item) for item in value.items]
            return None if any(p is None for p in parts) else sympy.Union(*parts)
        if isinstance(value, Difference):
            left, right = as_set(value.left), as_set(value.right)
            return None if left is None or right is None else sympy.Complement(left, right)
        if isinstance(value, Relation) and any(op != "=" for op in value.ops):
            return _inequality_set(value)
        if isinstance(value, Seq) and value.brackets == "" and len(value.items) <= MAX_UNION and all(_is_inequality(i) for i in value.items):
            parts = [as_set(item) for item in value.items]  # "x >= 2 and x <= 5": both hold
            return None if any(p is None for p in parts) else sympy.Intersection(*parts)
    except (TypeError, ValueError, NotImplementedError):  # sympy cannot solve it (sin x > 0): not a set we compare
        return None
    return None


_RELATIONALS = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge, "!=": sympy.Ne, "=": sympy.Eq}


def _is_inequality(value) -> bool:
    return isinstance(value, Relation) and all(op != "=" for op in value.ops)


def _inequality_set(rel: Relation):
    # "2 <= f(x) <= 5" describes the values of f(x): the same set as "2 <= y <= 5".
    parts = [sympy.Symbol(p.name) if isinstance(p, Label) and p.kind == "function" else p for p in rel.parts]
    rel = Relation(tuple(parts), rel.ops)
    if not all(isinstance(p, sympy.Expr) for p in rel.parts):
        return None
    symbols = set().union(*(p.free_symbols for p in rel.parts))
    if len(symbols) != 1:
        return None
    (x,) = symbols
    result = sympy.S.Reals
    for (lhs, rhs), op in zip(zip(rel.parts, rel.parts[1:]), rel.ops):
        f = lhs - rhs
        if not f.free_symbols:
            continue
        linear = _linear_set(f, op, x)
        if linear is None and _too_hard(f, x):
            return None
        result = result.intersect(linear or _RELATIONALS[op](lhs, rhs).as_set())
    return result


def _too_hard(f: sympy.Expr, x: sympy.Symbol) -> bool:
    """A polynomial numerator or denominator of degree over MAX_SOLVED_DEGREE: sympy's solver
    runs for minutes on x^10000 - x^9999 > 2 (no answer needs it; the relation still compares
    as an inequality, up to a positive factor)."""
    for part in f.as_numer_denom():
        if part.is_polynomial(x) and sympy.degree(part, x) > MAX_SOLVED_DEGREE:
            return True
    return False


def _linear_set(f: sympy.Expr, op: str, x: sympy.Symbol):
    """The set where a x + b op 0, solved directly: sympy's general solver takes ~30 ms."""
    slope = f.diff(x)
    if slope.free_symbols or not slope.is_number or slope.is_zero is not False or not slope.is_real:
        return None
    root = -f.subs(x, 0) / slope
    if not (root.is_number and root.is_real):
        return None
    if op == "=":
        return sympy.FiniteSet(root)
    if op == "!=":
        return sympy.Union(sympy.Interval.open(-sympy.oo, root), sympy.Interval.open(root, sympy.oo))
    above = (op in (">", ">=")) == bool(slope > 0)  # f > 0 above the root when the slope is positive
    strict = op in ("<", ">")
    return sympy.Interval(root, sympy.oo, strict, True) if above else sympy.Interval(-sympy.oo, root, True, strict)


def sets_equal(a, b) -> bool:
    if a == b:
        return True
    edges = _edges(a), _edges(b)
    if None not in edges and edges[0] != edges[1]:
        return False  # different end points: no need for sympy's Complement (~15 ms a call)
    return sympy.Complement(a, b) is sympy.S.EmptySet and sympy.Complement(b, a) is sympy.S.EmptySet


def _edges(value) -> list | None:
    """The set's end points and isolated points, rounded, as a sorted list; None when not all numeric."""
    if isinstance(value, sympy.Interval):
        points = [value.start, value.end]
    elif isinstance(value, sympy.FiniteSet):
        points = list(value.args)
    elif isinstance(value, sympy.Union):
        parts = [_edges(part) for part in value.args]
        return None if any(p is None for p in parts) else sorted(x for p in parts for x in p)
    else:
        return None
    try:
        return sorted(round(float(p), 9) if p.is_finite else float(p) for p in points)
    except (TypeError, ValueError):
        return None


def _load_solvers() -> None:
    """sympy imports its solvers and set handlers on first use (~0.4 s). Doing it here, at import,
    puts that cost in the pool's fork server, which preloads this module, not in every worker's
    first inequality."""
    (sympy.Abs(sympy.Symbol("x")) < 1).as_set()


_load_solvers()
