"""Rule rewards: judge the shape of a completion, not its correctness.

Each is a plain function ``(completion, verdict, **fields) -> float`` so that
YAML can name it as a reward component beside the verifier score.

    >>> format_reward("<think>2+2=4</think> The answer is \\\\boxed{4}.", None)
    1.0
    >>> format_reward("The answer is 4.", None)
    0.0
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rl.modes import MODES, THINK
from verifiers.verdict import Verdict

_THINK_THEN_ANSWER = re.compile(r"^\s*<think>(?P<thought>.*?)</think>(?P<answer>.*)$", re.S)


def format_reward(completion: str, verdict: Verdict | None, *, thinking: bool | None = True, **fields: Any) -> float:
    """1.0 when the completion is ``<think>…</think>`` then a non-empty answer, else 0.0.

    thinking=True needs a non-empty thought; thinking=False (Qwen3 ``/no_think``)
    needs an empty one (``<think>\\n\\n</think>``) or none at all; None accepts either.
    A second ``<think>`` or text after the answer's own tags is malformed.
    """
    mode = fields.get("mode")
    if mode in MODES:
        thinking = mode == THINK
    match = _THINK_THEN_ANSWER.match(completion)
    if match is None:
        return 1.0 if thinking is False and "<think>" not in completion and completion.strip() else 0.0
    thought, answer = match.group("thought"), match.group("answer")
    if "<think>" in answer or "</think>" in answer or "<think>" in thought or not answer.strip():
        return 0.0
    if thinking is True and not thought.strip():
        return 0.0
    if thinking is False and thought.strip():
        return 0.0
    return 1.0


def verifier_score(completion: str, verdict: Verdict | None, **fields: Any) -> float:
    """The verifier's score; 0.0 when it could not judge (the status is logged separately)."""
    return verdict.score if verdict is not None and verdict.status == "ok" else 0.0


def overlong_penalty(completion: str, verdict: Verdict | None, *, num_tokens: int, max_len: int | None = None,
                     cache: int | None = None, max_tokens: int | None = None, buffer_tokens: int | None = None,
                     **fields: Any) -> float:
    """DAPO's soft overlong punishment: 0 up to ``max_len - cache`` tokens, then linearly down to -1 at
    ``max_len``, and -1 beyond (``cache`` 0: -1 past ``max_len``, a hard step).

    ``max_len`` defaults to the generation limit the scorer passes as ``max_tokens`` (rollout.max_new_tokens).
    The parameters' earlier names, ``max_tokens`` and ``buffer_tokens``, still work.

    >>> [overlong_penalty("", None, num_tokens=n, max_len=20480, cache=4096) for n in (16384, 18432, 20480, 30000)]
    [0.0, -0.5, -1.0, -1.0]
    """
    if cache is not None and buffer_tokens is not None:
        raise ValueError("overlong: set cache (or its old name buffer_tokens), not both")
    limit = max_len if max_len is not None else max_tokens
    if limit is None:
        raise ValueError("overlong: needs max_len (the length that costs the whole -1)")
    cache = cache if cache is not None else buffer_tokens or 0
    if not 0 <= cache <= limit:
        raise ValueError(f"overlong: cache must be in [0, max_len={limit}], got {cache}")
    soft_limit = limit - cache
    if num_tokens <= soft_limit:
        return 0.0
    if num_tokens >= limit:
        return -1.0
    return -(num_tokens - soft_limit) / cache


def completion_tokens(completion: str, verdict: Verdict | None, *, num_tokens: int, **fields: Any) -> float:
    """The completion's length in tokens (log it with weight 0: a symptom to watch, not a goal)."""
    return float(num_tokens)


def truncated(completion: str, verdict: Verdict | None, *, finished: bool = True, **fields: Any) -> float:
    """1.0 when generation hit the token limit before EOS (log it with weight 0)."""
    return 0.0 if finished else 1.0


def tool_format(completion: str, verdict: Verdict | None, *, env_info: Mapping[str, Any] | None = None,
                require_call: bool = False, **fields: Any) -> float:
    """Well-formed tool use over the whole trajectory (``rl.envs``): the share of the trajectory's
    ``<tool_call>`` blocks that parsed and named a known tool with valid arguments (1.0 with no call,
    unless ``require_call``: then a trajectory that never called a tool scores 0)."""
    info = env_info or {}
    attempted = attempted_calls(info)
    if not attempted:
        return 0.0 if require_call else 1.0
    return 1.0 - info.get("bad_calls", 0) / attempted


def attempted_calls(env_info: Mapping[str, Any]) -> int:
    """The tool-call blocks a trajectory wrote: run, malformed, or refused past the call limit (``rl.envs.tool_env``)."""
    return env_info.get("tool_calls", 0) + env_info.get("malformed_calls", 0) + env_info.get("refused_calls", 0)
