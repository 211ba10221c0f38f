"""The bundled tiny experiments, run in full as the README quotes them: each stage must gain.

These are the claims of experiments/*.yaml (seed 0, CPU): slow by design, the margins wide
(the smallest gain asserted is well under half the smallest gain seen over seeds 0-2).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from rl.config.loader import load_config

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ray_local():
    import ray

    yield
    ray.shutdown()


# CI's 45 minutes: no mid-run evals (each stage's final eval is what is asserted; the evals change no training step,
# whose samples depend only on seed, step and weights).
CI_OVERRIDES = ("run.eval_every=0",)


def _gains(summary: dict) -> dict[str, dict[str, float]]:
    return {row["after"]: row["gain"] for row in summary["table"] if "gain" in row}


def test_tiny_pipeline_every_stage_gains(tmp_path, ray_local):
    from rl.loops.pipeline import run_pipeline

    # The budget sweep after every stage (run.eval_thinking_budgets) is left out here: it changes no gain asserted
    # below and would add 50 evaluations; tests/test_stages.py checks its table. The budget stage runs 10 of its
    # 60 steps: nothing below measures it (its gain is README's 3-seed figure), it must only run and hand on its model.
    config = load_config(ROOT / "experiments/tiny_pipeline.yaml", [f"run.out_dir={tmp_path}", "run.eval_thinking_budgets=[]",
                                                                   "stages.budget_rl.run.total_steps=10", *CI_OVERRIDES])
    summary = run_pipeline(config)
    gains = _gains(summary)
    assert gains["cold_start"]["think"] >= 0.10  # seeds 0-2: +29, +33, +33 points
    assert gains["grpo"]["think"] >= 0.05  # +35, +22, +15
    assert gains["fusion"]["no_think"] >= 0.20  # +71, +39, +54: non-thinking answers learnt
    assert gains["eval"] == {"think": 0.0, "no_think": 0.0}  # reloaded from disk, it scores as it did in memory
    assert (tmp_path / "stages.png").stat().st_size > 0 and (tmp_path / "stages.md").exists()


def test_tiny_lora_grpo_gains_with_adapters_only(tmp_path, ray_local):
    from rl.engine.lora import is_adapter_dir
    from rl.loops.pipeline import run_pipeline

    # CI runs 100 of the 150 GRPO steps (constant learning rate: the same steps as the full run's first 100;
    # seed 0 on a quiet box: +14 at step 25, +38 at 100, +21 at 150).
    summary = run_pipeline(load_config(ROOT / "experiments/tiny_lora.yaml", [f"run.out_dir={tmp_path}", *CI_OVERRIDES,
                                                                             "stages.grpo_lora.run.total_steps=100"]))
    gains = _gains(summary)
    assert gains["cold_start"]["all"] >= 0.10  # seeds 0-1: +29, +33 points (full SFT)
    assert gains["grpo_lora"]["all"] >= 0.08  # +21, +23 after 150 steps: rank-16 adapters on the frozen SFT result
    assert is_adapter_dir(summary["final_checkpoint"])


# CI's 45 minutes: tiny_general's code domain runs the same task, verifier and sandbox in RL and must gain there,
# so this 8-minute run is left to RLVR_ALL_EXPERIMENTS=1 (README's figures for tiny_code are its 3-seed runs).
ALL_EXPERIMENTS = os.environ.get("RLVR_ALL_EXPERIMENTS") == "1"


@pytest.mark.docker
@pytest.mark.skipif(not ALL_EXPERIMENTS, reason="covered in CI by tiny_general's code domain; RLVR_ALL_EXPERIMENTS=1 runs it")
def test_tiny_code_grpo_gains_with_the_sandbox_in_the_loop(tmp_path, ray_local):
    from rl.loops.grpo import train
    from tests.sandbox_support import docker_sandbox_or_skip

    docker_sandbox_or_skip(size=1).close()  # skip (or fail under RLVR_REQUIRE_DOCKER) before starting Ray
    summary = train(load_config(ROOT / "experiments/tiny_code.yaml", [f"run.out_dir={tmp_path}"]))
    assert summary["heldout_accuracy_before_rl"] - summary["heldout_accuracy_initial"] >= 0.2  # seeds 0-2: +48, +65, +46 points
    assert summary["heldout_accuracy_after_rl"] - summary["heldout_accuracy_before_rl"] >= 0.05  # +15.3, +5.5, +3.3 (seed 0 runs here)


def test_tiny_tools_grpo_gains_with_the_calculator_in_the_loop(tmp_path, ray_local):
    from rl.loops.pipeline import run_pipeline

    summary = run_pipeline(load_config(ROOT / "experiments/tiny_tools.yaml", [f"run.out_dir={tmp_path}", *CI_OVERRIDES]))
    gains = _gains(summary)
    assert gains["cold_start"]["all"] >= 0.20  # seeds 0-2: +42, +51, +69 points
    assert gains["grpo"]["all"] >= 0.08  # +22, +1, +11 (seed 0 runs here): RL with the tool in the loop
    assert gains["no_tools"]["all"] <= -0.30  # the same model without tools cannot multiply
    grpo = json.loads((tmp_path / "stages" / "02_grpo" / "result.json").read_text())["eval_after"]
    assert grpo["eval/well_formed_calls"] >= 0.95 and grpo["eval/tool_calls"] >= 0.5


def test_tiny_general_every_domain_gains_after_general_rl(tmp_path, ray_local, tiny_judge_build):
    from rl.loops.judge_build import judge_checkpoint
    from rl.loops.pipeline import run_pipeline
    from tests.sandbox_support import docker_sandbox_or_skip

    docker_sandbox_or_skip(size=1).close()  # the code domain runs in the sandbox
    # The judge: the quick build (the session's, also served on loopback in tests/test_judge.py), held by a Ray actor.
    config = load_config(ROOT / "experiments/tiny_general.yaml",
                         [f"run.out_dir={tmp_path}", f"judge.model={judge_checkpoint(tiny_judge_build)}",
                          *CI_OVERRIDES])
    summary = run_pipeline(config)
    general = summary["stages"][1]
    before, after = summary["stages"][0]["eval_after"], general["eval_after"]
    gains = {d: after[f"eval/accuracy/{d}"] - before[f"eval/accuracy/{d}"] for d in config.data.mixture}
    assert before["eval/accuracy"] - summary["eval_initial"]["eval/accuracy"] >= 0.2, gains  # the cold start: +41 (seed 0)
    # One seed, 50 problems a domain: a domain's score moves by chance by about 7 points (one standard error of
    # the change), and the same seed lands differently on another CPU. So CI asserts what one run can show
    # without flaking: the mixture gains on average, at least 4 of 5 domains rise and none falls by more than 5
    # problems. "Every domain rises" is the 3-seed claim in README (tiny_general's own runs).
    # Seed 0, quick judge, equal domain weights: +24, +6.5, +6, +16, +16 on one machine; +16, -4, +3, +8, +14 on another.
    # With code and instructions at weight 1.5 (the yaml now): +12, +4.5, +6, +8, +20 in a clean-checkout CI run.
    assert sum(gains.values()) / len(gains) >= 0.05, gains
    assert sum(gain > 0 for gain in gains.values()) >= 4 and min(gains.values()) >= -0.1, gains
    # The judged domain went to the judge (its final eval is mostly answered from the run's judge cache).
    asked = sum(after.get(f"eval/judge/{count}", 0) for count in ("requests", "cache_hits", "duplicates", "prefiltered"))
    assert after["eval/unjudged/judged"] == 0 and asked == 50
    assert "| after | kind | math | code | instructions | tool_calls | judged |" in (tmp_path / "stages.md").read_text()
