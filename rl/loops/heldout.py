"""Held-out evaluation: generate (greedy by default), score through the same verifiers, summarise.

    metrics = evaluate(cluster, scorer, heldout, temperature=0.0, seed=0)        # each sample in its own mode
    metrics = evaluate_modes(cluster, scorer, heldout, temperature=0.0, seed=0)  # eval/think/*, eval/no_think/*
    metrics = evaluate_heldout(cluster, scorer, heldout, temperature=0.0, seed=0, budgets=eval_budgets(config))
                                                                          # + eval/budget_16/*, eval/budget_none/*

Held-out evals sample without a thinking budget, whatever ``rollout.thinking_budget`` a stage trains
under, so that every stage's ``eval/*`` means the same thing; ``run.eval_thinking_budgets`` adds
``eval/budget_<B>/*`` (thinking mode, budget B in ``rollout.thinking_budget_mode``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from statistics import mean

from rl.data.records import Prompt, flatten
from rl.data.thinking import mode_name
from rl.engine.scorer import domain_metrics, trajectory_metrics
from rl.engine.thinking_budget import ThinkingBudget
from rl.modes import MODES, THINK

EVAL_SEED = 1234  # held-out evaluation samples the same way at every eval, in every loop and stage


def evaluate(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
             enable_thinking: bool | None = None, prefix: str = "eval",
             thinking_budget: ThinkingBudget = ThinkingBudget()) -> dict[str, float]:
    """Accuracy (over judged samples), mean completion length (tokens), thinking and answer tokens, no-answer,
    unjudged, finished and budget-hit rates under ``prefix/``, and the judge's counts for these samples
    (``prefix/judge/requests``...; none without a judge); sampled under ``thinking_budget`` (default none).

    enable_thinking: None renders each prompt in its own mode (``rl.data.thinking.resolve_mode``);
    True/False puts every prompt in that mode, over its data ``mode`` and any ``/think`` switch.
    """
    if enable_thinking is not None:
        prompts = [replace(p, mode=mode_name(enable_thinking)) for p in prompts]
    groups = cluster.generate(prompts, 1, temperature=temperature, seed=seed, thinking_budget=thinking_budget)
    with scorer.judge_counted_apart() as judge_counts:  # the eval's own judge requests, never the next training step's
        scored = flatten(scorer.score(groups))
    if not scored:
        return {}
    judged = [s for s in scored if s.verdict.judged]  # could-not-judge is reported apart, never as wrong
    return {
        f"{prefix}/accuracy": mean(s.verdict.score for s in judged) if judged else float("nan"),
        f"{prefix}/length": mean(len(s.rollout.completion_ids) for s in scored),
        f"{prefix}/no_answer": mean(s.verdict.status == "no_answer" for s in scored),
        f"{prefix}/unjudged": mean(s.verdict.unjudged for s in scored),
        f"{prefix}/finished": mean(s.rollout.finished for s in scored),
        f"{prefix}/thinking_tokens": mean(s.rollout.thinking_tokens for s in scored),
        f"{prefix}/answer_tokens": mean(s.rollout.answer_tokens for s in scored),
        f"{prefix}/budget_hit": mean(s.rollout.budget_hit for s in scored),
        **{key: value for key, value in domain_metrics(scored, prefix).items() if "/reward/" not in key},  # per data.mixture domain
        **{f"{prefix}/{key.split('/', 1)[1]}": value for key, value in trajectory_metrics(scored).items()
           if key.startswith("env/")},  # tool use: turns, calls, well-formed share
        **{f"{prefix}/{key}": value for key, value in judge_counts.items()},  # judge/requests, judge/unparsable...; none without a judge
    }


def evaluate_modes(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int) -> dict[str, float]:
    """``evaluate`` once with thinking on and once off: ``eval/think/accuracy``, ``eval/no_think/length``..."""
    return evaluate_heldout(cluster, scorer, prompts, temperature=temperature, seed=seed, modes=MODES)


def evaluate_heldout(cluster, scorer, prompts: Sequence[Prompt], *, temperature: float, seed: int,
                     modes: Sequence[str] = (), budgets: Sequence[ThinkingBudget] = ()) -> dict[str, float]:
    """The run's held-out eval: ``eval/*`` with each prompt in its own mode, or ``eval/<mode>/*``
    for each of ``modes`` (``run.eval_modes``); then ``eval/budget_<B>/*`` in thinking mode for each of
    ``budgets`` (``eval_budgets``)."""
    if not prompts:
        return {}
    metrics: dict[str, float] = {}
    if not modes:
        metrics.update(evaluate(cluster, scorer, prompts, temperature=temperature, seed=seed))
    for mode in modes:
        metrics.update(evaluate(cluster, scorer, prompts, temperature=temperature, seed=seed,
                                enable_thinking=mode == THINK, prefix=f"eval/{mode}"))
    for budget in budgets:
        metrics.update(evaluate(cluster, scorer, prompts, temperature=temperature, seed=seed, enable_thinking=True,
                                prefix=f"eval/budget_{budget.label}", thinking_budget=budget))
    return metrics


def eval_budgets(config) -> list[ThinkingBudget]:
    """The budgets ``run.eval_thinking_budgets`` names, each in the rollout's budget mode and answer budget."""
    return [ThinkingBudget.of(config.rollout, tokens) for tokens in config.run.eval_thinking_budgets]


def headline_accuracy(metrics: dict[str, float], modes: Sequence[str] = ()) -> float | None:
    """One accuracy to quote: ``eval/accuracy``, or the first eval mode's."""
    return metrics.get(f"eval/{modes[0]}/accuracy" if modes else "eval/accuracy")
