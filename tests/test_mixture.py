"""data.mixture: several domains in one stage — config, loading, per-step draws, per-domain rewards and metrics."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from rl.config import ConfigError
from rl.config.loader import load_config
from rl.config.stages import stage_config
from rl.data.mixture import MixtureSchedule
from rl.data.prompts import load_splits
from rl.data.records import Prompt, Rollout, ScoredRollout
from rl.engine.scorer import RolloutScorer, domain_metrics
from rl.runs.stage_report import domain_table
from verifiers.verdict import Verdict

MIXTURE = """\
data:
  mixture:
    sums:
      generator: arithmetic
      weight: 3
      n_train: 60
      n_eval: 10
    calls:
      generator: tool_arithmetic
      weight: 1
      n_train: 40
      n_eval: 8
      mode: no_think
      rewards:
        - {name: correct, kind: verifier, weight: 1.0}
        - {name: length, kind: length, weight: 0.0}
"""


@pytest.fixture
def mixture_yaml(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text(MIXTURE)
    return path


def test_domains_load_tagged_with_prefixed_ids_and_their_own_mode(mixture_yaml):
    config = load_config(mixture_yaml)
    train, heldout = load_splits(config.data)
    assert Counter(p.domain for p in train) == {"sums": 60, "calls": 40}
    assert Counter(p.domain for p in heldout) == {"sums": 10, "calls": 8}
    assert all(p.id.startswith(f"{p.domain}/") for p in train + heldout)
    assert len({p.id for p in train + heldout}) == 118
    assert {p.mode for p in train if p.domain == "calls"} == {"no_think"}
    assert {p.mode for p in train if p.domain == "sums"} == {None}  # no domain mode: the data section decides


def test_a_domain_verifier_overrides_the_records_own(mixture_yaml):
    config = load_config(mixture_yaml, ["data.mixture.sums.verifier=tests.helpers.toy_verifiers:exact"])
    train, _ = load_splits(config.data)
    assert {p.verifier for p in train if p.domain == "sums"} == {"tests.helpers.toy_verifiers:exact"}
    assert {p.verifier for p in train if p.domain == "calls"} == {"math"}


def test_a_domain_reads_files_with_the_data_sections_field_names(tmp_path):
    rows = [{"q": f"{i} + 1?", "answer": str(i + 1)} for i in range(5)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "eval.jsonl").write_text(json.dumps({"q": "9 + 1?", "answer": "10"}) + "\n")
    (tmp_path / "mix.yaml").write_text(
        "data:\n  prompt_field: q\n  reference_field: answer\n  mixture:\n"
        f"    files: {{train_file: {tmp_path / 'train.jsonl'}, eval_file: {tmp_path / 'eval.jsonl'}}}\n"
        "    sums: {generator: arithmetic, n_train: 3, n_eval: 2}\n")
    train, heldout = load_splits(load_config(tmp_path / "mix.yaml").data)
    assert [p.reference for p in train if p.domain == "files"] == ["1", "2", "3", "4", "5"]
    assert [(p.domain, p.reference) for p in heldout][0] == ("files", "10")
    assert len(train) == 8 and len(heldout) == 3


@pytest.mark.parametrize("override, message", [
    ("data.mixture.sums.weight=0", "data.mixture.sums.weight must be > 0"),
    ("data.mixture.sums.train_file=x.jsonl", "data.mixture.sums.generator or train_file: set exactly one"),
    ("data.mixture.sums.mode=nothink", "did you mean 'no_think'"),
    ("data.mixture.sums.wieght=2", "did you mean 'data.mixture.sums.weight'"),
    ("data.mixture.calls.rewards=[]", None),  # empty: the experiment's components, valid
])
def test_domain_config_errors_name_the_domains_key(mixture_yaml, override, message):
    if message is None:
        assert load_config(mixture_yaml, [override]).data.mixture["calls"].rewards == ()
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(mixture_yaml, [override])


def test_a_domain_name_with_a_slash_is_refused(tmp_path):
    (tmp_path / "mix.yaml").write_text("data:\n  mixture:\n    a/b: {generator: arithmetic}\n")
    with pytest.raises(ConfigError, match="without '/'"):
        load_config(tmp_path / "mix.yaml")


def test_a_stage_changes_one_domain_and_keeps_the_others(mixture_yaml, tmp_path):
    text = mixture_yaml.read_text() + "stages:\n  - kind: sft\n  - kind: grpo\n    data: {mixture: {calls: {weight: 5}}}\n"
    (tmp_path / "staged.yaml").write_text(text)
    config = load_config(tmp_path / "staged.yaml")
    grpo = stage_config(config, 1).data.mixture
    assert grpo["calls"].weight == 5 and grpo["calls"].mode == "no_think" and grpo["sums"].weight == 3
    assert stage_config(config, 0).data.mixture["calls"].weight == 1


def _prompts(domain: str, n: int) -> list[Prompt]:
    return [Prompt(f"{domain}/{i}", None, f"{domain} {i}", "1", domain=domain) for i in range(n)]


def test_the_schedule_draws_domains_by_weight_and_is_a_function_of_the_step(mixture_yaml):
    mixture = load_config(mixture_yaml).data.mixture
    prompts = _prompts("sums", 300) + _prompts("calls", 200)
    schedule = MixtureSchedule(prompts, mixture, per_step=16, seed=7)
    counts = Counter(p.domain for step in range(200) for p in schedule.batch(step))
    assert 0.70 < counts["sums"] / sum(counts.values()) < 0.80  # weights 3:1 -> 75%
    again = MixtureSchedule(prompts, mixture, per_step=16, seed=7)
    assert [p.id for p in again.batch(41)] == [p.id for p in schedule.batch(41)]  # resume needs no data state
    assert [p.id for p in MixtureSchedule(prompts, mixture, 16, seed=8).batch(41)] != [p.id for p in schedule.batch(41)]


def test_the_schedule_repeats_no_prompt_of_a_domain_within_its_epoch(mixture_yaml):
    mixture = load_config(mixture_yaml).data.mixture
    schedule = MixtureSchedule(_prompts("sums", 64) + _prompts("calls", 64), mixture, per_step=16, seed=0)
    drawn = [p.id for step in range(4) for p in schedule.batch(step)]  # 64 slots: the first epoch of each domain
    assert len(drawn) == len(set(drawn))


def test_the_schedule_refuses_a_domain_without_prompts(mixture_yaml):
    with pytest.raises(ValueError, match="no training prompts in domain"):
        MixtureSchedule(_prompts("sums", 4), load_config(mixture_yaml).data.mixture, per_step=4, seed=0)


def _rollout(prompt: Prompt, text: str) -> Rollout:
    return Rollout(prompt, (1, 2), (3, 4, 5), text, (), True, 0)


def test_each_domain_is_rewarded_by_its_own_components(mixture_yaml):
    config = load_config(mixture_yaml)
    sums = Prompt("sums/0", None, "1 + 1?", "2", domain="sums")
    calls = Prompt("calls/0", None, "1 + 1?", "2", domain="calls")
    text = "<think>1+1=2</think> \\boxed{2}"
    scorer = RolloutScorer(config, workers=1)
    try:
        own, shared = scorer._score_all([_rollout(calls, text), _rollout(sums, text)])
    finally:
        scorer.close()
    assert set(own.components) == {"correct", "length"} and own.reward == 1.0
    assert set(shared.components) == {"correct", "format", "length"} and shared.reward == pytest.approx(1.1)


def _scored(domain: str, score: float, status: str = "ok") -> ScoredRollout:
    prompt = Prompt(f"{domain}/x", None, "q", "1", domain=domain)
    return ScoredRollout(_rollout(prompt, "a"), Verdict(score, status), score * 2, {})


def test_domain_metrics_average_judged_samples_per_domain():
    samples = [_scored("a", 1.0), _scored("a", 0.0), _scored("a", 0.0, "timeout"), _scored("b", 1.0)]
    metrics = domain_metrics(samples, "train")
    assert metrics == {"train/unjudged/a": pytest.approx(1 / 3), "train/accuracy/a": 0.5, "train/reward/a": 1.0,
                       "train/unjudged/b": 0.0, "train/accuracy/b": 1.0, "train/reward/b": 2.0}
    assert domain_metrics([replace(s, rollout=replace(s.rollout, prompt=replace(s.rollout.prompt, domain=""))) for s in samples],
                          "train") == {}


def test_the_stage_report_has_a_line_per_stage_and_a_column_per_domain():
    initial = {"eval/accuracy/math": 0.2, "eval/accuracy/code": 0.5}
    results = [{"stage": "cold_start", "kind": "sft", "eval_after": {"eval/accuracy/math": 0.4, "eval/accuracy/code": 0.5}},
               {"stage": "general", "kind": "grpo", "eval_after": {"eval/accuracy/math": 0.55, "eval/accuracy/code": 0.75}}]
    table = domain_table(initial, results).splitlines()
    assert table[2] == "| after | kind | math | code |"
    assert table[4] == "| initial | - | 20.0% | 50.0% |"
    assert table[6] == "| general | grpo | 55.0% (+15.0) | 75.0% (+25.0) |"
    assert domain_table(None, [{"stage": "s", "kind": "sft", "eval_after": {"eval/accuracy": 0.3}}]) == ""


def test_rlvr_score_reports_accuracy_per_domain(tmp_path):
    from rl.cli import main

    rows = [("math", "\\boxed{2}", "2"), ("math", "\\boxed{3}", "2"), ("code", "\\boxed{5}", "5"), ("", "\\boxed{1}", "1")]
    lines = [{"id": i, "completion": c, "reference": r, **({"domain": d} if d else {})} for i, (d, c, r) in enumerate(rows)]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = tmp_path / "summary.json"
    assert main(["score", str(preds), "--workers", "1", "--summary-json", str(summary)]) == 0
    figures = json.loads(summary.read_text())
    assert figures["accuracy"]["value"] == 0.75
    assert {d: e["value"] for d, e in figures["accuracy_by_domain"].items()} == {"code": 1.0, "math": 0.5}
