"""The kinds of pipeline stage: how each one runs, and how ``--dry-run`` describes and checks it.

A kind is a ``StageKind`` registered by name in ``rl.registries.STAGE_KINDS``:

    run(cfg, init, heldout, *, measure_before) -> dict
        trains (or only evaluates) from checkpoint ``init`` with the stage's merged config; returns
        "eval_after" (held-out metrics), "checkpoint" (its output, None for eval) and "eval_before"
        when asked (the first stage measures the starting point).
    describe(cfg) -> str
        one line for ``rlvr train X.yaml --dry-run``; loads and checks the stage's data without
        weights and raises on anything that would make the stage fail.

A new kind is a ``StageKind`` plus ``STAGE_KINDS.add("name", "module:ATTRIBUTE")`` (and the
config accepts it from then on).
"""
from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rewards import RewardFunction
from rl.config import ExperimentConfig
from rl.data.preferences import load_pairs, tokenize_pair
from rl.data.prompts import drop_long_prompts, load_splits
from rl.data.records import Prompt
from rl.engine.actors import Cluster
from rl.engine.policy import load_tokenizer
from rl.engine.scorer import RolloutScorer
from rl.envs import declared_tools
from rl.loops.dpo import mine_onpolicy_pairs, run_dpo
from rl.loops.heldout import EVAL_SEED, eval_budgets, evaluate_heldout
from rl.loops.sft import run_sft, sft_sequences
from rl.registries import ALGORITHMS
from rl.runs.manifest import prompts_fingerprint
from rl.runs.run_dir import RunDirectory
from verifiers import get_verifier

MINED_PAIRS_FILE = "onpolicy_pairs.jsonl"  # a dpo stage's mined pairs, in the format dpo.pairs_file reads


@dataclass(frozen=True)
class StageKind:
    run: Callable[..., dict]
    describe: Callable[[ExperimentConfig], str]


# ---------------------------------------------------------------- runners


def _sft_stage(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], *, measure_before: bool) -> dict:
    train, _ = load_splits(cfg.data)
    sequences = sft_sequences(train, load_tokenizer(init), cfg.data, tools=declared_tools(cfg.rollout.env))

    def train_sft(cluster, scorer, run) -> dict:
        history = run_sft(cluster, sequences, cfg.sft, seed=cfg.run.seed, log=run.log, desc=run.path.name)
        return {"steps": cfg.sft.steps, "examples": len(sequences), "data": prompts_fingerprint(train),
                "final_loss": history[-1]["loss"] if history else None}

    return _train_on_actors(cfg, init, heldout, measure_before, "sft", train_sft)


def _dpo_stage(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], *, measure_before: bool) -> dict:
    d = cfg.dpo

    def train_dpo(cluster, scorer, run) -> dict:
        tokenizer = load_tokenizer(init)
        pairs = [tokenize_pair(p, tokenizer, cfg.data) for p in load_pairs(d.pairs_file)] if d.pairs_file else []
        offline = len(pairs)
        if d.onpolicy_prompts:  # the rollout actors hold ``init``: the policy DPO starts from
            train, _ = load_splits(cfg.data)
            train, _ = drop_long_prompts(train, tokenizer, cfg.data)
            prompts = random.Random(cfg.run.seed).sample(train, min(d.onpolicy_prompts, len(train)))
            mined = mine_onpolicy_pairs(cluster, scorer, prompts, group_size=d.group_size,
                                        temperature=cfg.rollout.temperature, seed=cfg.run.seed, min_margin=d.min_margin,
                                        max_unjudged_fraction=cfg.run.max_unjudged_fraction)
            _write_pairs(run.path / MINED_PAIRS_FILE, mined)  # kept before training: inspectable, reusable as a pairs_file
            pairs += mined
        history = run_dpo(cluster, pairs, d, seed=cfg.run.seed, log=run.log)
        return {"steps": d.steps, "pairs_offline": offline, "pairs_onpolicy": len(pairs) - offline,
                "final_loss": history[-1]["loss"], "final_pair_accuracy": history[-1].get("rewards/accuracies")}

    return _train_on_actors(cfg, init, heldout, measure_before, "dpo", train_dpo)


