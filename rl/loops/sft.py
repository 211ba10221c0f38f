"""Supervised warm-up (cold start): teach the policy the answer format from worked solutions.

Assistant-only loss: the rendered prompt (system, user and earlier assistant turns, which the
chat template strips of their thinking) is context; the final assistant turn plus EOS is the
target. Runs on the same learner actors as RL, so N learners shard it the same way;
``sft.packing`` packs several examples per row without changing the loss.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tqdm.auto import tqdm

from rl.config import DataConfig, SFTConfig
from rl.data.prompts import prompt_mode, render_prompt, shuffled_batches
from rl.data.records import Prompt, TrainSequence
from rl.engine.multiturn import turn_glue
from rl.modes import NO_THINK

EMPTY_THINK = re.compile(r"^\s*<think>\s*</think>\s*")  # a no-think answer as Qwen3 transcripts write it


def sft_sequences(prompts: Sequence[Prompt], tokenizer: Any, data: DataConfig, *,
                  tools: list[dict] | None = None) -> list[TrainSequence]:
    """(prompt ids, solution ids + EOS) for every prompt that has a worked solution.

    A transcript whose turns after the last user turn include assistant tool calls and tool messages
    (a tool-use cold start, ``rl.envs``) trains on every assistant turn after that user turn, call text
    included, and on none of the tool messages: the ids are built turn by turn with the same glue a
    rollout injects (``rl.engine.multiturn.turn_glue``), so SFT sees exactly the tokens RL will.
    ``tools``: the schemas declared to the template, as in the rollouts."""
    out = []
    for prompt in prompts:
        if not prompt.solution:
            continue
        context, turns = _split_turns(prompt.chat(data.system_prompt))
        no_think = prompt_mode(prompt, data) == NO_THINK
        rendered = render_prompt(_with_messages(prompt, context, data), tokenizer, data, tools=tools) if turns else \
            render_prompt(prompt, tokenizer, data, tools=tools)
        prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        ids: list[int] = []
        mask: list[int] = []
        history = list(context)
        for index, message in enumerate(turns):
            if message["role"] != "assistant":
                continue
            ids += _turn_ids(message["content"], tokenizer, no_think)
            mask += [1] * (len(ids) - len(mask))
            history.append(message)
            replies = turns[index + 1 : index + 1 + _replies(turns, index)]  # the tool messages answering this turn
            glue = turn_glue(tokenizer, history, replies, end_marker=tokenizer.eos_token, tools=tools, enable_thinking=not no_think)
            ids += glue
            mask += [0] * len(glue)
            history += replies
        ids += _turn_ids(prompt.solution, tokenizer, no_think)
        mask += [1] * (len(ids) - len(mask))
        out.append(TrainSequence(tuple(prompt_ids), tuple(ids), loss_mask=tuple(mask) if turns else ()))
    if not out:
        raise ValueError("SFT warm-up needs prompts with worked solutions (data.solution_field); none have one")
    return out


def _turn_ids(text: str, tokenizer: Any, no_think: bool) -> list[int]:
    if no_think:  # the template pre-filled the empty think block: not a target again
        text = EMPTY_THINK.sub("", text, count=1)
    return tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def _split_turns(chat: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(context, turns): the turns after the last user message, when they include a tool message; else no turns."""
    last_user = max(i for i, m in enumerate(chat) if m["role"] == "user")
    turns = chat[last_user + 1:]
    if not any(m["role"] == "tool" for m in turns):
        return chat, []
    return chat[: last_user + 1], turns


def _replies(turns: list[dict[str, str]], index: int) -> int:
    """How many non-assistant messages follow the assistant turn at ``index`` before the next assistant turn."""
    count = 0
    for message in turns[index + 1:]:
        if message["role"] == "assistant":
            break
        count += 1
    return count


def _with_messages(prompt: Prompt, chat: list[dict[str, str]], data: DataConfig) -> Prompt:
    messages = tuple((m["role"], m["content"]) for m in chat)
    if data.system_prompt is not None and messages[0][0] == "system" and prompt.chat()[0]["role"] != "system":
        messages = messages[1:]  # render_prompt adds the configured system prompt again
    return replace(prompt, messages=messages, text=None)


def run_sft(cluster, sequences: Sequence[TrainSequence], cfg: SFTConfig, *, seed: int, log=None,
            desc: str = "SFT warm-up") -> list[dict[str, float]]:
    """``cfg.steps`` updates on shuffled batches of ``cfg.batch_size``; returns each step's metrics."""
    cluster.start_phase(cfg.lr)
    batches = shuffled_batches(sequences, cfg.batch_size, seed=seed)
    history = []
    for step in tqdm(range(cfg.steps), desc=desc, unit="step", dynamic_ncols=True):
        batch = next(batches)
        num_tokens = sum(s.target_tokens for s in batch)
        metrics = cluster.sft_step(batch, num_tokens=num_tokens, packing=cfg.packing)
        history.append(metrics)
        if log is not None:
            log(step, metrics)
    return history
