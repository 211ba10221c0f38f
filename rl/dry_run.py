"""``rlvr train X.yaml --dry-run``: check an experiment without loading any weights.

Resolves the config (unknown keys, types, values), loads and counts the prompts (bad
lines name ``file:line``), resolves every verifier the prompts route to and every reward
component, and looks for the model directory — missing weights are reported, not fatal,
so recipes for real checkpoints can be validated on machines that do not hold them.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from rewards import RewardFunction
from rl.config import ExperimentConfig
from rl.data import load_splits
from verifiers import get_verifier


def dry_run(config: ExperimentConfig) -> list[str]:
    """Lines describing what the run would do; raises on anything that would make it fail."""
    train, heldout = load_splits(config.data)
    if not train:
        raise ValueError("data: no training prompts")
    routes = Counter(p.verifier for p in train + heldout)
    for name in routes:
        get_verifier(name)  # VerifierNotFound names the missing one
    RewardFunction(config.rewards.components)
    model = config.model.path
    if model == "tiny":
        model_line = "model: tiny (built locally from the task text at start)"
    elif (Path(model) / "config.json").is_file():
        model_line = f"model: {model} (found)"
    else:
        model_line = f"model: {model} (NOT FOUND here: needed to train, not to validate)"
    with_solutions = sum(1 for p in train if p.solution)
    r = config.rollout
    return [
        f"experiment: {config.name}",
        model_line,
        f"data: {len(train)} train prompts ({with_solutions} with worked solutions), {len(heldout)} held-out",
        "verifiers: " + ", ".join(f"{name} x{count}" for name, count in routes.most_common()),
        "rewards: " + ", ".join(f"{c.name}={c.kind}*{c.weight:g}" for c in config.rewards.components),
        f"sft: {config.sft.steps} steps; grpo: {config.run.total_steps} steps x {r.prompts_per_step} prompts x {r.group_size} samples",
        f"actors: {r.num_actors} rollout, {config.learner.num_learners} learner(s); out: {config.run.out_dir}",
    ]
