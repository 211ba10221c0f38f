"""Our ``tool_call`` verifier against BFCL's own AST checker, case by case.

    pip install --no-deps --target /tmp/bfcl bfcl-eval          # the checker only; its pinned deps stay out
    PYTHONPATH=. python benchmarks/tool_call_reference_compare.py --bfcl-path /tmp/bfcl

Two sets of cases: the rule table of ``tests/test_tool_call_verifier.py``, and mutations of BFCL's
own bundled questions (``simple_python``, ``multiple``, ``parallel``, when the installed package
ships its data): the first accepted answer, and that answer with one change each (a string's case
and spacing, an optional argument left out, a required one dropped, an unknown one added, a value
changed, an int given for a float, parallel calls reversed). Both checkers judge each; the script
prints the agreement, every disagreement (those our docstring lists as deliberate are marked so),
and a one-line summary last. It skips, saying so, when BFCL's checker cannot be imported.

BFCL's checker module imports the leaderboard's model registry (which pulls in every vendor SDK)
only to rename dotted function names for some API models; a stub registry that never renames
stands in for it, so the checking code that runs is BFCL's own, unchanged.
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifiers.tool_call import verify_tool_call  # noqa: E402

# Cases where we differ from BFCL on purpose (verifiers/tool_call.py and tool_call_values.py say why);
# a parallel case that BFCL accepts in some other order of the same calls counts too (its greedy matching).
DELIBERATE = {"parallel, greedy would fail", "ints in a float array"}
CATEGORIES = ("simple_python", "multiple", "parallel")


def load_bfcl(path: str | None):
    """BFCL's ``ast_checker`` and ``Language``, or None with the reason."""
    if path:
        sys.path.insert(0, path)
    try:
        import bfcl_eval  # noqa: F401
    except ImportError as exc:
        return None, f"bfcl_eval is not importable ({exc}); pip install --no-deps --target DIR bfcl-eval, then --bfcl-path DIR"
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    never_renames = types.SimpleNamespace(underscore_to_dot=False)
    stub.MODEL_CONFIG_MAPPING = type("AnyModel", (dict,), {"__missing__": lambda self, key: never_renames})()
    sys.modules.setdefault("bfcl_eval.constants.model_config", stub)
    try:
        from bfcl_eval.constants.enums import Language
        from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip, saying why
        return None, f"BFCL's ast_checker failed to import: {type(exc).__name__}: {exc}"
    return (ast_checker, Language), ""


def completion_of(calls: list[dict]) -> str:
    return "\n".join(f'<tool_call>\n{json.dumps({"name": n, "arguments": a})}\n</tool_call>' for c in calls for n, a in c.items())


def table_cases() -> list[tuple[str, list[dict], list, list[dict], str]]:
    """(name, model calls, reference, functions, BFCL category) from the test table, where BFCL can judge."""
    from tests.test_tool_call_verifier import CASES, FUNCTIONS
    from verifiers.tool_call_syntax import acting_text, parse_tool_calls

    cases = []
    for name, completion, reference, _score, status, _reason in CASES:
        parsed = parse_tool_calls(acting_text(completion))
        if status != "ok" or parsed.problems or not reference or not parsed.calls:
            continue  # no call, malformed calls, "call nothing": BFCL's AST checker never sees these
        calls = [{c.name: dict(c.arguments)} for c in parsed.calls]
        # "multiple": one call among several documented functions (BFCL's "simple" reads the first doc only)
        cases.append((name, calls, reference, FUNCTIONS, "parallel" if len(reference) > 1 else "multiple"))
    return cases


def bfcl_data_cases(limit: int) -> list[tuple[str, list[dict], list, list[dict], str]]:
    import bfcl_eval

    root = Path(bfcl_eval.__file__).parent / "data"
    cases = []
    for category in CATEGORIES:
        questions = root / f"BFCL_v4_{category}.json"
        answers = root / "possible_answer" / f"BFCL_v4_{category}.json"
        if not questions.is_file() or not answers.is_file():
            continue
        truth = {r["id"]: r["ground_truth"] for r in map(json.loads, answers.read_text().splitlines())}
        for record in list(map(json.loads, questions.read_text().splitlines()))[:limit]:
            reference = truth[record["id"]]
            for label, calls in mutations(reference, record["function"]):
                cases.append((f"{record['id']}:{label}", calls, reference, record["function"], category.split("_")[0]))
    return cases


