"""RL algorithms as small registered functions: advantages, the clipped policy loss with its
aggregations and KL term, and DAPO's dynamic sampling. Variants are chosen by name from config."""
from rl.algorithms.advantages import (
    ADVANTAGE_ESTIMATORS,
    get_advantage_estimator,
    register_advantage,
)
from rl.algorithms.dpo import (
    DPO_LOSSES,
    collate_pairs,
    dpo_batch_loss,
    get_dpo_loss,
    register_dpo_loss,
    sequence_logps,
)
from rl.algorithms.losses import (
    LOSS_AGGREGATIONS,
    get_loss_agg,
    grpo_loss,
    kl_k3,
    masked_mean,
    policy_loss,
    register_loss_agg,
)
from rl.algorithms.sampling import DynamicSampler, filter_groups

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "LOSS_AGGREGATIONS",
    "DynamicSampler",
    "filter_groups",
    "get_advantage_estimator",
    "get_loss_agg",
    "grpo_loss",
    "kl_k3",
    "masked_mean",
    "policy_loss",
    "register_advantage",
    "register_loss_agg",
    "DPO_LOSSES",
    "collate_pairs",
    "dpo_batch_loss",
    "get_dpo_loss",
    "register_dpo_loss",
    "sequence_logps",
]
