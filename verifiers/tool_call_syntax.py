"""Tool calls in the Qwen/Hermes format, read from an assistant turn.

    >>> parsed = parse_tool_calls('<tool_call>\\n{"name": "calculator", "arguments": {"expression": "6*7"}}\\n</tool_call>')
    >>> parsed.calls[0].name, dict(parsed.calls[0].arguments), parsed.well_formed
    ('calculator', {'expression': '6*7'}, True)

The parser reads the text it is given, all of it: whether a ``<tool_call>`` inside a
``<think>`` block counts is the caller's decision, made by what it passes in (``acting_text``).
A malformed block is not an exception but a problem in words, one per block, because it goes
back to the model as an observation (and into the metrics), never ends the rollout. A well-formed
call can still break its tool's schema: ``argument_problem`` says how, in words, before it runs.
It sits on the verifiers' floor because both read it: the tool environment (``rl.envs``) runs the
calls, the ``tool_call`` verifier judges them against a reference.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class ParsedCalls:
    calls: tuple[ToolCall, ...]  # well-formed <tool_call> blocks, in order
    problems: tuple[str, ...]  # one message per malformed block, naming the block by its position

    @property
    def well_formed(self) -> bool:
        """At least one block, and none malformed: what a ``tool_format`` reward checks."""
        return bool(self.calls) and not self.problems


def acting_text(turn: str) -> str:
    """The part of a turn whose tool calls count: after ``</think>``; none while a thought is still open.
    The tool environment and the ``tool_call`` verifier both read calls from this part only."""
    if THINK_CLOSE in turn:
        return turn.rsplit(THINK_CLOSE, 1)[1]
    return "" if THINK_OPEN in turn else turn


def parse_tool_calls(text: str) -> ParsedCalls:
    """Every ``<tool_call>...</tool_call>`` block of ``text``, in order; see ``ParsedCalls``."""
    calls: list[ToolCall] = []
    problems: list[str] = []
    pos, number = 0, 0
    while True:
        start = text.find(OPEN, pos)
        stray = text.find(CLOSE, pos)
        if stray >= 0 and (start < 0 or stray < start):
            # A closing tag with nothing open: the model wrote half a call, which is malformed too.
            problems.append(f"a {CLOSE} with no {OPEN} before it")
            pos = stray + len(CLOSE)
            continue
        if start < 0:
            break
        number += 1
        body_start = start + len(OPEN)
        end, reopened = text.find(CLOSE, body_start), text.find(OPEN, body_start)
        if end < 0 or 0 <= reopened < end:
            problems.append(f"tool call {number}: {OPEN} is never closed with {CLOSE}")
            if end < 0:
                break
            pos = reopened  # read the next block on its own: one malformed block must not hide it
            continue
        call = _read_call(text[body_start:end])
        if isinstance(call, str):
            problems.append(f"tool call {number}: {call}")
        else:
            calls.append(call)
        pos = end + len(CLOSE)
    return ParsedCalls(tuple(calls), tuple(problems))


def _read_call(body: str) -> ToolCall | str:
    """The call in one block's JSON, or what is wrong with it."""
    try:
        obj = json.loads(body.strip())  # positions in errors then count from the JSON, not the tag
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(obj, dict):
        return f"expected a JSON object with \"name\" and \"arguments\", got {json_type(obj)}"
    name = obj.get("name")
    if name is None:
        return "no \"name\""
    if not isinstance(name, str) or not name.strip():
        return f"\"name\" must be a non-empty string, got {json_type(name)}"
    arguments = obj.get("arguments", {})
    if isinstance(arguments, str):  # some models emit the arguments object as a JSON string
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return f"\"arguments\" is a string but not valid JSON: {exc}"
    if not isinstance(arguments, dict):
        return f"\"arguments\" must be a JSON object, got {json_type(arguments)}"
    return ToolCall(name.strip(), arguments)


def argument_problem(name: str, schema: dict, arguments: Mapping[str, Any]) -> str | None:
    """The first way ``arguments`` break ``schema`` (unknown, missing, wrong JSON type), in words; or None."""
    parameters = schema["function"].get("parameters", {})
    properties = parameters.get("properties", {})
    takes = ", ".join(properties) or "no arguments"
    for key in arguments:
        if key not in properties:
            return f"{name} has no argument {key!r}; it takes: {takes}"
    for key in parameters.get("required", []):
        if key not in arguments:
            return f"{name} is missing its required argument {key!r}; it takes: {takes}"
    for key, value in arguments.items():
        expected = type_problem(properties[key], value)
        if expected:
            return f"{name}: argument {key!r} must be {expected}, got {json_type(value)} {json.dumps(value)[:60]}"
    return None


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def type_problem(prop: dict, value: Any) -> str | None:
    """What ``value`` should have been under the JSON schema ``prop`` (type, enum, array items), or None."""
    if value is None and prop.get("nullable"):
        return None
    if "enum" in prop and value not in prop["enum"]:
        return "one of " + ", ".join(json.dumps(v) for v in prop["enum"])
    types = prop.get("type")
    if types is None:
        return None  # typed Any: everything goes
    types = [types] if isinstance(types, str) else list(types)
    if not any(_JSON_TYPES.get(t, lambda v: True)(value) for t in types):
        return " or ".join(("an " if t[0] in "aeiou" else "a ") + t for t in types)
    if isinstance(value, list) and "items" in prop:
        for item in value:
            if (inner := type_problem(prop["items"], item)) is not None:
                return f"an array of {inner.split(' ', 1)[-1]}s"
    return None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, as the model wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
