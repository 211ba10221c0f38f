"""Code verifier budgets that fit: one per-test setting, item deadlines derived from it.

A program that loops fails its test cases (judged: status ok, score 0 for them), never the whole
item (unjudged), because the scorer gives each code item a deadline that outlasts all of its
cases timing out. A fixed deadline that cannot fit is refused at config load, naming the numbers.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from rl.config import ConfigError, ExperimentConfig, RunConfig
from rl.data.records import Prompt, Rollout, RolloutGroup
from rl.engine.scorer import RolloutScorer

TESTS = ["assert f(1) == 2", "assert f(2) == 3", "assert f(5) == 6"]


def code_prompt() -> Prompt:
    return Prompt("loop-1", None, "Write f(x) = x + 1.", "", verifier="code", fields={"tests": TESTS, "entry_point": "f"})


def test_a_fixed_item_deadline_that_cannot_fit_is_refused_naming_the_numbers():
    with pytest.raises(ConfigError, match=r"code_item_deadline_s does not fit: verifier deadline 10s is too short for code items: "
                                          r"16 tests x \(2s limit .*raise the deadline to 68s"):
        RunConfig(code_item_deadline_s=10)
    assert RunConfig(code_item_deadline_s=68).code_item_deadline_s == 68


def test_code_requests_carry_the_per_test_limit_and_a_derived_deadline():
    config = ExperimentConfig()
    config = replace(config, run=replace(config.run, code_test_timeout_s=0.5))
    scorer = RolloutScorer.__new__(RolloutScorer)  # only the request building, no pool
    scorer.run, scorer.default_verifier = config.run, config.data.default_verifier
    rollout = Rollout(code_prompt(), (1,), (2,), "def f(x): return x + 1", (), True, 0)
    request = scorer._request(rollout)
    assert request.fields["timeout_s"] == 0.5
    assert request.timeout_s == pytest.approx(20 + 3 * (0.5 + 1.0))  # start-up + 3 x (limit + per-case overhead)
    math = scorer._request(Rollout(Prompt("m", None, "1+1?", "2"), (1,), (2,), "2", (), True, 0))
    assert math.timeout_s is None  # other verifiers keep run.verifier_timeout_s


@pytest.mark.slow
def test_a_looping_program_fails_its_cases_and_is_judged(monkeypatch):
    monkeypatch.setenv("RLVR_CODE_SANDBOX", "local")  # the pool's worker processes build a local sandbox
    config = ExperimentConfig()
    config = replace(config, data=replace(config.data, default_verifier="code"),
                     run=replace(config.run, code_test_timeout_s=0.5, verifier_timeout_s=1.0))  # 1 s alone would cut the item
    scorer = RolloutScorer(config, workers=1)
    try:
        looping = "def f(x):\n    while True:\n        pass\n"
        honest = "def f(x):\n    return x + 1\n"
        group = RolloutGroup(code_prompt(), tuple(Rollout(code_prompt(), (1,), (2,), f"```python\n{src}```", (), True, 0)
                                                  for src in (looping, honest)))
        loop_sample, honest_sample = scorer.score([group])[0].samples
    finally:
        scorer.close()
    assert loop_sample.verdict.status == "ok" and loop_sample.verdict.score == 0.0, loop_sample.verdict
    assert not loop_sample.verdict.unjudged
    assert honest_sample.verdict.score == 1.0
