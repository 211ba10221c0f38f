"""Judge transcripts: teaching a tiny model to say whether a response's final answer is the reference.

    train, held_out = judge_transcripts(4000, 400, seed=0)       # data.generator: judge_transcripts

Each prompt is ONE user message, the judge template (``experiments/judges/tiny_judge_prompt.txt``)
with ``{question}``, ``{reference}`` and ``{response}`` replaced by plain ``str.replace``, exactly as
the judge client fills it; its solution is an empty think block (``<think>\\n\\n</think>\\n\\n``), a
line reading out the two numbers and comparing them digit by digit (``REASONS``; ``reasons=False``
leaves it out) and the verdict line, ``VERDICT: YES`` or ``VERDICT: NO``:

    Final answer 041, reference 042. 00= 44= 12x
    VERDICT: NO

A ``no_think_fraction`` of the prompts are rendered in no-think mode, where the template pre-fills
the empty block and the target is what follows it; the rest learn to write the empty block themselves: the judge answers directly whether
its client asks for ``enable_thinking=False`` or leaves the template's default.

The questions are ``arithmetic`` problems (``rl.data.arithmetic_tasks``); the held-out split never shares a
problem with the train split. The responses are what a policy's answer looks like once its
``<think>`` block is removed, one kind per prompt, in the proportions of ``mix`` (exact counts,
not sampled): right answers in the forms the policy writes (``correct``) or after a correction
(``corrected``), and wrong ones (``RESPONSE_KINDS``). Every label agrees with the rule verifier
(``verifiers.math.verify_math``); tests/test_judge_tasks.py checks that kind by kind. The prompt's
``reference`` is the expected verdict and its verifier ``verifiers.judge_verdict:verify_verdict``,
so the held-out eval of a judge run is its verdict accuracy; ``fields`` keep the parts (kind,
question, answer, response) for benchmarks.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from rl.data.arithmetic_tasks import _problem_of, arithmetic, column_work
from rl.data.records import Prompt
from rl.modes import NO_THINK, THINK
from verifiers.judge.prompt import TemplateError
from verifiers.judge.prompt import fill_template as fill_judge_template
from verifiers.judge.prompt import load_template as load_judge_template

# Relative paths are tried from the working directory, then from the repository root.
TEMPLATE_PATH = "experiments/judges/tiny_judge_prompt.txt"
REPO_ROOT = Path(__file__).resolve().parents[2]
VERIFIER = "verifiers.judge_verdict:verify_verdict"
EMPTY_THINK = "<think>\n\n</think>\n\n"  # what the chat template pre-fills in no-think mode

# How the policy writes a final answer (DEFAULT_SOLUTION_FORMAT's answer part, and looser forms).
ANSWER_FORMS = ("The answer is \\boxed{{{n}}}.", "\\boxed{{{n}}}", "{n}", "The answer is {n}.")
HEDGE_FORMS = ("The answer is \\boxed{{{x}}} or \\boxed{{{y}}}.", "\\boxed{{{x}}} or \\boxed{{{y}}}")
# A first answer taken back: the second (last) one is the final answer.
CORRECTION_FORMS = ("\\boxed{{{x}}}, no, \\boxed{{{y}}}", "{x}? No. The answer is \\boxed{{{y}}}.")
NO_ANSWER = "none"  # what the judge reads out of a response without a final answer
# The line the judge writes before its verdict: the two numbers it compares, side by side, zero-padded
# to one width (digits + 1: a sum's). Trained on the verdict alone, the tiny judge said YES to every
# well-formed wrong number (it could not compare digits spread over the prompt); with the numbers read
# out unpadded it still said YES to 23 against 22 (where corresponding digits sit depends on the
# length); padded (each digit's counterpart a fixed number of tokens back) it still did. So it writes the
# digit pairs out too, each with = or x: every comparison is then of two adjacent tokens, and the
# verdict is whether an x was written.
REASONS = "Final answer {final}, reference {reference}.{checks}\n"
EMPTYISH = ("", ".", "...", "?", "!")
OPENERS = ("Let's solve this problem step by step.", "Let me think.", "Sure!", "First, read the question.",
           "We need to find the answer.")

# Kind -> weight. Half the weight says YES; off-by-one gets the most of the rest: one digit apart
# from the reference, it is the wrong answer a judge most easily waves through.
DEFAULT_MIX: dict[str, float] = {
    "correct": 8.0, "corrected": 1.0,
    "off_by_one": 2.0, "off_by_ten": 1.0, "swapped_digits": 1.0, "other_answer": 1.0, "partial": 1.0,
    "hedge": 1.0, "not_final": 1.0, "empty": 0.5, "opener": 0.5,
}
YES_KINDS = frozenset({"correct", "corrected"})


class JudgeTaskError(ValueError):
    pass


def judge_transcripts(n_train: int, n_eval: int, seed: int, *, template: str = TEMPLATE_PATH,
                      mix: Mapping[str, float] | None = None, responses_per_problem: int = 2, digits: int = 2,
                      word_problems: float = 0.5, no_think_fraction: float = 0.5, reasons: bool = True
                      ) -> tuple[list[Prompt], list[Prompt]]:
    """``n_train`` / ``n_eval`` judge prompts (see the module docstring) on ``ceil(n / responses_per_problem)``
    arithmetic problems of up to ``digits`` digits each; ``mix`` (default ``DEFAULT_MIX``) weighs the response
    kinds, ``template`` is the judge template's path. ``reasons``: before the verdict line the judge reads out the
    response's final answer and the reference, zero-padded to ``digits + 1`` digits, and compares them digit by
    digit (``REASONS``); without it the tiny judge does not learn to compare numbers at all."""

    mix = dict(DEFAULT_MIX if mix is None else mix)
    unknown = sorted(set(mix) - set(RESPONSE_KINDS))
    if unknown or not mix or min(mix.values()) < 0 or not sum(mix.values()):
        raise JudgeTaskError(f"judge_transcripts: mix needs non-negative weights of kinds among {', '.join(RESPONSE_KINDS)}, "
                             f"not all 0; got {mix}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    if responses_per_problem < 1:
        raise JudgeTaskError(f"judge_transcripts: responses_per_problem must be >= 1, got {responses_per_problem}")
    if not 0 <= no_think_fraction <= 1:
        raise JudgeTaskError(f"judge_transcripts: no_think_fraction is a fraction in [0, 1], got {no_think_fraction}")
    text = load_template(template)
    per = responses_per_problem
    problems_train, problems_eval = arithmetic(-(-n_train // per), -(-n_eval // per), seed, digits=digits,
                                               word_problems=word_problems, work="columns")
    rng = random.Random(f"judge-{seed}")
    held_out = _judge_prompts(problems_eval, n_eval, per, mix, text, rng, no_think_fraction, reasons, digits + 1, "judge-eval")
    train = _judge_prompts(problems_train, n_train, per, mix, text, rng, no_think_fraction, reasons, digits + 1, "judge")
    return train, held_out


def load_template(path: str) -> str:
    """The template's text as the file holds it (no newline added or stripped: the client reads it so too)."""
    candidates = [Path(path)] if Path(path).is_absolute() else [Path(path), REPO_ROOT / path]
    for candidate in candidates:
        if candidate.is_file():
            try:
                text = load_judge_template(str(candidate))  # read as the judge client reads it
            except TemplateError as exc:
                raise JudgeTaskError(str(exc)) from None
            missing = [p for p in ("{question}", "{reference}", "{response}") if p not in text]
            if missing:
                raise JudgeTaskError(f"judge template {candidate}: no {', '.join(missing)} placeholder")
            return text
    raise JudgeTaskError(f"judge template {path!r}: no such file (looked in {', '.join(map(str, candidates))})")


