"""Multi-turn rollouts: the policy's turns interleaved with an environment's messages, token in, token out.

    groups = multi_turn_groups(worker, prompts, prompt_ids, modes, first_turns, first_logprobs, G, temperature=1.0, data=data)

The first turn is sampled like a single-turn rollout (G samples per prompt, one prefill per group).
Then, turn after turn: the environment answers every trajectory whose last turn ended at EOS
(``rl.envs``: tool calls run concurrently across trajectories); the answer's messages become
*glue* tokens appended after the turn's EOS — exactly the text the chat template puts between that
EOS and the next assistant turn's first token, tokenized once (``turn_glue``); and the trajectories
still going are sampled together for their next turn, each continuing from its own ids.

What the learner trains on is these ids as they went through the model, never the conversation
re-tokenised afterwards: a model can sample a non-canonical tokenisation of its text, and templates
re-render earlier turns (Qwen3 drops earlier thinking), so a re-tokenised transcript would train tokens
the policy never produced. ``loss_mask`` is 1 on sampled tokens and 0 on glue (tool output, turn
markers). Thinking inside tool turns: every assistant turn may think; its thought tokens are sampled
tokens of that turn (and count against max_new_tokens per turn and the trajectory's cap like any
other). A no-think turn's message starts with the pre-filled empty think block the model saw.
Qwen3's template re-renders earlier turns of the same query differently (a turn without reasoning
loses the think block it had as the last turn), so a Qwen3 transcript re-tokenised afterwards
differs from the trajectory exactly there; the trajectory keeps what the model saw
(``tests/test_multiturn.py`` pins both).

Limits (``rollout.env``): ``max_turns`` assistant turns; ``max_trajectory_tokens`` (sampled + glue
tokens after the prompt; a turn is cut at the remaining budget). Finish reasons: ``stop``, ``length``,
``max_turns``, ``token_cap``, ``env_failure``, ``thinking_budget``.

Thinking budgets (``rollout.thinking_budget``, ``rl.engine.thinking_budget``) count per assistant turn:
each turn's thought may run to the budget on its own, from 0, and the budget fires at most once per
turn; its injected early-stop tokens are part of the turn with loss mask 0 and count against
``max_trajectory_tokens`` like glue. A ``truncate`` cut ends the trajectory (``thinking_budget``).
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from rl.data.records import Prompt, Rollout, RolloutGroup
from rl.engine.thinking_budget import ThinkingBudget, ThinkTags, apply_thinking_budget, thinking_split
from rl.engine.turns import Turn, left_padded, sampled_turn
from rl.envs import Conversation
from rl.modes import NO_THINK


class TemplateError(ValueError):
    """The chat template cannot give exact glue tokens between turns."""


def turn_glue(tokenizer: Any, history: Sequence[Mapping[str, str]], new: Sequence[Mapping[str, str]], *, end_marker: str,
              tools: list[dict] | None, enable_thinking: bool) -> list[int]:
    """Token ids the template puts after the last assistant turn's ``end_marker`` (its EOS, already in the
    trajectory) up to and including the next assistant turn's header, with ``new`` messages between.

    The turn's end is found by counting end markers, not by comparing text: templates re-render an
    assistant turn once it is no longer the last (Qwen3 adds or drops a think block), and that turn's
    tokens are the sampled ones anyway; only what follows its end is taken from the template."""
    render = {"tokenize": False, "tools": tools, "enable_thinking": enable_thinking}
    before = tokenizer.apply_chat_template(list(history), add_generation_prompt=False, **render)
    after = tokenizer.apply_chat_template([*history, *new], add_generation_prompt=True, **render)
    turns_ended = before.count(end_marker)  # the assistant turn's own marker is the last of them
    position = -1
    for _ in range(turns_ended):
        position = after.find(end_marker, position + 1)
        if position < 0:
            raise TemplateError(f"the chat template renders fewer {end_marker!r} markers once tool messages follow the "
                                "assistant turn, so the turn's end cannot be located: the tokens between turns would be a guess")
    if turns_ended == 0:
        raise TemplateError(f"the rendered assistant turn does not end with {end_marker!r}")
    return tokenizer(after[position + len(end_marker):], add_special_tokens=False)["input_ids"]


def turn_end_ids(tokenizer: Any, stop_ids: Sequence[int]) -> set[int]:
    """The stop ids the chat template ends an assistant turn with (``<|im_end|>``), as opposed to those that
    end the whole document (``<|endoftext|>``, which Qwen checkpoints also list as an end id). A turn
    that stops on one of the latter ends its trajectory: there is no template glue after it to continue with."""
    chat = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=False)
    after_turn = rendered[rendered.rfind("y") + 1:]
    return {i for i in stop_ids if tokenizer.decode([i], skip_special_tokens=False) in after_turn}


def thinking_prefill(tokenizer: Any) -> str:
    """What the template's generation prompt pre-fills in non-thinking mode (Qwen3: an empty think block):
    the text that ``enable_thinking=False`` adds after the assistant header. Part of each no-think turn
    as the model saw it, so the turn's message content starts with it."""
    chat = [{"role": "user", "content": "x"}]
    on = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True, enable_thinking=True)
    off = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    return off[len(on):] if off.startswith(on) else ""


