"""The generated ``python_functions`` task: split, determinism, references that pass, broken code that fails,
and (docker-marked) the same in the real sandbox plus a smoke run of experiments/tiny_code.yaml."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from rl.data.code_tasks import FAMILIES, CodeTaskError, function_prompt, python_functions
from rl.data.tasks import GENERATORS, corpus, generate
from tests.sandbox_support import docker_sandbox_or_skip
from verifiers import code as code_verifier
from verifiers.code import extract_program, verify_code

ROOT = Path(__file__).resolve().parent.parent


def steps_of(prompt) -> list[str]:
    """"python_functions:int:mul3,add2" -> ["mul3", "add2"]."""
    return prompt.id.split(":", 2)[2].split(",")


def passed_in_process(program: str, tests: list[str]) -> list[bool]:
    """Our own reference code is trusted: run it here, so every problem can be checked in milliseconds."""
    results = []
    for test in tests:
        namespace: dict = {}
        try:
            exec(f"{program}\n{test}", namespace)  # noqa: S102 - generated references only
            results.append(True)
        except AssertionError:
            results.append(False)
    return results


def covering_sample(prompts):
    """A few prompts that between them use every step that ``prompts`` use."""
    chosen, used = [], set()
    for prompt in prompts:
        names = {re.sub(r"\d+$", "", s) for s in steps_of(prompt)}
        if names - used:
            chosen.append(prompt)
            used |= names
    return chosen


ALL_STEPS = {step.name for family in FAMILIES.values() for slot in family.slots for step in slot}

# (problem, a plausible wrong program): each must lose at least one test.
BROKEN = [
    ("int:add3,mul2", "def f(x):\n    return x + 3 * 2"),  # precedence: the parentheses matter
    ("int:mul3,add2", "def f(x):\n    return x * 3 + 3"),
    ("int:sub4,div2", "def f(x):\n    return x - 4 / 2"),
    ("list:above3,sum", "def f(xs):\n    return sum(xs)"),
    ("list:even,count", "def f(xs):\n    return len([v for v in xs if v % 2 == 1])"),
    ("list:each_add2,max", "def f(xs):\n    return max(xs) + 1"),
    ("str:reverse,upper", "def f(s):\n    return s.upper()"),
    ("str:first2", "def f(s):\n    return s[2:]"),
    ("str:repeat3,last2", "def f(s):\n    return s * 3[-2:]"),  # a TypeError is a failed test, not a crash
    ("int:mul3", "def g(x):\n    return x * 3"),  # wrong name
]


# ---------------------------------------------------------------- the split
def test_generator_is_deterministic_in_its_seed():
    assert python_functions(200, 40, seed=3) == python_functions(200, 40, seed=3)
    assert python_functions(200, 40, seed=3) != python_functions(200, 40, seed=4)


def test_registered_as_a_generator():
    assert GENERATORS["python_functions"] is python_functions
    train, held_out = generate("python_functions", 30, 10, 0, {"max_steps": 2, "families": ["int"]})
    assert (len(train), len(held_out)) == (30, 10)
    assert all(p.verifier == "code" and p.id.startswith("python_functions:int:") for p in train + held_out)


def test_held_out_pairs_a_step_with_a_constant_never_trained_with_it():
    train, held_out = python_functions(1000, 100, seed=0)
    assert {p.id for p in train}.isdisjoint(p.id for p in held_out)
    assert len({p.id for p in train}) == 1000 and len({p.id for p in held_out}) == 100
    trained = {s for p in train for s in steps_of(p)}
    assert all(set(steps_of(p)) - trained for p in held_out)  # every held-out problem has an unseen pair
    # ... and only the pairing is new: the step and the constant each appear in train.
    trained_names = {re.sub(r"\d+$", "", s) for s in trained}
    assert all(re.sub(r"\d+$", "", s) in trained_names for p in held_out for s in steps_of(p))


def test_held_out_split_does_not_move_when_train_grows():
    assert python_functions(100, 50, seed=1)[1] == python_functions(900, 50, seed=1)[1]


def test_every_family_and_length_is_drawn():
    train, _ = python_functions(600, 50, seed=0, max_steps=3)
    drawn = {(p.id.split(":")[1], len(steps_of(p))) for p in train}
    assert drawn == {(f, n) for f in FAMILIES for n in (1, 2, 3)}


def test_ids_name_their_problem():
    train, held_out = python_functions(300, 50, seed=2)
    assert all(function_prompt(p.id.split(":", 1)[1]) == p for p in train + held_out)


def test_prompts_and_solutions_are_short_and_in_the_format():
    train, _ = python_functions(300, 10, seed=0)
    for prompt in train:
        assert prompt.text.startswith("Write a Python function f(") and len(prompt.text) < 140
        assert re.fullmatch(r"<think>[^\n]+</think>\n```python\ndef f\((x|xs|s)\):\n    return .+\n```", prompt.solution)
        assert len(prompt.fields["tests"]) == 4 and prompt.reference == ""
    assert any("```python" in text for text in corpus(train))  # code reaches the tiny tokenizer


@pytest.mark.parametrize("kwargs, message", [
    ({"families": ["int", "bytes"]}, "families must be"),
    ({"max_steps": 4}, "max_steps must be in 1..3"),
    ({"held_out_constants": -1}, "held_out_constants"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(CodeTaskError, match=message):
        python_functions(10, 5, seed=0, **kwargs)


def test_asking_for_more_problems_than_exist_is_an_error():
    with pytest.raises(CodeTaskError, match="problems asked"):
        python_functions(5000, 10, seed=0, max_steps=1)
    with pytest.raises(CodeTaskError, match="unknown step 'cube2'"):
        function_prompt("int:cube2")


def test_random_split_without_held_out_constants():
    train, held_out = python_functions(300, 60, seed=0, held_out_constants=0)
    assert {p.id for p in train}.isdisjoint(p.id for p in held_out)


# ---------------------------------------------------------------- references and broken programs
@pytest.mark.parametrize("max_steps", [2, 3])
def test_every_reference_passes_its_own_tests_and_no_constant_does(max_steps):
    train, held_out = python_functions(1400, 200, seed=0, max_steps=max_steps)
    for prompt in train + held_out:
        program = extract_program(prompt.solution)
        assert all(passed_in_process(program, prompt.fields["tests"])), prompt.id
        # Tests disagree on the output, so a program that ignores the spec cannot pass them all.
        expected = {test.rsplit(" == ", 1)[1] for test in prompt.fields["tests"]}
        assert len(expected) >= 2, prompt.id


@pytest.fixture
def local_code_sandbox(monkeypatch):
    monkeypatch.setenv("RLVR_CODE_SANDBOX", "local")
    monkeypatch.setattr(code_verifier, "_sandbox", None)  # the next verify_code opens the local one
    monkeypatch.setattr(code_verifier, "_sandbox_pid", None)
    yield
    if code_verifier._sandbox is not None and code_verifier._sandbox_pid == os.getpid():
        code_verifier._sandbox.close()


def judged_sample():
    train, held_out = python_functions(400, 60, seed=0)
    return covering_sample(train + held_out)


def check_references_and_broken_programs():
    sample = judged_sample()
    assert {re.sub(r"\d+$", "", s) for p in sample for s in steps_of(p)} == ALL_STEPS
    for prompt in sample:
        verdict = verify_code(prompt.solution, prompt.reference, **prompt.fields)
        assert (verdict.status, verdict.score) == ("ok", 1.0), (prompt.id, verdict.reason)
    for key, program in BROKEN:
        prompt = function_prompt(key)
        verdict = verify_code(f"<think>x</think>\n```python\n{program}\n```", prompt.reference, **prompt.fields)
        assert verdict.status == "ok" and verdict.score < 1.0, (key, verdict.reason)
    no_code = verify_code("<think>+ 3</think> x + 3", "", **function_prompt("int:add3").fields)
    assert (no_code.status, no_code.score) == ("no_answer", 0.0)


@pytest.mark.filterwarnings("ignore:LocalSandbox runs untrusted code")
def test_references_pass_and_broken_programs_fail_through_the_verifier(local_code_sandbox):
    check_references_and_broken_programs()


@pytest.mark.docker
def test_references_pass_and_broken_programs_fail_in_docker():
    box = docker_sandbox_or_skip(size=2)
    previous = (code_verifier._sandbox, code_verifier._sandbox_pid)
    code_verifier.use_sandbox(box)
    try:
        check_references_and_broken_programs()
    finally:
        code_verifier._sandbox, code_verifier._sandbox_pid = previous
        box.close()


# ---------------------------------------------------------------- the experiment, in the loop
SMOKE = [
    "data.n_train=60", "data.n_eval=8", "rollout.group_size=4", "rollout.prompts_per_step=4",
    "rollout.max_new_tokens=48", "sft.steps=40", "run.total_steps=2", "run.eval_every=1",
]


@pytest.mark.docker
@pytest.mark.ray
@pytest.mark.slow
def test_tiny_code_two_step_smoke(tmp_path):
    import ray

    from rl.config.loader import load_config
    from rl.loops.grpo import train

    docker_sandbox_or_skip(size=1).close()  # skip (or fail under RLVR_REQUIRE_DOCKER) before starting Ray
    out = tmp_path / "run"
    try:
        summary = train(load_config(ROOT / "experiments/tiny_code.yaml", SMOKE + [f"run.out_dir={out}"]))
    finally:
        ray.shutdown()
    assert {"heldout_accuracy_initial", "heldout_accuracy_before_rl", "heldout_accuracy_after_rl"} <= set(summary)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    # 40 SFT steps teach the fenced-code format: the sandbox judged programs, it did not just see no code.
    assert rows[0]["eval/no_answer"] < 1 and all(r["verifier/unjudged"] < 1 for r in rows[1:])
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["verifiers"]) == {"code"}