def fill_template(template: str, question: str, reference: str, response: str) -> str:
    """The judge's user message, filled exactly as the judge client fills it at run time (``verifiers.judge``)."""
    return fill_judge_template(template, question=question, reference=reference, response=response)


def expected_verdict(kind: str) -> str:
    return "YES" if kind in YES_KINDS else "NO"


def _judge_prompts(problems: list[Prompt], n: int, per: int, mix: Mapping[str, float], template: str,
                   rng: random.Random, no_think_fraction: float, reasons: bool, width: int, prefix: str) -> list[Prompt]:
    kinds = _exact_counts(mix, n)
    rng.shuffle(kinds)
    answers = [int(p.reference) for p in problems]
    out = []
    for index, kind in enumerate(kinds):
        problem = problems[index // per]
        response, final = RESPONSE_KINDS[kind](_Problem(problem), answers, rng)
        verdict = expected_verdict(kind)
        reply = _reasons(final, problem.reference, width) if reasons else ""
        out.append(Prompt(
            id=f"{prefix}-{index}:{problem.id.split(':', 1)[1]}:{kind}",
            messages=(("user", fill_template(template, problem.text, problem.reference, response)),),
            text=None,
            reference=verdict,
            verifier=VERIFIER,
            fields={"kind": kind, "question": problem.text, "answer": problem.reference, "response": response},
            solution=f"{EMPTY_THINK}{reply}VERDICT: {verdict}",
            mode=NO_THINK if rng.random() < no_think_fraction else THINK,
        ))
    return out


def _reasons(final: str, reference: str, width: int) -> str:
    """The judge's reasoning line: both numbers padded, then digit by digit "<a><b>=" or "<a><b>x"."""
    final, reference = _padded(final, width), _padded(reference, width)
    checks = ""
    if final.isdigit():
        checks = " " + " ".join(f"{a}{b}{'=' if a == b else 'x'}" for a, b in zip(final, reference))
    return REASONS.format(final=final, reference=reference, checks=checks)


def _padded(numbers: str, width: int) -> str:
    """Every number in ``numbers`` zero-padded to ``width`` digits ("7 or 17" -> "007 or 017")."""
    return re.sub(r"\d+", lambda m: m.group().zfill(width), numbers)


def _exact_counts(mix: Mapping[str, float], n: int) -> list[str]:
    """``n`` kinds in the proportions of ``mix``, by largest remainder: a 50/50 mix is exactly balanced."""
    total = sum(mix.values())
    shares = {kind: n * weight / total for kind, weight in mix.items()}
    counts = {kind: int(share) for kind, share in shares.items()}
    for kind in sorted(shares, key=lambda k: counts[k] - shares[k])[: n - sum(counts.values())]:
        counts[kind] += 1
    return [kind for kind, count in counts.items() for _ in range(count)]


class _Problem:
    """The numbers of one arithmetic prompt: its answer and the ones its column work passes through."""

    def __init__(self, prompt: Prompt) -> None:

        op, a, b = _problem_of(prompt)
        self.answer = int(prompt.reference)
        self.partials = sorted({int(x) for x in re.findall(r"\d+", column_work(op, a, b))} - {self.answer})


# ---------------------------------------------------------------- response kinds
# Each is (problem, every answer of the split, rng) -> (the response text, its final answer as the judge reads it out).


def _form(n: int, rng: random.Random) -> tuple[str, str]:
    return rng.choice(ANSWER_FORMS).format(n=n), str(n)


def _near(answer: int, rng: random.Random, step: int) -> int:
    return answer + step if answer < step or rng.random() < 0.5 else answer - step


def _swapped(answer: int, rng: random.Random) -> int:
    """Two adjacent digits swapped; off by one where no swap changes the number without a leading zero."""
    digits = str(answer)
    swaps = [digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:] for i in range(len(digits) - 1)]
    swaps = [s for s in swaps if s != digits and s[0] != "0"]
    return int(rng.choice(swaps)) if swaps else _near(answer, rng, 1)


