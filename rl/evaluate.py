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


def evaluate_modes(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int) -> dict[str, float]:
    """``evaluate`` once with thinking on and once off: ``eval/think/accuracy``, ``eval/no_think/length``..."""
    return evaluate_heldout(cluster, scorer, prompts, temperature=temperature, seed=seed, modes=MODES)


def evaluate_heldout(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
                     modes: Sequence[str] = ()) -> dict[str, float]:
    """The run's held-out eval: ``eval/*`` with each prompt in its own mode, or ``eval/<mode>/*``
    for each of ``modes`` (``run.eval_modes``)."""
    if not prompts:
        return {}
    if not modes:
        return evaluate(cluster, scorer, prompts, temperature=temperature, seed=seed)
    metrics: dict[str, float] = {}
    for mode in modes:
        metrics.update(evaluate(cluster, scorer, prompts, temperature=temperature, seed=seed,
                                enable_thinking=mode == "think", prefix=f"eval/{mode}"))
    return metrics


def headline_accuracy(metrics: dict[str, float], modes: Sequence[str] = ()) -> float | None:
    """One accuracy to quote: ``eval/accuracy``, or the first eval mode's."""
    return metrics.get(f"eval/{modes[0]}/accuracy" if modes else "eval/accuracy")
