"""Environments: what answers the policy's turns during a rollout.

    env = make_environment(config.rollout.env, tokenizer)
    steps = env.respond(conversations)        # one EnvStep per conversation whose last message is the model's turn

An environment is a small protocol. Given each conversation so far (the prompt's messages,
then the turns, the last one the model's), it says "done" or returns the next messages (tool
results). ``single_turn`` is always done: today's one-answer rollout. ``tools`` runs the
``<tool_call>`` blocks of the model's turn and answers with tool messages; bad input from the
model (malformed JSON, an unknown tool, wrong arguments, a tool that raises or hangs) is an
observation the model reads, never a crash. A failure of the environment itself (a plug-in
that raises, the sandbox unreachable) is ``EnvStep.failure``: the rollout makes that
trajectory unjudged (masked from the loss), never reward 0.

Environments are registered in ``rl.registries.ENVIRONMENTS`` (plug-ins by name, entry point
group ``rlvr.environments`` or ``module:attr``); an entry is a factory
``(EnvConfig, tokenizer) -> Environment``. The token bookkeeping (which ids the policy sampled,
which were injected) is the rollout's (``rl.engine.multiturn``), not the environment's: an
environment deals in messages only.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rl.data.records import Prompt


@dataclass(frozen=True)
class Conversation:
    """What an environment sees of one trajectory.

    messages:   the whole chat so far ({"role", "content"} dicts): the prompt's, then the turns; the
                last one is the model's latest turn.
    tool_calls: calls run for this trajectory so far (for the per-trajectory limit).
    """

    prompt: Prompt
    messages: tuple[Mapping[str, str], ...]
    tool_calls: int = 0

    @property
    def last_turn(self) -> str:
        return self.messages[-1]["content"]


@dataclass(frozen=True)
class EnvStep:
    """An environment's answer to one model turn.

    done:     the trajectory ends here (the turn is the final answer, or there is nothing to answer).
    messages: the next messages when not done (e.g. one tool message per call), rendered by the chat template.
    counts:   what happened, summed into the trajectory's ``env_info`` (e.g. tool_calls, bad_calls, timeouts).
    failure:  the environment itself failed (not the model): the trajectory ends and is unjudged.
    """

    done: bool
    messages: tuple[Mapping[str, str], ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    failure: str | None = None


@runtime_checkable
class Environment(Protocol):
    tool_schemas: list[dict[str, Any]] | None  # declared to the chat template (``tools=``); None: no tools

    def respond(self, conversations: Sequence[Conversation]) -> list[EnvStep]:
        """One step per conversation, in order; work across them (tool calls) may run concurrently."""
        ...

    def close(self) -> None: ...


def make_environment(config: Any, tokenizer: Any) -> Environment:
    """The environment ``config`` (an ``EnvConfig``) names, built for ``tokenizer``: a registered name, an
    entry point of group ``rlvr.environments``, or ``module:attr``."""
    from rl.registries import ENVIRONMENTS

    if config.name in ENVIRONMENTS:
        return ENVIRONMENTS.get(config.name)(config, tokenizer)
    from verifiers.registry import load_plugin

    factory = load_plugin(config.name, group="rlvr.environments", what="environment", error=LookupError,
                          known=ENVIRONMENTS.names())
    return factory(config, tokenizer)


def declared_tools(config: Any) -> list[dict[str, Any]] | None:
    """The JSON schemas of ``config.tools`` (an ``EnvConfig``), as the chat template declares them; None without tools."""
    if not config.tools:
        return None
    from rl.envs.tools import load_tool, tool_schema

    return [tool_schema(load_tool(name)) for name in config.tools]
