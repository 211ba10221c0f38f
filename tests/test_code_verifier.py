"""The ``code`` verifier: extraction and test shapes (no sandbox), then a HumanEval-style set
(tests/data/code_tasks.jsonl: correct programs must all pass, broken ones all fail) run in
the local sandbox and, under the docker marker, in the real pool and through VerifierPool."""
from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import verifiers.code as code_verifier
from sandbox.result import ExecResult
from tests.sandbox_support import docker_sandbox_or_skip
from verifiers.code import extract_program, parse_tests, verify_code

TASKS = [json.loads(line) for line in (Path(__file__).parent / "data" / "code_tasks.jsonl").read_text().splitlines()]


def fenced(program: str, tag: str = "python") -> str:
    return f"Let me solve it.\n```{tag}\n{program}```\nDone."


def judge(task: dict, program: str):
    return verify_code(fenced(program), task["tests"], entry_point=task.get("entry_point"), timeout_s=3)


# ---------------------------------------------------------------- extraction
@pytest.mark.parametrize("completion, expected", [
    ("```python\na = 1\n```", "a = 1\n"),
    ("```py\na = 1\n```", "a = 1\n"),
    ("```python\nfirst\n```\ntext\n```python\nsecond\n```", "second\n"),
    ("```python\nwanted\n```\n```bash\nls\n```", "wanted\n"),            # last block of the right language
    ("```\nuntagged\n```", "untagged\n"),                                  # untagged, when none is tagged
    ("```python\nfirst\n```\n```\nuntagged\n```", "first\n"),              # tagged beats untagged
    ("```python3 title=x\nfoo\n```", "foo\n"),
    ("no code here", None),
    ("```bash\nls\n```", None),
    ("```python\n   \n```", None),                                         # an empty block is no answer
    ("", None),
])
def test_extract_program(completion, expected):
    assert extract_program(completion) == expected


# ---------------------------------------------------------------- test shapes
@pytest.mark.parametrize("reference, fields, codes, stdio", [
    ("assert f(1) == 1", {}, ["assert f(1) == 1"], []),
    (["assert f(1)", "assert f(2)"], {}, ["assert f(1)", "assert f(2)"], []),
    ("def check(c):\n    assert c(1)", {"entry_point": "f"}, ["def check(c):\n    assert c(1)\n\ncheck(f)\n"], []),
    (None, {"tests": ["assert g()"]}, ["assert g()"], []),
    ([{"input": "1\n", "output": "2\n"}], {}, [], [("1\n", "2\n")]),
    ({"inputs": ["a", ["x", "y"]], "outputs": ["b", "c"]}, {}, [], [("a", "b"), ("x\ny\n", "c")]),
    (json.dumps({"tests": ["assert h()"], "setup": "import os"}), {}, ["assert h()"], []),
])
def test_parse_tests(reference, fields, codes, stdio):
    cases, _ = parse_tests(reference, fields)
    assert [c.code for c in cases if c.code is not None] == codes
    assert [(c.stdin, c.expected_stdout) for c in cases if c.code is None] == stdio


@pytest.mark.parametrize("reference, fields, status", [
    (None, {}, "invalid_reference"),
    ([], {}, "invalid_reference"),
    ([42], {}, "invalid_reference"),
    (["   "], {}, "invalid_reference"),
    ("assert True", {"language": "rust"}, "invalid_reference"),
])
def test_unusable_references_are_not_wrong_answers(reference, fields, status):
    verdict = verify_code(fenced("x = 1\n"), reference, **fields)
    assert verdict.status == status and verdict.score == 0.0


def test_no_code_block_is_no_answer():
    assert verify_code("I think the answer is 42.", "assert True").status == "no_answer"


class _FaultySandbox:
    def run_batch(self, codes, *, stdins=None, timeout_s=10.0, concurrency=None):
        return [ExecResult("passed", 0, sandbox_id="c0ffee123456")] + [
            ExecResult("sandbox_error", detail="supervisor did not answer in time", sandbox_id="deadbeef0001")
            for _ in codes[1:]]

    def close(self):
        pass


def test_sandbox_fault_is_an_error_naming_the_container(monkeypatch):
    monkeypatch.setattr(code_verifier, "_sandbox", _FaultySandbox())
    monkeypatch.setattr(code_verifier, "_sandbox_pid", __import__("os").getpid())
    verdict = verify_code(fenced("x = 1\n"), ["assert x", "assert x", "assert x"])
    assert verdict.status == "error" and "deadbeef0001" in verdict.reason and verdict.score == 0.0


# ---------------------------------------------------------------- the task set
def _judge_all():
    """(task id, variant, score) for every correct and broken program in the set."""
    rows = []
    for task in TASKS:
        rows.append((task["id"], "correct", judge(task, task["solution"])))
        rows += [(task["id"], f"broken {i}", judge(task, b)) for i, b in enumerate(task["broken"])]
    return rows


def _assert_set_judged_right(rows):
    assert len(TASKS) >= 10
    unjudged = [(t, v, r.status, r.reason) for t, v, r in rows if r.status != "ok"]
    assert not unjudged, unjudged
    wrong = [(t, v, r.score, r.reason) for t, v, r in rows if (r.score == 1.0) != (v == "correct")]
    assert not wrong, wrong


@pytest.fixture
def local_sandbox(monkeypatch):
    from sandbox.local_sandbox import LocalSandbox

    with pytest.warns(RuntimeWarning):
        box = LocalSandbox(unsafe=True)
    monkeypatch.setattr(code_verifier, "_sandbox", box)
    monkeypatch.setattr(code_verifier, "_sandbox_pid", __import__("os").getpid())
    return box


def test_task_set_in_local_sandbox(local_sandbox):
    _assert_set_judged_right(_judge_all())


@pytest.fixture(scope="module")
def docker_pool():
    box = docker_sandbox_or_skip(size=4)
    previous = (code_verifier._sandbox, code_verifier._sandbox_pid)
    code_verifier.use_sandbox(box)
    yield box
    code_verifier._sandbox, code_verifier._sandbox_pid = previous
    box.close()


@pytest.mark.docker
def test_task_set_in_docker(docker_pool):
    _assert_set_judged_right(_judge_all())


@pytest.mark.docker
def test_docstring_examples_run(docker_pool):
    failures, tried = doctest.testmod(code_verifier, verbose=False)
    assert tried >= 3 and failures == 0


@pytest.mark.docker
def test_through_verifier_pool_workers(docker_pool):
    # Forkserver workers cannot inherit our pool: each must open its own on first use.
    from verifiers import score_batch

    tasks = TASKS[:6]
    completions = [fenced(t["solution"]) for t in tasks] + [fenced(t["broken"][0]) for t in tasks]
    references = [t["tests"] for t in tasks] * 2
    fields = [{"entry_point": t.get("entry_point")} for t in tasks] * 2
    verdicts = score_batch(completions, references, "code", workers=2, timeout_s=60, fields=fields)
    assert [v.status for v in verdicts] == ["ok"] * 12, [v.reason for v in verdicts]
    assert [v.score == 1.0 for v in verdicts] == [True] * 6 + [False] * 6
