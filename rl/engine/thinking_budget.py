"""Thinking budgets: cap how many tokens an assistant turn may think, as Qwen3 does.

    rollout:
      thinking_budget: 16          # thinking tokens per assistant turn; null (default): no cap
      thinking_budget_mode: inject # or truncate
      answer_budget: 32            # inject: tokens the model may answer with after the forced </think>

Rule, per assistant turn (single-turn rollouts are one turn; a tool trajectory's turns are counted
each on its own, from 0, because each turn's thought is a fresh one the template may drop later):

* A turn *thinks* from its opening ``<think>``: one pre-opened by the template (the context before
  the turn ends inside an unclosed ``<think>``) or one the model samples itself. The tag itself is
  not counted; every token after it is, until ``</think>``.
* Once the model closes ``</think>`` the budget never fires in that turn; it fires at most once per turn.
* When a turn has thought ``budget`` tokens and the next token is not ``</think>``, the turn is cut
  there. ``inject``: the early-stop text (Qwen3's, which ends in ``</think>``) is appended as
  *injected* tokens (loss mask 0, log-prob 0: the policy did not sample them and is never trained
  on them), and the model answers from there for up to ``answer_budget`` tokens. ``truncate``: the
  turn ends there, unfinished, finish reason ``thinking_budget``.

How: the backend (``_sample``, any of ``rl.registries.ROLLOUT_BACKENDS``) samples each turn as
always, up to ``max_new_tokens``; rows over budget are cut afterwards, and the answers of the
``inject`` rows are sampled in one more ``_sample`` call from their new contexts. The tokens kept
before the cut are exactly what a sampler stopping at the budget would have drawn (the same
distribution; not the same random draws), at the price of sampling past the budget for rows that
overrun it. So the budget needs nothing from a backend, and colocated and separate placements get
it alike through ``RolloutWorker.generate``. ``<think>`` and ``</think>`` must be single tokens
(Qwen3's and the tiny model's are).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rl.engine.turns import Turn, left_padded, sampled_turn
from rl.modes import QWEN3_EARLY_STOP

BUDGET_MODES = ("inject", "truncate")


class ThinkingBudgetError(ValueError):
    """A thinking budget cannot be applied with this tokenizer or these settings."""


@dataclass(frozen=True)
class ThinkingBudget:
    """One rollout call's budget (plain data: it crosses into Ray actors). ``tokens`` None: no budget."""

    tokens: int | None = None
    mode: str = "inject"
    answer_tokens: int = 32
    early_stop: str = QWEN3_EARLY_STOP

    def __post_init__(self) -> None:
        if self.tokens is not None and self.tokens < 0:
            raise ThinkingBudgetError(f"thinking budget must be >= 0 tokens or None, got {self.tokens}")
        if self.mode not in BUDGET_MODES:
            raise ThinkingBudgetError(f"thinking budget mode must be one of {', '.join(BUDGET_MODES)}, got {self.mode!r}")
        if self.answer_tokens < 1:
            raise ThinkingBudgetError(f"answer budget must be >= 1 token, got {self.answer_tokens}")
        if "</think>" not in self.early_stop:
            raise ThinkingBudgetError(f"the early-stop text must close the thought with </think>, got {self.early_stop!r}")

    @classmethod
    def of(cls, rollout: Any, tokens: int | None | str = "config") -> ThinkingBudget:
        """The budget ``rollout`` (a ``RolloutConfig``) configures; ``tokens`` overrides its size."""
        return cls(rollout.thinking_budget if tokens == "config" else tokens, rollout.thinking_budget_mode,
                   rollout.answer_budget, rollout.thinking_early_stop)

    @property
    def active(self) -> bool:
        return self.tokens is not None

    @property
    def label(self) -> str:
        return "none" if self.tokens is None else str(self.tokens)


