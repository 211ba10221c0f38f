"""`rlvr score`, `rlvr verify` and `rlvr verifiers list`, driven in-process through rl.cli.main.

The verifiers are the toy ones in tests/helpers/toy_verifiers.py, so these tests
depend on nothing of the math verifier. Each pool start costs about a second:
one scoring run is shared by the tests that only read its results.
"""
from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from rl.cli.main import main

TOY = "tests.helpers.toy_verifiers"


def write_jsonl(path: Path, lines: list) -> Path:
    """Dicts become JSON lines; strings are written as they are (to make bad lines)."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run_cli(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Result(code, out.getvalue(), err.getvalue())


MIXED_INPUT = [
    {"id": "q1", "completion": "so \\boxed{3}", "reference": "3"},  # 1
    {"id": "q1", "completion": "The answer is 4.", "reference": "3"},  # 2
    '{"id": "q2", "completion": "cut',  # 3: invalid JSON
    {"id": "q2", "completion": "x", "reference": "7", "verifier": f"{TOY}:explode"},  # 4
    {"id": "q2", "completion": "The answer is 7", "reference": "7"},  # 5
    {"id": "q3", "completion": "The answer is 1"},  # 6: no reference
    {"id": "q3", "completion": "x", "reference": "1", "verifier": f"{TOY}:hang"},  # 7
    {"id": "q3", "completion": "\\boxed{1}", "reference": "1"},  # 8
    {"id": "q4", "completion": "x", "reference": "0", "verifier": f"{TOY}:fields_seen", "prompt": "p", "tests": [1]},  # 9
    {"id": "q4", "completion": "no answer here", "reference": "0"},  # 10
]
SCORED_LINES = [1, 2, 4, 5, 7, 8, 9, 10]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One scoring run over MIXED_INPUT, shared by the tests that read it."""
    tmp = tmp_path_factory.mktemp("mixed")
    predictions = write_jsonl(tmp / "preds.jsonl", MIXED_INPUT)
    output, summary = tmp / "scored.jsonl", tmp / "summary.json"
    result = run_cli(
        "score", str(predictions), "-o", str(output), "--verifier", f"{TOY}:exact",
        "--workers", "2", "--timeout", "1", "--summary-json", str(summary),
    )  # fmt: skip
    return result, predictions, read_jsonl(output), json.loads(summary.read_text())


def test_score_writes_one_line_per_good_input_line_in_input_order(mixed):
    result, _, records, _ = mixed
    assert result.code == 0, result.err
    assert [r["source_line"] for r in records] == SCORED_LINES
    for record in records:  # the input record comes through untouched
        original = MIXED_INPUT[record["source_line"] - 1]
        assert {k: v for k, v in record.items() if k not in ("verdict", "source_line")} == original


def test_score_reports_malformed_lines_with_their_numbers_and_counts_them(mixed):
    result, predictions, _, summary = mixed
    assert f"{predictions}:3: invalid JSON" in result.err
    assert f"{predictions}:6: missing field 'reference'" in result.err
    assert summary["malformed"] == 2
    assert summary["lines"] == len(SCORED_LINES)


def test_a_raising_or_hanging_verifier_spoils_only_its_own_line(mixed):
    _, _, records, summary = mixed
    status = {r["source_line"]: r["verdict"]["status"] for r in records}
    assert status == {1: "ok", 2: "ok", 4: "error", 5: "ok", 7: "timeout", 8: "ok", 9: "ok", 10: "no_answer"}
    by_line = {r["source_line"]: r["verdict"] for r in records}
    assert "toy verifier failure" in by_line[4]["reason"]
    assert by_line[5]["score"] == 1.0 and by_line[8]["score"] == 1.0
    assert summary["status"] == {"ok": 5, "no_answer": 1, "invalid_reference": 0, "timeout": 1, "error": 1}


def test_record_fields_are_passed_to_the_verifier_except_its_own(mixed):
    _, _, records, _ = mixed
    fields_seen = next(r for r in records if r["source_line"] == 9)["verdict"]["reason"]
    assert fields_seen == "prompt,tests"  # not id, completion, reference nor verifier


def test_pass_and_maj_at_k_appear_when_ids_repeat(mixed):
    result, _, _, summary = mixed
    assert sorted(summary["pass@k"]) == ["1", "2"] and sorted(summary["maj@k"]) == ["1", "2"]
    # q1: 1 of 2, q2: 1 of 2 (the error counts as not passed), q3: 1 of 2, q4: 1 of 2
    assert summary["pass@k"]["1"]["value"] == pytest.approx(0.5)
    assert summary["pass@k"]["2"]["value"] == pytest.approx(1.0)
    assert summary["accuracy"]["value"] == pytest.approx(4 / 8)
    low, high = summary["accuracy"]["ci95"]
    assert low <= 0.5 <= high
    for name in ("accuracy", "pass@1", "pass@2", "maj@1", "maj@2", "status timeout", "malformed"):
        assert name in result.out


