"""The default generated task: addition and subtraction (and products), plain or as word problems,
each with a worked solution the tiny model can learn digit by digit (``column_work``).

    train, held_out = arithmetic(2000, 100, seed=0, digits=2)
"""
from __future__ import annotations

import operator
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from rl.data.records import Prompt
from rl.modes import NO_THINK, THINK

# Kept short: the tiny model's context is small and every token of it costs CPU time.
DEFAULT_SOLUTION_FORMAT = "<think>{work}</think> The answer is \\boxed{{{answer}}}."
# Non-thinking mode (the prompt pre-fills an empty think block): the answer alone, as Qwen3 answers.
DEFAULT_NO_THINK_FORMAT = "The answer is \\boxed{{{answer}}}."

OPERATIONS: dict[str, Callable[[int, int], int]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}

WORD_PROBLEMS: dict[str, tuple[str, ...]] = {
    "+": (
        "{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?",
        "There are {a} {item} in a box. {name} puts in {b} more. How many {item} are in the box?",
    ),
    "-": (
        "{name} has {a} {item} and gives away {b}. How many {item} does {name} have left?",
        "There are {a} {item} in a box. {name} takes out {b}. How many {item} are left in the box?",
    ),
    "*": ("{name} has {a} bags with {b} {item} in each. How many {item} does {name} have?",),
}
NAMES = ("Tom", "Ann", "Sam", "Mia", "Ben", "Eva")
ITEMS = ("apples", "books", "coins", "cards", "pens", "shells")


class TaskError(ValueError):
    pass


def arithmetic(
    n_train: int,
    n_eval: int,
    seed: int,
    *,
    digits: int = 2,
    operations: Sequence[str] = ("+", "-"),
    word_problems: float = 0.5,
    solution_format: str = DEFAULT_SOLUTION_FORMAT,
    max_operand: int | None = None,
    work: str = "columns",
    no_think_fraction: float = 0.0,
    no_think_format: str = DEFAULT_NO_THINK_FORMAT,
) -> tuple[list[Prompt], list[Prompt]]:
    """Addition/subtraction problems on numbers of up to ``digits`` digits, plain ("What is 12 + 7?")
    or as a short word problem (a ``word_problems`` fraction), each with a worked solution.

    A problem is its (operation, a, b): the held-out split never shares one with the train
    split, whatever the wording. The held-out problems are drawn first, so they depend only
    on ``seed`` and ``n_eval``, not on ``n_train``. Subtraction never goes below zero.
    ``solution_format`` gets ``{work}`` ("12 + 7 = 19") and ``{answer}`` ("19").
    ``max_operand`` caps the operands below ``10**digits - 1`` (an easier task, same format).
    ``work`` is how the thinking shows the sum: "columns" digit by digit with carries
    ("27+15: 7+5=12, 2+1+1=4, so 42" — each step a one-digit fact a tiny model can learn
    and reuse on unseen numbers), or "direct" ("27 + 15 = 42").
    ``no_think_fraction`` of the prompts get mode "no_think" and a solution in ``no_think_format``
    (for thinking-mode fusion); the rest get mode "think". 0 (the default) leaves modes unset.
    Modes are drawn from their own stream: the problems are the same whatever the fraction.
    """
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown or not operations:
        raise TaskError(f"arithmetic: operations must be a non-empty subset of {', '.join(OPERATIONS)}; got {list(operations)}")
    if not 1 <= digits <= 6:
        raise TaskError(f"arithmetic: digits must be in 1..6, got {digits}")
    if not 0 <= word_problems <= 1:
        raise TaskError(f"arithmetic: word_problems is a fraction in [0, 1], got {word_problems}")
    if work not in WORK_STYLES:
        raise TaskError(f"arithmetic: work must be one of {', '.join(WORK_STYLES)}; got {work!r}")
    for name, fmt in (("solution_format", solution_format), ("no_think_format", no_think_format)):
        if "{answer}" not in fmt:
            raise TaskError(f"arithmetic: {name} must contain {{answer}}, got {fmt!r}")
    if not 0 <= no_think_fraction <= 1:
        raise TaskError(f"arithmetic: no_think_fraction is a fraction in [0, 1], got {no_think_fraction}")
    biggest = min(10**digits - 1, max_operand or 10**digits)
    available = sum(_count_problems(op, biggest) for op in set(operations))
    if n_train + n_eval > available:
        raise TaskError(f"arithmetic: {n_train} + {n_eval} problems asked, but only {available} distinct ones exist with digits={digits}")

    rng = random.Random(seed)
    seen: set[tuple[str, int, int]] = set()
    prompts: list[Prompt] = []
    while len(prompts) < n_train + n_eval:
        op = rng.choice(list(operations))
        a, b = rng.randint(1, biggest), rng.randint(1, biggest)
        if op == "-" and b > a:
            a, b = b, a
        if (op, a, b) in seen:
            continue
        seen.add((op, a, b))
        prompts.append(_arithmetic_prompt(op, a, b, rng.random() < word_problems, rng, solution_format, work))
    if no_think_fraction:
        prompts = _assign_modes(prompts, no_think_fraction, random.Random(f"modes-{seed}"), no_think_format, work)
    return prompts[n_eval:], prompts[:n_eval]


