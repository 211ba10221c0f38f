"""``rlvr train X.yaml --dry-run``: check an experiment without loading any weights.

Resolves the config (unknown keys, types, values), loads and counts the prompts (bad
lines name ``file:line``), resolves every verifier the prompts route to and every reward
component, asks a judge endpoint for its models when prompts route to ``judge`` / ``cascade``, and looks for the model directory — missing weights are reported, not fatal,
so recipes for real checkpoints can be validated on machines that do not hold them. A
pipeline is checked stage by stage, each on its merged config, by its kind's ``describe``.
"""
from __future__ import annotations

from pathlib import Path

from rl.config import ConfigError, ExperimentConfig
from rl.config.stages import stage_config
from rl.data.prompts import load_splits
from rl.loops.pipeline import describe
from rl.loops.stages import check_data, env_line, length_line, mixture_line, rewards_line, verifier_counts
from rl.registries import STAGE_KINDS


class StageCheckFailed(ValueError):
    """A pipeline stage would fail; the message names the stage, the cause is chained."""


def dry_run(config: ExperimentConfig) -> list[str]:
    """Lines describing what the run would do; raises on anything that would make it fail."""
    lines = [f"experiment: {config.name}", _model_line(config.model.path)]
    if not config.stages:
        train, heldout = check_data(config)
        r = config.rollout
        with_solutions = sum(1 for p in train if p.solution)
        lines += [
            f"data: {len(train)} train prompts ({with_solutions} with worked solutions), {len(heldout)} held-out",
            "verifiers: " + verifier_counts(train + heldout),
            *(["mixture: " + mixture_line(config, train, heldout)] if config.data.mixture else []),
            *_judge_lines(config, train + heldout),
            "rewards: " + rewards_line(config),
            "rollouts: " + env_line(config) + "; " + length_line(config),
            f"sft: {config.sft.steps} steps; grpo: {config.run.total_steps} steps x {r.prompts_per_step} prompts x {r.group_size} samples",
            _actors_line(config) + f"; out: {config.run.out_dir}",
        ]
        return lines
    train, heldout = load_splits(config.data)
    lines += [f"pipeline: {describe(config.stages)}",
              f"held-out: {len(heldout)} prompts, evaluated after every stage in modes {list(config.run.eval_modes) or ['each prompt own']}",
              *_judge_lines(config, train + heldout)]  # the judge is the experiment's, shared by its stages
    for index, stage in enumerate(config.stages):
        where = f"stage {index + 1} ({stage.label})"
        try:
            line = STAGE_KINDS.get(stage.kind).describe(stage_config(config, index))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}", key=exc.key) from exc
        except Exception as exc:
            raise StageCheckFailed(f"{where}: {exc}") from exc
        lines.append(f"  {index + 1}. {stage.label} ({stage.kind}): {line}")
    lines.append(f"out: {config.run.out_dir}")
    return lines


def _judge_lines(config: ExperimentConfig, prompts) -> list[str]:
    """The judge endpoint answers /v1/models and serves the configured model (a local judge: its directory is a
    model's); no line when no prompt needs a judge."""
    from verifiers.judge import JUDGE_VERIFIERS, Judge, JudgeUnavailable

    if not any(p.verifier in JUDGE_VERIFIERS for p in prompts):
        return []
    judge = config.judge
    judge.check_settings()
    if judge.backend == "local":  # the model itself loads in its actor at the first judge batch
        from verifiers.judge.local import JudgeModelError, check_judge_model_dir

        try:
            check_judge_model_dir(judge.model)
            found = "found"
        except JudgeModelError as exc:  # as for model.path: reported, not fatal, so a recipe validates anywhere
            found = f"NOT FOUND here: needed to train, not to validate; {exc}"
        return [f"judge: local model {judge.model} ({found}; one Ray actor, {judge.num_gpus:g} GPU(s), batches of "
                f"{judge.batch_size}); template {judge.template}, {judge.verdict_format} verdicts"]
    with Judge(judge) as client:
        served = client.ping()
    if judge.model not in served:
        raise JudgeUnavailable(f"judge endpoint {judge.base_url} does not serve judge.model {judge.model!r}; it serves {served}")
    return [f"judge: {judge.base_url} answers and serves {judge.model!r} (of {len(served)} model(s)); "
            f"template {judge.template}, {judge.verdict_format} verdicts, up to {judge.max_concurrency} requests at once"]


def _actors_line(config: ExperimentConfig) -> str:
    from rl.engine.actors import colocated

    learners, r = config.learner.num_learners, config.rollout
    if colocated(config):
        return f"actors: {learners} learner(s) ({config.learner.strategy}), each generating its own shard (colocated, {r.backend} backend)"
    return (f"actors: {r.num_actors} rollout ({r.backend} backend, weight sync {r.weight_sync}), "
            f"{learners} learner(s) ({config.learner.strategy})")


def _model_line(model: str) -> str:
    if model == "tiny":
        return "model: tiny (built locally from the task text at start)"
    if (Path(model) / "config.json").is_file() or (Path(model) / "adapter_config.json").is_file():  # a model, or a LoRA adapter
        return f"model: {model} (found)"
    return f"model: {model} (NOT FOUND here: needed to train, not to validate)"
