"""Rollouts -> verdicts -> rewards: the verifier pool and the YAML's reward components.

The same verifiers and process pool as ``rlvr score``; each sample goes to the verifier
its prompt names. Rule rewards see the token count, the generation limit and whether
the completion finished, so format and length components need no extra plumbing.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import mean

from rewards import RewardFunction
from rewards.rules import attempted_calls
from rl.config import ExperimentConfig
from rl.data.records import Rollout, RolloutGroup, ScoredGroup, ScoredRollout, flatten
from rl.engine.judging import JudgeRouting, question_of
from verifiers import VerifierPool, VerifyRequest
from verifiers.code_budget import item_deadline_s
from verifiers.verdict import STATUSES, unjudged

JUDGE_CACHE_FILE = "judge_cache.sqlite"  # in run.out_dir: --resume asks the judge nothing it already answered


class RolloutScorer:
    def __init__(self, config: ExperimentConfig, *, workers: int | None = None):
        self.max_tokens = config.rollout.max_new_tokens
        self.run = config.run
        self.default_verifier = config.data.default_verifier
        self.pool = VerifierPool(config.data.default_verifier, workers=workers, timeout_s=config.run.verifier_timeout_s)
        self.reward = RewardFunction(config.rewards.components)
        # A mixture's domain may compose its own reward (data.mixture.<domain>.rewards); the rest use the experiment's.
        self.domain_rewards = {name: RewardFunction(domain.rewards) for name, domain in config.data.mixture.items() if domain.rewards}
        # judge / cascade prompts go to a served model, built on first use; its verdicts are kept beside the checkpoints
        self.judging = JudgeRouting(config.judge, cache_path=Path(config.run.out_dir) / JUDGE_CACHE_FILE)

    def score(self, groups: Sequence[RolloutGroup]) -> list[ScoredGroup]:
        """Every rollout of every group judged and rewarded in one pool batch; groups kept as groups."""
        scored = iter(self._score_all(flatten(groups)))
        return [ScoredGroup(group.prompt, tuple(next(scored) for _ in group.rollouts)) for group in groups]

    def _score_all(self, rollouts) -> list[ScoredRollout]:
        # A trajectory whose environment failed (the sandbox unreachable) is unjudged without asking the
        # verifier: its last turn says nothing about the policy.
        failed = {i: unjudged("error", f"environment failure: {r.env_info.get('failure', 'unknown')}")
                  for i, r in enumerate(rollouts) if r.finish_reason == "env_failure"}
        asked = [r for i, r in enumerate(rollouts) if i not in failed]
        judged = iter(self.judging.score([self._request(r) for r in asked], [question_of(r.prompt) for r in asked], self.pool,
                                         self.default_verifier))
        verdicts = [failed[i] if i in failed else next(judged) for i in range(len(rollouts))]
        scored = []
        for rollout, verdict in zip(rollouts, verdicts):
            reward = self.domain_rewards.get(rollout.prompt.domain, self.reward)(
                rollout.text, verdict, num_tokens=rollout.sampled_tokens, max_tokens=self.max_tokens,
                finished=rollout.finished, **{**rollout.prompt.fields, "mode": rollout.mode},
                messages=rollout.messages, env_info=rollout.env_info,
            )
            scored.append(ScoredRollout(rollout, verdict, reward.total, dict(reward.components)))
        return scored

    def _request(self, rollout: Rollout) -> VerifyRequest:
        prompt = rollout.prompt
        if (prompt.verifier or self.default_verifier) != "code":
            return VerifyRequest(rollout.text, prompt.reference, prompt.fields, verifier=prompt.verifier, item_id=prompt.id)
        # Code: every test case gets run.code_test_timeout_s, and the item a deadline that outlasts all of
        # them timing out, so that a looping program fails its cases (judged) instead of the item (unjudged).
        n_tests = max(1, len(prompt.fields.get("tests") or ()))
        if n_tests > self.run.code_max_tests:
            raise ValueError(f"prompt {prompt.id!r}: {n_tests} test cases, more than run.code_max_tests={self.run.code_max_tests}")
        deadline = self.run.code_item_deadline_s or item_deadline_s(self.run.code_test_timeout_s, n_tests)
        fields = {**prompt.fields, "timeout_s": self.run.code_test_timeout_s}
        return VerifyRequest(rollout.text, prompt.reference, fields, verifier=prompt.verifier, item_id=prompt.id, timeout_s=deadline)

    def judge_metrics(self) -> dict[str, float]:
        """``judge/*`` counts since the previous call (requests, cache hits, unparsable, overruled...); {} without a judge."""
        return self.judging.metrics()

    def judge_counted_apart(self):
        """A block whose ``judge/*`` counts go to the dict it yields, not to ``judge_metrics()`` (held-out evals)."""
        return self.judging.counted_apart()

    def close(self) -> None:
        self.pool.close()
        self.judging.close()


class VerifierOutage(RuntimeError):
    """Too many completions could not be judged: training on would learn from rewards that mean nothing."""


def check_unjudged(samples: Sequence[ScoredRollout], max_fraction: float, where: str) -> None:
    """Raise ``VerifierOutage`` when more than ``max_fraction`` of ``samples`` went unjudged (all of them, always),
    naming the fraction and one unjudged item with its reason."""
    unjudged = [s for s in samples if s.verdict.unjudged]
    if not unjudged:
        return
    fraction = len(unjudged) / len(samples)
    if fraction > max_fraction or len(unjudged) == len(samples):
        first = unjudged[0]
        raise VerifierOutage(f"{where}: the verifier could not judge {len(unjudged)} of the {len(samples)} completions "
                             f"({fraction:.0%} > run.max_unjudged_fraction={max_fraction:g}; e.g. {first.rollout.prompt.id!r}: "
                             f"{first.verdict.status}: {first.verdict.reason}); check it with `rlvr verify` or "
                             f"`rlvr sandbox doctor`, then --resume")


def domain_metrics(samples: Sequence[ScoredRollout], prefix: str) -> dict[str, float]:
    """``<prefix>/accuracy/<domain>`` and ``<prefix>/reward/<domain>`` over each ``data.mixture`` domain's judged
    samples (nothing outside a mixture); ``<prefix>/unjudged/<domain>``, the share its verifier could not judge."""
    out: dict[str, float] = {}
    for domain in dict.fromkeys(s.rollout.prompt.domain for s in samples if s.rollout.prompt.domain):
        own = [s for s in samples if s.rollout.prompt.domain == domain]
        judged = [s for s in own if s.verdict.judged]
        out[f"{prefix}/unjudged/{domain}"] = mean(s.verdict.unjudged for s in own)
        if judged:
            out[f"{prefix}/accuracy/{domain}"] = mean(s.verdict.score for s in judged)
            out[f"{prefix}/reward/{domain}"] = mean(s.reward for s in judged)
    return out


def status_fractions(samples: Sequence[ScoredRollout]) -> dict[str, float]:
    """``verifier/<status>``: the fraction of samples with each verdict status (ok and no_answer are judgements;
    timeout, error and invalid_reference are not), plus ``verifier/unjudged``, the masked fraction."""
    out = {f"verifier/{status}": mean(s.verdict.status == status for s in samples) for status in STATUSES}
    out["verifier/unjudged"] = mean(s.verdict.unjudged for s in samples)
    return out


def is_void(sample: ScoredRollout) -> bool:
    """A multi-turn trajectory whose last turn neither called a tool nor gave an answer (SimpleTIR's void turn)."""
    return bool(sample.rollout.messages) and sample.rollout.finish_reason == "stop" and sample.verdict.status == "no_answer"


# Finish reasons of a sample cut by a length limit before it answered (algorithm.mask_truncated leaves them out).
TRUNCATED_REASONS = ("length", "token_cap", "thinking_budget")


def is_truncated(rollout: Rollout) -> bool:
    return rollout.finish_reason in TRUNCATED_REASONS


def trajectory_metrics(samples: Sequence[ScoredRollout], void_filter: bool = False) -> dict[str, float]:
    """Sampled vs injected tokens, thinking vs answer tokens, the truncated and budget-hit shares, finish
    reasons and, for multi-turn trajectories, turns and tool calls."""
    rollouts = [s.rollout for s in samples]
    out = {"completion/sampled_tokens": mean(r.sampled_tokens for r in rollouts),
           "completion/thinking_tokens": mean(r.thinking_tokens for r in rollouts),
           "completion/answer_tokens": mean(r.answer_tokens for r in rollouts),
           "completion/truncated": mean(is_truncated(r) for r in rollouts),
           "completion/budget_hit": mean(r.budget_hit for r in rollouts)}
    for reason in ("stop", "length", "max_turns", "token_cap", "thinking_budget", "env_failure"):
        out[f"finish/{reason}"] = mean(s.rollout.finish_reason == reason for s in samples)
    if not any(s.rollout.messages for s in samples):
        return out
    info = [s.rollout.env_info for s in samples]
    calls = sum(attempted_calls(i) for i in info)  # the same count the tool_format reward divides by
    out.update({
        "env/turns": mean(i.get("turns", 1) for i in info),
        "env/tool_calls": mean(i.get("tool_calls", 0) for i in info),
        "env/well_formed_calls": 1.0 - sum(i.get("bad_calls", 0) for i in info) / calls if calls else 1.0,
        "env/tool_timeouts": sum(i.get("timeouts", 0) for i in info),
        "env/void": mean(is_void(s) for s in samples),
    })
    return out
