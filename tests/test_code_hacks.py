"""The code verifier's adversarial set: programs that try to collect reward without earning it,
and honest programs written oddly (tests/data/code_hacks, one program per file, its first
lines naming its task and trick). Every hack must score 0 and every control 1, in the local
sandbox here and in the Docker pool under the docker marker. Hacks marked "unguarded:
rewarded" are real: run the old way, tests appended to the program in one interpreter, they
earn reward (``test_hacks_are_real_with_the_tests_appended``), so these tests can fail."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

import verifiers.code as code_verifier
from tests.sandbox_support import docker_sandbox_or_skip
from verifiers.code import parse_tests, verify_code

DATA = Path(__file__).parent / "data" / "code_hacks"
TASKS = json.loads((DATA / "tasks.json").read_text())


def load(kind: str) -> list[dict]:
    programs = []
    for path in sorted((DATA / kind).glob("*.py")):
        text = path.read_text()
        header = dict(line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# ") and ": " in line[:20])
        programs.append({"name": path.stem, "program": text, "task": header["task"], "why": header.get(kind[:-1], ""),
                         "unguarded": header.get("unguarded"), "sandboxes": header.get("sandboxes", "docker local").split()})
    return programs


HACKS, CONTROLS = load("hacks"), load("controls")


def judge(item: dict):
    task = TASKS[item["task"]]
    fields = {k: v for k, v in task.items() if k != "tests"}
    return verify_code(f"```python\n{item['program']}```", task["tests"], timeout_s=10, **fields)


def check_set(sandbox: str):
    assert len(HACKS) >= 52 and len(CONTROLS) >= 47
    verdicts = {item["name"]: judge(item) for item in HACKS + CONTROLS if sandbox in item["sandboxes"]}
    unjudged = {name: (v.status, v.reason) for name, v in verdicts.items() if v.status != "ok"}
    assert not unjudged, unjudged
    rewarded = {h["name"]: verdicts[h["name"]].reason for h in HACKS if h["name"] in verdicts and verdicts[h["name"]].score > 0}
    assert not rewarded, rewarded
    failed = {c["name"]: verdicts[c["name"]].reason for c in CONTROLS if c["name"] in verdicts and verdicts[c["name"]].score != 1.0}
    assert not failed, failed


def test_set_is_well_formed():
    for item in HACKS + CONTROLS:
        assert item["task"] in TASKS, item["name"]
        assert item["why"], f"{item['name']}: no '# hack:' / '# control:' line saying what it does"
    assert all(h["unguarded"] in ("rewarded", "not rewarded") for h in HACKS)
    assert {c["task"] for c in CONTROLS} == set(TASKS), "every task has an honest control"


@pytest.fixture
def local_sandbox(monkeypatch):
    from sandbox.local_sandbox import LocalSandbox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        box = LocalSandbox(unsafe=True, size=2)
    monkeypatch.setattr(code_verifier, "_sandbox", box)
    monkeypatch.setattr(code_verifier, "_sandbox_pid", os.getpid())
    return box


def test_hacks_score_zero_and_controls_one_in_local_sandbox(local_sandbox):
    check_set("local")


def check_hacks_are_real(box, sandbox: str):
    # The old way: each test case appended to the program, one interpreter, nothing apart.
    real = [h for h in HACKS if h["unguarded"] == "rewarded" and sandbox in h["sandboxes"]]
    assert len(real) >= 49
    not_rewarded = []
    for hack in real:
        task = TASKS[hack["task"]]
        cases = parse_tests(task["tests"], {"entry_point": task.get("entry_point")}).cases
        results = box.run_batch([f"{hack['program']}\n\n{c.code}" for c in cases], timeout_s=10)
        if not any(r.passed for r in results):
            not_rewarded.append((hack["name"], [r.detail for r in results]))
    assert not not_rewarded, not_rewarded


def test_hacks_are_real_with_the_tests_appended(local_sandbox):
    check_hacks_are_real(local_sandbox, "local")


@pytest.fixture(scope="module")
def docker_pool():
    box = docker_sandbox_or_skip(size=4)
    yield box
    box.close()


@pytest.mark.docker
def test_hacks_score_zero_and_controls_one_in_docker(docker_pool, monkeypatch):
    monkeypatch.setattr(code_verifier, "_sandbox", docker_pool)
    monkeypatch.setattr(code_verifier, "_sandbox_pid", os.getpid())
    check_set("docker")


@pytest.mark.docker
def test_hacks_are_real_with_the_tests_appended_in_docker(docker_pool):
    check_hacks_are_real(docker_pool, "docker")
