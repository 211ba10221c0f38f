"""An environment plug-in for tests (``rollout.env.name: tests.helpers.toy_envs:Nudge``): it answers every
turn with one tool message, so that any model, trained or not, makes multi-turn trajectories."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rl.envs import Conversation, EnvStep


class Nudge:
    tool_schemas = None

    def __init__(self, config: Any, tokenizer: Any):
        pass

    def respond(self, conversations: Sequence[Conversation]) -> list[EnvStep]:
        return [EnvStep(done=False, messages=({"role": "tool", "content": f"turn {len(c.messages)}: go on"},),
                        counts={"tool_calls": 1}) for c in conversations]

    def close(self) -> None:
        pass
