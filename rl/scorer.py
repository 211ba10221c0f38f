"""Rollouts -> verdicts -> rewards: the verifier pool and the YAML's reward components.

The same verifiers and process pool as ``rlvr score``; each sample goes to the verifier
its prompt names. Rule rewards see the token count, the generation limit and whether
the completion finished, so format and length components need no extra plumbing.
"""
from __future__ import annotations

from typing import Sequence

from rewards import RewardFunction
from rl.config import ExperimentConfig
from rl.records import Rollout, ScoredRollout
from verifiers import VerifierPool, VerifyRequest


class RolloutScorer:
    def __init__(self, config: ExperimentConfig, *, workers: int | None = None):
        self.max_tokens = config.rollout.max_new_tokens
        self.pool = VerifierPool(config.data.default_verifier, workers=workers, timeout_s=config.run.verifier_timeout_s)
        self.reward = RewardFunction(config.rewards.components)

    def score(self, rollouts: Sequence[Rollout]) -> list[ScoredRollout]:
        requests = [
            VerifyRequest(r.text, r.prompt.reference, r.prompt.fields, verifier=r.prompt.verifier, item_id=r.prompt.id)
            for r in rollouts
        ]
        verdicts = self.pool.score(requests)
        scored = []
        for rollout, verdict in zip(rollouts, verdicts):
            reward = self.reward(
                rollout.text, verdict, num_tokens=len(rollout.completion_ids), max_tokens=self.max_tokens,
                finished=rollout.finished, **{**rollout.prompt.fields, "mode": rollout.mode},
            )
            scored.append(ScoredRollout(rollout, verdict, reward.total, dict(reward.components)))
        return scored

    def close(self) -> None:
        self.pool.close()
