"""Generated tasks: the registry of generators, and the text a tiny tokenizer is trained on.

    train, held_out = generate("arithmetic", n_train=2000, n_eval=100, seed=0, params={"digits": 2})
    texts = corpus(train + held_out)

A generator is a function ``(n_train, n_eval, seed, **params) -> (train, held_out)`` of
``Prompt`` records, deterministic in its arguments, whose held-out split never shares a
problem with the train split. Add one to GENERATORS to make it a ``data.generator``.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence

from rl.data.arithmetic_tasks import (  # noqa: F401 - the default task's names, re-exported where they always were
    DEFAULT_NO_THINK_FORMAT,
    DEFAULT_SOLUTION_FORMAT,
    TaskError,
    arithmetic,
    column_work,
)
from rl.data.code_tasks import python_functions
from rl.data.function_call_tasks import function_calling
from rl.data.instruction_tasks import instruction_following
from rl.data.judge_tasks import judge_transcripts
from rl.data.records import Prompt
from rl.data.tool_tasks import tool_arithmetic

GENERATORS: dict[str, Callable[..., tuple[list[Prompt], list[Prompt]]]] = {
    "arithmetic": arithmetic,
    "python_functions": python_functions,
    "tool_arithmetic": tool_arithmetic,
    "instruction_following": instruction_following,
    "function_calling": function_calling,
    "judge_transcripts": judge_transcripts,
}


def generate(name: str, n_train: int, n_eval: int, seed: int, params: dict | None = None) -> tuple[list[Prompt], list[Prompt]]:
    """Run generator ``name`` with task-specific ``params``; unknown names and parameters are errors."""
    if name not in GENERATORS:
        close = difflib.get_close_matches(name, list(GENERATORS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaskError(f"unknown task generator {name!r}{hint} (known: {', '.join(GENERATORS)})")
    generator = GENERATORS[name]
    accepted = [p.name for p in inspect.signature(generator).parameters.values() if p.kind is p.KEYWORD_ONLY]
    for key in params or {}:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TaskError(f"generator {name!r} has no parameter {key!r}{hint} (parameters: {', '.join(accepted)})")
    return generator(n_train, n_eval, seed, **(params or {}))


def corpus(prompts: Sequence[Prompt], system_prompt: str | None = None) -> list[str]:
    """The text of ``prompts`` (system prompt, turns, worked solution), one string per prompt,
    for training a tiny tokenizer. Chat markup is the tokenizer's own: ``rl.engine.policy`` adds it."""
    texts = []
    for prompt in prompts:
        parts = [message["content"] for message in prompt.chat(system_prompt)]
        if prompt.solution:
            parts.append(prompt.solution)
        texts.append("\n".join(parts))
    return texts
