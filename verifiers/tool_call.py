"""The ``tool_call`` verifier: a completion's ``<tool_call>`` blocks against BFCL-style possible answers.

    >>> functions = [{"name": "get_weather", "parameters": {"type": "dict", "required": ["city"],
    ...     "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}}]
    >>> reference = '[{"get_weather": {"city": ["Paris"], "unit": ["celsius", ""]}}]'
    >>> turn = '<tool_call>\\n{"name": "get_weather", "arguments": {"city": "paris"}}\\n</tool_call>'
    >>> verify_tool_call(turn, reference, functions=functions).score
    1.0

The completion's calls are the Hermes/Qwen blocks ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
after its ``</think>`` (``verifiers.tool_call_syntax``: a call inside the thought is not a call). The reference
is BFCL's possible answer, a list (or its JSON text) of calls ``{"func_name": {"arg": [accepted...]}}``;
``""`` among an argument's accepted values means it may be left out. ``[]`` means "call nothing": a
completion without calls is then right. The function documentation comes from the record's fields:
``functions`` (BFCL's ``function`` too) as BFCL writes it (name, parameters with properties, types
and required), or ``tools`` in OpenAI's format ``{"type": "function", "function": {...}}``.

A model call matches a reference call when, as in BFCL's AST checker: the names are equal; every
argument the documentation requires is given; every argument given is documented and in the
reference; each value has its schema type and is among the accepted values (``verifiers.tool_call_values``
holds those rules); and every reference argument left out is optional there.

Score: 1 when the calls match the reference calls one to one, else 0. With the field ``partial: true``
the score is the matched calls over ``max(reference calls, calls made)``: extra calls cost as much as
missing ones, so that guessing more calls never pays.

Verdicts: no call at all (nothing after the thought, or a thought never closed) is ``no_answer``; a
malformed block is a judged call that matches nothing (wrong, with the parser's reason); a reference
or documentation that cannot be read is ``invalid_reference``, naming the reference call and argument.

Deliberate differences from BFCL (the value-level ones are listed in ``verifiers.tool_call_values``):

- parallel calls are matched as a multiset by an optimal assignment (maximum bipartite matching);
  BFCL takes each reference call in turn and gives it the first model call that fits, which can
  miss a full match when one model call fits two reference calls.
- one rule for every category: BFCL's "simple" (one call), "multiple" (one call among several
  functions) and "parallel" (several calls) are all "the calls match the reference calls one to one".
- names compare exactly: BFCL's per-model renaming of ``a.b`` to ``a_b`` is not applied.
- the documentation is required (a call cannot be type-checked without it): none is ``invalid_reference``.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifiers.tool_call_syntax import ToolCall, acting_text, json_type, parse_tool_calls
from verifiers.tool_call_values import argument_problem, schema_problem
from verifiers.verdict import Verdict, correct, unjudged, wrong


class BadReference(ValueError):
    """The reference or the function documentation cannot be read; the message names the part."""


@dataclass(frozen=True)
class ExpectedCall:
    """One reference call: the function, its accepted values per argument, and its documentation."""

    name: str
    accepted: Mapping[str, list]
    properties: Mapping[str, dict]
    required: tuple[str, ...]


def verify_tool_call(completion: str, reference: Any, *, functions: Any = None, function: Any = None,
                     tools: Any = None, partial: bool = False, **fields: Any) -> Verdict:
    """Judge ``completion``'s tool calls against ``reference`` (see the module docstring)."""
    try:
        expected = read_reference(reference, read_documentation(functions, function, tools))
    except BadReference as exc:
        return unjudged("invalid_reference", str(exc))
    text = acting_text(completion if isinstance(completion, str) else str(completion))
    parsed = parse_tool_calls(text)
    calls, problems = list(parsed.calls), list(parsed.problems)
    extracted = _extracted(calls) if calls else None
    if not calls and not problems:
        if not expected:
            return correct(None, "no call, as the reference expects")
        return unjudged("no_answer", "no <tool_call> after the thinking")
    return _score(calls, problems, expected, partial in (True, 1, "true", "True"), extracted)


def _score(calls: list[ToolCall], problems: list[str], expected: list[ExpectedCall], partial: bool,
           extracted: str | None) -> Verdict:
    fits = [[call_problem(call, exp) is None for exp in expected] for call in calls]
    matched = max_matching(fits, len(expected))
    made = len(calls) + len(problems)
    total = max(len(expected), made)
    if matched == total:
        return correct(extracted, f"all {total} call(s) match the reference")
    why = f"{matched} of {total} call(s) match: {_first_problem(calls, problems, expected, fits, made)}"
    return Verdict(matched / total, "ok", extracted, why) if partial else wrong(extracted, why)


