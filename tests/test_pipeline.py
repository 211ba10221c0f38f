"""Pipelines end to end on Ray: sft -> grpo -> dpo -> eval from one config, lineage, resume."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from safetensors.torch import load_file

from rl.config.loader import load_config
from tests.test_grpo import ROOT, TINY

pytestmark = [pytest.mark.ray, pytest.mark.slow]

PAIRS = ROOT / "tests" / "data" / "tiny_pairs.jsonl"  # offline pairs: the barely trained policy's groups may all tie
STAGES = [
    "run.eval_modes=[think, no_think]",
    "stages=[{kind: sft, name: cold_start, data: {train_file: experiments/data/tiny_arith_cold_start.jsonl}},"
    f" {{kind: grpo}}, {{kind: dpo, dpo: {{steps: 2, batch_size: 2, pairs_file: {PAIRS}, onpolicy_prompts: 8, group_size: 4}}}},"
    " {kind: sft, name: fusion, data: {generator_params: {no_think_fraction: 0.5}}}, {kind: eval}]",
]


@pytest.fixture
def ray_local():
    import ray

    yield
    ray.shutdown()


def _weights(checkpoint: str) -> dict:
    return load_file(str(Path(checkpoint) / "model.safetensors"))


def _changed(a: dict, b: dict) -> bool:
    return any(not a[k].equal(b[k]) for k in a)


def test_stages_chain_checkpoints_and_record_lineage(tmp_path, ray_local):
    from rl.loops.pipeline import run_pipeline

    out = tmp_path / "run"
    config = load_config(ROOT / "experiments/tiny_arith.yaml", TINY + STAGES + [f"run.out_dir={out}"])
    summary = run_pipeline(config)

    stages = summary["stages"]
    assert [s["stage"] for s in stages] == ["cold_start", "grpo", "dpo", "fusion", "eval"]
    for previous, stage in zip(stages, stages[1:]):
        assert stage["init"] == (previous["checkpoint"] or previous["init"])  # each stage starts where the last ended
    initial, cold, grpo, dpo, fusion = (_weights(s) for s in [stages[0]["init"]] + [s["checkpoint"] for s in stages[:4]])
    # SFT and DPO always move the weights (GRPO may not: an untrained policy's groups can all tie at 0).
    assert _changed(initial, cold) and _changed(grpo, dpo) and _changed(dpo, fusion)
    assert stages[2]["pairs_offline"] == 3 and math.isfinite(stages[2]["final_loss"])
    from rl.data.preferences import load_pairs

    mined_file = out / "stages" / "03_dpo" / "onpolicy_pairs.jsonl"
    mined = load_pairs(mined_file)  # kept, and readable as a pairs_file
    assert len(mined) == stages[2]["pairs_onpolicy"] <= 8  # at most one pair per sampled prompt
    for line in mined_file.read_text().splitlines():  # each mined pair is ranked by a real reward gap
        record = json.loads(line)
        assert record["chosen_reward"] > record["rejected_reward"]
    # The eval stage loads the fusion checkpoint from disk and must see what fusion saw in memory.
    assert stages[4]["eval_after"] == stages[3]["eval_after"]
    for mode in ("think", "no_think"):
        assert {f"eval/{mode}/accuracy", f"eval/{mode}/length"} <= set(stages[0]["eval_before"])

    manifest = json.loads((out / "manifest.json").read_text())
    assert list(manifest["stages"]) == ["cold_start", "grpo", "dpo", "fusion", "eval"]
    assert manifest["stages"]["fusion"]["data"] != manifest["stages"]["cold_start"]["data"]  # each stage's data hashed
    assert len(manifest["config"]["stages"]) == 5 and manifest["git"] is not None
    table = (out / "stages.md").read_text()
    assert table.count("\n") == 2 + 6 and "| fusion | sft |" in table  # header, rule, initial + 5 stages
    assert (out / "stages.png").stat().st_size > 0
    assert [row["after"] for row in summary["table"]] == ["initial", "cold_start", "grpo", "dpo", "fusion", "eval"]
    assert len((out / "stages" / "02_grpo" / "metrics.jsonl").read_text().splitlines()) == 3  # step 0 eval + 2 steps

    # --resume skips finished stages and reruns the one whose result is missing.
    (out / "stages" / "04_fusion" / "result.json").unlink()
    kept = (out / "stages" / "01_cold_start" / "result.json").stat().st_mtime_ns
    resumed = run_pipeline(load_config(ROOT / "experiments/tiny_arith.yaml",
                                       TINY + STAGES + [f"run.out_dir={out}", "run.resume=true"]))
    assert (out / "stages" / "01_cold_start" / "result.json").stat().st_mtime_ns == kept
    assert (out / "stages" / "04_fusion" / "result.json").exists()
    assert resumed["stages"][3]["eval_after"] == stages[3]["eval_after"]  # same seed, same start: same result


def test_a_failing_stage_names_itself_and_keeps_finished_ones(tmp_path, ray_local, capsys):
    from rl.loops.pipeline import run_pipeline

    out = tmp_path / "run"
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "What is 2 + 3?", "chosen": "5", "rejected": "6"}) + "\n")
    config = load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [
        f"run.out_dir={out}",
        f"stages=[{{kind: sft}}, {{kind: dpo, dpo: {{steps: 1, batch_size: 1, pairs_file: {pairs}}}}}]",
    ])
    pairs.unlink()  # vanishes between validation and the stage
    with pytest.raises(Exception, match="pairs.jsonl"):
        run_pipeline(config)
    assert "stopped in stage 'dpo'" in capsys.readouterr().out
    assert (out / "stages" / "01_sft" / "result.json").exists()


def test_resume_reruns_a_stage_whose_settings_changed(tmp_path, ray_local):
    from rl.loops.pipeline import run_pipeline

    out = tmp_path / "run"
    stages = [f"run.out_dir={out}", "run.resume=true", "stages=[{kind: sft, name: a}, {kind: sft, name: b}, {kind: eval}]"]
    first = run_pipeline(load_config(ROOT / "experiments/tiny_arith.yaml", TINY + stages))
    kept = (out / "stages" / "01_a" / "result.json").stat().st_mtime_ns
    second = run_pipeline(load_config(ROOT / "experiments/tiny_arith.yaml", TINY + stages + ["stages.b.sft.lr=0.5"]))
    assert (out / "stages" / "01_a" / "result.json").stat().st_mtime_ns == kept  # unchanged: skipped
    assert second["stages"][1]["config"] != first["stages"][1]["config"]  # b ran again with its new lr
    assert second["stages"][1]["final_loss"] != first["stages"][1]["final_loss"]
    assert second["stages"][2]["config"] != first["stages"][2]["config"]  # and so did eval, after the new b
