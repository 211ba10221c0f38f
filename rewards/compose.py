"""Named, weighted reward components declared in YAML, composed into one scalar.

    rewards:
      components:
        - {name: correct, kind: verifier, weight: 1.0}
        - {name: format,  kind: format,   weight: 0.1}
        - {name: length,  kind: length,   weight: 0.0}
        - {name: overlong, kind: overlong, weight: 1.0, params: {max_len: 64, cache: 16}}   # DAPO's soft punishment

Weight 0 means "log, don't optimise". ``kind`` is a built-in name or ``module:function``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewards.rules import completion_tokens, format_reward, overlong_penalty, tool_format, truncated, verifier_score
from verifiers.registry import import_callable
from verifiers.verdict import Verdict

BUILTIN_REWARDS: dict[str, Callable[..., float]] = {
    "verifier": verifier_score,
    "format": format_reward,
    "length": completion_tokens,
    "overlong": overlong_penalty,
    "truncated": truncated,
    "tool_format": tool_format,
}


class RewardNotFound(LookupError):
    """A reward component's ``kind`` names no built-in reward and no importable ``module:function``."""


@dataclass(frozen=True)
class RewardComponent:
    name: str  # label in logs; also how an override addresses it: rewards.components.<name>.weight=...
    kind: str  # which reward function computes it: a built-in name (see BUILTIN_REWARDS) or module:function
    weight: float = 1.0  # contribution to the scalar reward; 0 = computed and logged, not optimised
    params: Mapping[str, Any] = field(default_factory=dict)  # keyword arguments for the reward function

    def __post_init__(self) -> None:
        if self.kind not in BUILTIN_REWARDS and ":" not in self.kind:
            known = ", ".join(BUILTIN_REWARDS)
            raise ValueError(f"reward component {self.name!r}: unknown kind {self.kind!r} (built-in: {known}; or module:function)")


@dataclass(frozen=True)
class Reward:
    total: float
    components: Mapping[str, float]             # unweighted value of each component


class RewardFunction:
    """Turns (completion, verdict, sample fields) into a weighted total plus its parts."""

    def __init__(self, components: Sequence[RewardComponent]):
        if not components:
            raise ValueError("at least one reward component is needed")
        names = [c.name for c in components]
        if len(set(names)) != len(names):
            raise ValueError(f"reward component names must be unique, got {names}")
        self.components = tuple(components)
        self._fns = [BUILTIN_REWARDS.get(c.kind) or import_callable(c.kind, what=f"reward component {c.name!r}: kind", error=RewardNotFound)
                     for c in components]

    def __call__(self, completion: str, verdict: Verdict | None, **fields: Any) -> Reward:
        values = {}
        for component, fn in zip(self.components, self._fns):
            try:
                values[component.name] = float(fn(completion, verdict, **{**fields, **component.params}))
            except Exception as exc:  # name the component: a silent 0 would hide a bug
                raise RuntimeError(f"reward component {component.name!r} ({component.kind}) failed: {exc}") from exc
        total = sum(c.weight * values[c.name] for c in self.components)
        return Reward(total, values)
