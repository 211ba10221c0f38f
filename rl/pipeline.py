"""Pipelines: the stages of one config (sft, grpo, dpo, eval), each checkpoint feeding the next.

    rlvr train experiments/tiny_pipeline.yaml --out runs/pipe

    OUT/stages/01_cold_start/   each stage's own run directory: config.yaml, metrics.jsonl,
    OUT/stages/02_grpo/         checkpoints/, result.json (and, for grpo, curves.png, tb/)
    OUT/manifest.json           lineage: config, git, versions, data hashes, every stage's results
    OUT/stages.md, stages.png   held-out accuracy and length after each stage, and what it gained
    OUT/summary.json            the same, as data

A stage runs on the experiment config with its own sections merged in
(``rl.config_loader.stage_config``), on fresh actors loaded from the previous stage's
final checkpoint (the first from ``model.path``): weights pass between stages only as
checkpoints on disk, so every stage can be rerun, resumed or inspected on its own. Every
stage is judged on the experiment's held-out split, in ``run.eval_modes``, whatever data
it trains on. With ``--resume``, finished stages (``result.json`` written, from the same
start with the same settings and the same stages before it) are skipped and a GRPO stage continues from its newest checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

from rl.actors import Cluster
from rl.config import ExperimentConfig, StageConfig
from rl.config_loader import config_to_dict, stage_config
from rl.data import drop_long_prompts, load_splits
from rl.dpo import mine_onpolicy_pairs, run_dpo
from rl.evaluate import evaluate_heldout
from rl.grpo import start_ray, train
from rl.manifest import prompts_fingerprint, record_stage, write_manifest
from rl.policy import ensure_model, load_tokenizer
from rl.preferences import load_pairs, tokenize_pair
from rl.records import Prompt
from rl.run_dir import RunDirectory
from rl.scorer import RolloutScorer
from rl.sft import run_sft, sft_sequences
from rl.stage_report import write_stage_report

EVAL_SEED = 1234  # the same greedy samples at every stage's eval
RESULT_FILE = "result.json"  # written last: its presence marks a finished stage
MINED_PAIRS_FILE = "onpolicy_pairs.jsonl"  # a dpo stage's mined pairs, in the format dpo.pairs_file reads


def run_pipeline(config: ExperimentConfig) -> dict:
    """Run ``config.stages`` in order; returns the summary (also written to OUT/summary.json)."""
    started = time.time()
    out = Path(config.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, heldout = load_splits(config.data)
    current = str(ensure_model(config))
    manifest = out / "manifest.json"
    if not (config.run.resume and manifest.exists()):
        write_manifest(manifest, config, train, heldout)
    stage_configs = [stage_config(config, i) for i in range(len(config.stages))]
    start_ray(*stage_configs)  # one runtime for every stage
    initial: dict[str, float] | None = None
    results: list[dict[str, Any]] = []
    upstream = ""  # the fingerprint of the stages so far: a change upstream reruns everything after it
    for index, (stage, cfg) in enumerate(zip(config.stages, stage_configs)):
        stage_dir = Path(cfg.run.out_dir)
        fingerprint = _lineage_fingerprint(cfg, upstream)
        finished = _finished_result(stage_dir, current, fingerprint) if config.run.resume else None
        if finished is not None:
            print(f"stage {index + 1}/{len(config.stages)} {stage.label}: finished earlier, skipped")
            result = finished
        else:
            print(f"stage {index + 1}/{len(config.stages)} {stage.label} ({stage.kind}) from {current}")
            t0 = time.time()
            try:
                result = STAGE_RUNNERS[stage.kind](cfg, current, heldout, measure_before=index == 0)
            except (Exception, KeyboardInterrupt):
                done = ", ".join(r["stage"] for r in results) or "none"
                print(f"pipeline stopped in stage {stage.label!r}; finished stages ({done}) are kept: "
                      f"rerun with --resume to continue")
                raise
            result = {"stage": stage.label, "kind": stage.kind, "init": current, "config": fingerprint, **result,
                      "wall_time_s": round(time.time() - t0, 1)}
            _write_json(stage_dir / RESULT_FILE, result)
        record_stage(manifest, stage.label, result)
        initial = initial if initial is not None else result.get("eval_before")
        results.append(result)
        current = result.get("checkpoint") or current
        upstream = fingerprint
    summary = {"name": config.name, "final_checkpoint": current, "eval_initial": initial, "stages": results,
               "wall_time_s": round(time.time() - started, 1)}
    summary["table"] = write_stage_report(out, initial, results, config.run.eval_modes)
    _write_json(out / "summary.json", summary)
    return summary


# ---------------------------------------------------------------- stages
# Each runner: (stage config, checkpoint to start from, held-out prompts, measure_before) ->
# results with "eval_after" (held-out metrics), "checkpoint" (its output, None for eval) and
# "eval_before" when asked (the first stage measures the starting point).


def _sft_stage(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], *, measure_before: bool) -> dict:
    train, _ = load_splits(cfg.data)
    sequences = sft_sequences(train, load_tokenizer(init), cfg.data)

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
                                        temperature=cfg.rollout.temperature, seed=cfg.run.seed, min_margin=d.min_margin)
            _write_pairs(run.path / MINED_PAIRS_FILE, mined)  # kept before training: inspectable, reusable as a pairs_file
            pairs += mined
        history = run_dpo(cluster, pairs, d, seed=cfg.run.seed, log=run.log)
        return {"steps": d.steps, "pairs_offline": offline, "pairs_onpolicy": len(pairs) - offline,
                "final_loss": history[-1]["loss"], "final_pair_accuracy": history[-1].get("rewards/accuracies")}

    return _train_on_actors(cfg, init, heldout, measure_before, "dpo", train_dpo)


def _grpo_stage(cfg: ExperimentConfig, init: str, heldout: Sequence[Prompt], *, measure_before: bool) -> dict:
    cfg = replace(cfg, sft=replace(cfg.sft, steps=0))  # a warm-up is a stage of its own here
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


STAGE_RUNNERS: dict[str, Callable[..., dict]] = {"sft": _sft_stage, "grpo": _grpo_stage, "dpo": _dpo_stage, "eval": _eval_stage}


# ---------------------------------------------------------------- shared plumbing


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
                            modes=cfg.run.eval_modes)


def _finished_result(stage_dir: Path, init: str, fingerprint: str) -> dict | None:
    """The stage's result from an earlier run, if it ran from the same start with the same lineage."""
    path = stage_dir / RESULT_FILE
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    if result.get("init") != init or result.get("config") != fingerprint:
        print(f"{stage_dir.name}: its settings or an earlier stage changed since it ran: running it again")
        return None
    checkpoint = result.get("checkpoint")
    if checkpoint and not (Path(checkpoint) / "trainer_state.pt").is_file():
        return None  # its weights are gone: run it again
    return result


def _lineage_fingerprint(cfg: ExperimentConfig, upstream: str) -> str:
    """A stage's settings and everything before it, as 16 hex digits."""
    settings = config_to_dict(cfg)
    settings["run"].pop("resume")  # resuming is how a run goes on, not what it computes
    return hashlib.sha256(json.dumps([upstream, settings], sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_pairs(path: Path, pairs: Sequence) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps({"id": pair.id, "prompt": pair.prompt.chat(), "chosen": pair.chosen, "rejected": pair.rejected,
                                 "chosen_reward": pair.chosen_reward, "rejected_reward": pair.rejected_reward,
                                 **pair.metadata}) + "\n")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def describe(stages: Sequence[StageConfig]) -> str:
    """"cold_start(sft) -> grpo -> eval": the pipeline in one line, for logs and --dry-run."""
    return " -> ".join(f"{s.label}({s.kind})" if s.name and s.name != s.kind else s.kind for s in stages)
