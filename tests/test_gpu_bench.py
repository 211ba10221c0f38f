"""benchmarks/gpu_grpo_bench.py stays runnable: its settings form valid configs, its summary keeps its
format, --memory delegates, and (slow) a whole --cpu --quick run ends with the summary line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_grpo_bench as bench  # noqa: E402
from _grpo_common import PHASES, SHAPES, load_bench_config  # noqa: E402

LAST_LINE = re.compile(r"^gpu_grpo_bench: (\S+ steps/s rlvr=\d+\.\d{3}( \w+=\d+\.\d{3})+ ratio=\d+\.\d\dx)( \| \S+ steps/s .* ratio=\d+\.\d\dx)*$")


def test_gpu_defaults_colocate_the_static_backend_in_a_valid_config(tmp_path):
    args = bench.parse([])
    assert (args.models, args.sides, args.rlvr_placement) == (["0.5b"], ["rlvr", "trl_bf16", "trl_amp"], "colocate")
    overrides = bench.rlvr_overrides(args)
    assert {"rollout.colocate=true", "learner.num_gpus=1", "rollout.backend=static"} <= set(overrides)
    config = load_bench_config(args, str(tmp_path), extra=SHAPES["0.5b"] + overrides)
    assert (config.rollout.backend, config.rollout.colocate, config.learner.num_gpus) == ("static", True, 1)
    assert (config.model.tiny_layers, config.model.tiny_hidden_size, config.learner.micro_batch_size) == (24, 896, 32)
    assert config.rollout.prompts_per_step * config.rollout.group_size == 128 and config.rollout.max_new_tokens == 64


def test_placement_backend_and_overrides_are_flags(tmp_path):
    args = bench.parse(["--rlvr-placement", "separate", "--rlvr-backend", "hf", "--rlvr-override", "rollout.weight_sync=object_store"])
    overrides = bench.rlvr_overrides(args)
    assert overrides[-1] == "rollout.weight_sync=object_store" and "rollout.backend=hf" in overrides
    config = load_bench_config(args, str(tmp_path), extra=overrides)
    assert (config.rollout.colocate, config.rollout.num_gpus, config.learner.num_gpus) == (False, 0.5, 0.5)
    worker = bench.parse(["--worker", "rlvr", "--out", "x", "--model-dir", "m", *bench.worker_argv(args, "m")[2:]])
    assert bench.rlvr_overrides(worker) == overrides  # a side's subprocess rebuilds the same overrides


def test_cpu_quick_is_two_steps_one_round_against_fp32_trl():
    args = bench.parse(["--cpu", "--quick"])
    assert (args.steps, args.rounds, args.models, args.sides, args.rlvr_placement) == (2, 1, ["tiny"], ["rlvr", "trl"], "separate")
    with pytest.raises(SystemExit):
        bench.parse(["--sides", "trl_bf16,trl_amp"])  # the ratio needs rlvr and TRL-bf16


def test_summary_line_format(capsys):
    def run(step_s: float) -> dict:
        return {"step_s": [step_s] * 3, "tokens": [8000] * 3, "phases_s": dict.fromkeys(PHASES, 0.1),
                "untimed_s": 1.0, "gpu_peak_mib": 2048}

    results = {"0.5b": {"rlvr": [run(0.5)], "trl_bf16": [run(2.0)], "trl_amp": [run(2.5)]},
               "1.5b": {"rlvr": [run(1.0)], "trl_bf16": [run(3.0)], "trl_amp": [run(4.0)]}}
    bench.report(results, reference="trl_bf16")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert LAST_LINE.match(last), last
    assert "0.5b steps/s rlvr=2.000 trl_bf16=0.500 trl_amp=0.400 ratio=4.00x" in last and last.endswith("ratio=3.00x")


def test_memory_delegates_to_gpu_memory_main(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "HERE", tmp_path)
    with pytest.raises(SystemExit, match="gpu_memory.py does not exist"):
        bench.main(["--memory", "--model", "0.5b"])
    (tmp_path / "gpu_memory.py").write_text("def main(argv):\n    print('memory map', argv)\n")
    bench.main(["--memory", "--model", "0.5b"])
    assert capsys.readouterr().out.strip() == "memory map ['--model', '0.5b']"


@pytest.mark.slow
def test_cpu_quick_run_ends_with_the_summary_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_grpo_bench.py"), "--cpu", "--quick", "--scratch", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.match(r"^gpu_grpo_bench: tiny steps/s rlvr=\d+\.\d{3} trl=\d+\.\d{3} ratio=\d+\.\d\dx$", last), last
    assert "round 1 rlvr" in proc.stdout and "round 1 trl" in proc.stdout
