"""Held-out evaluation: generate (greedy by default), score through the same verifiers, summarise.

    metrics = evaluate(cluster, scorer, heldout, temperature=0.0, seed=0)        # each sample in its own mode
    metrics = evaluate_modes(cluster, scorer, heldout, temperature=0.0, seed=0)  # eval/think/*, eval/no_think/*
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from statistics import mean

from rl.data.records import Prompt, flatten
from rl.data.thinking import mode_name
from rl.engine.scorer import trajectory_metrics
from rl.modes import MODES, THINK

EVAL_SEED = 1234  # held-out evaluation samples the same way at every eval, in every loop and stage


def evaluate(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
             enable_thinking: bool | None = None, prefix: str = "eval") -> dict[str, float]:
    """Accuracy (over judged samples), mean completion length (tokens), no-answer, unjudged and
    finished rates under ``prefix/``.

    enable_thinking: None renders each prompt in its own mode (``rl.data.thinking.resolve_mode``);
    True/False puts every prompt in that mode, over its data ``mode`` and any ``/think`` switch.
    """
    if enable_thinking is not None:
        prompts = [replace(p, mode=mode_name(enable_thinking)) for p in prompts]
    scored = flatten(scorer.score(cluster.generate(prompts, 1, temperature=temperature, seed=seed)))
    if not scored:
        return {}
    judged = [s for s in scored if s.verdict.judged]  # could-not-judge is reported apart, never as wrong
    return {
        f"{prefix}/accuracy": mean(s.verdict.score for s in judged) if judged else float("nan"),
        f"{prefix}/length": mean(len(s.rollout.completion_ids) for s in scored),
        f"{prefix}/no_answer": mean(s.verdict.status == "no_answer" for s in scored),
        f"{prefix}/unjudged": mean(s.verdict.unjudged for s in scored),
        f"{prefix}/finished": mean(s.rollout.finished for s in scored),
        **{f"{prefix}/{key.split('/', 1)[1]}": value for key, value in trajectory_metrics(scored).items()
           if key.startswith("env/")},  # tool use: turns, calls, well-formed share
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
                                enable_thinking=mode == THINK, prefix=f"eval/{mode}"))
    return metrics


def headline_accuracy(metrics: dict[str, float], modes: Sequence[str] = ()) -> float | None:
    """One accuracy to quote: ``eval/accuracy``, or the first eval mode's."""
    return metrics.get(f"eval/{modes[0]}/accuracy" if modes else "eval/accuracy")