def mutations(reference: list[dict], functions: list[dict]):
    """The first accepted answer, then one change at a time, each labelled."""
    base = [{name: {k: v[0] for k, v in args.items() if v[0] != ""}} for call in reference for name, args in call.items()]
    yield "answer", base
    docs = {f["name"]: f for f in functions}
    for i, call in enumerate(base):
        (name, args), = call.items()
        required = docs[name]["parameters"].get("required", [])
        for key, value in args.items():
            if isinstance(value, str) and value:
                yield f"call{i}.{key}:upper-spaced", _with(base, i, key, " " + value.upper().replace(" ", "  "))
                yield f"call{i}.{key}:changed", _with(base, i, key, value + "zz")
            if isinstance(value, float) and value.is_integer():
                yield f"call{i}.{key}:int-for-float", _with(base, i, key, int(value))
            if isinstance(value, int) and not isinstance(value, bool):
                yield f"call{i}.{key}:changed", _with(base, i, key, value + 1)
                yield f"call{i}.{key}:as-string", _with(base, i, key, str(value))
            yield f"call{i}.{key}:dropped{'-required' if key in required else ''}", _with(base, i, key, None, drop=True)
        optional = [k for k, v in reference[i][name].items() if "" in v and k not in args and len(v) > 1]
        for key in optional[:1]:
            yield f"call{i}.{key}:optional-given", _with(base, i, key, next(v for v in reference[i][name][key] if v != ""))
        yield f"call{i}:unknown-argument", _with(base, i, "zz_unknown", 1)
    if len(base) > 1:
        yield "reversed", list(reversed(base))


def _with(base: list[dict], i: int, key: str, value: Any, drop: bool = False) -> list[dict]:
    calls = copy.deepcopy(base)
    args = next(iter(calls[i].values()))
    if drop:
        args.pop(key, None)
    else:
        args[key] = value
    return calls


def _some_order_passes(ast_checker, language, functions, calls, reference) -> bool:
    """BFCL accepts the same calls in some other order: the difference is its greedy matching."""
    if len(calls) > 6:
        return False
    return any(ast_checker(functions, list(order), reference, language.PYTHON, "parallel", "stub-model")["valid"]
               for order in itertools.permutations(calls))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bfcl-path", help="directory holding bfcl_eval (pip install --no-deps --target DIR bfcl-eval)")
    parser.add_argument("--limit", type=int, default=400, help="BFCL questions per category (default: %(default)s)")
    args = parser.parse_args()
    loaded, why = load_bfcl(args.bfcl_path)
    if loaded is None:
        print(f"SKIPPED: {why}")
        print("tool_call_reference_compare: skipped (BFCL checker not importable)")
        return 0
    ast_checker, language = loaded
    tally: Counter = Counter()
    for source, cases in (("table", table_cases()), ("bfcl-data", bfcl_data_cases(args.limit))):
        for name, calls, reference, functions, category in cases:
            try:
                theirs = bool(ast_checker(functions, calls, reference, language.PYTHON, category, "stub-model")["valid"])
            except Exception as exc:  # noqa: BLE001 - BFCL's checker raises on some inputs; count, do not compare
                tally[f"{source} bfcl-raised"] += 1
                print(f"  [{source}] {name}: BFCL raised {type(exc).__name__}: {exc}")
                continue
            verdict = verify_tool_call(completion_of(calls), reference, functions=functions)
            ours = verdict.score == 1.0
            tally[f"{source} cases"] += 1
            tally[f"{source} bfcl-correct"] += theirs
            if ours == theirs:
                tally[f"{source} agree"] += 1
                continue
            greedy = category == "parallel" and ours and _some_order_passes(ast_checker, language, functions, calls, reference)
            kind = "deliberate" if name in DELIBERATE or greedy else "DISAGREE"
            tally[f"{source} {kind.lower()}"] += 1
            print(f"  [{source}] {kind} {name}: ours={ours} bfcl={theirs}; ours: {verdict.status} {verdict.reason[:160]}")
    for source in ("table", "bfcl-data"):
        n, agree = tally[f"{source} cases"], tally[f"{source} agree"]
        print(f"{source}: {agree}/{n} agree ({tally[f'{source} bfcl-correct']} correct by BFCL), {tally[f'{source} deliberate']} deliberate differences, "
              f"{tally[f'{source} disagree']} other disagreements, {tally[f'{source} bfcl-raised']} where BFCL raised")
    total = tally["table cases"] + tally["bfcl-data cases"]
    agree = tally["table agree"] + tally["bfcl-data agree"]
    other = tally["table disagree"] + tally["bfcl-data disagree"]
    print(f"tool_call_reference_compare: agree {agree}/{total} ({agree / max(total, 1):.1%}), "
          f"deliberate {tally['table deliberate'] + tally['bfcl-data deliberate']}, unexplained {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
