"""The GRPO loop never trains on rewards that mean nothing (driven without Ray).

A sample the verifier could not judge (timeout, error, bad reference) is masked: no advantage,
out of its group's statistics and of the loss normaliser; past ``run.max_unjudged_fraction`` the
step stops with ``VerifierOutage``. ``no_answer`` is a judgement (wrong), trained as such.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rl.algorithms.advantages import grpo_advantages
from rl.config import ExperimentConfig
from rl.data.records import Prompt, Rollout, RolloutGroup, ScoredGroup, ScoredRollout
from rl.loops.grpo import PromptSchedule, VerifierOutage, collect_batch
from verifiers.verdict import Verdict

PROMPTS = [Prompt(f"p{i}", None, f"What is {i} + 1?", str(i + 1)) for i in range(4)]
RIGHT, WRONG, NO_ANSWER = Verdict(1.0, "ok"), Verdict(0.0, "ok"), Verdict(0.0, "no_answer")
ERROR, TIMEOUT = Verdict(0.0, "error", reason="sandbox: container died"), Verdict(0.0, "timeout", reason="5s")


class FakeCluster:
    def generate(self, prompts, num_samples, **_):
        # completion ids encode (prompt, sample) so that the test can tell which samples were trained
        return [RolloutGroup(p, tuple(Rollout(p, (1, 2), (100 + int(p.id[1:]), j), "text", (), True, 0)
                                      for j in range(num_samples))) for p in prompts]


class FakeScorer:
    """Sample j of every group gets ``verdicts[j % len(verdicts)]``; reward = the verdict's score."""

    def __init__(self, verdicts):
        self.verdicts = verdicts

    def score(self, groups):
        return [ScoredGroup(g.prompt, tuple(
            ScoredRollout(r, v, v.score, {"correct": v.score}) for r, v in
            zip(g.rollouts, (self.verdicts[j % len(self.verdicts)] for j in range(len(g.rollouts)))))) for g in groups]

    def judge_metrics(self):
        return {}  # no prompt here routes to a judge


def _collect(verdicts, group_size=10, **run):
    config = ExperimentConfig()
    config = replace(config, rollout=replace(config.rollout, group_size=group_size, prompts_per_step=4),
                     run=replace(config.run, **run))
    schedule = PromptSchedule(PROMPTS, config.rollout.prompts_per_step, seed=0)
    return collect_batch(config, FakeCluster(), FakeScorer(verdicts), schedule, step=3)


def test_a_step_the_verifier_could_not_judge_at_all_stops_the_run_naming_why():
    with pytest.raises(VerifierOutage, match=r"step 3: the verifier could not judge 40 of the 40 completions \(100% .*"
                                             r"'p\d': error: sandbox: container died"):
        _collect([ERROR, TIMEOUT], max_unjudged_fraction=1.0)


def test_thirty_percent_errors_train_only_on_the_judged_seventy():
    verdicts = [RIGHT, WRONG, RIGHT, WRONG, NO_ANSWER, RIGHT, WRONG, ERROR, TIMEOUT, ERROR]  # 3 of 10 unjudged
    batch, metrics = _collect(verdicts, max_unjudged_fraction=0.5)
    assert len(batch) == 4 * 7
    assert {s.completion_ids[1] for s in batch} == {0, 1, 2, 3, 4, 5, 6}  # samples 7, 8, 9 never trained
    judged_rewards = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]])
    expected = grpo_advantages(judged_rewards)[0]  # the statistics of the judged samples only
    got = torch.tensor([s.advantage for s in batch[:7]])
    torch.testing.assert_close(got, expected)
    assert metrics["verifier/unjudged"] == pytest.approx(0.3)
    assert metrics["verifier/error"] == pytest.approx(0.2) and metrics["verifier/timeout"] == pytest.approx(0.1)
    assert metrics["verifier/no_answer"] == pytest.approx(0.1)  # a judgement, not an outage
    assert metrics["train/accuracy"] == pytest.approx(3 / 7)  # over judged samples: unjudged are not wrong


def test_above_the_threshold_the_step_stops_naming_the_fraction():
    verdicts = [RIGHT, WRONG, RIGHT, WRONG, NO_ANSWER, RIGHT, WRONG, ERROR, TIMEOUT, ERROR]
    with pytest.raises(VerifierOutage, match=r"could not judge 12 of the 40 completions \(30% > run.max_unjudged_fraction=0.25"):
        _collect(verdicts)  # the default threshold


def test_a_group_with_fewer_than_two_judged_samples_is_dropped():
    batch, metrics = _collect([RIGHT, ERROR, ERROR], group_size=3, max_unjudged_fraction=1.0)
    assert batch == [] and metrics["groups/dropped_unjudged"] == 4


def test_no_answers_are_wrong_answers_and_train():
    batch, metrics = _collect([NO_ANSWER, RIGHT], group_size=4)
    assert len(batch) == 16 and metrics["verifier/unjudged"] == 0
    assert [round(s.advantage, 3) for s in batch[:4]] == [round(float(a), 3) for a in grpo_advantages(torch.tensor([[0.0, 1, 0, 1]]))[0]]


def test_mask_truncated_leaves_samples_cut_by_length_out_of_the_group_and_the_loss():
    from rl.data.records import TrainSequence
    from rl.loops.grpo import judged_group_sequences

    prompt = PROMPTS[0]
    reasons = ["stop", "length", "stop", "thinking_budget", "token_cap", "stop"]
    rewards = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    group = ScoredGroup(prompt, tuple(
        ScoredRollout(Rollout(prompt, (1,), (10 + j,), "t", (), reason == "stop", 0, finish_reason=reason),
                      RIGHT if r else WRONG, r, {}) for j, (reason, r) in enumerate(zip(reasons, rewards))))
    kept = judged_group_sequences(group, grpo_advantages, mask_truncated=True)
    assert [s.completion_ids[0] for s in kept] == [10, 12, 15]  # only the finished samples
    torch.testing.assert_close(torch.tensor([s.advantage for s in kept]), grpo_advantages(torch.tensor([[1.0, 0.0, 1.0]]))[0])
    assert sum(s.target_tokens for s in kept) == 3  # the normaliser counts none of the truncated
    everything = judged_group_sequences(group, grpo_advantages)
    assert len(everything) == 6 and all(isinstance(s, TrainSequence) for s in everything)  # off: trained on their reward


def test_metrics_report_truncated_budget_hit_and_lengths():
    from rl.engine.scorer import trajectory_metrics

    prompt = PROMPTS[0]
    rollouts = [Rollout(prompt, (1,), (5, 6, 7), "t", (), False, 0, finish_reason="thinking_budget", thinking_tokens=2,
                        answer_tokens=0, budget_hit=True),
                Rollout(prompt, (1,), (5, 6), "t", (), True, 0, finish_reason="stop", thinking_tokens=0, answer_tokens=2)]
    metrics = trajectory_metrics([ScoredRollout(r, RIGHT, 1.0, {}) for r in rollouts])
    assert metrics["completion/truncated"] == 0.5 and metrics["completion/budget_hit"] == 0.5
    assert metrics["completion/thinking_tokens"] == 1.0 and metrics["completion/answer_tokens"] == 1.0
    assert metrics["finish/thinking_budget"] == 0.5
