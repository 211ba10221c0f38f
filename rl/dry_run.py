"""``rlvr train X.yaml --dry-run``: check an experiment without loading any weights.

Resolves the config (unknown keys, types, values), loads and counts the prompts (bad
lines name ``file:line``), resolves every verifier the prompts route to and every reward
component, and looks for the model directory — missing weights are reported, not fatal,
so recipes for real checkpoints can be validated on machines that do not hold them. A
pipeline is checked stage by stage, each on its merged config (its data, pairs file, verifiers).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from rewards import RewardFunction
from rl.config import ExperimentConfig
from rl.data import load_splits
from rl.preferences import load_pairs
from verifiers import get_verifier


def dry_run(config: ExperimentConfig) -> list[str]:
    """Lines describing what the run would do; raises on anything that would make it fail."""
    lines = [f"experiment: {config.name}", _model_line(config.model.path)]
    if not config.stages:
        train, heldout = _check_data(config)
        r = config.rollout
        lines += [
            _data_line(train, heldout),
            "verifiers: " + _verifier_counts(train + heldout),
            "rewards: " + _rewards_line(config),
            f"sft: {config.sft.steps} steps; grpo: {config.run.total_steps} steps x {r.prompts_per_step} prompts x {r.group_size} samples",
            f"actors: {r.num_actors} rollout, {config.learner.num_learners} learner(s); out: {config.run.out_dir}",
        ]
        return lines
    from rl.config_loader import stage_config
    from rl.pipeline import describe

    _, heldout = load_splits(config.data)
    lines += [f"pipeline: {describe(config.stages)}",
              f"held-out: {len(heldout)} prompts, evaluated after every stage in modes {list(config.run.eval_modes) or ['each prompt own']}"]
    for index, stage in enumerate(config.stages):
        try:
            lines.append(f"  {index + 1}. {stage.label} ({stage.kind}): " + _stage_line(stage.kind, stage_config(config, index)))
        except Exception as exc:
            raise type(exc)(f"stage {index + 1} ({stage.label}): {exc}") from exc
    lines.append(f"out: {config.run.out_dir}")
    return lines


def _stage_line(kind: str, cfg: ExperimentConfig) -> str:
    if kind == "eval":
        return f"greedy held-out eval, {cfg.rollout.max_new_tokens} new tokens"
    if kind == "dpo":
        d = cfg.dpo
        offline = len(load_pairs(d.pairs_file)) if d.pairs_file else 0
        if d.onpolicy_prompts:
            train, _ = _check_data(cfg)
        if not d.steps:
            raise ValueError("dpo.steps is 0: the stage would do nothing")
        return (f"{d.steps} steps x {d.batch_size} pairs, loss {d.loss_type}, beta {d.beta:g}; {offline} offline pairs"
                f"{f', on-policy pairs from {d.onpolicy_prompts} prompts x {d.group_size} samples' if d.onpolicy_prompts else ''}")
    train, _ = _check_data(cfg)
    if kind == "sft":
        with_solutions = sum(1 for p in train if p.solution)
        if not with_solutions:
            raise ValueError("no training record has a worked solution or a final assistant turn to learn")
        if not cfg.sft.steps:
            raise ValueError("sft.steps is 0: the stage would do nothing")
        return f"{cfg.sft.steps} steps x {cfg.sft.batch_size} on {with_solutions} examples, lr {cfg.sft.lr:g}"
    r = cfg.rollout
    return (f"{cfg.run.total_steps} steps x {r.prompts_per_step} prompts x {r.group_size} samples on {len(train)} prompts; "
            f"verifiers {_verifier_counts(train)}; rewards {_rewards_line(cfg)}")


def _check_data(config: ExperimentConfig) -> tuple[list, list]:
    train, heldout = load_splits(config.data)
    if not train:
        raise ValueError("data: no training prompts")
    for name in {p.verifier for p in train + heldout}:
        get_verifier(name)  # VerifierNotFound names the missing one
    RewardFunction(config.rewards.components)
    return train, heldout


def _model_line(model: str) -> str:
    if model == "tiny":
        return "model: tiny (built locally from the task text at start)"
    if (Path(model) / "config.json").is_file():
        return f"model: {model} (found)"
    return f"model: {model} (NOT FOUND here: needed to train, not to validate)"


def _data_line(train, heldout) -> str:
    with_solutions = sum(1 for p in train if p.solution)
    return f"data: {len(train)} train prompts ({with_solutions} with worked solutions), {len(heldout)} held-out"


def _verifier_counts(prompts) -> str:
    return ", ".join(f"{name} x{count}" for name, count in Counter(p.verifier for p in prompts).most_common())


def _rewards_line(config: ExperimentConfig) -> str:
    return ", ".join(f"{c.name}={c.kind}*{c.weight:g}" for c in config.rewards.components)
