"""The ``code`` verifier: extraction and test shapes (no sandbox), then a HumanEval-style set
(tests/data/code_tasks.jsonl: correct programs must all pass, broken ones all fail) run in
the local sandbox and, under the docker marker, in the real pool and through VerifierPool."""
from __future__ import annotations

import doctest
import json
import os
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
    cases = parse_tests(reference, fields).cases
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
    def run_batch(self, codes, *, stdins=None, timeout_s=10.0, concurrency=None, tests=None, **options):
        return [ExecResult("passed", 0, sandbox_id="c0ffee123456")] + [
            ExecResult("sandbox_error", detail="supervisor did not answer in time", sandbox_id="deadbeef0001")
            for _ in codes[1:]]

    def close(self):
        pass


def test_sandbox_fault_is_an_error_naming_the_container(monkeypatch):
    monkeypatch.setattr(code_verifier, "_sandbox", _FaultySandbox())
    monkeypatch.setattr(code_verifier, "_sandbox_pid", os.getpid())
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
    monkeypatch.setattr(code_verifier, "_sandbox_pid", os.getpid())
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


# ---------------------------------------------------------------- tests apart from the program, through the verifier
@pytest.mark.parametrize("program, tests, fields, score", [
    # Results must be plain data; a task with classes under test opts out.
    ("class A:\n    def __eq__(self, o):\n        return True\ndef f(x):\n    return A()\n", ["assert f(1) == 2"], {}, 0.0),
    ("class Box:\n    def __init__(self, v):\n        self.v = v\n", ["assert Box(3).v == 3"], {"allow_objects": True}, 1.0),
    ("class Box:\n    def __init__(self, v):\n        self.v = v\n", ["assert Box(3).v == 3"], {}, 0.0),
    # The tests see the real builtins, whatever the program did to them.
    ("import builtins\nbuiltins.len = lambda x: 3\ndef f(x):\n    return x\n", ["assert len(f([1])) == 1"], {}, 1.0),
    # A looping program fails its case; the item is still judged.
    ("def f(x):\n    while True:\n        pass\n", ["assert f(1) == 1", "assert True"], {"timeout_s": 1}, 0.5),
])
def test_cases_with_tests_apart(local_sandbox, program, tests, fields, score):
    verdict = verify_code(fenced(program), tests, **fields)
    assert (verdict.status, verdict.score) == ("ok", score), verdict.reason


def test_non_plain_result_names_the_type(local_sandbox):
    program = "class Evil:\n    pass\ndef f():\n    return [1, Evil()]\n"
    verdict = verify_code(fenced(program), ["assert f() == [1, 2]"])
    assert verdict.score == 0.0 and "f(...) returned" in verdict.reason and "[1] is of type Evil" in verdict.reason


def test_a_subclass_crosses_as_its_built_in_value(local_sandbox):
    program = "class Evil(int):\n    def __eq__(self, other):\n        return True\ndef f():\n    return [1, Evil(2)]\n"
    assert verify_code(fenced(program), ["assert f() == [1, 2] and type(f()[1]) is int"]).score == 1.0
    assert verify_code(fenced(program), ["assert f() == [1, 3]"]).score == 0.0


@pytest.mark.parametrize("allow_objects", ["yes", 1])
def test_allow_objects_must_be_a_bool(allow_objects):
    verdict = verify_code(fenced("x = 1\n"), ["assert x"], allow_objects=allow_objects)
    assert verdict.status == "invalid_reference" and "allow_objects" in verdict.reason


@pytest.mark.docker
@pytest.mark.slow
def test_looping_program_is_judged_within_the_derived_deadline():
    # Every case loops: within the item deadline code_budget derives, the worker (which opens its
    # own Docker pool) still returns a verdict, the cases failed, instead of being killed.
    from verifiers.code_budget import item_deadline_s
    from verifiers.pool import VerifierPool, VerifyRequest

    docker_sandbox_or_skip(size=1).close()
    tests = ["assert f() == 1"] * 3
    fields = {"tests": tests, "timeout_s": 1.0}
    deadline = item_deadline_s(per_test_s=1.0, n_tests=len(tests))
    with VerifierPool("code", workers=1, timeout_s=deadline) as pool:
        [verdict] = pool.score([VerifyRequest(fenced("def f():\n    while True:\n        pass\n"), None, fields)])
    assert (verdict.status, verdict.score) == ("ok", 0.0), verdict.reason
    assert "timeout" in verdict.reason


@pytest.mark.docker
def test_script_using_the_verifier_exits_cleanly_leaving_no_container():
    # Issue 11: closing the pool at exit used to start threads after the interpreter had shut
    # its executors down, and printed a traceback at every exit.
    import subprocess
    import sys

    docker_sandbox_or_skip(size=1).close()  # skip (or fail under RLVR_REQUIRE_DOCKER) without an engine
    script = ("from verifiers.code import verify_code\n"
              "v = verify_code('```python\\ndef f(x):\\n    return x\\n```', ['assert f(1) == 1'])\n"
              "print(v.status, v.score)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLVR_CODE_SANDBOX")}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent, env=env)
    stdout, stderr = proc.communicate(timeout=300)
    assert (proc.returncode, stdout.split()) == (0, ["ok", "1.0"]), stderr
    assert stderr == ""
    import docker

    client = docker.from_env()
    left = [c.short_id for c in client.containers.list(all=True, filters={"label": "rlvr.sandbox"})
            if f":{proc.pid}:" in c.labels.get("rlvr.sandbox.owner", "")]
    assert not left, f"containers of the exited script still there: {left}"
