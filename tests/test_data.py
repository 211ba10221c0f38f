"""Prompt datasets (JSONL, parquet) and the generated arithmetic task."""
from __future__ import annotations

import json

import pytest

from rl.config import DataConfig
from rl.data.prompts import DataError, load_prompts, load_splits
from rl.data.records import Prompt
from rl.data.tasks import TaskError, arithmetic, corpus, generate

RECORDS = [
    {"id": "a", "prompt": "What is 2 + 3?", "reference": "5", "solution": "<think>2 + 3 = 5</think> \\boxed{5}"},
    {"prompt": [{"role": "user", "content": "What is 4 - 1?"}], "reference": 3},
    {"id": 7, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Add 1 and 1."}],
     "reference": "2", "verifier": "code", "tests": ["assert f() == 2"], "entry_point": "f"},
]
CFG = DataConfig(system_prompt=None)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def check_records(prompts, source_name):
    first, second, third = prompts
    assert first == Prompt("a", None, "What is 2 + 3?", "5", "math", {}, "<think>2 + 3 = 5</think> \\boxed{5}")
    assert second.messages == (("user", "What is 4 - 1?"),) and second.text is None
    assert second.reference == "3"  # numbers become text, as the verifier reads them
    assert second.id == f"{source_name}2"  # no id: its place in the file
    assert third.id == "7" and third.verifier == "code"
    assert third.messages[0] == ("system", "Be brief.")
    assert third.fields == {"tests": ["assert f() == 2"], "entry_point": "f"}  # the rest goes to the verifier


def test_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", RECORDS)
    check_records(load_prompts(path, CFG), "train.jsonl:")


def test_jsonl_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n" + json.dumps(RECORDS[1]) + "\n\n")
    assert load_prompts(path, CFG)[0].id == "train.jsonl:2"


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    # a parquet column has one type: text prompts and chat prompts sit in separate columns
    rows = [
        {"id": "a", "prompt": "What is 2 + 3?", "messages": None, "reference": "5", "tests": None},
        {"id": None, "prompt": "What is 4 - 1?", "messages": None, "reference": "3", "tests": None},
        {"id": "c", "prompt": None, "messages": [{"role": "user", "content": "Add 1 and 1."}], "reference": "2",
         "tests": ["assert f() == 2"]},
    ]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    first, second, third = load_prompts(path, CFG)
    assert first.text == "What is 2 + 3?" and first.reference == "5" and first.fields == {}
    assert second.id == "train.parquet row 2"
    assert third.messages == (("user", "Add 1 and 1."),) and third.fields == {"tests": ["assert f() == 2"]}


def test_field_names_are_configurable(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "1 + 1?", "answer": 2, "uid": "q1"}])
    cfg = DataConfig(prompt_field="question", reference_field="answer", id_field="uid", default_verifier="exact")
    assert load_prompts(path, cfg) == [Prompt("q1", None, "1 + 1?", "2", "exact", {}, None)]


