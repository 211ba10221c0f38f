"""A served model judging responses against a reference (Qwen3's general RL), as a verifier.

    from verifiers.judge import Judge, JudgeItem, cascade
    with Judge(config, cache_path="judge_cache.sqlite") as judge:     # config: rl.config.JudgeConfig
        verdicts = judge.judge([JudgeItem("What is 2+3?", "<think>...</think> 5", "5")])

Modules, one job each: ``prompt`` (templates, the think block removed), ``prefilter`` (no answer and
"master key" responses are wrong without a call), ``parse`` (the strict verdict line), ``cache`` (sqlite),
``backend`` (OpenAI-compatible HTTP), ``local`` (a transformers model in one shared Ray actor), ``judge`` (the
batch pipeline and its counters), ``cascade`` (rule verifier first, the judge on what it rejected).

The judge is batched: it never runs per item in the verifier process pool. The names ``judge`` and
``cascade`` are still registered verifiers, so that data routed to them validates; called per item
(``batched_only``), they say where they run instead of judging.
"""
from __future__ import annotations

from verifiers.judge.backend import JudgeUnavailable, OpenAIBackend, Reply
from verifiers.judge.cascade import asks_judge, cascade
from verifiers.judge.judge import Judge, JudgeItem
from verifiers.verdict import Verdict, unjudged

JUDGE_VERIFIERS = ("judge", "cascade")


def batched_only(completion: str, reference: object, **fields: object) -> Verdict:
    """What ``judge`` / ``cascade`` answer when called per item, e.g. by ``rlvr verify`` or a plain pool."""
    return unjudged("error", "the judge runs batched (rl.engine.judging in training, `rlvr score --verifier judge` "
                             "offline), not per item through the verifier pool")


__all__ = ["JUDGE_VERIFIERS", "Judge", "JudgeItem", "JudgeUnavailable", "OpenAIBackend", "Reply", "asks_judge",
           "batched_only", "cascade"]
