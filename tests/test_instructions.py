"""The ``ifeval`` verifier (verifiers.instructions), its checks, and the instruction_following generator."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl.data.instruction_tasks import KINDS, instruction_following
from rl.data.tasks import GENERATORS
from verifiers.instruction_checks import CHECKS
from verifiers.instructions import loose_variants, verify_ifeval
from verifiers.registry import get_verifier

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "ifeval_cases.jsonl").read_text("utf-8").splitlines()]


def judge(response: str, *instructions: tuple[str, dict], **options):
    return verify_ifeval(response, "", instruction_id_list=[i for i, _ in instructions],
                         kwargs=[k for _, k in instructions], **options)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_labelled_cases(case):
    if case["instruction_id"] == "language:response_language":
        pytest.importorskip("langdetect")
    verdict = judge(case["response"], (case["instruction_id"], case["kwargs"]))
    assert verdict.status == "ok"
    assert (verdict.score == 1.0) == case["followed"], verdict.reason


def test_cases_cover_every_check():
    assert {c["instruction_id"] for c in CASES} == set(CHECKS)
    assert len(CASES) >= 80


@pytest.mark.parametrize("instruction, kwargs, problem", [
    ("no_such:instruction", {}, "unknown instruction id"),
    ("length_constraints:number_words", {"relation": "at least"}, "missing argument 'num_words'"),
    ("length_constraints:number_words", {"num_words": "5", "relation": "at least"}, "'num_words' must be a non-negative integer"),
    ("length_constraints:number_words", {"num_words": True, "relation": "at least"}, "must be a non-negative integer"),
    ("length_constraints:number_words", {"num_words": 5, "relation": "about"}, "'relation' must be one of"),
    ("keywords:existence", {"keywords": "cat"}, "must be a non-empty list"),
    ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": "at least"}, "single letter"),
    ("punctuation:no_comma", {"num_words": 3}, "unexpected argument"),
    ("startend:end_checker", {"end_phrase": " "}, "non-empty string"),
])
def test_bad_instructions_are_invalid_reference(instruction, kwargs, problem):
    verdict = verify_ifeval("Some answer.", "", instruction_id_list=["punctuation:no_comma", instruction],
                            kwargs=[{}, kwargs], key=1001)
    assert verdict.status == "invalid_reference"
    assert problem in verdict.reason and "instruction 2" in verdict.reason and "item 1001" in verdict.reason


@pytest.mark.parametrize("ids, kwargs", [(None, None), ([], []), (["punctuation:no_comma"], [{}, {}]),
                                         (["punctuation:no_comma"], "x"), (["punctuation:no_comma"], [3])])
def test_malformed_lists_are_invalid_reference(ids, kwargs):
    assert verify_ifeval("x", "", instruction_id_list=ids, kwargs=kwargs).status == "invalid_reference"


def test_absent_arguments_as_in_the_published_rows():
    # IFEval's rows name every argument, unused ones None (NaN after pandas); an integer may arrive as 3.0.
    kwargs = {"num_bullets": 2.0, "num_words": None, "relation": float("nan")}
    assert judge("* a\n* b", ("detectable_format:number_bullet_lists", kwargs)).score == 1.0


@pytest.mark.parametrize("completion, status, score", [
    ("<think>plan</think> * a\n* b", "ok", 1.0),
    ("<think>* x\n* y\n* z</think>* a\n* b", "ok", 1.0),  # bullets in the thought do not count
    ("<think>never closes * a\n* b", "no_answer", 0.0),
    ("<think>done</think>   \n", "no_answer", 0.0),
    ("   ", "no_answer", 0.0),
])
def test_think_block(completion, status, score):
    verdict = judge(completion, ("detectable_format:number_bullet_lists", {"num_bullets": 2}))
    assert (verdict.status, verdict.score) == (status, score)


def test_fraction_and_all():
    instructions = [("punctuation:no_comma", {}), ("change_case:english_capital", {}), ("detectable_format:title", {})]
    fraction = judge("<<Hi>> all good", *instructions)
    assert fraction.score == pytest.approx(2 / 3)
    assert "change_case:english_capital" in fraction.reason and "punctuation:no_comma" not in fraction.reason.split("failed:")[1]
    assert judge("<<Hi>> all good", *instructions, ifeval_mode="all").score == 0.0
    assert judge("<<HI>> ALL GOOD", *instructions, ifeval_mode="all").score == 1.0
    assert judge("x", *instructions, ifeval_mode="most").status == "invalid_reference"


@pytest.mark.parametrize("response, instruction, strict, loose", [
    ("Sure! Here it is:\n{\"a\": 1}", ("detectable_format:json_format", {}), 0.0, 1.0),  # drop the first line
    ("\"Hello.\"\nHope this helps", ("startend:quotation", {}), 0.0, 1.0),  # drop the last line
    ("**Done.** That is all.**", ("startend:end_checker", {"end_phrase": "That is all."}), 0.0, 1.0),  # without *
    ("red, blue", ("punctuation:no_comma", {}), 0.0, 0.0),
])
def test_loose_mode(response, instruction, strict, loose):
    assert judge(response, instruction).score == strict
    assert judge(response, instruction, loose=True).score == loose


def test_loose_variants_are_ifevals_eight():
    assert loose_variants("a\n*b*\nc") == ["a\n*b*\nc", "a\nb\nc", "*b*\nc", "b\nc", "a\n*b*", "a\nb", "*b*", "b"]


def test_registered_as_builtin():
    assert get_verifier("ifeval") is verify_ifeval


# --- the generator ----------------------------------------------------------------------------------------------
def test_generator_solutions_pass_the_verifier():
    train, held_out = instruction_following(1500, 300, seed=3, no_think_fraction=0.3)
    assert {p.id for p in train}.isdisjoint(p.id for p in held_out)
    for prompt in train + held_out:
        verdict = get_verifier(prompt.verifier)(prompt.solution, prompt.reference, **prompt.fields)
        assert verdict.score == 1.0, (prompt.id, prompt.solution, verdict.reason)
        assert 1 <= len(prompt.fields["instruction_id_list"]) <= 2
        assert (prompt.mode == "no_think") == ("<think>" not in prompt.solution)
        assert len(prompt.text.split()) <= 30 and len(prompt.solution.split()) <= 30


def test_generator_is_deterministic_and_held_out_stable():
    a = instruction_following(200, 50, seed=7)
    assert a == instruction_following(200, 50, seed=7)
    assert a != instruction_following(200, 50, seed=8)
    assert instruction_following(400, 50, seed=7)[1] == a[1]  # the held-out split does not depend on n_train


def test_train_kinds_limit_the_train_split_only():
    train, held_out = instruction_following(300, 200, seed=0, train_kinds=("repeat", "bullets"))
    assert {p.id.split(":")[1] for p in train} == {"repeat", "bullets"}
    assert len({p.id.split(":")[1] for p in held_out}) > 2
    assert held_out == instruction_following(10, 200, seed=0)[1]


@pytest.mark.parametrize("params", [{"kinds": ("dance",)}, {"train_kinds": ()}, {"modifiers": ("shout",)},
                                    {"no_think_fraction": 2}, {"ifeval_mode": "most"}])
def test_generator_rejects_bad_parameters(params):
    with pytest.raises(ValueError):
        instruction_following(10, 10, seed=0, **params)


def test_generator_registered_and_all_mode_reaches_the_verifier():
    assert GENERATORS["instruction_following"] is instruction_following
    train, _ = instruction_following(20, 5, seed=0, ifeval_mode="all", modifiers=(), kinds=tuple(KINDS))
    assert all(p.fields["ifeval_mode"] == "all" and len(p.fields["instruction_id_list"]) == 1 for p in train)


def test_rlvr_score_on_ifeval_format_rows(tmp_path):
    """IFEval's own rows (key, prompt, instruction_id_list, kwargs with None for unused names, response)
    score as they are: the instructions reach the verifier as record fields."""
    import contextlib
    import io

    from rl.cli.main import main

    unused = {"num_words": None, "relation": None, "num_bullets": None}
    rows = [
        {"key": 1, "prompt": "List 2 colours.", "instruction_id_list": ["detectable_format:number_bullet_lists"],
         "kwargs": [{**unused, "num_bullets": 2}], "response": "* red\n* blue"},
        {"key": 2, "prompt": "At least 5 words, no commas.", "response": "Too short, sorry.",
         "instruction_id_list": ["length_constraints:number_words", "punctuation:no_comma"],
         "kwargs": [{**unused, "num_words": 5, "relation": "at least"}, unused]},
        {"key": 3, "prompt": "?", "instruction_id_list": ["no:such"], "kwargs": [{}], "response": "x"},
    ]
    source = tmp_path / "ifeval.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["score", str(source), "--verifier", "ifeval", "--completion-field", "response",
                     "--reference-field", "prompt", "--id-field", "key", "--workers", "1", "-o", str(out)])
    assert code == 0
    verdicts = [json.loads(line)["verdict"] for line in out.read_text("utf-8").splitlines()]
    assert [(v["status"], v["score"]) for v in verdicts] == [("ok", 1.0), ("ok", 0.0), ("invalid_reference", 0.0)]
    assert "punctuation:no_comma" in verdicts[1]["reason"]
