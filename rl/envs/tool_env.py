"""Tool use in the Qwen/Hermes format: the model calls tools, the results come back as tool messages.

    rollout:
      env: {name: tools, tools: [calculator], max_turns: 3}

A model turn with ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks (after its
``</think>``, if it thinks: a call inside an unfinished thought is not a call) gets one tool message
per block; a turn with none is the final answer and ends the trajectory. Every call of every
conversation in one ``respond`` runs concurrently (``ToolBox``), so a turn costs about the
slowest call, not the sum. Each tool message is cut in the middle to
``env.max_tool_response_tokens`` (saying so). Calls past ``env.max_tool_calls`` are answered "not
run". What the model got wrong comes back as the tool message's content and is counted
(``bad_calls``, ``raised``, ``timeouts``); a tool whose infrastructure failed (``env_failure``: the
sandbox unreachable) ends the trajectory as unjudged.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rl.envs import Conversation, EnvStep
from rl.envs.tools import ToolBox, ToolCall, ToolResult, parse_tool_calls, truncate_middle
from verifiers.tool_call_syntax import acting_text

CALL_OPEN = "<tool_call>"


class ToolEnvironment:
    def __init__(self, config: Any, tokenizer: Any):
        self.config = config
        self.tokenizer = tokenizer
        self.toolbox = ToolBox(config.tools, timeout_s=config.tool_timeout_s)
        self.tool_schemas = self.toolbox.schemas

    def respond(self, conversations: Sequence[Conversation]) -> list[EnvStep]:
        plans = [self._plan(c) for c in conversations]  # per conversation: the calls to run, and the replies already known
        calls = [call for plan in plans for call in plan.to_run]
        results = iter(self.toolbox.run(calls) if calls else [])  # every call of this turn at once
        return [plan.finish([next(results) for _ in plan.to_run], self._message) for plan in plans]

    def _plan(self, conversation: Conversation) -> _Plan:
        text = acting_text(conversation.last_turn)
        if CALL_OPEN not in text:
            return _Plan(done=True)
        parsed = parse_tool_calls(text)
        budget = max(0, self.config.max_tool_calls - conversation.tool_calls)
        plan = _Plan(done=False, to_run=list(parsed.calls[:budget]))
        plan.problems = [f"malformed tool call: {problem}" for problem in parsed.problems]
        plan.refused = [call.name for call in parsed.calls[budget:]]
        return plan

    def _message(self, name: str, content: str) -> dict[str, str]:
        limit = self.config.max_tool_response_tokens
        count = lambda text: len(self.tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
        return {"role": "tool", "name": name, "content": truncate_middle(content, limit, count)}

    def close(self) -> None:
        self.toolbox.close()


class _Plan:
    """One conversation's share of a turn: calls to run, and replies that need no tool."""

    def __init__(self, done: bool, to_run: list[ToolCall] | None = None):
        self.done, self.to_run = done, to_run or []
        self.problems: list[str] = []
        self.refused: list[str] = []

    def finish(self, results: list[ToolResult], message) -> EnvStep:
        if self.done:
            return EnvStep(done=True)
        # tool_calls: calls run; malformed_calls: blocks that did not parse; bad_calls: both kinds the model got wrong
        counts = {"tool_calls": len(results), "malformed_calls": len(self.problems), "bad_calls": len(self.problems)}
        for result in results:
            key = {"bad_call": "bad_calls", "raised": "raised", "timeout": "timeouts"}.get(result.status)
            if key:
                counts[key] = counts.get(key, 0) + 1
        failed = next((r for r in results if r.status == "env_failure"), None)
        if failed is not None:
            return EnvStep(done=True, counts=counts, failure=f"tool {failed.name!r}: {failed.content}")
        replies = [message(r.name, r.content) for r in results]
        replies += [message("error", problem) for problem in self.problems]
        replies += [message(name, "not run: the limit of tool calls for this conversation is reached; answer now")
                    for name in self.refused]
        counts["refused_calls"] = len(self.refused)
        return EnvStep(done=False, messages=tuple(replies), counts=counts)
