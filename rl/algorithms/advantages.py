"""Group-relative advantages: one scalar per completion from the rewards of its group.

Rewards arrive as ``(N, G)``: N prompts, G sampled completions each. Every estimator
returns ``(N, G)`` advantages, which the loss broadcasts over a completion's tokens.

    >>> import torch
    >>> get_advantage_estimator("rloo")(torch.tensor([[1.0, 0.0, 0.0]]))
    tensor([[ 1.0000, -0.5000, -0.5000]])
"""
from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from rl.registries import ADVANTAGE_ESTIMATORS

AdvantageEstimator = Callable[..., Tensor]  # (rewards (N, G), eps: float) -> (N, G)

register_advantage = ADVANTAGE_ESTIMATORS.register  # built-ins are declared in rl.registries

# TRL's GRPOTrainer divides by (std + 1e-4); the same default keeps our advantages equal to its own.
DEFAULT_EPS = 1e-4


def get_advantage_estimator(name: str) -> AdvantageEstimator:
    return ADVANTAGE_ESTIMATORS.get(name)


def _centered(rewards: Tensor) -> Tensor:
    return rewards - rewards.mean(dim=1, keepdim=True)  # (N, G)


def grpo_advantages(rewards: Tensor, eps: float = DEFAULT_EPS) -> Tensor:
    """(r - group mean) / (group std + eps), std with Bessel's correction (``torch.std``'s default, as in TRL).

    A group whose rewards are all equal gets zeros, not 0/0. A single-sample group has no
    std (G - 1 = 0); its centred reward is already 0, so it gets zeros too.
    """
    centered = _centered(rewards)  # (N, G)
    if rewards.size(1) < 2:
        return centered
    std = rewards.std(dim=1, keepdim=True)  # (N, 1), unbiased
    return centered / (std + eps)  # (N, G)


def dr_grpo_advantages(rewards: Tensor, eps: float = DEFAULT_EPS) -> Tensor:
    """r - group mean. Dr. GRPO (Liu et al. 2025) drops the std, which up-weights near-solved and near-hopeless
    prompts; ``eps`` is accepted for a uniform signature and unused."""
    return _centered(rewards)  # (N, G)


def rloo_advantages(rewards: Tensor, eps: float = DEFAULT_EPS) -> Tensor:
    """r minus the mean of the other G - 1 rewards of the group, i.e. G / (G - 1) * (r - mean)."""
    group_size = rewards.size(1)
    if group_size < 2:
        raise ValueError(f"rloo needs at least 2 samples per group to leave one out; got G={group_size}")
    return _centered(rewards) * (group_size / (group_size - 1))  # (N, G)
