"""Held-out evaluation: generate (greedy by default), score through the same verifiers, summarise."""
from __future__ import annotations

from statistics import mean
from typing import Sequence

from rl.records import Prompt


def evaluate(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
             enable_thinking: bool | None = None, prefix: str = "eval") -> dict[str, float]:
    rollouts = cluster.generate(prompts, 1, temperature=temperature, seed=seed, enable_thinking=enable_thinking)
    scored = scorer.score(rollouts)
    if not scored:
        return {}
    return {
        f"{prefix}/accuracy": mean(s.verdict.score if s.verdict.judged else 0.0 for s in scored),
        f"{prefix}/length": mean(len(s.rollout.completion_ids) for s in scored),
        f"{prefix}/no_answer": mean(s.verdict.status == "no_answer" for s in scored),
        f"{prefix}/finished": mean(s.rollout.finished for s in scored),
    }
