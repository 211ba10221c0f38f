"""`rlvr eval --thinking-budgets`: one scored predictions file per budget, a table, a plot, deterministic."""
from __future__ import annotations

import argparse
import json

import pytest

from rl.cli.budget_sweep import budget_path, parse_budgets
from rl.engine.policy import build_tiny_model
from tests.test_eval_cli import BENCH, SIZES, read_jsonl, run_eval


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A tiny model and a three-prompt benchmark (as tests/test_eval_cli.py builds them)."""
    tmp = tmp_path_factory.mktemp("sweep")
    texts = [r["prompt"] if isinstance(r["prompt"], str) else r["prompt"][0]["content"] for r in BENCH]
    model = build_tiny_model(tmp / "model", texts * 10 + ["<think>2 + 3 = 5</think> \\boxed{5}"], seed=0, **SIZES)
    path = tmp / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in BENCH))
    return model, path


def test_parse_budgets():
    assert parse_budgets("0,16, none") == [0, 16, None]
    for bad in ("8,x", "8,8", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_budgets(bad)


def test_a_budget_sweep_tabulates_accuracy_lengths_and_hits_per_budget(bench, tmp_path):
    model, path = bench
    output = tmp_path / "preds.jsonl"
    args = ("eval", str(model), str(path), "-o", str(output), "--thinking-budgets", "0,2,none", "--max-new-tokens", "12",
            "--answer-budget", "4", "--temperature", "1.0", "--seed", "3")
    code, out, _ = run_eval(*args)
    assert code == 0
    rows = json.loads((tmp_path / "preds.budgets.json").read_text())
    assert [r["budget"] for r in rows] == ["0", "2", "none"]
    for row in rows:
        assert 0 <= row["ci_low"] <= row["accuracy"] <= row["ci_high"] <= 1 and row["samples"] == 3
    assert rows[-1]["budget_hit"] == 0  # no budget, no cut
    for label, row in zip(("0", "2"), rows):
        records = read_jsonl(budget_path(output, label))
        assert all(r["mode"] == "think" for r in records)
        assert all(r["thinking_tokens"] <= int(label) for r in records if r["budget_hit"])
        assert row["budget_hit"] == sum(r["budget_hit"] for r in records) / len(records)
        assert (budget_path(output, label).with_suffix(".scored.jsonl")).exists()
    assert "| budget | accuracy | 95% CI |" in out and (tmp_path / "budgets.png").stat().st_size > 0
    assert "| none |" in (tmp_path / "preds.budgets.md").read_text()
    first = [read_jsonl(budget_path(output, label)) for label in ("0", "2")]
    assert run_eval(*args)[0] == 2  # the files exist: --force to overwrite
    assert run_eval(*args, "--force")[0] == 0  # the same seed: the same samples
    assert [read_jsonl(budget_path(output, label)) for label in ("0", "2")] == first


def test_a_budget_sweep_refuses_non_thinking_mode(bench, tmp_path):
    model, path = bench
    code, _, err = run_eval("eval", str(model), str(path), "-o", str(tmp_path / "p.jsonl"), "--thinking-budgets", "4",
                            "--mode", "no_think")
    assert code == 2 and "thinking mode" in err


def test_heldout_evals_add_one_block_per_budget(bench):
    from rl.config import DataConfig, RolloutConfig
    from rl.data.prompts import load_prompts
    from rl.engine.rollout import RolloutWorker
    from rl.engine.thinking_budget import ThinkingBudget
    from rl.loops.heldout import evaluate_heldout
    from tests.test_eval_cli import InProcessCluster, MathScorer

    model, path = bench
    worker = RolloutWorker(str(model), DataConfig(), RolloutConfig(max_new_tokens=8))
    budgets = [ThinkingBudget(0, answer_tokens=3), ThinkingBudget(None)]
    metrics = evaluate_heldout(InProcessCluster(worker), MathScorer(), load_prompts(path, DataConfig()), temperature=0.0,
                               seed=0, modes=("think",), budgets=budgets)
    assert {"eval/think/accuracy", "eval/budget_0/accuracy", "eval/budget_none/accuracy"} <= set(metrics)
    assert metrics["eval/budget_none/budget_hit"] == 0.0
    assert metrics["eval/budget_none/accuracy"] == metrics["eval/think/accuracy"]  # no budget: the same greedy samples