def test_resume_after_a_truncated_output_scores_each_line_exactly_once(tmp_path):
    lines = [{"id": f"p{i}", "completion": f"\\boxed{{{i}}}", "reference": str(i)} for i in range(1, 7)]
    predictions = write_jsonl(tmp_path / "preds.jsonl", lines)
    output = tmp_path / "preds.scored.jsonl"  # the default output path
    earlier = [
        {**lines[i - 1], "verdict": {"score": 0.0, "status": "ok", "extracted": "?", "reason": "earlier run"}, "source_line": i}
        for i in (1, 2, 3)
    ]
    partial = "".join(json.dumps(r) + "\n" for r in earlier)
    output.write_text(partial[: len(partial) - len(json.dumps(earlier[-1])) // 2], encoding="utf-8")  # line 3 cut
    summary = tmp_path / "summary.json"

    result = run_cli(
        "score", str(predictions), "--verifier", f"{TOY}:exact", "--workers", "2", "--resume", "--summary-json", str(summary)
    )

    assert result.code == 0, result.err
    assert "truncated last line" in result.err
    records = read_jsonl(output)
    assert sorted(r["source_line"] for r in records) == [1, 2, 3, 4, 5, 6]
    assert records[:2] == earlier[:2]  # kept verbatim, not judged again
    assert all(r["verdict"]["reason"] != "earlier run" for r in records[2:])
    assert json.loads(summary.read_text())["lines"] == 6  # the summary covers the whole file
    assert "pass@" not in result.out  # every id is unique


def test_score_refuses_to_overwrite_without_force(tmp_path):
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"completion": "\\boxed{1}", "reference": "1"}])
    output = tmp_path / "out.jsonl"
    output.write_text("something\n")
    result = run_cli("score", str(predictions), "-o", str(output), "--verifier", f"{TOY}:exact")
    assert result.code == 2 and "--resume" in result.err and "--force" in result.err
    assert output.read_text() == "something\n"


def test_score_fails_clearly_on_a_missing_input(tmp_path):
    result = run_cli("score", str(tmp_path / "absent.jsonl"), "--verifier", f"{TOY}:exact")
    assert result.code == 2 and "absent.jsonl" in result.err and "not found" in result.err


def test_score_fails_when_nothing_could_be_scored(tmp_path):
    predictions = write_jsonl(tmp_path / "preds.jsonl", ["not json", [1, 2], {"completion": 3, "reference": "1"}])
    result = run_cli("score", str(predictions), "--verifier", f"{TOY}:exact")
    assert result.code == 1
    assert f"{predictions}:3: field 'completion' must be a string" in result.err


@pytest.mark.parametrize(
    "completion, code",
    [("so \\boxed{3}", 0), ("The answer is 4", 1), ("I do not know", 2)],
    ids=["correct", "wrong", "not-judged"],
)
def test_verify_exit_code_says_correct_wrong_or_not_judged(completion, code):
    result = run_cli("verify", "--verifier", f"{TOY}:exact", "--reference", "3", "--json", completion)
    assert result.code == code, result.err
    assert json.loads(result.out)["status"] == ("no_answer" if code == 2 else "ok")


def test_verify_reads_the_completion_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("The answer is 3"))
    result = run_cli("verify", "--verifier", f"{TOY}:exact", "--reference", "3", "-")
    assert result.code == 0
    assert "extracted  3" in result.out


def test_verifiers_list_names_math():
    result = run_cli("verifiers", "list")
    assert result.code == 0
    assert any(line.split()[0] == "math" for line in result.out.splitlines()[1:])


@pytest.mark.parametrize("command", ["score", "verify", "verifiers"])
def test_every_command_has_examples_in_its_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_verify_passes_extra_fields_to_the_verifier(tmp_path, capsys):
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"tests": ["assert f(1) == 1"], "entry_point": "g"}))
    code = main(["verify", "--verifier", "tests.helpers.toy_verifiers:fields_seen", "--json", "--fields-json", str(task),
                 "--field", "entry_point=f", "--field", "timeout_s=2", "def f(x): return x"])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 0 and verdict["reason"] == "entry_point,tests,timeout_s"


def test_verify_field_values_are_json_when_they_parse():
    from rl.cli.main import verifier_fields

    fields = verifier_fields(["tests=[\"assert f(2) == 4\"]", "timeout_s=2.5", "entry_point=square", "note=a=b"], None)
    assert fields == {"tests": ["assert f(2) == 4"], "timeout_s": 2.5, "entry_point": "square", "note": "a=b"}


@pytest.mark.parametrize("argv, message", [
    (["--field", "novalue"], "expected KEY=VALUE"),
    (["--fields-json", "/nonexistent/task.json"], "cannot read --fields-json"),
])
def test_verify_bad_fields_are_named(argv, message, capsys):
    code = main(["verify", "--reference", "1", *argv, "the answer is 1"])
    assert code == 2 and message in capsys.readouterr().err


def test_verify_fields_json_must_be_one_object(tmp_path, capsys):
    task = tmp_path / "task.json"
    task.write_text('["not", "an", "object"]')
    code = main(["verify", "--reference", "1", "--fields-json", str(task), "the answer is 1"])
    assert code == 2 and "expected a JSON object, got list" in capsys.readouterr().err


def test_score_judges_the_last_assistant_turn_of_a_transcript(tmp_path):
    """A multi-turn transcript (as `rlvr eval --env tools` writes) without a completion is judged on its last
    assistant turn; a transcript that does not end with one is a malformed line, named."""
    call = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n</tool_call>'
    turns = [{"role": "user", "content": "What is 6 * 7?"}, {"role": "assistant", "content": call},
             {"role": "tool", "content": "42"}]
    predictions = write_jsonl(tmp_path / "preds.jsonl", [
        {"id": "right", "messages": [*turns, {"role": "assistant", "content": "The answer is \\boxed{42}."}], "reference": "42"},
        {"id": "wrong", "messages": [*turns, {"role": "assistant", "content": "The answer is \\boxed{41}."}], "reference": "42"},
        {"id": "open", "messages": turns, "reference": "42"},
    ])
    output = tmp_path / "scored.jsonl"
    result = run_cli("score", str(predictions), "-o", str(output), "--verifier", "math", "--workers", "1")
    scores = {r["id"]: r["verdict"]["score"] for r in read_jsonl(output)}
    assert scores == {"right": 1.0, "wrong": 0.0}
    assert "preds.jsonl:3" in result.err and "must end with an assistant turn" in result.err
