"""The GRPO loop refuses to train on rewards that mean nothing (driven without Ray)."""
from __future__ import annotations

import pytest

from rl.config import ExperimentConfig
from rl.grpo import PromptSchedule, VerifierOutage, collect_batch
from rl.records import Prompt, Rollout, ScoredRollout
from verifiers.verdict import Verdict

PROMPTS = [Prompt(f"p{i}", None, f"What is {i} + 1?", str(i + 1)) for i in range(4)]


class FakeCluster:
    def generate(self, prompts, num_samples, **_):
        return [Rollout(p, (1, 2), (3, 4), "text", (), True, 0) for p in prompts for _ in range(num_samples)]


class FakeScorer:
    def __init__(self, verdicts):
        self.verdicts = verdicts

    def score(self, rollouts):
        return [ScoredRollout(r, self.verdicts[i % len(self.verdicts)], 0.0, {"correct": 0.0}) for i, r in enumerate(rollouts)]


def _collect(verdicts):
    config = ExperimentConfig()
    schedule = PromptSchedule(PROMPTS, config.rollout.prompts_per_step, seed=0)
    return collect_batch(config, FakeCluster(), FakeScorer(verdicts), schedule, step=3)


def test_a_step_the_verifier_could_not_judge_at_all_stops_the_run_naming_why():
    down = Verdict(0.0, "error", reason="sandbox: container died")
    with pytest.raises(VerifierOutage, match=r"step 3: the verifier judged none of the 128 completions .*error: sandbox: container died"):
        _collect([down, Verdict(0.0, "timeout")])


def test_wrong_answers_no_answers_and_some_failures_train_on():
    batch, metrics = _collect([Verdict(0.0, "no_answer"), Verdict(0.0, "error"), Verdict(0.0, "ok")])
    assert len(batch) == 128 and metrics["verifier/unjudged"] == pytest.approx(2 / 3, abs=0.01)