@pytest.mark.parametrize("line, expected", [
    ('{"prompt": "x", "reference": "1"', "invalid JSON"),
    ('["prompt", "reference"]', "expected a JSON object, got list"),
    ('{"prompt": "x"}', "missing required key 'reference'"),
    ('{"reference": "1"}', "missing required key 'prompt' (or 'messages')"),
    ('{"prompt": "x", "reference": null}', "'reference' must be a string or a number, got NoneType"),
    ('{"prompt": "x", "reference": "1", "verifier": 3}', "'verifier' must be a string"),
    ('{"prompt": [], "reference": "1"}', "non-empty list of {role, content} messages"),
    ('{"messages": [{"role": "user"}], "reference": "1"}', "messages[0] must be"),
    ('{"id": "a", "prompt": "x", "reference": "1"}', "id 'a' repeats the one at"),
])
def test_bad_record_names_file_and_line(tmp_path, line, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n" + json.dumps(RECORDS[1]) + "\n" + line + "\n")
    with pytest.raises(DataError) as info:
        load_prompts(path, CFG)
    assert str(info.value).startswith(f"{path}:3: ")
    assert expected in str(info.value)


def test_bad_utf8_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"prompt": "x", "reference": "1"}\n{"prompt": "\xff", "reference": "1"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: not valid UTF-8"):
        load_prompts(path, CFG)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        load_prompts(tmp_path / "nope.jsonl", CFG)
    (tmp_path / "d.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unknown data format '.csv'"):
        load_prompts(tmp_path / "d.csv", CFG)


def test_load_splits_from_files(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", RECORDS[:2])
    held_out = write_jsonl(tmp_path / "eval.jsonl", RECORDS[2:])
    got = load_splits(DataConfig(train_file=str(train), eval_file=str(held_out)))
    assert [len(split) for split in got] == [2, 1]
    assert load_splits(DataConfig(train_file=str(train)))[1] == []


def test_load_splits_from_the_generator():
    train, held_out = load_splits(DataConfig(n_train=30, n_eval=10, seed=3, generator_params={"digits": 1}))
    assert (len(train), len(held_out)) == (30, 10)
    assert all(int(p.reference) <= 81 for p in train)


# ---------------------------------------------------------------- the arithmetic task


def problem(prompt: Prompt) -> str:
    return prompt.id  # "arithmetic:12+7": the operation and operands, not the wording


def test_generator_is_deterministic_in_its_seed():
    assert arithmetic(200, 50, seed=1) == arithmetic(200, 50, seed=1)
    assert arithmetic(200, 50, seed=1) != arithmetic(200, 50, seed=2)


def test_held_out_split_never_shares_a_problem_with_train():
    train, held_out = arithmetic(150, 50, seed=0, digits=1, operations=("+", "-", "*"))  # 200 of the 207 there are
    assert len({problem(p) for p in train}) == 150 and len({problem(p) for p in held_out}) == 50
    assert not {problem(p) for p in train} & {problem(p) for p in held_out}


def test_held_out_split_does_not_move_when_train_grows():
    assert arithmetic(10, 20, seed=0)[1] == arithmetic(500, 20, seed=0)[1]


def test_problems_are_correct_and_in_the_answer_format():
    from verifiers.math import verify_math

    train, _ = arithmetic(60, 0, seed=0, operations=("+", "-", "*"))
    for p in train:
        a, op, b = p.text.split()[2:5] if p.text.startswith("What is") else (None, None, None)
        if a is not None:
            assert p.reference == str(eval(f"{a}{op}{b.rstrip('?')}"))  # plain wording states the sum itself
        assert int(p.reference) >= 0
        assert p.solution.startswith("<think>") and p.solution.endswith(f"\\boxed{{{p.reference}}}.")
        assert verify_math(p.solution, p.reference).score == 1.0


def test_wording_and_format_are_parameters():
    plain, _ = arithmetic(20, 0, seed=0, word_problems=0.0)
    words, _ = arithmetic(20, 0, seed=0, word_problems=1.0)
    assert all(p.text.startswith("What is") for p in plain)
    assert not any(p.text.startswith("What is") for p in words)
    custom, _ = arithmetic(3, 0, seed=0, solution_format="{work}. #### {answer}")
    assert custom[0].solution.endswith(f"#### {custom[0].reference}")


@pytest.mark.parametrize("call, expected", [
    (lambda: arithmetic(200, 0, seed=0, digits=1, operations=("+",)), "only 81 distinct"),
    (lambda: arithmetic(5, 0, seed=0, operations=("/",)), "operations must be"),
    (lambda: arithmetic(5, 0, seed=0, solution_format="{work}"), "must contain {answer}"),
    (lambda: generate("arithmetc", 5, 0, 0), "did you mean 'arithmetic'?"),
    (lambda: generate("arithmetic", 5, 0, 0, {"digit": 1}), "no parameter 'digit'; did you mean 'digits'?"),
])
def test_generator_errors(call, expected):
    with pytest.raises(TaskError, match=expected.replace("(", r"\(").replace("?", r"\?").replace("{", r"\{")):
        call()


def test_corpus_holds_prompts_and_solutions():
    train, _ = arithmetic(5, 0, seed=0)
    texts = corpus(train, system_prompt="Answer in \\boxed{}.")
    assert len(texts) == 5
    assert all(p.text in t and p.solution in t and t.startswith("Answer in") for p, t in zip(train, texts))


COLUMN_CASES = [
    ("+", 27, 15, "27+15: 7+5=12, 2+1+1=4, so 42"),
    ("+", 99, 1, "99+1: 9+1=10, 9+0+1=10, carry 1, so 100"),
    ("-", 53, 27, "53-27: 13-7=6, 5-1-2=2, so 26"),
    ("-", 100, 1, "100-1: 10-1=9, 10-1-0=9, 1-1-0=0, so 99"),
    ("+", 5, 7, "5+7: 5+7=12, carry 1, so 12"),
]


@pytest.mark.parametrize("op, a, b, expected", COLUMN_CASES)
def test_column_work(op, a, b, expected):
    from rl.data.tasks import column_work

    assert column_work(op, a, b) == expected


def test_every_column_step_is_true_arithmetic():
    import re

    from rl.data.tasks import column_work

    for a in range(0, 200, 7):
        for b in range(0, a + 1, 5):
            for op in "+-":
                text = column_work(op, a, b)
                assert text.endswith(f"so {a + b if op == '+' else a - b}")
                for step in re.findall(r"[\d+-]+=\d+", text.split(": ", 1)[1]):
                    lhs, rhs = step.split("=")
                    assert eval(lhs) == int(rhs), (text, step)  # our own generated text, not model output
