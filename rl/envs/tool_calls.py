"""What a tool call comes back as in a rollout: its result and status, and the failure that is not the model's.

The calls themselves are read by ``verifiers.tool_call_syntax`` (shared with the ``tool_call`` verifier).
"""
from __future__ import annotations

from dataclasses import dataclass

# ok: the tool answered. bad_call: the model's fault (malformed, unknown tool, wrong arguments).
# raised / timeout: the tool failed on this input. env_failure: the tool's infrastructure failed,
# not the model: the caller leaves that trajectory unjudged instead of scoring it.
TOOL_STATUSES = ("ok", "bad_call", "raised", "timeout", "env_failure")


@dataclass(frozen=True)
class ToolResult:
    name: str
    content: str  # what goes back to the model as the tool message: the output, or the problem in words
    status: str  # one of TOOL_STATUSES

    def __post_init__(self) -> None:
        if self.status not in TOOL_STATUSES:
            raise ValueError(f"unknown tool status {self.status!r}; expected one of {TOOL_STATUSES}")


class EnvironmentFailure(RuntimeError):
    """Raised by a tool whose infrastructure failed (the sandbox unreachable), not by the model's input."""
