"""Pipeline pieces without Ray: stage configs, cold-start transcripts, fusion data, export, the stage report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl.cli.data_command import prompt_record
from rl.config import ConfigError, DataConfig
from rl.config.loader import load_config
from rl.config.stages import stage_config
from rl.data.prompts import DataError, load_prompts, record_to_prompt
from rl.data.tasks import arithmetic, corpus
from rl.engine.policy import build_tiny_model
from rl.loops.sft import sft_sequences
from rl.runs.stage_report import budget_table, markdown_table, stage_rows

ROOT = Path(__file__).resolve().parent.parent

PIPELINE = """\
name: p
sft: {steps: 5, lr: 1.0e-3}
run: {out_dir: runs/p, total_steps: 7}
stages:
  - {kind: sft, name: cold_start, sft: {steps: 9}, data: {train_file: cold.jsonl}}
  - {kind: grpo, run: {total_steps: 3}, rewards: {components: [{name: correct, kind: verifier, weight: 1.0}]}}
  - {kind: sft, name: fusion, data: {generator_params: {no_think_fraction: 0.5}}}
  - {kind: eval}
"""


@pytest.fixture
def pipeline(tmp_path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(PIPELINE)
    return path


def test_a_stage_runs_on_the_experiment_with_its_sections_merged_in(pipeline):
    config = load_config(pipeline)
    cold, grpo, fusion, final = (stage_config(config, i) for i in range(4))
    assert (cold.sft.steps, cold.sft.lr, cold.data.train_file) == (9, 1e-3, "cold.jsonl")  # lr kept from the experiment
    assert grpo.run.total_steps == 3 and [c.name for c in grpo.rewards.components] == ["correct"]  # a list is replaced
    assert fusion.data.generator_params == {"no_think_fraction": 0.5} and fusion.sft.steps == 5
    assert final.run.total_steps == 7 and not final.stages
    assert [c.run.out_dir for c in (cold, final)] == ["runs/p/stages/01_cold_start", "runs/p/stages/04_eval"]


def test_stages_are_addressed_by_name_or_kind_on_the_command_line(pipeline):
    config = load_config(pipeline, ["stages.grpo.run.total_steps=11", "stages.cold_start.sft.lr=0.5"])
    assert stage_config(config, 1).run.total_steps == 11 and stage_config(config, 0).sft.lr == 0.5


@pytest.mark.parametrize("override, expected", [
    ("stages.cold_start.sft.stepz=3", r"stages\.0, stage 'cold_start'.*unknown key 'sft\.stepz'; did you mean 'sft\.steps'"),
    ("stages.grpo.run.total_steps=-1", r"stages\.1, stage 'grpo'.*run\.total_steps must be >= 0"),
    ("stages.0.kind=sfd", r"stages\.0\.kind must be a registered stage kind \(dpo, eval, grpo, sft\); got 'sfd'; did you mean 'sft'"),
    ("stages.eval.run.out_dir=x", r"cannot set out_dir in a stage"),
    ("stages.fusion.name=cold_start", r"names must be unique.*cold_start"),
    ("stages.eval.model.path=x", r"unknown key 'stages\.eval\.model\.path'"),
])
def test_a_bad_stage_fails_at_load_naming_it(pipeline, override, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(pipeline, [override])


def test_eval_modes_and_batch_sizes_are_checked():
    with pytest.raises(ConfigError, match="eval_modes.*'thinking'"):
        load_config(None, ["run.eval_modes=[thinking]"])
    with pytest.raises(ConfigError, match=r"dpo\.batch_size \(1\) must be at least learner\.num_learners \(2\)"):
        load_config(None, ["learner.num_learners=2", "dpo.batch_size=1"])


# ---------------------------------------------------------------- cold-start transcripts


def test_a_transcript_ending_with_an_assistant_turn_is_an_sft_example(tmp_path):
    record = {"messages": [{"role": "user", "content": "2 + 3?"}, {"role": "assistant", "content": "<think>5</think> \\boxed{5}"}]}
    prompt = record_to_prompt(record, "f.jsonl:1", DataConfig())
    assert prompt.messages == (("user", "2 + 3?"),) and prompt.solution == "<think>5</think> \\boxed{5}"
    assert prompt.reference == ""  # SFT-only records need no reference
    with pytest.raises(DataError, match=r"f\.jsonl:1: both 'solution' and a final assistant turn"):
        record_to_prompt({**record, "solution": "x"}, "f.jsonl:1", DataConfig())
    with pytest.raises(DataError, match=r"f\.jsonl:2: the conversation is only an assistant turn"):
        record_to_prompt({"messages": record["messages"][1:]}, "f.jsonl:2", DataConfig())
    with pytest.raises(DataError, match="missing required key 'reference'"):
        record_to_prompt({"prompt": "2 + 3?"}, "f.jsonl:3", DataConfig())  # an RL prompt still needs one


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from rl.engine.policy import load_tokenizer

    train, held_out = arithmetic(40, 4, seed=0, no_think_fraction=0.5)
    path = build_tiny_model(tmp_path_factory.mktemp("tiny"), corpus(train + held_out), hidden=32, intermediate=64,
                            layers=1, heads=2, kv_heads=1, vocab_size=320, max_positions=128)
    return load_tokenizer(path)


def test_sft_targets_are_the_assistant_turn_and_no_think_does_not_repeat_the_prefill(tokenizer):
    data = DataConfig()
    think = record_to_prompt({"messages": [{"role": "user", "content": "What is 2 + 3?"},
                                            {"role": "assistant", "content": "<think>2+3: 2+3=5, so 5</think> The answer is \\boxed{5}."}]}, "a", data)
    no_think = record_to_prompt({"mode": "no_think", "messages": [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "<think>\n\n</think>\n\nThe answer is \\boxed{5}."}]}, "b", data)
    (a, b) = sft_sequences([think, no_think], tokenizer, data)
    decode = lambda ids: tokenizer.decode(list(ids), skip_special_tokens=False)  # noqa: E731
    assert decode(a.prompt_ids).endswith("<|im_start|>assistant\n") and decode(a.completion_ids).startswith("<think>2+3")
    assert decode(b.prompt_ids).endswith("<think>\n\n</think>\n\n")  # the template pre-fills the empty block...
    assert decode(b.completion_ids) == "The answer is \\boxed{5}.<|im_end|>"  # ...so the target is the answer alone


def test_fusion_data_mixes_modes_over_the_same_problems():
    plain, plain_heldout = arithmetic(200, 20, seed=3)
    mixed, mixed_heldout = arithmetic(200, 20, seed=3, no_think_fraction=0.5, no_think_format="{work}. So \\boxed{{{answer}}}.")
    assert [p.id for p in plain + plain_heldout] == [p.id for p in mixed + mixed_heldout]  # no held-out leak
    modes = [p.mode for p in mixed]
    assert 70 < modes.count("no_think") < 130 and modes.count("think") + modes.count("no_think") == 200
    for before, after in zip(plain, mixed):
        if after.mode == "think":
            assert after.solution == before.solution
        else:
            assert "<think>" not in after.solution and after.solution.endswith(f"So \\boxed{{{after.reference}}}.")
    assert all(p.mode is None for p in plain)


def test_the_bundled_cold_start_file_is_the_default_task_and_never_a_held_out_problem():
    config = load_config(ROOT / "experiments/tiny_pipeline.yaml")
    cold = stage_config(config, 0)
    cold_start = load_prompts(ROOT / cold.data.train_file, cold.data)
    heldout = arithmetic(config.data.n_train, config.data.n_eval, config.data.seed, **config.data.generator_params)[1]
    assert len(cold_start) == 2000 and all(p.solution and p.messages for p in cold_start)
    assert not {p.id for p in cold_start} & {p.id for p in heldout}


# ---------------------------------------------------------------- export


@pytest.mark.parametrize("chat", [False, True])
def test_exported_records_read_back_as_the_same_prompts(tmp_path, chat):
    train, _ = arithmetic(30, 3, seed=1, no_think_fraction=0.3)
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(prompt_record(p, chat=chat)) + "\n" for p in train))
    back = load_prompts(path, DataConfig())
    if chat:  # a text prompt comes back as its one user turn: the same chat, the same rendered prompt
        assert [(p.chat(), p.solution, p.mode, p.reference) for p in back] == [(p.chat(), p.solution, p.mode, p.reference) for p in train]
    else:
        assert back == train


def test_rlvr_data_export_cli(tmp_path):
    from rl.cli.main import main

    out = tmp_path / "bench.jsonl"
    assert main(["data", "export", str(ROOT / "experiments/tiny_arith.yaml"), "data.n_eval=7", "--split", "heldout", "-o", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 7 and {"id", "prompt", "reference", "verifier", "solution"} <= set(records[0])
    assert main(["data", "export", str(ROOT / "experiments/tiny_arith.yaml"), "data.n_eval=-1", "-o", str(out)]) == 2


# ---------------------------------------------------------------- the stage report


def test_stage_rows_show_what_each_stage_gained():
    def ev(think, no_think):
        return {"eval/think/accuracy": think, "eval/think/length": 30.0, "eval/no_think/accuracy": no_think,
                "eval/no_think/length": 10.0}

    results = [{"stage": "cold", "kind": "sft", "eval_after": ev(0.3, 0.0)},
               {"stage": "grpo", "kind": "grpo", "eval_after": ev(0.5, 0.05)}]
    rows = stage_rows(ev(0.0, 0.0), results, ["think", "no_think"])
    assert [r["after"] for r in rows] == ["initial", "cold", "grpo"] and "gain" not in rows[0]
    assert rows[2]["gain"]["think"] == pytest.approx(0.2) and rows[2]["gain"]["no_think"] == pytest.approx(0.05)
    table = markdown_table(rows, ["think", "no_think"])
    assert "| grpo | grpo | 50.0% | +20.0 | 30.0 | 5.0% | +5.0 | 10.0 |" in table


def test_budget_table_shows_accuracy_by_budget_and_the_training_budget():
    def ev(at8, none):
        return {"eval/budget_8/accuracy": at8, "eval/budget_8/thinking_tokens": 8.0,
                "eval/budget_none/accuracy": none, "eval/budget_none/thinking_tokens": 27.4}

    results = [{"stage": "fusion", "kind": "sft", "thinking_budget": None, "eval_after": ev(0.2, 0.7)},
               {"stage": "budget_rl", "kind": "grpo", "thinking_budget": 8, "eval_after": ev(0.45, 0.71)}]
    table = budget_table(None, results, [8, None])
    assert "| after | kind | trained under budget | budget 8 | budget none |" in table
    assert "| budget_rl | grpo | 8 | 45.0% (8) | 71.0% (27) |" in table and "| fusion | sft | - | 20.0% (8) | 70.0% (27) |" in table


def test_dry_run_checks_budgets_against_max_new_tokens_and_the_context():
    from rl.cli.dry_run import dry_run

    path = str(ROOT / "experiments/tiny_arith.yaml")
    lines = dry_run(load_config(path, ["rollout.thinking_budget=16"]))
    assert any("thinking budgets 16 (inject); up to" in line and "of 512 context tokens" in line for line in lines)
    with pytest.raises(ValueError, match="never fires"):
        dry_run(load_config(path, ["rollout.thinking_budget=64", "rollout.max_new_tokens=64"]))
    with pytest.raises(ValueError, match="context length 256"):
        dry_run(load_config(path, ["run.eval_thinking_budgets=[8, null]", "model.tiny_max_positions=256"]))