def _wrong(p: _Problem, answers: list[int], rng: random.Random) -> int:
    """Some wrong number, for hedges and corrections."""
    return rng.choice((_near(p.answer, rng, 1), _near(p.answer, rng, 10), _other(p, answers, rng)))


def _other(p: _Problem, answers: list[int], rng: random.Random) -> int:
    others = [a for a in rng.sample(answers, min(8, len(answers))) if a != p.answer]
    return others[0] if others else _near(p.answer, rng, 1)


def _hedge(p: _Problem, answers: list[int], rng: random.Random) -> tuple[str, str]:
    x, y = rng.sample([p.answer, _wrong(p, answers, rng)], 2)
    return rng.choice(HEDGE_FORMS).format(x=x, y=y), f"{x} or {y}"


def _correction(x: int, y: int, rng: random.Random) -> tuple[str, str]:
    return rng.choice(CORRECTION_FORMS).format(x=x, y=y), str(y)


RESPONSE_KINDS: dict[str, Callable[[_Problem, list[int], random.Random], tuple[str, str]]] = {
    "correct": lambda p, answers, rng: _form(p.answer, rng),
    "corrected": lambda p, answers, rng: _correction(_wrong(p, answers, rng), p.answer, rng),
    "off_by_one": lambda p, answers, rng: _form(_near(p.answer, rng, 1), rng),
    "off_by_ten": lambda p, answers, rng: _form(_near(p.answer, rng, 10), rng),
    "swapped_digits": lambda p, answers, rng: _form(_swapped(p.answer, rng), rng),
    "other_answer": lambda p, answers, rng: _form(_other(p, answers, rng), rng),
    "partial": lambda p, answers, rng: _form(rng.choice(p.partials) if p.partials else _near(p.answer, rng, 1), rng),
    "hedge": _hedge,
    "not_final": lambda p, answers, rng: _correction(p.answer, _wrong(p, answers, rng), rng),
    "empty": lambda p, answers, rng: (rng.choice(EMPTYISH), NO_ANSWER),
    "opener": lambda p, answers, rng: (rng.choice(OPENERS), NO_ANSWER),
}
