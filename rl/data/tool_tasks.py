"""A task the tiny model cannot do in its head but can with a tool: multiplying large numbers.

    train, held_out = tool_arithmetic(2000, 100, seed=0)                       # RL prompts: the question only
    cold, _ = tool_arithmetic(2000, 100, seed=0, transcripts=True)             # SFT: call, tool message, answer

Each problem is ``a * b`` with ``a`` of ``digits`` digits and ``b`` of ``digits_b`` digits (products of
6-8 digits: no small model learns that in its head). With ``transcripts`` every train prompt is a
tool-use transcript for the cold start (``rl.loops.sft``): the user's question, the assistant's
``<tool_call>`` of the ``calculator`` tool, the tool's message, and the final answer as the
solution; the assistant turns are the targets, the tool message is context. The same seed gives the
same problems with or without transcripts, and the held-out split (questions only) never shares a
problem with the train split.
"""
from __future__ import annotations

import json
import random

from rl.data.records import Prompt

# The numbers appear in the order the call writes them in every wording: a cold start on some wordings
# then leaves the others learnable by RL (a wording that swaps them stayed at 0 through RL in a trial run).
QUESTIONS = (
    "What is {a} * {b}?",
    "Compute {a} times {b}.",
    "A crate holds {a} boxes of {b} nails each. How many nails are in the crate?",
    "What is the product of {a} and {b}?",
)
CALLS = {  # how each tool is asked for a*b; both answer with the product's digits
    "calculator": '<tool_call>\n{{"name": "calculator", "arguments": {{"expression": "{a}*{b}"}}}}\n</tool_call>',
    "python": '<tool_call>\n{{"name": "python", "arguments": {{"code": "print({a}*{b})"}}}}\n</tool_call>',
}
ANSWER_FORMAT = "The answer is \\boxed{{{answer}}}."


def tool_call_text(a: int, b: int, tool: str = "calculator") -> str:
    return CALLS[tool].format(a=a, b=b)


def tool_arithmetic(n_train: int, n_eval: int, seed: int, *, digits: int = 4, digits_b: int = 3,
                    transcripts: bool = False, tool: str = "calculator", wordings: int = len(QUESTIONS)
                    ) -> tuple[list[Prompt], list[Prompt]]:
    """Multiplication problems whose solution goes through ``tool`` (``calculator``, or ``python`` running
    ``print(a*b)``; see the module docstring). ``wordings``: the train split uses only the first ``wordings``
    question templates (the held-out split always all of them), so that a cold start on them leaves
    the other wordings, where the numbers sit elsewhere in the question, for RL to learn."""
    if digits < 1 or digits_b < 1:
        raise ValueError(f"tool_arithmetic: digits and digits_b must be >= 1, got {digits}, {digits_b}")
    if not 1 <= wordings <= len(QUESTIONS):
        raise ValueError(f"tool_arithmetic: wordings must be in 1..{len(QUESTIONS)}, got {wordings}")
    if tool not in CALLS:
        raise ValueError(f"tool_arithmetic: tool must be one of {', '.join(CALLS)}, got {tool!r}")
    rng = random.Random(seed)
    low_a, low_b = 10 ** (digits - 1), 10 ** (digits_b - 1)
    seen: set[tuple[int, int]] = set()
    problems: list[tuple[int, int, int]] = []
    while len(problems) < n_eval + n_train:
        a, b = rng.randrange(low_a, 10 * low_a), rng.randrange(low_b, 10 * low_b)
        wording = rng.randrange(len(QUESTIONS))
        if (a, b) not in seen:
            seen.add((a, b))
            problems.append((a, b, wording))
    held_out = [_prompt(f"tools-eval-{i}", *p, transcript=False, tool=tool) for i, p in enumerate(problems[:n_eval])]
    train = [_prompt(f"tools-{i}", a, b, wording % wordings, transcript=transcripts, tool=tool)
             for i, (a, b, wording) in enumerate(problems[n_eval:])]
    return train, held_out


def _prompt(pid: str, a: int, b: int, wording: int, *, transcript: bool, tool: str) -> Prompt:
    question = QUESTIONS[wording].format(a=a, b=b)
    answer = str(a * b)
    if not transcript:
        return Prompt(id=pid, messages=(("user", question),), text=None, reference=answer, verifier="math",
                      solution=ANSWER_FORMAT.format(answer=answer))
    messages = (("user", question), ("assistant", tool_call_text(a, b, tool)), ("tool", json.dumps(a * b)))
    return Prompt(id=pid, messages=messages, text=None, reference=answer, verifier="math",
                  solution=ANSWER_FORMAT.format(answer=answer))