@dataclass
class _Trajectory:
    """A trajectory being built (mutable); ``to_rollout`` freezes it."""

    prompt: Prompt
    prompt_ids: list[int]
    mode: str
    chat: list[dict[str, str]]  # the prompt's messages, then every turn
    ids: list[int] = field(default_factory=list)  # after the prompt: sampled turns and glue
    mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    turns: int = 0
    last_turn: list[int] = field(default_factory=list)
    finished: bool = False  # the last turn ended at EOS
    finish_reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    failure: str | None = None
    budget_hit: bool = False  # the thinking budget fired in one of its turns

    @property
    def active(self) -> bool:
        return not self.finish_reason

    def add_turn(self, turn: Turn, text: str, *, prefill: str = "") -> None:
        self.ids += turn.ids
        self.mask += turn.mask
        self.logprobs += turn.logprobs
        self.last_turn, self.finished = list(turn.ids), turn.stopped
        self.budget_hit |= bool(turn.budget)
        self.turns += 1
        self.chat.append({"role": "assistant", "content": prefill + text})

    def inject(self, ids: list[int], messages: Sequence[Mapping[str, str]]) -> None:
        self.ids += ids
        self.mask += [0] * len(ids)
        self.logprobs += [0.0] * len(ids)
        self.chat += [dict(m) for m in messages]

    def end(self, reason: str) -> None:
        self.finish_reason = reason

    def conversation(self) -> Conversation:
        return Conversation(self.prompt, tuple(self.chat), tool_calls=self.counts.get("tool_calls", 0))

    def to_rollout(self, tokenizer: Any, version: int, keep_logprobs: bool, prompt_turns: int, tags: ThinkTags | None) -> Rollout:
        info: dict[str, Any] = {"turns": self.turns, **self.counts}
        if self.failure:
            info["failure"] = self.failure
        thinking, answer = thinking_split(self.prompt_ids, self.ids, self.mask, tags)
        return Rollout(
            prompt=self.prompt, prompt_ids=tuple(self.prompt_ids), completion_ids=tuple(self.ids),
            text=tokenizer.decode(self.last_turn, skip_special_tokens=True),
            logprobs=tuple(self.logprobs) if keep_logprobs else (), finished=self.finished, policy_version=version,
            mode=self.mode, loss_mask=tuple(self.mask), finish_reason=self.finish_reason,
            messages=tuple(self.chat[prompt_turns:]), env_info=info, thinking_tokens=thinking, answer_tokens=answer,
            budget_hit=self.budget_hit,
        )


