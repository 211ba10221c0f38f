"""One assistant turn as the rollout keeps it, and the batches a turn is sampled from.

    turn = sampled_turn(row_ids, row_logprobs, stop_ids, limit=64)   # up to the first stop id
    batch = left_padded([context_a, context_b], pad_id, device)     # each row continues from its own last token

A ``Turn`` is the policy's sampled tokens plus any tokens the rollout injected inside the turn
(the thinking budget's early-stop text), told apart by ``mask``. Single-turn rollouts are one
turn; multi-turn trajectories (``rl.engine.multiturn``) append turns and environment glue.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Turn:
    """ids:      the turn's tokens, stopping at (and including) a stop id when ``stopped``.
    logprobs: per token, under the sampling distribution; 0.0 where injected.
    mask:     per token, 1 = sampled by the policy, 0 = injected by the rollout.
    stopped:  the turn ended at a stop id (not cut by a length limit).
    budget:   "" when the thinking budget did not fire in this turn, else its mode ("inject" or
              "truncate"; rl.engine.thinking_budget)."""

    ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    mask: tuple[int, ...]
    stopped: bool
    budget: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def all_sampled(self) -> bool:
        return all(self.mask)

    def clipped(self, limit: int) -> Turn:
        """The first ``limit`` tokens (a trajectory's remaining room); no longer stopped if the stop id fell off."""
        if len(self.ids) <= limit:
            return self
        return Turn(self.ids[:limit], self.logprobs[:limit], self.mask[:limit], stopped=False, budget=self.budget)


def sampled_turn(row: Sequence[int], logprobs: Sequence[float], stop_ids: Collection[int], limit: int) -> Turn:
    """A sampled row up to its first stop id (kept) within ``limit`` tokens; what follows a stop is padding."""
    row = list(row[:limit])
    stop = next((i for i, token in enumerate(row) if token in stop_ids), None)
    length = stop + 1 if stop is not None else len(row)
    return Turn(tuple(row[:length]), tuple(logprobs[:length]), (1,) * length, stopped=stop is not None)


def left_padded(rows: Sequence[Sequence[int]], pad_id: int, device: torch.device | str) -> dict[str, torch.Tensor]:
    """A batch of contexts of different lengths, left-padded so that each row continues from its last token."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(list(row), dtype=torch.long)
        attention[i, width - len(row):] = 1
    return {"input_ids": ids.to(device), "attention_mask": attention.to(device)}
