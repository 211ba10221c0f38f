"""The ``function_calling`` task generator (rl/data/function_call_tasks.py)."""
from __future__ import annotations

import json

import pytest

from rl.data.function_call_tasks import MAX_WORDINGS, function_calling, request_text
from rl.data.tasks import GENERATORS, generate
from verifiers.tool_call import verify_tool_call
from verifiers.tool_call_syntax import parse_tool_calls


def calls_of(prompt):
    """The calls the solution makes, as the generator's (name, ((argument, value), ...)) tuples."""
    return [(c.name, tuple(c.arguments.items())) for c in parse_tool_calls(prompt.solution.split("</think>")[-1]).calls]


@pytest.mark.parametrize("no_think_fraction", [0.0, 0.5, 1.0])
def test_every_solution_passes_the_verifier(no_think_fraction):
    train, held_out = function_calling(300, 60, seed=1, no_think_fraction=no_think_fraction)
    for prompt in train + held_out:
        verdict = verify_tool_call(prompt.solution, prompt.reference, **prompt.fields)
        assert (prompt.verifier, verdict.score) == ("tool_call", 1.0), (prompt.id, verdict.reason)


def test_a_wrong_argument_fails_the_verifier():  # the references are not vacuous
    prompt = function_calling(1, 0, seed=3, parallel=0.0)[0][0]
    name, args = calls_of(prompt)[0]
    changed = {k: (v + 1 if isinstance(v, int) else v + "x") for k, v in args}
    bad = f'<tool_call>{json.dumps({"name": name, "arguments": changed})}</tool_call>'
    assert verify_tool_call(bad, prompt.reference, **prompt.fields).score == 0.0


def test_deterministic_by_seed():
    assert function_calling(50, 10, seed=7) == function_calling(50, 10, seed=7)
    assert function_calling(50, 10, seed=7) != function_calling(50, 10, seed=8)


def test_train_and_held_out_share_no_request():
    train, held_out = function_calling(1500, 200, seed=0)
    requests = lambda prompts: {tuple(sorted(map(repr, calls_of(p)))) for p in prompts}  # noqa: E731
    assert len(requests(train)) == 1500 and len(requests(held_out)) == 200
    assert not requests(train) & requests(held_out)


@pytest.mark.parametrize("parallel,expected", [(0.0, {1}), (1.0, {2}), (0.25, {1, 2})])
def test_parallel_fraction_sets_the_number_of_calls(parallel, expected):
    train, _ = function_calling(400, 0, seed=2, parallel=parallel)
    counts = [len(json.loads(p.reference)) for p in train]
    assert set(counts) == expected
    if parallel == 0.25:
        assert 0.15 < counts.count(2) / len(counts) < 0.35


def test_wordings_limit_the_train_split_only():
    train, held_out = function_calling(300, 300, seed=4, wordings=1)

    def uses_first_wording(prompt):
        return prompt.text.split("Request: ")[1] == " and ".join(request_text(c, 0) for c in calls_of(prompt))

    assert all(uses_first_wording(p) for p in train)
    assert sum(not uses_first_wording(p) for p in held_out) > 150  # all wordings there


def test_prompts_are_short_and_list_the_functions_they_need():
    train, _ = function_calling(300, 0, seed=5)
    for prompt in train:
        assert len(prompt.text) < 300  # about 100 tokens of a 512-token byte-level BPE at most
        listed = {f["name"] for f in prompt.fields["functions"]}
        assert {name for name, _ in calls_of(prompt)} <= listed and 1 <= len(listed) <= 3
        assert all(name + "(" in prompt.text for name in listed)


@pytest.mark.parametrize("fraction,mode,start", [(0.0, None, "<think>"), (1.0, "no_think", "<tool_call>")])
def test_thinking_and_non_thinking_solutions(fraction, mode, start):
    train, _ = function_calling(20, 0, seed=6, no_think_fraction=fraction)
    assert all(p.mode == mode and p.solution.startswith(start) for p in train)


def test_registered_and_checked_by_generate():
    assert GENERATORS["function_calling"] is function_calling
    assert len(generate("function_calling", 5, 2, 0, {"wordings": 2})[0]) == 5


@pytest.mark.parametrize("params", [{"parallel": 1.5}, {"wordings": 0}, {"wordings": MAX_WORDINGS + 1}, {"max_functions": 1}])
def test_bad_parameters_are_errors(params):
    with pytest.raises(ValueError, match="function_calling"):
        function_calling(5, 2, seed=0, **params)
