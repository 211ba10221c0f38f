"""The model judge (``verifiers.judge``): strict parsing, the master-key pre-filter, templates, the cache,
and the HTTP backend against real servers on loopback: a stdlib server that fails or stalls on purpose,
and ``transformers serve`` running tiny models built here (one trained to always answer VERDICT: YES,
one untrained, whose replies have no verdict line). Nothing is mocked.

    pytest tests/test_judge.py               # unit tests and the stdlib-server tests (seconds)
    pytest tests/test_judge.py -m slow       # the transformers-serve tests (about a minute on a CPU)
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from rl.config import ConfigError, ExperimentConfig, JudgeConfig
from rl.config.build import config_from_dict
from rl.data.records import Prompt, Rollout, RolloutGroup
from rl.engine.scorer import RolloutScorer
from rl.loops.grpo import PromptSchedule, VerifierOutage, collect_batch
from rl.loops.heldout import evaluate
from tests.helpers.judge_server import StubJudgeServer, build_judge_model, free_port, serve_command, served_model
from verifiers.judge import Judge, JudgeItem, cascade
from verifiers.judge.cache import JudgeCache, cache_key
from verifiers.judge.parse import parse_reply
from verifiers.judge.prefilter import MASTER_KEYS, prefilter
from verifiers.judge.prompt import TemplateError, answer_part, fill_template, load_template
from verifiers.verdict import Verdict

# ---------------------------------------------------------------- parsing, pre-filter, templates, cache


@pytest.mark.parametrize("reply, score", [
    ("VERDICT: YES", 1.0), ("The answers agree.\n\nVERDICT: yes\n", 1.0), ("VERDICT:NO", 0.0), ("  VERDICT: No  ", 0.0),
])
def test_a_verdict_line_last_is_a_judgement(reply, score):
    verdict = parse_reply(reply)
    assert (verdict.status, verdict.score) == ("ok", score)


@pytest.mark.parametrize("reply", [
    "", "YES", "VERDICT: YES.", "verdict: YES", "VERDICT: MAYBE", "VERDICT: YES\nThanks!", "VERDICT: YES or NO",
    "Final: VERDICT: YES", "**VERDICT: YES**",
])
def test_anything_else_is_unjudged_never_zero_or_one(reply):
    verdict = parse_reply(reply)
    assert verdict.unjudged and verdict.status == "error" and "no yes_no verdict line" in verdict.reason


@pytest.mark.parametrize("reply, expected", [("SCORE: 7", 0.7), ("ok\nSCORE: 10", 1.0), ("SCORE: 0", 0.0), ("SCORE: 7.5", 0.75),
                                             ("SCORE: 11", None), ("SCORE: -1", None), ("SCORE: seven", None)])
def test_score_format_maps_the_range_onto_zero_one(reply, expected):
    verdict = parse_reply(reply, "score", (0, 10))
    assert (verdict.score if verdict.judged else None) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("response", ["", "   ", ":", ".", " . ", "Let's solve this problem step by step.", "Solution",
                                      "solution:", "THOUGHT PROCESS:", "解", "Respuesta", "<think>long thought", "<think>x</think>  ",
                                      "<think>x</think> :"])
def test_master_keys_and_no_answer_are_wrong_without_a_judge(response):
    verdict = prefilter(answer_part(response))
    assert verdict is not None and verdict.judged and verdict.score == 0.0 and verdict.reason.startswith("pre-filter:")


@pytest.mark.parametrize("response", ["5", "The answer is 5.", "<think>2+3</think> 5", "Solution: x = 2", "Paris"])
def test_real_answers_pass_the_prefilter(response):
    assert prefilter(answer_part(response)) is None


def test_the_paper_keys_are_all_caught():
    assert all(prefilter(key) is not None for key in MASTER_KEYS)


def test_the_think_block_is_cut_and_an_unclosed_one_is_no_answer():
    assert answer_part("<think>2 + 3 = 5</think>\n\nThe answer is 5.") == "The answer is 5."
    assert answer_part("2 + 3 = 5</think> 5") == "5"  # the template opened the think block
    assert answer_part("<think>still thinking") is None
    assert answer_part("<think>a</think> 5", strip_thinking=False) == "<think>a</think> 5"


def test_templates_fill_only_the_three_placeholders_in_one_pass():
    template = 'Q={question} R={reference} A={response} json: {"verdict": "YES"} {other}'
    filled = fill_template(template, question="2+3?", reference="5", response="I say {reference} and {question}")
    assert filled == 'Q=2+3? R=5 A=I say {reference} and {question} json: {"verdict": "YES"} {other}'


def test_builtin_templates_and_files_load_and_a_missing_one_is_named(tmp_path):
    for name in ("with_reference", "without_reference"):
        text = load_template(name)
        assert "{question}" in text and "{response}" in text and "VERDICT: YES" in text
    assert "{reference}" in load_template("with_reference") and "{reference}" not in load_template("without_reference")
    mine = tmp_path / "mine.txt"
    mine.write_text("{question} -> {response}?")
    assert load_template(str(mine)) == "{question} -> {response}?"
    with pytest.raises(TemplateError, match="nope.txt"):
        load_template("nope.txt")


def test_cache_keys_depend_on_every_input_and_only_judged_verdicts_are_kept(tmp_path):
    base = ("T", "m", "q", "r", "ref", "yes_no")
    keys = {cache_key(*base)} | {cache_key(*base[:i], base[i] + "x", *base[i + 1:]) for i in range(len(base))}
    assert len(keys) == len(base) + 1
    assert cache_key("a", "b|c", "", "", "", "") != cache_key("a|b", "c", "", "", "", "")
    cache = JudgeCache(tmp_path / "c.sqlite")
    cache.put("k", Verdict(1.0, "ok", "5", "judge: VERDICT: YES"))
    assert cache.get("k") == Verdict(1.0, "ok", "5", "judge: VERDICT: YES") and cache.get("other") is None
    with pytest.raises(ValueError):
        cache.put("t", Verdict(0.0, "timeout"))


def test_config_needs_a_server_and_names_a_missing_template(tmp_path):
    assert config_from_dict({}).judge == JudgeConfig()  # no judge section, no judge prompts: nothing checked
    with pytest.raises(ConfigError, match="judge.base_url must be set"):
        config_from_dict({"judge": {"model": "m"}})
    with pytest.raises(ConfigError, match="judge.base_url must be set"):
        config_from_dict({"data": {"default_verifier": "judge"}})
    with pytest.raises(ConfigError, match="judge.template cannot be used.*missing.txt"):
        config_from_dict({"judge": {"base_url": "http://x/v1", "model": "m", "template": str(tmp_path / "missing.txt")}})
    with pytest.raises(ConfigError, match="judge.model must be set: backend local"):
        config_from_dict({"judge": {"backend": "local"}})
    # A local judge's directory is checked when a judge is built (like model.path), not when a config loads.
    config = config_from_dict({"judge": {"backend": "local", "model": "dir"}})
    with pytest.raises(ConfigError, match="model cannot be loaded by backend local: 'dir': no such directory"):
        config.judge.check_usable()
    with pytest.raises(ConfigError, match="score_range"):
        config_from_dict({"judge": {"score_range": [5, 5]}})


# ---------------------------------------------------------------- the HTTP backend against a stdlib server


def judge_config(base_url: str, **changes) -> JudgeConfig:
    return replace(JudgeConfig(base_url=base_url, model="stub-judge", timeout_s=5.0, retries=2, backoff_s=0.05), **changes)


ITEMS = [JudgeItem("What is 2 + 3?", "<think>2 + 3 = 5</think> 5", "5", "a"),
         JudgeItem("Capital of France?", "Paris", "Paris", "b"),
         JudgeItem("Is the sky blue?", "Yes, it is.", "", "c")]


def test_503_twice_then_an_answer_is_retried_and_judged():
    with StubJudgeServer(fail_first=2) as stub, Judge(judge_config(stub.base_url, max_concurrency=1)) as judge:
        verdicts = judge.judge(ITEMS[:1])
        assert [(v.status, v.score) for v in verdicts] == [("ok", 1.0)] and stub.requests == 3
        stats = judge.stats()
        assert stats["requests"] == 1 and stats["retries"] == 2 and stats["errors"] == 0 and judge.stats()["requests"] == 0


def test_a_server_that_keeps_failing_leaves_the_item_unjudged_with_why():
    with StubJudgeServer(fail_first=100) as stub, Judge(judge_config(stub.base_url)) as judge:
        [verdict] = judge.judge(ITEMS[:1])
    assert verdict.status == "error" and "item 'a'" in verdict.reason and "HTTP 503" in verdict.reason and "3 attempts" in verdict.reason


def test_a_client_error_is_not_retried():
    with StubJudgeServer(fail_first=100, fail_status=400) as stub, Judge(judge_config(stub.base_url)) as judge:
        [verdict] = judge.judge(ITEMS[:1])
    assert verdict.status == "error" and "HTTP 400" in verdict.reason and stub.requests == 1


def test_nothing_listening_is_unjudged_and_ping_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with Judge(judge_config(url, retries=1)) as judge:
        verdicts = judge.judge(ITEMS)
        assert all(v.status == "error" and "cannot connect" in v.reason for v in verdicts)
        assert judge.stats()["errors"] == 3
        with pytest.raises(Exception, match=f"judge endpoint {url}/models does not answer"):
            judge.ping()


def test_a_judge_slower_than_its_deadline_is_a_timeout_and_the_caller_goes_on():
    with StubJudgeServer(delay_s=2.0) as stub, Judge(judge_config(stub.base_url, timeout_s=0.3)) as judge:
        started = time.monotonic()
        verdicts = judge.judge(ITEMS)
        assert time.monotonic() - started < 1.5  # the three waited together, once, and were not retried
        assert all(v.status == "timeout" and "timeout_s=0.3" in v.reason for v in verdicts)
        assert judge.stats()["timeouts"] == 3


def test_no_more_requests_in_flight_than_the_limit():
    items = [JudgeItem(f"q{i}", f"answer {i}", "ref", str(i)) for i in range(12)]
    with StubJudgeServer(delay_s=0.2) as stub, Judge(judge_config(stub.base_url, max_concurrency=3)) as judge:
        started = time.monotonic()
        assert all(v.score == 1.0 for v in judge.judge(items))
    assert stub.max_in_flight == 3 and stub.requests == 12 and time.monotonic() - started >= 0.8  # 4 waves of 0.2 s


def test_the_cache_answers_a_second_batch_and_a_second_judge(tmp_path):
    path = tmp_path / "judge_cache.sqlite"
    with StubJudgeServer() as stub:
        with Judge(judge_config(stub.base_url), cache_path=path) as judge:
            first = judge.judge(ITEMS)
            assert stub.requests == 3 and judge.judge(ITEMS) == first and stub.requests == 3
            assert judge.stats()["cache_hits"] == 3
        with Judge(judge_config(stub.base_url), cache_path=path) as again:
            assert again.judge(ITEMS) == first and stub.requests == 3
        with Judge(judge_config(stub.base_url, template_without_reference=str(_template(tmp_path))), cache_path=path) as other:
            other.judge(ITEMS)
            assert stub.requests == 4  # the one item that uses the changed template is asked again


def test_identical_items_of_a_batch_are_asked_once_and_each_named_in_its_verdict():
    twins = [replace(ITEMS[0], item_id=f"s{i}", response=f"<think>try {i}</think> 5") for i in range(4)]  # one answer shown
    with StubJudgeServer() as stub, Judge(judge_config(stub.base_url)) as judge:
        verdicts = judge.judge(twins + ITEMS[1:])
        stats = judge.stats()
    assert stub.requests == 3 and stats["requests"] == 3 and stats["duplicates"] == 3
    assert [v.score for v in verdicts] == [1.0] * 6
    with StubJudgeServer(fail_first=99) as stub, Judge(judge_config(stub.base_url, retries=0)) as judge:
        verdicts = judge.judge(twins)
    assert stub.requests == 1 and [v.reason.split(":")[0] for v in verdicts] == ["item 's0'", "item 's1'", "item 's2'", "item 's3'"]
    assert all(v.unjudged for v in verdicts)


def _template(tmp_path: Path) -> Path:
    path = tmp_path / "open.txt"
    path.write_text("Question: {question}\nResponse: {response}\nEnd with VERDICT: YES or VERDICT: NO.")
    return path


def test_unparsable_replies_are_not_cached(tmp_path):
    with StubJudgeServer(reply="I think it is right") as stub, \
            Judge(judge_config(stub.base_url), cache_path=tmp_path / "c.sqlite") as judge:
        assert all(v.status == "error" for v in judge.judge(ITEMS)) and judge.stats()["unparsable"] == 3
        judge.judge(ITEMS)
        assert stub.requests == 6


def test_the_cascade_asks_the_judge_only_about_what_the_rule_rejected():
    rule = [Verdict(1.0, "ok", "5", "equivalent"), Verdict(0.0, "ok", "41", "not equivalent"),
            Verdict(0.0, "no_answer", None, "no boxed answer"), Verdict(0.0, "timeout", None, "5s")]
    items = [JudgeItem(f"q{i}", f"answer {i}", "42", str(i)) for i in range(4)]
    with StubJudgeServer() as stub, Judge(judge_config(stub.base_url)) as judge:
        final, overruled = cascade(rule, items, judge)
    assert stub.requests == 2 and overruled == 2
    assert final[0] == rule[0] and final[3] == rule[3]  # right stays right; unjudged stays unjudged
    assert [(v.status, v.score) for v in final[1:3]] == [("ok", 1.0), ("ok", 1.0)] and "rule: not equivalent" in final[1].reason


def test_the_cascade_leaves_an_item_unjudged_when_the_judge_cannot_judge():
    with Judge(judge_config(f"http://127.0.0.1:{free_port()}/v1", retries=0)) as judge:
        final, overruled = cascade([Verdict(0.0, "ok", "41", "not equivalent")], [JudgeItem("q", "41", "42")], judge)
    assert final[0].status == "error" and "the judge could not judge" in final[0].reason and overruled == 0


# ---------------------------------------------------------------- the training step: routing and the unjudged stop


class OneCompletionCluster:
    """Rollout actors that sample ``text`` for every prompt (the scorer under test is the real one)."""

    def __init__(self, text: str):
        self.text = text

    def generate(self, prompts, num_samples, **_):
        return [RolloutGroup(p, tuple(Rollout(p, (1, 2), (3, j), self.text, (), True, 0) for j in range(num_samples)))
                for p in prompts]


def _step(tmp_path, base_url: str, verifier: str, text: str, **judge_changes):
    prompts = [Prompt(f"p{i}", None, f"What is {i} + 1?", str(i + 1), verifier=verifier) for i in range(2)]
    config = ExperimentConfig()
    config = replace(config, rollout=replace(config.rollout, group_size=2, prompts_per_step=2),
                     run=replace(config.run, out_dir=str(tmp_path), max_unjudged_fraction=0.25),
                     judge=judge_config(base_url, **judge_changes))
    scorer = RolloutScorer(config, workers=1)
    try:
        batch, metrics = collect_batch(config, OneCompletionCluster(text), scorer, PromptSchedule(prompts, 2, seed=0), step=0)
        return batch, metrics
    finally:
        scorer.close()


def test_a_training_step_routes_judge_prompts_and_logs_the_judge_counts(tmp_path):
    with StubJudgeServer() as stub:
        _, metrics = _step(tmp_path, stub.base_url, "judge", "<think>x</think> It is 1 + 1.")
        # two prompts x two identical samples: one request per prompt, the twin answered by it
        assert stub.requests == 2 and metrics["judge/requests"] == 2 and metrics["judge/duplicates"] == 2
        assert metrics["train/accuracy"] == 1.0
        assert (tmp_path / "judge_cache.sqlite").is_file()
        _, again = _step(tmp_path, stub.base_url, "judge", "<think>x</think> It is 1 + 1.")  # a resumed run
        assert stub.requests == 2 and again["judge/cache_hits"] == 4


def test_a_cascade_step_asks_the_judge_only_about_rule_rejects(tmp_path):
    with StubJudgeServer() as stub:
        _, metrics = _step(tmp_path, stub.base_url, "cascade", "\\boxed{1000}")  # wrong for the math rule
        assert stub.requests == 2 and metrics["judge/overruled"] == 4  # one request per prompt, both samples overruled
    with StubJudgeServer() as stub:
        _, metrics = _step(tmp_path, stub.base_url, "cascade", "\\boxed{1}")  # right for prompt p0 only
        assert stub.requests == 1 and metrics["judge/overruled"] == 2


def test_an_unreachable_judge_stops_the_step_at_max_unjudged_fraction(tmp_path):
    with pytest.raises(VerifierOutage, match=r"could not judge 4 of the 4 .*cannot connect"):
        _step(tmp_path, f"http://127.0.0.1:{free_port()}/v1", "judge", "It is 1.", retries=0)


def test_a_heldout_eval_reports_its_own_judge_counts_and_leaves_the_training_counts_alone(tmp_path):
    prompts = [Prompt(f"p{i}", None, f"What is {i} + 1?", str(i + 1), verifier="judge") for i in range(3)]
    with StubJudgeServer() as stub:
        config = replace(ExperimentConfig(), run=replace(ExperimentConfig().run, out_dir=str(tmp_path)),
                         judge=judge_config(stub.base_url, cache=False))
        scorer = RolloutScorer(config, workers=1)
        try:
            cluster = OneCompletionCluster("It is 1.")
            scorer.score(cluster.generate(prompts[:1], 2))  # a training step's samples, counts not read yet
            metrics = evaluate(cluster, scorer, prompts, temperature=0.0, seed=0)
            training = scorer.judge_metrics()
        finally:
            scorer.close()
    assert stub.requests == 4 and metrics["eval/judge/requests"] == 3 and metrics["eval/accuracy"] == 1.0
    assert metrics["eval/judge/unparsable"] == 0 and "eval/judge/overruled" in metrics
    assert training["judge/requests"] == 1 and training["judge/duplicates"] == 1  # the eval's three are not the next step's


# ---------------------------------------------------------------- tiny models behind `transformers serve`

needs_serve = pytest.mark.skipif(serve_command() is None, reason="`transformers serve` is not installed "
                                                                  "(pip install 'transformers[serving]')")


@pytest.fixture(scope="session")
def always_yes_server(tmp_path_factory):
    model = build_judge_model(tmp_path_factory.mktemp("yes_judge"), reply="VERDICT: YES")
    with served_model(model) as base_url:
        yield base_url, str(model)


@pytest.fixture(scope="session")
def untrained_server(tmp_path_factory):
    model = build_judge_model(tmp_path_factory.mktemp("untrained_judge"))
    with served_model(model) as base_url:
        yield base_url, str(model)


@pytest.mark.slow
@needs_serve
def test_the_always_yes_judge_says_yes_but_master_keys_never_reach_it(always_yes_server):
    base_url, model = always_yes_server
    keys = ["", ":", ".", "Let's solve this problem step by step.", "Solution", "Thought process:", "<think>2 + 3"]
    items = [JudgeItem("What is 2 + 3?", "<think>2 + 3 = 5</think> 5", "5", "right")] + \
            [JudgeItem("What is 2 + 3?", key, "5", f"key{i}") for i, key in enumerate(keys)]
    with Judge(judge_config(base_url, model=model, max_tokens=16, timeout_s=60)) as judge:
        assert judge.ping() == [model]
        verdicts = judge.judge(items)
        stats = judge.stats()
    assert (verdicts[0].status, verdicts[0].score, verdicts[0].reason) == ("ok", 1.0, "judge: VERDICT: YES")
    assert all(v.judged and v.score == 0.0 and v.reason.startswith("pre-filter") for v in verdicts[1:])
    assert stats["requests"] == 1 and stats["prefiltered"] == len(keys) and stats["latency_s"] > 0


@pytest.mark.slow
@needs_serve
def test_an_untrained_judge_is_unparsable_and_counted_never_scored(untrained_server):
    base_url, model = untrained_server
    with Judge(judge_config(base_url, model=model, max_tokens=8, timeout_s=60)) as judge:
        verdicts = judge.judge(ITEMS)
        stats = judge.stats()
    assert all(v.status == "error" and v.unjudged and "no yes_no verdict line" in v.reason for v in verdicts)
    assert stats["unparsable"] == 3 and stats["requests"] == 3


@pytest.mark.slow
@pytest.mark.ray
@needs_serve
def test_the_tiny_judge_served_on_loopback_agrees_with_the_rule_verifier(tiny_judge_build, tmp_path):
    """The judge tiny_general uses (experiments/tiny_judge.yaml, quick build), behind `transformers serve`: on
    right and wrong answers to arithmetic problems it never trained on, its verdicts match the math verifier's."""
    import random

    from rl.data.tasks import arithmetic
    from rl.loops.judge_build import judge_checkpoint
    from verifiers.math import verify_math

    rng = random.Random(5)
    _, problems = arithmetic(0, 60, seed=2024, digits=2, work="columns")
    items = []
    for p in problems:
        answer = int(p.reference) + rng.choice([0, 0, 1, -1, 10, -10])
        response = rng.choice(["The answer is \\boxed{%d}.", "\\boxed{%d}", "The answer is %d."]) % answer
        items.append(JudgeItem(p.text, f"<think>working</think> {response}", p.reference, p.id))
    config = JudgeConfig(base_url="", model=str(judge_checkpoint(tiny_judge_build)), template="experiments/judges/tiny_judge_prompt.txt",
                         max_tokens=48, timeout_s=60, cache=False)
    with served_model(judge_checkpoint(tiny_judge_build), log_path=tmp_path / "serve.log") as base_url:
        with Judge(replace(config, base_url=base_url)) as judge:
            verdicts = judge.judge(items)
            stats = judge.stats()
    rule = [verify_math(item.response, item.reference).score for item in items]
    assert stats["unparsable"] == 0 and all(v.judged for v in verdicts), [v.reason for v in verdicts if not v.judged][:3]
    agreement = sum(v.score == r for v, r in zip(verdicts, rule)) / len(items)
    wrong = [v.score for v, r in zip(verdicts, rule) if r == 0.0]
    assert agreement >= 0.9 and wrong and sum(s == 0.0 for s in wrong) / len(wrong) >= 0.85, (agreement, wrong)
