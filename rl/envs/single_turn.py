"""The one-answer environment: every turn is final. A rollout in it is one sampled segment."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rl.envs import Conversation, EnvStep


class SingleTurn:
    tool_schemas = None

    def __init__(self, config: Any = None, tokenizer: Any = None):
        pass

    def respond(self, conversations: Sequence[Conversation]) -> list[EnvStep]:
        return [EnvStep(done=True) for _ in conversations]

    def close(self) -> None:
        pass