def _assign_modes(prompts: list[Prompt], no_think_fraction: float, rng: random.Random, no_think_format: str,
                  work_style: str) -> list[Prompt]:
    out = []
    for prompt in prompts:
        if rng.random() >= no_think_fraction:
            out.append(replace(prompt, mode=THINK))
            continue
        op, a, b = _problem_of(prompt)
        work = column_work(op, a, b) if work_style == "columns" else f"{a} {op} {b} = {prompt.reference}"
        out.append(replace(prompt, mode=NO_THINK, solution=no_think_format.format(work=work, answer=prompt.reference)))
    return out


def _problem_of(prompt: Prompt) -> tuple[str, int, int]:
    """(op, a, b) back from an arithmetic prompt's id ("arithmetic:27+15")."""
    a, op, b = re.fullmatch(r"arithmetic:(\d+)([-+*])(\d+)", prompt.id).groups()
    return op, int(a), int(b)


def _count_problems(op: str, biggest: int) -> int:
    # Operands run 1..biggest; subtraction keeps a >= b.
    return biggest * (biggest + 1) // 2 if op == "-" else biggest * biggest


def column_work(op: str, a: int, b: int) -> str:
    """Digit-by-digit working, right to left: "27+15: 7+5=12, 2+1+1=4, so 42";
    "53-27: 13-7=6, 5-1-2=2, so 26" (a borrowed ten shows as 13, repaid as -1)."""
    if op not in "+-":
        return f"{a} {op} {b} = {OPERATIONS[op](a, b)}"
    xs, ys = str(a)[::-1], str(b)[::-1].ljust(len(str(a)), "0") if op == "-" else str(b)[::-1]
    width = max(len(xs), len(ys))
    xs, ys = xs.ljust(width, "0"), ys.ljust(width, "0")
    steps, carry = [], 0
    for x, y in zip(map(int, xs), map(int, ys)):
        if op == "+":
            total = x + y + carry
            steps.append(f"{x}+{y}{'+1' if carry else ''}={total}")
            carry = total // 10
        else:
            top = x - carry
            borrow = top < y
            steps.append(f"{x + 10 * borrow}{'-1' if carry else ''}-{y}={top + 10 * borrow - y}")
            carry = int(borrow)
    if op == "+" and carry:
        steps.append("carry 1")
    return f"{a}{op}{b}: {', '.join(steps)}, so {OPERATIONS[op](a, b)}"


WORK_STYLES = ("columns", "direct")


def _arithmetic_prompt(op: str, a: int, b: int, as_word_problem: bool, rng: random.Random, solution_format: str,
                       work_style: str = "columns") -> Prompt:
    answer = OPERATIONS[op](a, b)
    if as_word_problem:
        template = rng.choice(WORD_PROBLEMS[op])
        question = template.format(name=rng.choice(NAMES), item=rng.choice(ITEMS), a=a, b=b)
    else:
        question = f"What is {a} {op} {b}?"
    work = column_work(op, a, b) if work_style == "columns" else f"{a} {op} {b} = {answer}"
    return Prompt(
        id=f"arithmetic:{a}{op}{b}",
        messages=None,
        text=question,
        reference=str(answer),
        verifier="math",
        solution=solution_format.format(work=work, answer=answer),
    )
