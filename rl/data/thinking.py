"""Thinking modes (Qwen3 semantics): which mode a sample is rendered in, and thought vs. answer.

    enable_thinking = resolve_mode(prompt, default_enable_thinking=True)
    thought, answer = split_thinking("<think>2 + 3 = 5</think> \\boxed{5}")   # ("2 + 3 = 5", "\\boxed{5}")
    history = strip_thinking(earlier_assistant_message)                       # what the chat template keeps

A prompt is rendered with thinking on or off (``enable_thinking`` of the chat template;
off pre-fills an empty ``<think>\\n\\n</think>\\n\\n``). Which one, by Qwen3's rules:

1. the sample's own ``mode`` ("think" / "no_think"), from the data, wins;
2. else the configured default is the hard switch: off means off, whatever the text says;
3. else the most recent ``/think`` or ``/no_think`` soft switch in a user or system turn
   (the last one within that turn) decides; with none, thinking is on.

Only what follows ``</think>`` is an answer (verifiers.math_extract.answer_region); a
completion that opens ``<think>`` and never closes it has none.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from rl.data.records import Prompt
from rl.modes import NO_THINK, THINK

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# "/think" or "/no_think" as a word of its own: not "/thinking", "a/think" or "/think_hard".
_SWITCH = re.compile(r"(?<![\w/])/(no_think|think)\b")
_SWITCH_ROLES = ("user", "system")  # Qwen3 honours soft switches in user prompts and system messages


def mode_name(enable_thinking: bool) -> str:
    return THINK if enable_thinking else NO_THINK


def last_switch(text: str) -> str | None:
    """The last soft switch in ``text`` ("think" / "no_think"), or None."""
    found = _SWITCH.findall(text)
    return found[-1] if found else None


def latest_switch(turns: Iterable[tuple[str, str]]) -> str | None:
    """The most recent soft switch in the user and system turns of (role, content) pairs."""
    for role, content in reversed(list(turns)):
        switch = last_switch(content) if role in _SWITCH_ROLES else None
        if switch is not None:
            return switch
    return None


def resolve_mode(prompt: Prompt, default_enable_thinking: bool, *, system_prompt: str | None = None) -> bool:
    """Whether ``prompt`` is rendered with thinking on (see the module docstring for the rules).

    ``system_prompt`` is the one ``Prompt.chat`` would add: a switch in it counts too.
    """
    if prompt.mode is not None:
        return prompt.mode == THINK
    if not default_enable_thinking:
        return False
    turns = [(m["role"], m["content"]) for m in prompt.chat(system_prompt)]
    return latest_switch(turns) != NO_THINK


def strip_thinking(text: str) -> str:
    """An assistant message as an earlier turn shows it: what follows its last ``</think>``.

    The same rule as the tiny tokenizer's chat template (and Qwen3's) applies to historical
    assistant turns; a message without ``</think>`` is kept whole.
    """
    if THINK_CLOSE not in text:
        return text
    return text.rsplit(THINK_CLOSE, 1)[-1].lstrip()


def split_thinking(completion: str) -> tuple[str | None, str]:
    """(thought, answer), both stripped. thought is None when there is no think block;
    answer is "" when a ``<think>`` never closes (the thought runs to the end).

    The completion may start inside the block: the generation prompt can pre-fill ``<think>``.
    """
    end = completion.rfind(THINK_CLOSE)
    if end == -1:
        if THINK_OPEN in completion:
            return completion.split(THINK_OPEN, 1)[1].strip(), ""
        return None, completion.strip()
    thought = completion[:end]
    if THINK_OPEN in thought:
        thought = thought.split(THINK_OPEN, 1)[1]
    return thought.strip(), completion[end + len(THINK_CLOSE):].strip()
