"""One argument of a tool call against its accepted values, by the rules of BFCL's AST checker.

    >>> argument_problem("city", "new-york", ["New York", "NYC"], {"type": "string"}) is None
    True
    >>> argument_problem("days", 3.5, [3], {"type": "integer"})
    "argument 'days' must be an integer, got number 3.5"

The ``tool_call`` verifier (``verifiers.tool_call``) asks this module about each argument a call
gives: does the value have the schema's type, and is it one of the reference's accepted values?
The answer is ``None`` or the problem in words, naming the argument and what was expected.

The rules, as BFCL's ``ast_checker.py`` applies them (differences marked *ours*):

- strings compare after ``standardize``: lower case, ``'`` read as ``"``, and spaces and
  ``, . / - _ * ^`` removed ("April 1, 2024" is "april12024"). Only literal spaces go: a tab stays.
- an integer is accepted where the schema says ``float``/``number`` (BFCL: at the top level only;
  *ours*: inside arrays too, since JSON writers print 1.0 as 1); a float is never an integer.
  A boolean is never a number.
- an array equals an accepted array element by element, in order, strings standardised.
- an object is checked against an accepted object in BFCL's answer form, ``{key: [accepted...]}``:
  no key outside it, every key's value among its accepted values, and every key it lists without
  ``""`` present. A list of objects: the same, position by position, lengths equal.
- *ours*: those rules recurse to any depth (BFCL standardises strings and reads answer-form objects
  one level down only, and compares deeper values with plain ``==``).
- the type is checked against the schema (``string``, ``integer``, ``float``/``number``,
  ``boolean``, ``array``/``tuple``, ``dict``/``object``, ``any``, ``null``; a JSON-schema list of
  types means any of them), array items against ``items``. BFCL's "variable" rule stands: when
  the value has the reference's type instead of the schema's (the reference wrote a variable name,
  or the schema and the reference disagree), the reference wins, and the value must equal an
  accepted value exactly (no standardising). *ours*: ``any`` accepts every JSON type (BFCL reads it
  as ``str``, then lets the variable rule admit the reference's type).
- ``""`` among an argument's accepted values marks it optional (the caller, ``verifiers.tool_call``,
  decides that); as a value it still matches a string that standardises to ``""``, as in BFCL.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from verifiers.tool_call_syntax import json_type

# BFCL's standardize_string: punctuation that should not decide a match ("April 1, 2024" vs "April 1 2024").
_IGNORED = re.compile(r"[ ,./\-_*^]")


def standardize(text: str) -> str:
    return _IGNORED.sub("", text).lower().replace("'", '"')


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# Schema type names, BFCL's Python ones and JSON Schema's, to a test of a decoded JSON value.
TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": _is_number,  # an int where a float is expected is fine (BFCL converts it)
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "tuple": lambda v: isinstance(v, list),  # JSON has no tuples; BFCL turns them into lists too
    "dict": lambda v: isinstance(v, dict),
    "object": lambda v: isinstance(v, dict),
    "any": lambda v: True,
    "null": lambda v: v is None,
}


def schema_problem(prop: Any) -> str | None:
    """What is wrong with one argument's schema (an unknown type name, anywhere in it), or None."""
    if not isinstance(prop, dict):
        return f"its schema must be an object, got {json_type(prop)}"
    types = prop.get("type")
    for name in [types] if isinstance(types, str) else (types or []):
        if name not in TYPE_TESTS:
            return f"unknown type {name!r} (known: {', '.join(TYPE_TESTS)})"
    if "items" in prop:
        return schema_problem(prop["items"])
    return None


def type_problem(value: Any, prop: dict) -> str | None:
    """The type ``value`` should have had under ``prop``, in words ("an integer"), or None."""
    types = prop.get("type")
    if types is None:
        return None  # untyped: anything goes
    names = [types] if isinstance(types, str) else list(types)
    if not any(TYPE_TESTS[name](value) for name in names):
        return " or ".join(("an " if name[0] in "aeiou" else "a ") + name for name in names)
    if isinstance(value, list) and isinstance(prop.get("items"), dict):
        for item in value:
            if (inner := type_problem(item, prop["items"])) is not None:
                return f"an array of items each {inner}"
    return None


def identical(a: Any, b: Any) -> bool:
    """Equal with JSON types kept apart: 1 is not 1.0, True is not 1 (the variable rule compares so)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def argument_problem(name: str, value: Any, accepted: list, prop: dict) -> str | None:
    """Why ``value`` of argument ``name`` is not accepted (wrong type, or none of ``accepted``), or None."""
    expected_type = type_problem(value, prop)
    if expected_type is not None:
        # BFCL's variable rule: the reference's own type wins over the schema's, compared exactly.
        reference_type = next((json_type(a) for a in accepted if a != ""), None)
        if reference_type == json_type(value) and any(identical(value, a) for a in accepted):
            return None
        return f"argument {name!r} must be {expected_type}, got {json_type(value)} {_show(value)}"
    if any(same_value(value, a) for a in accepted):
        return None
    return f"argument {name!r} is {_show(value)}, expected {_expected(accepted)}"


def same_value(value: Any, answer: Any) -> bool:
    """``value`` (the model's) matches the one accepted ``answer`` under BFCL's rules (module docstring)."""
    if isinstance(answer, str):
        return isinstance(value, str) and standardize(value) == standardize(answer)
    if isinstance(answer, bool) or answer is None:
        return value is answer
    if _is_number(answer):
        return _is_number(value) and value == answer
    if isinstance(answer, dict):
        return isinstance(value, dict) and object_problem(value, answer) is None
    if isinstance(answer, list):
        return (isinstance(value, list) and len(value) == len(answer)
                and all(same_value(v, a) for v, a in zip(value, answer)))
    return False


def object_problem(value: dict, answer: dict) -> str | None:
    """How object ``value`` breaks the answer-form object ``answer`` (``{key: [accepted...]}``), or None.
    A key's accepted values given bare, not in a list, are read as that one value."""
    for key, item in value.items():
        if key not in answer:
            return f"unexpected key {key!r}"
        choices = answer[key] if isinstance(answer[key], list) else [answer[key]]
        if not any(same_value(item, a) for a in choices):
            return f"key {key!r} is {_show(item)}, expected {_expected(choices)}"
    for key, choices in answer.items():
        if key not in value and not (isinstance(choices, list) and "" in choices):
            return f"missing key {key!r}"
    return None


def _expected(accepted: list) -> str:
    """The accepted values in words; ``""`` (optional) said as such."""
    values = [a for a in accepted if a != ""]
    if not values:
        return "nothing"
    shown = _show(values[0]) if len(values) == 1 else "one of " + ", ".join(_show(a) for a in values)
    return shown + (" (or nothing)" if "" in accepted else "")


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
