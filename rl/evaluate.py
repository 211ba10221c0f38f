"""Held-out evaluation: generate (greedy by default), score through the same verifiers, summarise.

    metrics = evaluate(cluster, scorer, heldout, temperature=0.0, seed=0)        # each sample in its own mode
    metrics = evaluate_modes(cluster, scorer, heldout, temperature=0.0, seed=0)  # eval/think/*, eval/no_think/*
"""
from __future__ import annotations

from dataclasses import replace
from statistics import mean
from typing import Sequence

from rl.records import Prompt
from rl.thinking import MODES, mode_name


def evaluate(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
             enable_thinking: bool | None = None, prefix: str = "eval") -> dict[str, float]:
    """Accuracy, mean completion length (tokens), no-answer and finished rates under ``prefix/``.

    enable_thinking: None renders each prompt in its own mode (``rl.thinking.resolve_mode``);
    True/False puts every prompt in that mode, over its data ``mode`` and any ``/think`` switch.
    """
    if enable_thinking is not None:
        prompts = [replace(p, mode=mode_name(enable_thinking)) for p in prompts]
    rollouts = cluster.generate(prompts, 1, temperature=temperature, seed=seed)
    scored = scorer.score(rollouts)
    if not scored:
        return {}
    return {
        f"{prefix}/accuracy": mean(s.verdict.score if s.verdict.judged else 0.0 for s in scored),
        f"{prefix}/length": mean(len(s.rollout.completion_ids) for s in scored),
        f"{prefix}/no_answer": mean(s.verdict.status == "no_answer" for s in scored),
        f"{prefix}/finished": mean(s.rollout.finished for s in scored),
    }


def evaluate_modes(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
                   prefix: str = "eval") -> dict[str, float]:
    """``evaluate`` once with thinking on and once off: ``prefix/think/accuracy``, ``prefix/no_think/length``..."""
    metrics: dict[str, float] = {}
    for mode in MODES:
        metrics.update(evaluate(cluster, scorer, prompts, temperature=temperature, seed=seed,
                                enable_thinking=mode == "think", prefix=f"{prefix}/{mode}"))
    return metrics