def _grpo_stage(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], *, measure_before: bool) -> dict:
    cfg = replace(cfg, sft=replace(cfg.sft, steps=0))  # a warm-up is a stage of its own here
    train = ALGORITHMS.get(cfg.algorithm.name)  # the configured algorithm's loop: (config, *, init_path, heldout, record_manifest)
    summary = train(cfg, init_path=init, heldout=heldout, record_manifest=False)
    out = {"steps": cfg.run.total_steps, "eval_after": summary.get("eval_after_rl", {}),
           "checkpoint": str(Path(cfg.run.out_dir) / "checkpoints" / f"step_{cfg.run.total_steps:06d}")}
    if measure_before:
        out["eval_before"] = summary.get("eval_before_rl", {})
    return out


def _eval_stage(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], *, measure_before: bool) -> dict:
    cluster, scorer = Cluster(cfg, init, with_learners=False), RolloutScorer(cfg)
    try:
        metrics = _heldout_eval(cfg, cluster, scorer, heldout)
    finally:
        scorer.close()
        cluster.shutdown()
    return {"eval_after": metrics, "checkpoint": None, **({"eval_before": metrics} if measure_before else {})}


def _train_on_actors(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], measure_before: bool, kind: str,
                     update: Callable[[Cluster, RolloutScorer, RunDirectory], dict]) -> dict:
    """Actors from ``init``; optional eval; ``update``; new weights to the rollout actors; eval; final checkpoint."""
    run = RunDirectory(cfg)
    cluster, scorer = Cluster(cfg, init), RolloutScorer(cfg)
    try:
        out: dict[str, Any] = {}
        if measure_before:
            out["eval_before"] = _heldout_eval(cfg, cluster, scorer, heldout)
        out.update(update(cluster, scorer, run))
        cluster.sync_weights(version=1)
        out["eval_after"] = _heldout_eval(cfg, cluster, scorer, heldout)
        checkpoint = run.checkpoint_path(out.get("steps", 0))
        cluster.save(str(checkpoint), {"stage": kind, "summary": out})
        out["checkpoint"] = str(checkpoint)
        return out
    finally:
        scorer.close()
        cluster.shutdown()
        run.close()


def _heldout_eval(cfg: ExperimentConfig, cluster: Cluster, scorer: RolloutScorer, heldout: Sequence[Prompt]) -> dict:
    return evaluate_heldout(cluster, scorer, heldout, temperature=cfg.rollout.eval_temperature, seed=EVAL_SEED,
                            modes=cfg.run.eval_modes, budgets=eval_budgets(cfg))


def _write_pairs(path: Path, pairs: Sequence) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps({"id": pair.id, "prompt": pair.prompt.chat(), "chosen": pair.chosen, "rejected": pair.rejected,
                                 "chosen_reward": pair.chosen_reward, "rejected_reward": pair.rejected_reward,
                                 **pair.metadata}) + "\n")


# ---------------------------------------------------------------- dry-run descriptions


def _describe_sft(cfg: ExperimentConfig) -> str:
    train, _ = check_data(cfg)
    with_solutions = sum(1 for p in train if p.solution)
    if not with_solutions:
        raise ValueError("no training record has a worked solution or a final assistant turn to learn")
    if not cfg.sft.steps:
        raise ValueError("sft.steps is 0: the stage would do nothing")
    return f"{cfg.sft.steps} steps x {cfg.sft.batch_size} on {with_solutions} examples, lr {cfg.sft.lr:g}"


def _describe_grpo(cfg: ExperimentConfig) -> str:
    train, heldout = check_data(cfg)
    r = cfg.rollout
    mixture = f"; mixture: {mixture_line(cfg, train, heldout)}" if cfg.data.mixture else ""
    return (f"{cfg.run.total_steps} steps x {r.prompts_per_step} prompts x {r.group_size} samples on {len(train)} prompts; "
            f"verifiers {verifier_counts(train)}; rewards {rewards_line(cfg)}; {env_line(cfg)}; {length_line(cfg)}{mixture}")


def _describe_dpo(cfg: ExperimentConfig) -> str:
    d = cfg.dpo
    offline = len(load_pairs(d.pairs_file)) if d.pairs_file else 0
    if d.onpolicy_prompts:
        check_data(cfg)
    if not d.steps:
        raise ValueError("dpo.steps is 0: the stage would do nothing")
    return (f"{d.steps} steps x {d.batch_size} pairs, loss {d.loss_type}, beta {d.beta:g}; {offline} offline pairs"
            f"{f', on-policy pairs from {d.onpolicy_prompts} prompts x {d.group_size} samples' if d.onpolicy_prompts else ''}")


def _describe_eval(cfg: ExperimentConfig) -> str:
    return f"greedy held-out eval, {cfg.rollout.max_new_tokens} new tokens, {env_line(cfg)}; {length_line(cfg)}"