def _first_problem(calls: list[ToolCall], problems: list[str], expected: list[ExpectedCall],
                   fits: list[list[bool]], made: int) -> str:
    """The most useful single reason a full match failed, naming the call and the argument."""
    if problems:
        return problems[0]
    if made != len(expected):
        return f"{made} call(s) made, the reference has {len(expected)}"
    for j, exp in enumerate(expected):
        if any(row[j] for row in fits):
            continue
        # Explain against the model call that calls the same function (else the one in its position).
        candidate = next((i for i, call in enumerate(calls) if call.name == exp.name), j)
        return f"reference call {j + 1} ({exp.name}), model call {candidate + 1}: {call_problem(calls[candidate], exp)}"
    return "no one-to-one assignment of the calls to the reference calls"


def call_problem(call: ToolCall, exp: ExpectedCall) -> str | None:
    """Why ``call`` does not match the reference call ``exp``, or None when it does."""
    if call.name != exp.name:
        return f"calls {call.name!r}, expected {exp.name!r}"
    given = call.arguments
    for name in exp.required:
        if name not in given:
            return f"{call.name}: missing required argument {name!r}"
    for name, value in given.items():
        if name not in exp.properties:
            return f"{call.name}: unknown argument {name!r} (it takes {', '.join(exp.properties) or 'none'})"
        if name not in exp.accepted:
            return f"{call.name}: argument {name!r} is not in the reference call"
        problem = argument_problem(name, value, exp.accepted[name], exp.properties[name])
        if problem is not None:
            return f"{call.name}: {problem}"
    for name, accepted in exp.accepted.items():
        if name not in given and "" not in accepted:
            return f"{call.name}: missing argument {name!r}, which the reference expects"
    return None


def max_matching(fits: Sequence[Sequence[bool]], n_right: int) -> int:
    """The size of a maximum matching of a bipartite graph (rows to columns where ``fits``): Kuhn's
    augmenting paths. Calls are few, so O(V * E) is nothing."""
    owner: list[int | None] = [None] * n_right

    def augment(row: int, seen: set[int]) -> bool:
        for col in range(n_right):
            if fits[row][col] and col not in seen:
                seen.add(col)
                if owner[col] is None or augment(owner[col], seen):
                    owner[col] = row
                    return True
        return False

    return sum(augment(row, set()) for row in range(len(fits)))


# ---------------------------------------------------------------- reading the reference and the documentation
def read_documentation(functions: Any, function: Any, tools: Any) -> dict[str, dict]:
    """Function name -> its documentation (``name``, ``parameters``), from whichever field is given."""
    docs: dict[str, dict] = {}
    for field_name, value in (("functions", functions), ("function", function), ("tools", tools)):
        if value is None:
            continue
        value = _json(value, field_name)
        for k, entry in enumerate(value if isinstance(value, list) else [value], start=1):
            if isinstance(entry, dict) and entry.get("type") == "function" and isinstance(entry.get("function"), dict):
                entry = entry["function"]  # OpenAI's tool format wraps the documentation
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise BadReference(f"{field_name} entry {k}: expected a function with a \"name\", got {_short(entry)}")
            docs[entry["name"]] = entry
    return docs


def read_reference(reference: Any, docs: Mapping[str, dict]) -> list[ExpectedCall]:
    """The reference calls, each checked against its documentation; BadReference names what is wrong."""
    calls = _json(reference, "reference")
    if not isinstance(calls, list):
        raise BadReference(f"reference: expected a list of calls {{\"function\": {{\"argument\": [accepted...]}}}}, "
                           f"got {json_type(calls)}")
    return [_expected_call(k, call, docs) for k, call in enumerate(calls, start=1)]


def _expected_call(k: int, call: Any, docs: Mapping[str, dict]) -> ExpectedCall:
    if not isinstance(call, dict) or len(call) != 1:
        raise BadReference(f"reference call {k}: expected one {{\"function\": {{arguments}}}} object, got {_short(call)}")
    (name, accepted), = call.items()
    where = f"reference call {k} ({name})"
    if not isinstance(accepted, dict):
        raise BadReference(f"{where}: arguments must be an object, got {json_type(accepted)}")
    if not docs:
        raise BadReference(f"{where}: no function documentation; give the record a \"functions\" or \"tools\" field")
    if name not in docs:
        raise BadReference(f"{where}: not among the documented functions ({', '.join(docs)})")
    parameters = docs[name].get("parameters") or {}
    properties, required = parameters.get("properties") or {}, parameters.get("required") or []
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise BadReference(f"{where}: its documentation's parameters need a properties object and a required list")
    for arg, values in accepted.items():
        if not isinstance(values, list) or not values:
            raise BadReference(f"{where}: argument {arg!r} must list its accepted values, got {_short(values)}")
        if arg not in properties:
            raise BadReference(f"{where}: argument {arg!r} is not in the function's documentation")
    for arg, prop in properties.items():
        if (problem := schema_problem(prop)) is not None:
            raise BadReference(f"{where}: documented argument {arg!r}: {problem}")
    return ExpectedCall(name, accepted, properties, tuple(required))


def _json(value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise BadReference(f"{what}: not valid JSON: {exc}") from None


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _extracted(calls: list[ToolCall]) -> str:
    """The calls as the reference writes them (one value per argument), for logs and the scored file."""
    return json.dumps([{c.name: dict(c.arguments)} for c in calls], ensure_ascii=False)
