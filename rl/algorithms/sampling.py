"""DAPO's dynamic sampling: drop groups that carry no learning signal and refill the batch.

A group whose G rewards are all equal has zero advantage for every sample under any
group-relative estimator, so it only dilutes the batch. The loop generates in rounds and
keeps the informative groups until it has enough:

    sampler = DynamicSampler(target_groups=64, max_rounds=4)
    while not sampler.done:
        groups, rewards = generate_and_score(next_prompts())   # rewards: (N, G)
        sampler.add(groups, rewards)
    batch = sampler.take()   # at most 64 groups; fewer if max_rounds ran out

    >>> import torch
    >>> filter_groups(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])).tolist()
    [True, False, False]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from torch import Tensor

T = TypeVar("T")


def filter_groups(rewards: Tensor, atol: float = 0.0) -> Tensor:
    """Keep mask ``(N,)``: True for groups whose rewards are not all equal (spread > ``atol``)."""
    spread = rewards.max(dim=1).values - rewards.min(dim=1).values  # (N,)
    return spread > atol  # (N,)


class DynamicSampler(Generic[T]):
    """Collects informative groups over generation rounds until ``target_groups`` are kept or
    ``max_rounds`` rounds have been added, whichever comes first."""

    def __init__(self, target_groups: int, max_rounds: int = 8, atol: float = 0.0):
        if target_groups < 1 or max_rounds < 1:
            raise ValueError(f"need target_groups >= 1 and max_rounds >= 1; got {target_groups}, {max_rounds}")
        self.target_groups = target_groups
        self.max_rounds = max_rounds  # a cap, so a prompt set the policy always solves (or never) cannot stall the loop
        self.atol = atol
        self._kept: list[T] = []
        self.rounds = 0
        self.dropped = 0  # groups filtered out since the last take(), for logging

    @property
    def done(self) -> bool:
        return len(self._kept) >= self.target_groups or self.rounds >= self.max_rounds

    def add(self, groups: Sequence[T], rewards: Tensor) -> bool:
        """Add one round: ``groups[i]`` is kept when row i of ``rewards`` (N, G) varies. Returns ``done``."""
        if len(groups) != rewards.size(0):
            raise ValueError(f"{len(groups)} groups but rewards for {rewards.size(0)} (rewards shape {tuple(rewards.shape)})")
        keep = filter_groups(rewards, self.atol).tolist()  # (N,)
        self._kept.extend(group for group, k in zip(groups, keep) if k)
        self.dropped += keep.count(False)
        self.rounds += 1
        return self.done

    def take(self) -> list[T]:
        """The first ``target_groups`` kept groups (extras are discarded), and a reset for the next batch."""
        batch = self._kept[: self.target_groups]
        self._kept, self.rounds, self.dropped = [], 0, 0
        return batch