@dataclass(frozen=True)
class ThinkTags:
    """The token ids of ``<think>`` and ``</think>``."""

    open_id: int
    close_id: int

    @classmethod
    def of(cls, tokenizer: Any) -> ThinkTags | None:
        """The tags when the tokenizer has each as one token; None otherwise."""
        ids = [tokenizer(tag, add_special_tokens=False)["input_ids"] for tag in ("<think>", "</think>")]
        if any(len(i) != 1 for i in ids):
            return None
        return cls(ids[0][0], ids[1][0])

    def open_at_end(self, context: Sequence[int]) -> bool:
        """Whether ``context`` ends inside a thought (a template that pre-opens ``<think>``)."""
        for token in reversed(context):
            if token == self.close_id:
                return False
            if token == self.open_id:
                return True
        return False


def budget_cut(ids: Sequence[int], *, open_at_start: bool, budget: int, tags: ThinkTags) -> int | None:
    """Where a turn's thought reached ``budget`` tokens without closing: the index of the first token past
    the budget (the turn keeps ``ids[:cut]``), or None when the budget does not fire in this turn."""
    thinking, count = open_at_start, 0
    for i, token in enumerate(ids):
        if not thinking:
            thinking = token == tags.open_id  # the model opens its own thought; counting starts after the tag
            continue
        if token == tags.close_id:
            return None  # closed within the budget: nothing fires in this turn any more
        if count == budget:
            return i
        count += 1
    return None


def apply_thinking_budget(worker: Any, contexts: Sequence[Sequence[int]], turns: Sequence[Turn], budget: ThinkingBudget,
                          temperature: float) -> list[Turn]:
    """``turns`` (row ``i`` sampled after ``contexts[i]``) with the budget applied; unchanged when it is inactive."""
    if not budget.active:
        return list(turns)
    tags = require_tags(worker.tokenizer)
    out = list(turns)
    pending = []
    for i, (context, turn) in enumerate(zip(contexts, turns)):
        cut = budget_cut(turn.ids, open_at_start=tags.open_at_end(context), budget=budget.tokens, tags=tags)
        if cut is None:
            continue
        out[i] = Turn(turn.ids[:cut], turn.logprobs[:cut], turn.mask[:cut], stopped=False, budget=budget.mode)
        if budget.mode == "inject":
            pending.append(i)
    if not pending:
        return out
    stop_text = tuple(worker.tokenizer(budget.early_stop, add_special_tokens=False)["input_ids"])
    batch = left_padded([(*contexts[i], *out[i].ids, *stop_text) for i in pending], worker.tokenizer.pad_token_id, worker.device)
    answers, logprobs = worker._sample(batch, 1, temperature, max_new_tokens=budget.answer_tokens)  # (n, T) each
    for i, row, lps in zip(pending, answers.tolist(), logprobs.tolist()):
        answer = sampled_turn(row, lps, worker.stop_ids, budget.answer_tokens)
        thought = out[i]
        out[i] = Turn(thought.ids + stop_text + answer.ids, thought.logprobs + (0.0,) * len(stop_text) + answer.logprobs,
                      thought.mask + (0,) * len(stop_text) + answer.mask, stopped=answer.stopped, budget="inject")
    return out


def require_tags(tokenizer: Any) -> ThinkTags:
    tags = ThinkTags.of(tokenizer)
    if tags is None:
        name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)
        raise ThinkingBudgetError(f"rollout.thinking_budget needs <think> and </think> as single tokens; the tokenizer "
                                  f"of {name!r} splits them, so a thought's length cannot be counted")
    return tags


def thinking_split(context: Sequence[int], ids: Sequence[int], mask: Sequence[int], tags: ThinkTags | None) -> tuple[int, int]:
    """(thinking, answer): the sampled tokens of ``ids`` (after ``context``) inside and outside thoughts.
    The tags themselves count as neither; injected tokens (mask 0) are never counted."""
    mask = mask or (1,) * len(ids)
    if tags is None:
        return 0, sum(mask)
    thinking, counts = tags.open_at_end(context), [0, 0]
    for token, sampled in zip(ids, mask):
        if token == (tags.close_id if thinking else tags.open_id):
            thinking = not thinking
        elif sampled:
            counts[0 if thinking else 1] += 1
    return counts[0], counts[1]
