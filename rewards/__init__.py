"""Rewards: verifier verdicts and rule checks turned into weighted scalar rewards."""
from rewards.compose import Reward, RewardComponent, RewardFunction, RewardNotFound
from rewards.rules import format_reward, overlong_penalty, verifier_score

__all__ = ["Reward", "RewardComponent", "RewardFunction", "RewardNotFound", "format_reward", "overlong_penalty", "verifier_score"]
