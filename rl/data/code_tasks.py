"""The ``python_functions`` task: short specs of small Python functions, judged by the ``code`` verifier.

    train, held_out = python_functions(n_train=1000, n_eval=100, seed=0, max_steps=3)
    prompt = function_prompt("int:mul3,add2")   # the problem whose id is "python_functions:int:mul3,add2"
    prompt.text       # "Write a Python function f(x): multiply by 3, then add 2."
    prompt.solution   # "<think>* 3; + 2</think>\\n```python\\ndef f(x):\\n    return x * 3 + 2\\n```"
    prompt.fields     # {"tests": ["assert f(11) == 35", ... 4 in all], "timeout_s": 2.0}

A problem is a chain of one or more steps applied to the argument, each step one phrase of
the spec, one fragment of the plan and one piece of the expression: an int ``x`` (add,
subtract, multiply, mod, floor-divide by a constant), a list ``xs`` (keep or map the items,
then sum / max / min / count them, then an int step) or a string ``s`` (slice, repeat,
reverse, upper-case). A tiny model can learn each piece and how pieces nest (parentheses
where precedence needs them) and reuse them in combinations it never saw.

Generalisation is what the held-out split measures: for every step that takes a constant,
``held_out_constants`` of its constants (drawn from ``seed``) pair with it only in held-out
problems: if "multiply by 7" is one, training sees "multiply by 3" and "add 7" but never it.
Each problem carries 4 assert-style tests, so the verifier's score is the fraction passed.
"""
from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rl.data.records import Prompt

# Operator precedence of an expression, so a step knows when its operand needs parentheses.
ADD, MUL, ATOM = 1, 2, 3
SOLUTION_FORMAT = "<think>{plan}</think>\n```python\ndef f({arg}):\n    return {expr}\n```"
TESTS_PER_PROBLEM = 4
CANDIDATE_INPUTS = 40  # random inputs drawn per problem; the tests are picked among them
PROBES, MIN_DISTINCT_OUTPUTS = 16, 3  # a chain with fewer distinct outputs on 16 inputs is left out
RANDOM_HELD_OUT_FRACTION = 0.2  # with held_out_constants=0
TEST_TIMEOUT_S = 2.0  # per test case: the programs are one expression; anything slower is a hang


class CodeTaskError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    """One step of a function: how the spec says it, how the plan notes it, how the code writes it."""

    name: str  # in problem ids: "mul" + constant -> "mul3"
    phrase: str  # spec text; ``{c}`` is the constant
    plan: str  # thinking fragment
    code: str  # expression template; ``{0}`` is the operand
    needs: int  # precedence the operand must have, or it is parenthesised
    gives: int  # precedence of the result
    apply: Callable[[Any, int], Any]  # what the code computes: the tests' expected values come from here
    takes: str  # operand type: "int", "list" or "str"
    returns: str
    constants: tuple[int | None, ...] = (None,)  # (None,): the step takes no constant


