"""The ``judge_transcripts`` task (rl.data.judge_tasks) and its verdict verifier: balance, disjoint splits,
determinism, the template, labels the rule verifier agrees with kind by kind, transcripts that fit the
tiny model; and (slow, ray) a short judge build whose held-out verdict accuracy must beat a bar."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rl.data.judge_tasks import (
    DEFAULT_MIX,
    RESPONSE_KINDS,
    TEMPLATE_PATH,
    JudgeTaskError,
    fill_template,
    judge_transcripts,
    load_template,
)
from rl.data.tasks import GENERATORS, corpus, generate
from verifiers import get_verifier
from verifiers.judge_verdict import parse_verdict, verify_verdict
from verifiers.math import verify_math

TOKEN_LIMIT = 120  # a whole transcript (chat markup, prompt, reply) within the tiny model's comfortable length


@pytest.fixture(scope="module")
def splits():
    return judge_transcripts(2000, 400, seed=0)


def problem(prompt) -> str:
    return prompt.id.split(":")[1]


def test_registered_and_reached_through_generate():
    assert GENERATORS["judge_transcripts"] is judge_transcripts
    train, held_out = generate("judge_transcripts", 20, 10, 0, {"responses_per_problem": 1})
    assert (len(train), len(held_out)) == (20, 10)


def test_verdicts_are_balanced_and_every_kind_appears(splits):
    for split in splits:
        verdicts = Counter(p.reference for p in split)
        assert abs(verdicts["YES"] - verdicts["NO"]) <= 2, verdicts
        assert set(p.fields["kind"] for p in split) == set(DEFAULT_MIX)


def test_mix_gives_exact_counts():
    train, _ = judge_transcripts(100, 0, seed=3, mix={"correct": 1, "off_by_one": 3})
    assert Counter(p.fields["kind"] for p in train) == {"correct": 25, "off_by_one": 75}


def test_splits_share_no_problem(splits):
    train, held_out = splits
    assert not {problem(p) for p in train} & {problem(p) for p in held_out}
    assert len({p.id for p in train + held_out}) == len(train) + len(held_out)


def test_deterministic_and_held_out_independent_of_n_train(splits):
    again = judge_transcripts(2000, 400, seed=0)
    assert again == splits
    _, held_out = judge_transcripts(50, 400, seed=0)
    assert held_out == splits[1]
    assert judge_transcripts(2000, 400, seed=1)[1] != splits[1]


def test_prompt_is_the_template_filled_by_plain_replace(splits):
    template = load_template(TEMPLATE_PATH)
    for prompt in splits[0][:50]:
        f = prompt.fields
        assert prompt.messages == (("user", fill_template(template, f["question"], f["answer"], f["response"])),)
        assert prompt.messages[0][1] == (template.replace("{question}", f["question"])
                                         .replace("{reference}", f["answer"]).replace("{response}", f["response"]))
    assert fill_template("{question}|{reference}|{response}", "q", "r", "") == "q|r|"


def test_template_without_a_placeholder_is_an_error(tmp_path):
    bad = tmp_path / "t.txt"
    bad.write_text("Question: {question}\nResponse: {response}")
    with pytest.raises(JudgeTaskError, match="reference"):
        judge_transcripts(4, 2, seed=0, template=str(bad))


@pytest.mark.parametrize("kind", sorted(RESPONSE_KINDS))
def test_each_kind_is_labelled_as_the_rule_verifier_labels_it(kind):
    """The labels the judge learns must be the rule verifier's, or the judge learns to disagree with it."""
    train, held_out = judge_transcripts(300, 0, seed=5, mix={kind: 1.0})
    for prompt in train:
        rule = verify_math(prompt.fields["response"], prompt.fields["answer"])
        assert (rule.score == 1.0) == (prompt.reference == "YES"), (kind, prompt.fields, rule)
    assert {p.reference for p in train} == {"YES" if kind in ("correct", "corrected") else "NO"}


def test_solution_ends_with_the_verdict_line_the_verifier_reads(splits):
    verifier = get_verifier(splits[0][0].verifier)
    for prompt in splits[0][:200]:
        assert prompt.solution.splitlines()[-1] == f"VERDICT: {prompt.reference}"
        assert verifier(prompt.solution, prompt.reference).score == 1.0
    assert {p.mode for p in splits[0]} == {"think", "no_think"}


@pytest.mark.parametrize("reply, verdict", [
    ("VERDICT: YES", "YES"),
    ("<think>\n\n</think>\n\nFinal answer 41, reference 42.\nVERDICT: NO\n\n", "NO"),
    ("  VERDICT: NO  ", "NO"),
    ("VERDICT: YES\nmore", None),           # the verdict must be the last non-empty line
    ("VERDICT: yes", None),
    ("VERDICT: MAYBE", None),
    ("YES", None),
    ("", None),
])
def test_parse_verdict(reply, verdict):
    assert parse_verdict(reply) == verdict


def test_verify_verdict_keeps_no_verdict_and_bad_reference_apart():
    assert verify_verdict("VERDICT: YES", "YES").score == 1.0
    assert verify_verdict("VERDICT: YES", "NO").score == 0.0
    assert verify_verdict("I agree", "YES").status == "no_answer"
    assert verify_verdict("VERDICT: YES", "42").unjudged


def test_transcripts_fit_the_tiny_model(splits):
    from rl.engine.policy import train_tiny_tokenizer

    train, held_out = splits
    tokenizer = train_tiny_tokenizer(corpus(train + held_out))
    lengths = []
    for prompt in train + held_out:
        rendered = tokenizer.apply_chat_template(prompt.chat(), tokenize=False, add_generation_prompt=True)
        lengths.append(len(tokenizer(rendered + prompt.solution, add_special_tokens=False)["input_ids"]) + 1)
    assert max(lengths) < TOKEN_LIMIT, max(lengths)


@pytest.mark.ray
@pytest.mark.slow
def test_short_judge_build_beats_the_bar(tiny_judge_build):
    """The quick build CI uses: its held-out verdict accuracy (the pipeline's own eval) must clear 0.9."""
    import json

    from rl.loops.judge_build import judge_checkpoint

    summary = json.loads((tiny_judge_build / "summary.json").read_text())
    assert judge_checkpoint(tiny_judge_build) == Path(summary["final_checkpoint"])
    assert summary["stages"][0]["eval_after"]["eval/accuracy"] > 0.9, summary["stages"][0]["eval_after"]
