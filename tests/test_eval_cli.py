"""`rlvr eval` on a tiny model built here, and ``evaluate_modes`` driven without Ray."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from rl.cli.eval_command import add_eval_command, prediction_paths
from rl.config import DataConfig, RolloutConfig
from rl.data.records import ScoredGroup, ScoredRollout, flatten
from rl.engine.policy import build_tiny_model
from rl.engine.rollout import RolloutWorker
from rl.loops.heldout import evaluate_modes
from verifiers.math import verify_math

SIZES = dict(hidden=32, intermediate=64, layers=1, heads=2, kv_heads=1, vocab_size=320, max_positions=128)
BENCH = [
    {"id": "a", "prompt": "What is 2 + 3?", "reference": "5"},
    {"id": "b", "prompt": [{"role": "user", "content": "What is 4 + 4? /no_think"}], "reference": "8"},
    {"id": "c", "prompt": "What is 1 + 6?", "reference": "7", "mode": "no_think", "source": "x"},
]
NO_THINK_END = "<think>\n\n</think>\n\n"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    texts = [r["prompt"] if isinstance(r["prompt"], str) else r["prompt"][0]["content"] for r in BENCH]
    model = build_tiny_model(tmp / "model", texts * 10 + ["<think>2 + 3 = 5</think> \\boxed{5}"], seed=0, **SIZES)
    path = tmp / "bench.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in BENCH))
    return model, path


def run_eval(*argv: str) -> tuple[int, str, str]:
    """The command through its own parser: rl.cli.main's COMMANDS list is the lead's to wire."""
    parser = argparse.ArgumentParser(prog="rlvr")
    add_eval_command(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = args.run(args)
    return code, out.getvalue(), err.getvalue()


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_eval_both_modes_writes_predictions_and_scores_them_as_rlvr_score(bench, tmp_path):
    model, path = bench
    output = tmp_path / "preds.jsonl"
    code, out, err = run_eval(
        "eval", str(model), str(path), "-o", str(output), "--samples", "2", "--temperature", "1.0",
        "--max-new-tokens", "6", "--mode", "both", "--workers", "1", "--batch-size", "2",
    )  # fmt: skip
    assert code == 0, err
    for mode, predictions in prediction_paths(output, "both"):
        records = read_jsonl(predictions)
        assert len(records) == 6  # 3 prompts x 2 samples
        assert [r["id"] for r in records] == ["a", "a", "b", "b", "c", "c"]
        assert {r["mode"] for r in records} == {mode}  # --mode pins every sample, over its data mode and switches
        assert {"prompt", "completion", "reference", "verifier", "num_tokens", "finished"} <= set(records[0])
        assert records[4]["source"] == "x" and records[2]["prompt"][0]["role"] == "user"
        scored = read_jsonl(predictions.with_name(predictions.stem + ".scored.jsonl"))
        assert [r["source_line"] for r in scored] == list(range(1, 7)) and all("verdict" in r for r in scored)
    assert out.count("pass@2") == 2 and out.count("maj@2") == 2  # one rlvr-score table per mode
    assert "== mode think ==" in out and "== mode no_think ==" in out


def test_eval_auto_mode_renders_each_sample_in_its_own_mode(bench, tmp_path):
    model, path = bench
    output = tmp_path / "preds.jsonl"
    code, out, err = run_eval("eval", str(model), str(path), "-o", str(output), "--max-new-tokens", "4", "--workers", "1", "--progress")
    assert code == 0, err
    assert [r["mode"] for r in read_jsonl(output)] == ["think", "no_think", "no_think"]  # default, /no_think, data
    assert "accuracy" in out and "pass@" not in out  # one sample each: no pass@k
    assert "generating preds.jsonl" in err and "scoring" in err  # --progress: both bars
    code, _, err = run_eval("eval", str(model), str(path), "-o", str(output), "--workers", "1")
    assert code == 2 and "--force" in err  # existing predictions are not overwritten silently


def test_eval_names_a_bad_benchmark_line(bench, tmp_path):
    model, _ = bench
    path = tmp_path / "bench.jsonl"
    path.write_text(json.dumps(BENCH[0]) + "\n" + json.dumps({**BENCH[1], "mode": "fast"}) + "\n")
    code, _, err = run_eval("eval", str(model), str(path), "-o", str(tmp_path / "p.jsonl"))
    assert code == 2 and f"{path}:2: 'mode' must be one of" in err


class InProcessCluster:
    """What evaluate needs of the Ray cluster: generate."""

    def __init__(self, worker: RolloutWorker):
        self.worker = worker

    def generate(self, prompts, num_samples, *, temperature, seed, enable_thinking=None, thinking_budget=None):
        return self.worker.generate(prompts, num_samples, temperature=temperature, seed=seed, enable_thinking=enable_thinking,
                                    thinking_budget=thinking_budget)


class MathScorer:
    def score(self, groups):
        return [ScoredGroup(g.prompt, tuple(ScoredRollout(r, verify_math(r.text, r.prompt.reference), 0.0, {}) for r in g.rollouts))
                for g in groups]

    def judge_counted_apart(self):
        return contextlib.nullcontext({})  # no judge: no judge counts


def test_evaluate_modes_reports_accuracy_and_length_per_mode(bench):
    model, path = bench
    from rl.data.prompts import load_prompts

    prompts = load_prompts(path, DataConfig())
    worker = RolloutWorker(str(model), DataConfig(), RolloutConfig(max_new_tokens=5))
    rendered = []
    cluster = InProcessCluster(worker)
    generate = cluster.generate
    cluster.generate = lambda prompts, *a, **k: rendered.append(generate(prompts, *a, **k)) or rendered[-1]
    metrics = evaluate_modes(cluster, MathScorer(), prompts, temperature=0.0, seed=0)
    for mode in ("think", "no_think"):
        assert 0.0 <= metrics[f"eval/{mode}/accuracy"] <= 1.0
        assert 1 <= metrics[f"eval/{mode}/length"] <= 5
    think, no_think = ([worker.tokenizer.decode(r.prompt_ids) for r in flatten(groups)] for groups in rendered)
    assert not any(t.endswith(NO_THINK_END) for t in think)  # pinned over "/no_think" and the data's mode
    assert all(t.endswith(NO_THINK_END) for t in no_think)


def test_eval_with_tools_writes_transcripts_that_score_on_their_last_turn(bench, tmp_path):
    model, path = bench
    output = tmp_path / "preds.jsonl"
    code, out, err = run_eval("eval", str(model), str(path), "-o", str(output), "--env", "tools", "--tools", "calculator",
                              "--max-turns", "2", "--max-new-tokens", "8")
    assert code in (0, 1), err  # an untrained model answers wrong: scored, not failed
    for record in read_jsonl(output):
        assert record["messages"][-1]["role"] == "assistant" and record["completion"] == record["messages"][-1]["content"] \
            or record["finish_reason"] in ("length", "max_turns", "token_cap")
        assert record["finish_reason"] in ("stop", "length", "max_turns", "token_cap") and "env_info" in record
    assert "accuracy" in out
    code, _, err = run_eval("eval", str(model), str(path), "-o", str(tmp_path / "x.jsonl"), "--env", "tools")
    assert code == 2 and "tools" in err  # the tools environment without a tool is refused, naming the setting


@pytest.mark.slow
def test_eval_judges_judge_records_with_the_judge_flags_and_checks_them_first(tmp_path):
    from tests.helpers.judge_server import StubJudgeServer, build_judge_model

    model = build_judge_model(tmp_path / "policy", reply="The answer is 5.")  # an answer to anything: nothing pre-filtered
    path = tmp_path / "judged.jsonl"
    path.write_text("".join(json.dumps({**r, "verifier": "judge"}) + "\n" for r in BENCH))
    with StubJudgeServer() as stub:
        code, _, err = run_eval("eval", str(model), str(path), "-o", str(tmp_path / "preds.jsonl"), "--mode", "no_think",
                                "--max-new-tokens", "12", "--judge-base-url", stub.base_url, "--judge-model", "stub-judge")
    assert code == 0, err
    scored = read_jsonl(tmp_path / "preds.scored.jsonl")
    assert [r["completion"] for r in scored] == ["The answer is 5."] * 3
    assert stub.requests == 3 and [r["verdict"]["reason"] for r in scored] == ["judge: VERDICT: YES"] * 3
    code, _, err = run_eval("eval", str(model), str(path), "-o", str(tmp_path / "other.jsonl"),
                            "--judge-backend", "local", "--judge-model", str(tmp_path / "no_judge"))
    assert code == 2 and "judge.model cannot be loaded by backend local" in err and "no_judge" in err
    assert not (tmp_path / "other.jsonl").exists()  # refused before sampling anything