def check_data(config: ExperimentConfig) -> tuple[list[Prompt], list[Prompt]]:
    """Load the prompts, resolve every verifier they route to and every reward component; raise on a problem."""
    train, heldout = load_splits(config.data)
    if not train:
        raise ValueError("data: no training prompts")
    for name in {p.verifier for p in train + heldout}:
        get_verifier(name)  # VerifierNotFound names the missing one
    RewardFunction(config.rewards.components)
    for domain in config.data.mixture.values():
        if domain.rewards:
            RewardFunction(domain.rewards)
    declared_tools(config.rollout.env)  # every tool loads and has a schema (types and a docstring)
    return train, heldout


def env_line(config: ExperimentConfig) -> str:
    env = config.rollout.env
    if not env.multi_turn:
        return "env single_turn"
    return f"env {env.name} (tools {', '.join(env.tools)}; up to {env.max_turns} turns, {env.max_tool_calls} calls)"


def length_line(config: ExperimentConfig) -> str:
    """Thinking budgets (``rollout.thinking_budget``, ``run.eval_thinking_budgets``) and the longest sequence a
    rollout can reach, checked against the model's context length; raises when a budget cannot fire or a
    sequence cannot fit. Without weights the early-stop text is counted at one token per byte (an upper bound)."""
    r = config.rollout
    budgets = sorted({b for b in (r.thinking_budget, *config.run.eval_thinking_budgets) if b is not None})
    for budget in budgets:
        if budget >= r.max_new_tokens:
            raise ValueError(f"thinking budget {budget} >= rollout.max_new_tokens ({r.max_new_tokens}): the thought is "
                             "cut by max_new_tokens first and the budget never fires; raise max_new_tokens")
    longest = r.max_new_tokens  # per turn
    if budgets and r.thinking_budget_mode == "inject":  # the cut thought, the early stop, then the answer
        longest = r.max_new_tokens - 1 + len(r.thinking_early_stop.encode()) + r.answer_budget
    need = config.data.max_prompt_tokens + longest
    context = context_length(config.model)
    shown = f"thinking budgets {', '.join(map(str, budgets))} ({r.thinking_budget_mode})" if budgets else "no thinking budget"
    if context is None:
        return f"{shown}; up to {need} tokens a sequence (context length unknown here: set model.context_length)"
    if need > context:
        raise ValueError(f"a sequence may reach {need} tokens (data.max_prompt_tokens {config.data.max_prompt_tokens} + "
                         f"{longest} generated{' incl. the early stop and rollout.answer_budget' if longest != r.max_new_tokens else ''}), "
                         f"more than the model's context length {context}")
    return f"{shown}; up to {need} of {context} context tokens"


def context_length(model) -> int | None:
    """``model.context_length``, else the tiny model's or the checkpoint's own; None when it cannot be known here."""
    if model.context_length:
        return model.context_length
    if model.path == "tiny":
        return model.tiny_max_positions
    config = Path(model.path) / "config.json"
    if config.is_file():
        return json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")
    return None


def verifier_counts(prompts: Sequence[Prompt]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in Counter(p.verifier for p in prompts).most_common())


def rewards_line(config: ExperimentConfig) -> str:
    return _components(config.rewards.components)


def _components(components) -> str:
    return ", ".join(f"{c.name}={c.kind}*{c.weight:g}" for c in components)


def mixture_line(config: ExperimentConfig, train: Sequence[Prompt], heldout: Sequence[Prompt]) -> str:
    """Each ``data.mixture`` domain: its share of a step, prompts, verifiers and its own rewards if any; "" without one."""
    mixture = config.data.mixture
    total = sum(d.weight for d in mixture.values())
    parts = []
    for name, domain in mixture.items():
        own = [p for p in train if p.domain == name]
        rewards = f", rewards {_components(domain.rewards)}" if domain.rewards else ""
        parts.append(f"{name} {domain.weight / total:.0%} ({len(own)} train / {sum(p.domain == name for p in heldout)} held-out, "
                     f"verifiers {verifier_counts(own)}{rewards})")
    return "; ".join(parts)


SFT_STAGE = StageKind(run=_sft_stage, describe=_describe_sft)
GRPO_STAGE = StageKind(run=_grpo_stage, describe=_describe_grpo)
DPO_STAGE = StageKind(run=_dpo_stage, describe=_describe_dpo)
EVAL_STAGE = StageKind(run=_eval_stage, describe=_describe_eval)