def multi_turn_groups(worker: Any, prompts: Sequence[Prompt], prompt_ids: Sequence[list[int]], modes: Sequence[str],
                      first_turns: torch.Tensor, first_logprobs: torch.Tensor, num_samples: int, *, temperature: float,
                      data: Any, budget: ThinkingBudget = ThinkingBudget()) -> list[RolloutGroup]:
    """Finish every trajectory whose first turn is row ``i`` of ``first_turns`` ((P*G, T), prompt by prompt), turn by turn."""
    env_cfg, env = worker.rollout.env, worker.env
    cap = env_cfg.max_trajectory_tokens or worker.rollout.max_new_tokens * env_cfg.max_turns
    prefill = worker.no_think_prefill if NO_THINK in modes else ""
    turn_ends = worker.turn_ends
    trajectories, prompt_turns = [], []
    for index, prompt in enumerate(prompts):
        chat = prompt.chat(data.system_prompt)
        for _ in range(num_samples):
            trajectories.append(_Trajectory(prompt, list(prompt_ids[index]), modes[index], [dict(m) for m in chat]))
            prompt_turns.append(len(chat))
    _take_turns(worker, trajectories, first_turns, first_logprobs, cap, prefill, budget, temperature)
    for turn in range(1, env_cfg.max_turns + 1):
        for t in trajectories:
            if t.active and t.last_turn[-1] not in turn_ends:  # the model ended the document, not its turn
                t.end("stop")
        going = _respond(worker, env, [t for t in trajectories if t.active], cap, last_turn=turn == env_cfg.max_turns)
        if not going:
            break
        batch = left_padded([t.prompt_ids + t.ids for t in going], worker.tokenizer.pad_token_id, worker.device)
        longest = max(min(worker.rollout.max_new_tokens, cap - len(t.ids)) for t in going)
        completions, logprobs = worker._sample(batch, 1, temperature, max_new_tokens=longest)  # (n, T) each
        _take_turns(worker, going, completions, logprobs, cap, prefill, budget, temperature)
    for t in trajectories:
        if t.active:  # only reachable when max_turns ran out while the environment still had messages
            t.end("max_turns")
    keep = worker.rollout.sampling_logprobs
    rollouts = iter(t.to_rollout(worker.tokenizer, worker.version, keep, n, worker.think_tags)
                    for t, n in zip(trajectories, prompt_turns))
    return [RolloutGroup(prompt, tuple(itertools.islice(rollouts, num_samples))) for prompt in prompts]


def _take_turns(worker: Any, trajectories: Sequence[_Trajectory], completions: torch.Tensor, logprobs: torch.Tensor,
                cap: int, prefill: str, budget: ThinkingBudget, temperature: float) -> None:
    """Append row ``i`` of the sampled turns to trajectory ``i``: up to its first stop id, within its token budget,
    with the thinking budget applied (per turn). A no-think turn's message starts with the generation prompt's
    ``prefill``, which the model saw before it."""
    max_new = worker.rollout.max_new_tokens
    limits = [min(max_new, cap - len(t.ids)) for t in trajectories]
    turns = [sampled_turn(row, lps, worker.stop_ids, limit)
             for row, lps, limit in zip(completions.tolist(), logprobs.tolist(), limits)]
    turns = apply_thinking_budget(worker, [t.prompt_ids + t.ids for t in trajectories], turns, budget, temperature)
    for t, turn, limit in zip(trajectories, turns, limits):
        room = cap - len(t.ids)
        kept = turn.clipped(room)  # an injected early stop and its answer may overrun what is left of the cap
        text = worker.tokenizer.decode(kept.ids[:-1] if kept.stopped else kept.ids, skip_special_tokens=False)
        t.add_turn(kept, text, prefill=prefill if t.mode == NO_THINK else "")
        if kept.stopped:
            continue
        if len(kept) < len(turn) or (not turn.budget and limit < max_new):
            t.end("token_cap")
        else:
            t.end("thinking_budget" if turn.budget == "truncate" else "length")


def _respond(worker: Any, env: Any, active: Sequence[_Trajectory], cap: int, *, last_turn: bool) -> list[_Trajectory]:
    """The environment's answer to each active trajectory's turn; returns those that go on, glue appended."""
    if not active:
        return []
    steps = env.respond([t.conversation() for t in active])
    going = []
    for t, step in zip(active, steps):
        for key, value in step.counts.items():
            t.counts[key] = t.counts.get(key, 0) + value
        if step.failure is not None:
            t.failure = step.failure
            t.end("env_failure")
        elif step.done:
            t.end("stop")
        elif last_turn:
            t.end("max_turns")
        else:
            end_marker = worker.tokenizer.decode(t.last_turn[-1:], skip_special_tokens=False)
            glue = turn_glue(worker.tokenizer, t.chat, step.messages, end_marker=end_marker, tools=env.tool_schemas,
                             enable_thinking=t.mode != NO_THINK)
            if len(t.ids) + len(glue) >= cap:  # no room left for a turn after the tool's answer
                t.end("token_cap")
                continue
            t.inject(glue, step.messages)
            going.append(t)
    return going
