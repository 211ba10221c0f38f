"""Pipelines: the stages of one config (sft, grpo, dpo, eval), each checkpoint feeding the next.

    rlvr train experiments/tiny_pipeline.yaml --out runs/pipe

    OUT/stages/01_cold_start/   each stage's own run directory: config.yaml, metrics.jsonl,
    OUT/stages/02_grpo/         checkpoints/, result.json (and, for grpo, curves.png, tb/)
    OUT/manifest.json           lineage: config, git, versions, data hashes, every stage's results
    OUT/stages.md, stages.png   held-out accuracy and length after each stage, and what it gained
    OUT/summary.json            the same, as data

A stage runs on the experiment config with its own sections merged in
(``rl.config.stages.stage_config``), on fresh actors loaded from the previous stage's
final checkpoint (the first from ``model.path``): weights pass between stages only as
checkpoints on disk, so every stage can be rerun, resumed or inspected on its own.
A LoRA stage's checkpoint is an adapter (``rl.engine.lora``): the next stage loads it merged
into its base, and a next stage that trains LoRA too starts a fresh adapter on that merged
model (written once, to ``<checkpoint>/merged``), so that its reference is where it started. Every
stage is judged on the experiment's held-out split, in ``run.eval_modes``, whatever data
it trains on. With ``--resume``, finished stages (``result.json`` written, from the same
start with the same settings and the same stages before it) are skipped and a GRPO stage continues from its newest checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rl.config import ExperimentConfig, StageConfig
from rl.config.build import config_to_dict
from rl.config.stages import stage_config
from rl.data.prompts import load_splits
from rl.engine.lora import is_adapter_dir, merge_adapter
from rl.engine.policy import ensure_model
from rl.loops.grpo import start_ray
from rl.registries import STAGE_KINDS
from rl.runs.manifest import record_stage, write_manifest
from rl.runs.stage_report import write_stage_report

RESULT_FILE = "result.json"  # written last: its presence marks a finished stage


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
        if cfg.model.lora.enabled and stage.kind != "eval" and is_adapter_dir(current):  # a fresh adapter on the previous
            current = str(merge_adapter(current))  # result, then its reference (adapter off); written once, beside that adapter
        fingerprint = _lineage_fingerprint(cfg, upstream)
        finished = _finished_result(stage_dir, current, fingerprint) if config.run.resume else None
        if finished is not None:
            print(f"stage {index + 1}/{len(config.stages)} {stage.label}: finished earlier, skipped")
            result = finished
        else:
            print(f"stage {index + 1}/{len(config.stages)} {stage.label} ({stage.kind}) from {current}")
            t0 = time.time()
            try:
                result = STAGE_KINDS.get(stage.kind).run(cfg, current, heldout, measure_before=index == 0)
            except (Exception, KeyboardInterrupt):
                done = ", ".join(r["stage"] for r in results) or "none"
                print(f"pipeline stopped in stage {stage.label!r}; finished stages ({done}) are kept: "
                      f"rerun with --resume to continue")
                raise
            result = {"stage": stage.label, "kind": stage.kind, "init": current, "config": fingerprint,
                      "thinking_budget": cfg.rollout.thinking_budget, **result,
                      "wall_time_s": round(time.time() - t0, 1)}
            _write_json(stage_dir / RESULT_FILE, result)
        record_stage(manifest, stage.label, result)
        initial = initial if initial is not None else result.get("eval_before")
        results.append(result)
        current = result.get("checkpoint") or current
        upstream = fingerprint
    summary = {"name": config.name, "final_checkpoint": current, "eval_initial": initial, "stages": results,
               "wall_time_s": round(time.time() - started, 1)}
    summary["table"] = write_stage_report(out, initial, results, config.run.eval_modes, config.run.eval_thinking_budgets)
    _write_json(out / "summary.json", summary)
    return summary


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


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def describe(stages: Sequence[StageConfig]) -> str:
    """"cold_start(sft) -> grpo -> eval": the pipeline in one line, for logs and --dry-run."""
    return " -> ".join(f"{s.label}({s.kind})" if s.name and s.name != s.kind else s.kind for s in stages)