DIGITS = tuple(range(2, 10))
INT_STEPS = (
    Step("add", "add {c}", "+ {c}", "{0} + {c}", ADD, ADD, lambda v, c: v + c, "int", "int", DIGITS),
    Step("sub", "subtract {c}", "- {c}", "{0} - {c}", ADD, ADD, lambda v, c: v - c, "int", "int", DIGITS),
    Step("mul", "multiply by {c}", "* {c}", "{0} * {c}", MUL, MUL, lambda v, c: v * c, "int", "int", DIGITS),
    Step("mod", "take it mod {c}", "% {c}", "{0} % {c}", MUL, MUL, lambda v, c: v % c, "int", "int", DIGITS),
    Step("div", "floor-divide by {c}", "// {c}", "{0} // {c}", MUL, MUL, lambda v, c: v // c, "int", "int", DIGITS),
)
# Item-wise steps write one comprehension over the argument itself: they only come first.
LIST_STEPS = (
    Step("above", "keep the items above {c}", "v > {c}", "[v for v in {0} if v > {c}]", 0, ATOM,
         lambda xs, c: [v for v in xs if v > c], "list", "list", tuple(range(1, 9))),
    Step("below", "keep the items below {c}", "v < {c}", "[v for v in {0} if v < {c}]", 0, ATOM,
         lambda xs, c: [v for v in xs if v < c], "list", "list", tuple(range(2, 10))),
    Step("even", "keep the even items", "v % 2 == 0", "[v for v in {0} if v % 2 == 0]", 0, ATOM,
         lambda xs, c: [v for v in xs if v % 2 == 0], "list", "list"),
    Step("odd", "keep the odd items", "v % 2 == 1", "[v for v in {0} if v % 2 == 1]", 0, ATOM,
         lambda xs, c: [v for v in xs if v % 2 == 1], "list", "list"),
    Step("each_mul", "multiply each item by {c}", "v * {c}", "[v * {c} for v in {0}]", 0, ATOM,
         lambda xs, c: [v * c for v in xs], "list", "list", tuple(range(2, 6))),
    Step("each_add", "add {c} to each item", "v + {c}", "[v + {c} for v in {0}]", 0, ATOM,
         lambda xs, c: [v + c for v in xs], "list", "list", tuple(range(1, 6))),
)
AGGREGATES = (
    Step("sum", "sum the items", "sum", "sum({0})", 0, ATOM, lambda xs, c: sum(xs), "list", "int"),
    Step("max", "take the largest item", "max", "max({0})", 0, ATOM, lambda xs, c: max(xs), "list", "int"),
    Step("min", "take the smallest item", "min", "min({0})", 0, ATOM, lambda xs, c: min(xs), "list", "int"),
    Step("count", "count the items", "len", "len({0})", 0, ATOM, lambda xs, c: len(xs), "list", "int"),
)
STR_STEPS = (
    Step("first", "take the first {c} characters", "[:{c}]", "{0}[:{c}]", ATOM, ATOM,
         lambda s, c: s[:c], "str", "str", tuple(range(1, 6))),
    Step("last", "take the last {c} characters", "[-{c}:]", "{0}[-{c}:]", ATOM, ATOM,
         lambda s, c: s[-c:], "str", "str", tuple(range(1, 6))),
    Step("dropfirst", "drop the first {c} characters", "[{c}:]", "{0}[{c}:]", ATOM, ATOM,
         lambda s, c: s[c:], "str", "str", tuple(range(1, 6))),
    Step("droplast", "drop the last {c} characters", "[:-{c}]", "{0}[:-{c}]", ATOM, ATOM,
         lambda s, c: s[:-c], "str", "str", tuple(range(1, 6))),
    Step("repeat", "repeat it {c} times", "* {c}", "{0} * {c}", MUL, MUL, lambda s, c: s * c, "str", "str", (2, 3, 4)),
    Step("reverse", "reverse it", "[::-1]", "{0}[::-1]", ATOM, ATOM, lambda s, c: s[::-1], "str", "str"),
    Step("upper", "make it upper case", "upper", "{0}.upper()", ATOM, ATOM, lambda s, c: s.upper(), "str", "str"),
)


def _random_int(rng: random.Random) -> int:
    return rng.randint(0, 30)


def _random_list(rng: random.Random) -> list[int]:
    return [rng.randint(0, 9) for _ in range(rng.randint(3, 6))]


def _random_word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefgh") for _ in range(rng.randint(3, 7)))


@dataclass(frozen=True)
class Family:
    """Functions of one argument type: the steps each position of the chain may hold."""

    name: str
    arg: str
    arg_type: str
    slots: tuple[tuple[Step, ...], ...]  # position i of a chain takes a step of slots[i] or none
    random_input: Callable[[random.Random], Any]


FAMILIES = {
    "int": Family("int", "x", "int", (INT_STEPS, INT_STEPS, INT_STEPS), _random_int),
    "list": Family("list", "xs", "list", (LIST_STEPS, AGGREGATES, INT_STEPS), _random_list),
    "str": Family("str", "s", "str", (STR_STEPS, STR_STEPS, STR_STEPS), _random_word),
}

Chain = tuple[tuple[Step, Any], ...]  # (step, constant) pairs, applied left to right


def python_functions(
    n_train: int,
    n_eval: int,
    seed: int,
    *,
    families: Sequence[str] = ("int", "list", "str"),
    max_steps: int = 2,
    held_out_constants: int = 1,
) -> tuple[list[Prompt], list[Prompt]]:
    """Specs of functions of an int, a list of ints or a string, each a chain of 1..``max_steps``
    steps, with a worked solution (``<think>plan</think>`` then a fenced function) and tests.

    Each prompt picks a family, then a chain length, uniformly; a (family, length) whose
    problems are used up is skipped. Held-out problems are drawn first, so they depend on
    ``seed`` and ``n_eval`` only. ``held_out_constants`` per constant-taking step are kept
    for the held-out split (see the module docstring); 0 splits problems at random instead.
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise CodeTaskError(f"python_functions: families must be a non-empty subset of {', '.join(FAMILIES)}; got {list(families)}")
    if not 1 <= max_steps <= 3:
        raise CodeTaskError(f"python_functions: max_steps must be in 1..3, got {max_steps}")
    if held_out_constants < 0:
        raise CodeTaskError(f"python_functions: held_out_constants must be >= 0, got {held_out_constants}")
    chosen = [FAMILIES[f] for f in dict.fromkeys(families)]
    held_pairs = _held_out_pairs(chosen, held_out_constants, random.Random(f"held-out-{seed}"))
    train_pools: dict[tuple[str, int], list[Chain]] = {}
    eval_pools: dict[tuple[str, int], list[Chain]] = {}
    for family in chosen:
        for chain in _chains(family, max_steps):
            if held_out_constants:
                held = any((step.name, c) in held_pairs for step, c in chain)
            else:  # an in-distribution split: a seeded coin per problem
                held = random.Random(f"{seed}:{_key(family, chain)}").random() < RANDOM_HELD_OUT_FRACTION
            pools = eval_pools if held else train_pools
            pools.setdefault((family.name, len(chain)), []).append(chain)
    for name, pools, wanted in (("held-out", eval_pools, n_eval), ("train", train_pools, n_train)):
        available = sum(map(len, pools.values()))
        if wanted > available:
            raise CodeTaskError(f"python_functions: {wanted} {name} problems asked, but only {available} exist "
                                f"with families={list(families)}, max_steps={max_steps}")
    by_name = {f.name: f for f in chosen}
    held_out = [_prompt(by_name[f], chain) for f, chain in _draw(eval_pools, n_eval, random.Random(f"eval-{seed}"))]
    train = [_prompt(by_name[f], chain) for f, chain in _draw(train_pools, n_train, random.Random(f"train-{seed}"))]
    return train, held_out


def _held_out_pairs(families: Sequence[Family], per_step: int, rng: random.Random) -> set[tuple[str, int]]:
    """(step name, constant) pairs seen only in held-out problems; every step keeps a constant for training."""
    steps = {step.name: step for family in families for slot in family.slots for step in slot}
    pairs = set()
    for name in sorted(steps):
        constants = steps[name].constants
        if constants != (None,):
            pairs.update((name, c) for c in rng.sample(constants, min(per_step, len(constants) - 1)))
    return pairs


def _chains(family: Family, max_steps: int) -> list[Chain]:
    """Every well-typed chain of 1..max_steps steps that never repeats a step right after itself."""
    options = [[None] + [(step, c) for step in slot for c in step.constants] for slot in family.slots]
    chains: dict[Chain, None] = {}  # ordered set: identical slots give a chain at several positions
    for picked in itertools.product(*options):
        chain = tuple(p for p in picked if p is not None)
        if not 1 <= len(chain) <= max_steps:
            continue
        types = [family.arg_type] + [step.returns for step, _ in chain]
        if any(step.takes != t for (step, _), t in zip(chain, types)):
            continue
        if any(a.name == b.name for (a, _), (b, _) in zip(chain, chain[1:])):
            continue
        if _is_degenerate(family, chain):
            continue
        chains[chain] = None
    return list(chains)


def _draw(pools: dict[tuple[str, int], list[Chain]], n: int, rng: random.Random) -> list[tuple[str, Chain]]:
    """``n`` distinct problems: a family, then a length, uniformly among those with problems left."""
    remaining = {key: rng.sample(chains, len(chains)) for key, chains in sorted(pools.items())}
    out = []
    while len(out) < n:
        family = rng.choice(sorted({f for f, _ in remaining}))
        length = rng.choice(sorted(k for f, k in remaining if f == family))
        chains = remaining[(family, length)]
        out.append((family, chains.pop()))
        if not chains:
            del remaining[(family, length)]
    return out


def function_prompt(key: str) -> Prompt:
    """The prompt whose id is ``python_functions:<key>``, e.g. ``function_prompt("int:mul3,add2")``."""
    family_name, _, steps = key.partition(":")
    if family_name not in FAMILIES:
        raise CodeTaskError(f"python_functions: unknown family {family_name!r} in {key!r} (known: {', '.join(FAMILIES)})")
    family = FAMILIES[family_name]
    known = {step.name: step for slot in family.slots for step in slot}
    chain = []
    for token in steps.split(","):
        match = re.fullmatch(r"([a-z_]+)(\d*)", token)
        if match is None or match.group(1) not in known:
            raise CodeTaskError(f"python_functions: unknown step {token!r} in {key!r} (steps of {family_name}: {', '.join(known)})")
        chain.append((known[match.group(1)], int(match.group(2)) if match.group(2) else None))
    return _prompt(family, tuple(chain))


def _key(family: Family, chain: Chain) -> str:
    return f"{family.name}:" + ",".join(f"{step.name}{'' if c is None else c}" for step, c in chain)


def _prompt(family: Family, chain: Chain) -> Prompt:
    phrases = [step.phrase.format(c=c) for step, c in chain]
    plan = "; ".join(step.plan.format(c=c) for step, c in chain)
    key = _key(family, chain)
    return Prompt(
        id=f"python_functions:{key}",
        messages=None,
        text=f"Write a Python function f({family.arg}): {', then '.join(phrases)}.",
        reference="",
        verifier="code",
        fields={"tests": _tests(family, chain, random.Random(key)), "timeout_s": TEST_TIMEOUT_S},
        solution=SOLUTION_FORMAT.format(plan=plan, arg=family.arg, expr=expression(family.arg, chain)),
    )


def expression(arg: str, chain: Chain) -> str:
    """The chain as one Python expression over ``arg``, parenthesised only where precedence needs it."""
    text, precedence = arg, ATOM
    for step, c in chain:
        operand = text if precedence >= step.needs else f"({text})"
        text, precedence = step.code.format(operand, c=c), step.gives
    return text


def evaluate_chain(chain: Chain, value: Any) -> Any:
    """What the chain's function returns for ``value``, computed without its code."""
    for step, c in chain:
        value = step.apply(value, c)
    return value


def _cases(family: Family, chain: Chain, rng: random.Random, tries: int) -> dict[str, Any]:
    """repr(input) -> expected output, for the random inputs the chain is defined on (max([]) is not)."""
    cases = {}
    for _ in range(tries):
        value = family.random_input(rng)
        try:
            cases[repr(value)] = evaluate_chain(chain, value)
        except ValueError:
            continue
    return cases


def _is_degenerate(family: Family, chain: Chain) -> bool:
    """True for a chain that is nearly constant ("mod 3, then floor-divide by 3" is always 0):
    its tests would reward a program that ignores the spec."""
    outputs = _cases(family, chain, random.Random(f"probe-{family.name}"), tries=PROBES).values()
    return len({repr(v) for v in outputs}) < MIN_DISTINCT_OUTPUTS


def _tests(family: Family, chain: Chain, rng: random.Random) -> list[str]:
    """Assert-style tests on distinct inputs, preferring inputs whose outputs differ (so each test tells more)."""
    cases = list(_cases(family, chain, rng, tries=CANDIDATE_INPUTS).items())
    fresh, seen = [], set()
    for case in cases:
        if repr(case[1]) not in seen:
            seen.add(repr(case[1]))
            fresh.append(case)
    chosen = (fresh + [c for c in cases if c not in fresh])[:TESTS_PER_PROBLEM]
    if len(chosen) < TESTS_PER_PROBLEM:
        raise CodeTaskError(f"python_functions: could not find {TESTS_PER_PROBLEM} inputs for {_key(family, chain)}")
    return [f"assert f({value}) == {expected!r}" for value, expected in chosen]
