"""The ``tool_call`` verifier (verifiers/tool_call.py, verifiers/tool_call_values.py), table-driven.

Each row is (completion's calls, reference, expected score, expected status, a word of the reason).
The rows under "BFCL" pin the behaviour of BFCL's AST checker (ast_checker.py), restated in our own
words and cases; the comment on each says which rule. ``benchmarks/tool_call_reference_compare.py``
runs the same kind of cases through BFCL's own checker where it is installed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifiers.registry import get_verifier
from verifiers.tool_call import max_matching, verify_tool_call
from verifiers.tool_call_values import standardize

WEATHER = {"name": "get_weather", "parameters": {"type": "dict", "required": ["city"], "properties": {
    "city": {"type": "string"}, "unit": {"type": "string"}, "days": {"type": "integer"}}}}
CONVERT = {"name": "convert", "parameters": {"type": "dict", "required": ["amount", "to_unit"], "properties": {
    "amount": {"type": "float"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}}}}
BOOK = {"name": "book", "parameters": {"type": "dict", "required": [], "properties": {
    "guests": {"type": "array", "items": {"type": "string"}},
    "prices": {"type": "array", "items": {"type": "float"}},
    "prefs": {"type": "dict", "properties": {}},
    "rooms": {"type": "array", "items": {"type": "dict"}},
    "count": {"type": "integer"},
    "flag": {"type": "boolean"},
    "anything": {"type": "any"},
    "ref": {"type": "integer"}}}}
FUNCTIONS = [WEATHER, CONVERT, BOOK]


def call(name: str, **arguments) -> str:
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


def judge(completion: str, reference, **fields):
    return verify_tool_call(completion, reference, **{"functions": FUNCTIONS, **fields})


PARIS = [{"get_weather": {"city": ["Paris"], "unit": ["celsius", ""]}}]
ONE_ARG = lambda name, arg, *accepted: [{name: {arg: list(accepted)}}]  # noqa: E731

CASES = [
    # --- our rules: names, arguments, counts
    ("exact", call("get_weather", city="Paris", unit="celsius"), PARIS, 1.0, "ok", "match"),
    ("optional omitted", call("get_weather", city="Paris"), PARIS, 1.0, "ok", "match"),
    ("wrong name", call("get_forecast", city="Paris"), PARIS, 0.0, "ok", "expected 'get_weather'"),
    ("wrong value", call("get_weather", city="Rome"), PARIS, 0.0, "ok", "argument 'city'"),
    ("unknown argument", call("get_weather", city="Paris", country="FR"), PARIS, 0.0, "ok", "unknown argument 'country'"),
    ("documented, not in reference", call("get_weather", city="Paris", days=3), PARIS, 0.0, "ok", "not in the reference"),
    ("missing schema-required", call("get_weather", unit="celsius"), PARIS, 0.0, "ok", "required argument 'city'"),
    ("missing reference-expected", call("get_weather", city="Paris"),
     [{"get_weather": {"city": ["Paris"], "unit": ["celsius"]}}], 0.0, "ok", "missing argument 'unit'"),
    ("arguments as a JSON string", '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}</tool_call>',
     PARIS, 1.0, "ok", "match"),
    ("too many calls", call("get_weather", city="Paris") * 2, PARIS, 0.0, "ok", "2 call(s) made"),
    ("malformed block", "<tool_call>{\"name\": get_weather}</tool_call>", PARIS, 0.0, "ok", "not valid JSON"),
    ("malformed beside a good call", call("get_weather", city="Paris") + "<tool_call>{oops</tool_call>", PARIS, 0.0, "ok",
     "not valid JSON"),
    ("prose only", "It is sunny in Paris.", PARIS, 0.0, "no_answer", "no <tool_call>"),
    # --- the thinking block: calls inside it do not count
    ("call after thinking", "<think>Paris, celsius</think>" + call("get_weather", city="Paris"), PARIS, 1.0, "ok", "match"),
    ("call inside thinking only", "<think>" + call("get_weather", city="Paris") + "</think> done", PARIS, 0.0, "no_answer", ""),
    ("thinking never closed", "<think>" + call("get_weather", city="Paris"), PARIS, 0.0, "no_answer", ""),
    ("wrong call in thought, right one after", "<think>" + call("get_weather", city="Rome") + "</think>"
     + call("get_weather", city="Paris"), PARIS, 1.0, "ok", "match"),
    # --- reference [] : calling nothing is the answer (BFCL's irrelevance category)
    ("nothing expected, nothing called", "I cannot help with that.", [], 1.0, "ok", "no call"),
    ("nothing expected, a call made", call("get_weather", city="Paris"), [], 0.0, "ok", "1 call(s) made"),
    # --- parallel calls: a multiset, order-free
    ("parallel, reordered", call("get_weather", city="Rome") + call("get_weather", city="Paris"),
     PARIS + [{"get_weather": {"city": ["Rome"]}}], 1.0, "ok", "match"),
    ("parallel, two functions", call("convert", amount=3, to_unit="km") + call("get_weather", city="Paris"),
     PARIS + [{"convert": {"amount": [3.0], "to_unit": ["km"], "from_unit": ["", "mi"]}}], 1.0, "ok", "match"),
    ("parallel, one missing", call("get_weather", city="Paris"), PARIS + [{"get_weather": {"city": ["Rome"]}}],
     0.0, "ok", "1 call(s) made, the reference has 2"),
    # Ours, not BFCL's: BFCL gives reference call 1 the first model call that fits (x=1) and then finds
    # nothing for reference call 2; the optimal assignment pairs them the other way round.
    ("parallel, greedy would fail", call("get_weather", city="Rome") + call("get_weather", city="Paris"),
     [{"get_weather": {"city": ["Rome", "Paris"]}}, {"get_weather": {"city": ["Rome"]}}], 1.0, "ok", "match"),
    ("parallel, duplicate call", call("get_weather", city="Rome") * 2,
     [{"get_weather": {"city": ["Rome", "Paris"]}}, {"get_weather": {"city": ["Paris"]}}], 0.0, "ok",
     "reference call 2"),

    # --- BFCL: strings are standardised (lower case; spaces and , . / - _ * ^ removed; ' read as ")
    ("BFCL string case", call("get_weather", city="PARIS"), PARIS, 1.0, "ok", "match"),
    ("BFCL string punctuation", call("get_weather", city="new-york"), ONE_ARG("get_weather", "city", "New York"),
     1.0, "ok", "match"),
    ("BFCL date punctuation", call("get_weather", city="April 1,2024"), ONE_ARG("get_weather", "city", "April 1, 2024"),
     1.0, "ok", "match"),
    ("BFCL single quote is double quote", call("get_weather", city="O'Hare"), ONE_ARG("get_weather", "city", 'O"Hare'),
     1.0, "ok", "match"),
    ("BFCL tab is not removed", call("get_weather", city="New\tYork"), ONE_ARG("get_weather", "city", "New York"),
     0.0, "ok", "argument 'city'"),
    ("BFCL other punctuation counts", call("get_weather", city="Paris!"), PARIS, 0.0, "ok", "argument 'city'"),
    # --- BFCL: an int where a float is expected is fine; a float never passes for an integer; a bool is no number
    ("BFCL int for float", call("convert", amount=5, to_unit="km"), [{"convert": {"amount": [5.0], "to_unit": ["km"]}}],
     1.0, "ok", "match"),
    ("BFCL float for integer", call("book", count=2.0), ONE_ARG("book", "count", 2), 0.0, "ok", "must be an integer"),
    ("BFCL bool for integer", call("book", count=True), ONE_ARG("book", "count", 1), 0.0, "ok", "must be an integer"),
    ("BFCL string for integer", call("book", count="2"), ONE_ARG("book", "count", 2), 0.0, "ok", "must be an integer"),
    ("BFCL string for boolean", call("book", flag="true"), ONE_ARG("book", "flag", True), 0.0, "ok", "must be a boolean"),
    # --- BFCL: the variable rule; the reference's own type wins over the schema's, compared exactly
    ("BFCL variable name", call("book", ref="total_count"), ONE_ARG("book", "ref", "total_count"), 1.0, "ok", "match"),
    ("BFCL variable compared exactly", call("book", ref="Total_Count"), ONE_ARG("book", "ref", "total_count"),
     0.0, "ok", "must be an integer"),
    # --- BFCL: arrays in order, element by element, strings standardised; item types checked
    ("BFCL array", call("book", guests=["Ann Lee", "bob"]), ONE_ARG("book", "guests", ["ann lee", "Bob"]), 1.0, "ok", "match"),
    ("BFCL array order matters", call("book", guests=["Bob", "Ann"]), ONE_ARG("book", "guests", ["Ann", "Bob"]),
     0.0, "ok", "argument 'guests'"),
    ("BFCL array length", call("book", guests=["Ann"]), ONE_ARG("book", "guests", ["Ann", "Bob"]), 0.0, "ok", "argument 'guests'"),
    ("BFCL array item type", call("book", guests=["Ann", 2]), ONE_ARG("book", "guests", ["Ann", "2"]), 0.0, "ok",
     "array of items"),
    # Ours, not BFCL's: ints pass for floats inside arrays too (JSON writers print 1.0 as 1).
    ("ints in a float array", call("book", prices=[1, 2.5]), ONE_ARG("book", "prices", [1.0, 2.5]), 1.0, "ok", "match"),
    # --- BFCL: objects in answer form {key: [accepted]}; "" marks a key optional
    ("BFCL dict", call("book", prefs={"size": "Large", "milk": "oat"}),
     ONE_ARG("book", "prefs", {"size": ["large"], "milk": ["oat", "soy"], "sugar": [""]}), 1.0, "ok", "match"),
    ("BFCL dict unexpected key", call("book", prefs={"size": "large", "ice": "yes"}),
     ONE_ARG("book", "prefs", {"size": ["large"]}), 0.0, "ok", "argument 'prefs'"),
    ("BFCL dict missing key", call("book", prefs={"size": "large"}),
     ONE_ARG("book", "prefs", {"size": ["large"], "milk": ["oat"]}), 0.0, "ok", "argument 'prefs'"),
    ("BFCL dict wrong value", call("book", prefs={"size": "small"}), ONE_ARG("book", "prefs", {"size": ["large"]}),
     0.0, "ok", "argument 'prefs'"),
    # --- BFCL: a list of objects matches position by position, lengths equal
    ("BFCL list of dicts", call("book", rooms=[{"beds": 2}, {"beds": 1, "view": "Sea"}]),
     ONE_ARG("book", "rooms", [{"beds": [2]}, {"beds": [1], "view": ["sea", ""]}]), 1.0, "ok", "match"),
    ("BFCL list of dicts reordered", call("book", rooms=[{"beds": 1}, {"beds": 2}]),
     ONE_ARG("book", "rooms", [{"beds": [2]}, {"beds": [1]}]), 0.0, "ok", "argument 'rooms'"),
    ("BFCL list of dicts length", call("book", rooms=[{"beds": 2}]),
     ONE_ARG("book", "rooms", [{"beds": [2]}, {"beds": [1]}]), 0.0, "ok", "argument 'rooms'"),
    # --- BFCL: "" accepted lets the argument be left out, and still matches an empty string given
    ("BFCL optional given empty", call("get_weather", city="Paris", unit=""), PARIS, 1.0, "ok", "match"),
    ("BFCL optional given wrong", call("get_weather", city="Paris", unit="kelvin"), PARIS, 0.0, "ok", "(or nothing)"),
    # --- type any: every JSON value, compared by value
    ("any typed", call("book", anything=3), ONE_ARG("book", "anything", 3), 1.0, "ok", "match"),
    ("any typed, string is not the number", call("book", anything="3"), ONE_ARG("book", "anything", 3), 0.0, "ok",
     "argument 'anything'"),
]


@pytest.mark.parametrize("completion,reference,score,status,reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tool_call_rules(completion, reference, score, status, reason):
    verdict = judge(completion, reference)
    assert (verdict.score, verdict.status) == (score, status), verdict.reason
    assert reason in verdict.reason


BAD_REFERENCES = [
    ("not JSON", "[{get_weather", FUNCTIONS, "reference: not valid JSON"),
    ("not a list", {"get_weather": {"city": ["Paris"]}}, FUNCTIONS, "expected a list of calls"),
    ("two functions in one call", [{"get_weather": {}, "convert": {}}], FUNCTIONS, "reference call 1"),
    ("accepted not a list", [{"get_weather": {"city": "Paris"}}], FUNCTIONS, "argument 'city' must list"),
    ("empty accepted list", [{"get_weather": {"city": []}}], FUNCTIONS, "argument 'city' must list"),
    ("undocumented function", [{"set_alarm": {"hour": [7]}}], FUNCTIONS, "not among the documented functions"),
    ("undocumented argument", [{"get_weather": {"city": ["Paris"], "zip": ["75001"]}}], FUNCTIONS,
     "argument 'zip' is not in the function's documentation"),
    ("no documentation", PARIS, None, "no function documentation"),
    ("unknown schema type", ONE_ARG("get_weather", "city", "Paris"), [{"name": "get_weather", "parameters": {"properties": {"city": {"type": "str"}}}}],
     "unknown type 'str'"),
    ("documentation without a name", PARIS, [{"parameters": {}}], "functions entry 1"),
]


@pytest.mark.parametrize("reference,functions,reason", [c[1:] for c in BAD_REFERENCES], ids=[c[0] for c in BAD_REFERENCES])
def test_a_bad_reference_is_unjudged_and_named(reference, functions, reason):
    verdict = verify_tool_call(call("get_weather", city="Paris"), reference, functions=functions)
    assert verdict.status == "invalid_reference" and verdict.unjudged
    assert reason in verdict.reason


def test_documentation_fields_in_every_accepted_shape():
    openai_tools = [{"type": "function", "function": WEATHER}]
    completion = call("get_weather", city="Paris")
    for fields in ({"functions": [WEATHER]}, {"function": [WEATHER]}, {"tools": openai_tools},
                   {"functions": json.dumps([WEATHER])}, {"tools": json.dumps(openai_tools)}, {"functions": openai_tools}):
        assert verify_tool_call(completion, json.dumps(PARIS), **fields).score == 1.0, fields


PARTIAL = [
    # (calls made, reference, score with partial): matched over max(reference calls, calls made)
    (call("get_weather", city="Paris"), PARIS + [{"get_weather": {"city": ["Rome"]}}], 0.5),
    (call("get_weather", city="Paris") + call("get_weather", city="Oslo"), PARIS, 0.5),  # an extra call costs
    (call("get_weather", city="Paris") + "<tool_call>oops</tool_call>", PARIS, 0.5),  # so does a malformed one
    (call("get_weather", city="Rome"), PARIS, 0.0),
    (call("get_weather", city="Paris"), PARIS, 1.0),
]


@pytest.mark.parametrize("completion,reference,score", PARTIAL)
def test_partial_credit_is_the_fraction_matched(completion, reference, score):
    assert judge(completion, reference, partial=True).score == score
    assert judge(completion, reference).score == (1.0 if score == 1.0 else 0.0)  # off by default


@pytest.mark.parametrize("fits,size", [
    ([[True, True], [True, False]], 2),  # the greedy first choice must be undone
    ([[True, False], [True, False]], 1),
    ([[False, False]], 0),
    ([], 0),
    ([[True, True, False], [False, True, True], [True, False, False]], 3),
])
def test_max_matching(fits, size):
    assert max_matching(fits, len(fits[0]) if fits else 0) == size


@pytest.mark.parametrize("text,expected", [("April 1, 2024", "april12024"), ("It's a_b/c*d^e", 'it"sabcde'), ("a\tb", "a\tb")])
def test_standardize_as_bfcl(text, expected):
    assert standardize(text) == expected


def test_registered_as_a_builtin():
    assert get_verifier("tool_call") is verify_tool_call


def test_extracted_shows_the_calls_in_reference_form():
    verdict = judge(call("get_weather", city="Paris"), PARIS)
    assert json.loads(verdict.extracted) == [{"get_weather": {"city": "Paris"}}]


def test_rlvr_score_passes_the_documentation_to_the_verifier(tmp_path: Path):
    """A BFCL-style JSONL (the ``function`` field as BFCL's data names it) scored through the CLI."""
    from tests.test_score_cli import read_jsonl, run_cli, write_jsonl

    records = [
        {"id": "simple_0", "question": [[{"role": "user", "content": "Weather in Paris?"}]], "function": [WEATHER],
         "reference": PARIS, "completion": call("get_weather", city="paris")},
        {"id": "simple_1", "function": [WEATHER], "reference": json.dumps(PARIS), "completion": call("get_weather", city="Rome")},
        {"id": "simple_2", "tools": [{"type": "function", "function": WEATHER}], "reference": PARIS,
         "completion": "<think>hm</think>" + call("get_weather", city="Paris", unit="celsius")},
        {"id": "simple_3", "reference": PARIS, "completion": call("get_weather", city="Paris")},  # no documentation
    ]
    predictions = write_jsonl(tmp_path / "preds.jsonl", records)
    result = run_cli("score", str(predictions), "--verifier", "tool_call", "--workers", "1")
    assert result.code == 0, result.err
    verdicts = [r["verdict"] for r in read_jsonl(tmp_path / "preds.scored.jsonl")]
    assert [(v["score"], v["status"]) for v in verdicts] == [
        (1.0, "ok"), (0.0, "ok"), (1.0, "ok"), (0.0, "invalid_reference")]
    assert "argument 'city'" in verdicts[1]["reason"]
