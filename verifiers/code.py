"""The ``code`` verifier: run the completion's program against the sample's tests in the sandbox.

The program is the last fenced block of the sample's language (```python, ```py;
an untagged block if none is tagged); a completion with no fence at all that is a Python
program as a whole (it parses, and is more than a bare name or constant) is that program,
so ``rlvr verify --verifier code --file solution.py`` judges the file. Prose with code in
it still needs the fence: where the program starts and stops is not guessed. ``score`` is
the fraction of test cases passed. Accepted test shapes, from ``reference`` or the ``tests=`` field:

* assert-style code, one string = one test case; with ``entry_point=`` a test that
  defines ``check(candidate)`` is called on it (HumanEval): ``"def check(f):\\n    assert f(2) == 4"``
* a list of such strings, one test case each (MBPP ``test_list``)
* stdin/stdout pairs, compared token by token (whitespace-insensitive):
  ``[{"input": "2 3\\n", "output": "5\\n"}, ...]`` or ``{"inputs": [...], "outputs": [...]}`` (APPS)
* a dict holding any of the above under ``tests``, with ``entry_point`` / ``setup``
  (code run before the program, e.g. imports) / ``allow_objects`` / ``mutates``, or a JSON
  string of one.

What protects each shape (``sandbox/__init__.py``, property 10). Test code runs in a process
of its own, as another user than the program's; it calls the program's functions through
stand-ins that send copied arguments and get back plain data (built-in values, built anew),
so no object of the program's reaches the tests; the case fails naming the type of a result
that is not data. ``entry_point`` is the name the tests must get from the program, even
where it shadows a builtin. A task whose results are objects by design (classes under test)
sets ``allow_objects: true``: the objects stay in the program's process, and the tests hold
handles whose every use (a method call, ``len``, ``==``) asks the program. A task whose
tests check a change made in place to an argument sets ``mutates: true``: the program's
copy of each argument is then copied back after each call. stdin/stdout pairs need no
stand-ins: the comparison happens outside the program, on its output.

Other fields: ``language`` (only "python" runs), ``timeout_s`` per test case (default 5;
``code_budget`` derives the verifier pool's per-item deadline from it).

    >>> from verifiers.code import verify_code
    >>> completion = "Here:\\n```python\\ndef square(x):\\n    return x * x\\n```"
    >>> verify_code(completion, "def check(f):\\n    assert f(3) == 9", entry_point="square").score
    1.0
    >>> verify_code(completion, ["assert square(2) == 4", "assert square(-1) == -1"]).score
    0.5
    >>> echo = "```python\\nprint(sum(map(int, input().split())))\\n```"
    >>> verify_code(echo, [{"input": "2 3\\n", "output": "5\\n"}]).score
    1.0

A program that fails, loops or is refused fails its test case (status "ok", a judgment);
a sandbox fault is ``error`` naming the container, never a silent 0. Each process
(e.g. each ``VerifierPool`` worker) lazily opens one sandbox pool, closed at exit;
``RLVR_CODE_SANDBOX=local`` swaps in the unsafe ``LocalSandbox`` for trusted code,
``RLVR_CODE_SANDBOX_SIZE`` sets the pool size (default 2).
"""
from __future__ import annotations

import atexit
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from verifiers.code_budget import DEFAULT_TIMEOUT_S
from verifiers.verdict import Verdict, unjudged

LANGUAGE_TAGS = {"python": {"python", "py", "python3", "py3"}}
_FENCE = re.compile(r"```[ \t]*([^\n`]*)\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class CodeCase:
    """One unit of the score: test code run after the program, or a stdin with its expected stdout."""

    code: str | None = None
    stdin: str | None = None
    expected_stdout: str | None = None


@dataclass(frozen=True)
class CodeTests:
    """A sample's test cases, the code run before its program, and whether results may be objects."""

    cases: list[CodeCase]
    setup: str = ""
    allow_objects: bool = False
    mutates: bool = False
    entry_point: str | None = None


class BadReference(ValueError):
    pass


def verify_code(completion: str, reference: Any = None, **fields: Any) -> Verdict:
    language = str(fields.get("language") or "python").lower()
    if language not in LANGUAGE_TAGS:
        return unjudged("invalid_reference", f"language {language!r} is not supported; only python runs")
    program = extract_program(completion, language)
    if program is None:
        return unjudged("no_answer", f"no fenced {language} code block in the completion, and the completion "
                                     f"is not a {language} program by itself{_why_not_a_program(completion)}")
    try:
        tests = parse_tests(reference, fields)
    except BadReference as exc:
        return unjudged("invalid_reference", str(exc), program)
    try:
        box = get_sandbox()
    except Exception as exc:  # no engine, no image: cannot judge, and must say so
        return unjudged("error", f"code sandbox unavailable: {type(exc).__name__}: {exc}", program)
    timeout_s = float(fields.get("timeout_s") or DEFAULT_TIMEOUT_S)
    source = f"{tests.setup}\n{program}" if tests.setup else program
    cases = tests.cases
    results = box.run_batch([source] * len(cases), stdins=[c.stdin for c in cases], tests=[c.code for c in cases],
                            timeout_s=timeout_s, plain_results=not tests.allow_objects, mutates=tests.mutates,
                            entry_point=tests.entry_point)
    return _verdict(cases, results, program)


def extract_program(completion: str, language: str = "python") -> str | None:
    """The last fenced block tagged with ``language``; else the last untagged one; else, with no
    fence at all, the whole completion if it is a program by itself; else None."""
    blocks = [(tag.strip().split()[0].lower() if tag.strip() else "", body) for tag, body in _FENCE.findall(completion or "")]
    tags = LANGUAGE_TAGS.get(language, {language})
    for wanted in (lambda t: t in tags, lambda t: t == ""):
        chosen = [body for tag, body in blocks if wanted(tag)]
        if chosen and chosen[-1].strip():
            return chosen[-1]
    if language == "python" and "```" not in (completion or "") and _why_not_a_program(completion) == "":
        return completion
    return None


def _why_not_a_program(text: str) -> str:
    """"" when ``text`` is a Python program by itself, else why not (to end a sentence with)."""
    import ast

    try:
        tree = ast.parse(text or "")
    except (SyntaxError, ValueError) as exc:
        return f" ({type(exc).__name__}: {getattr(exc, 'msg', exc)}, line {getattr(exc, 'lineno', '?')})"
    bare = (ast.Name, ast.Constant, ast.Attribute)  # "42", "hello", "math.pi": words, not programs
    if all(isinstance(node, ast.Expr) and isinstance(node.value, bare) for node in tree.body):
        return " (no statement in it)"
    return ""


def parse_tests(reference: Any, fields: dict) -> CodeTests:
    """Test cases, setup code and ``allow_objects`` from any accepted shape (see the module docstring)."""
    spec = fields["tests"] if fields.get("tests") is not None else reference
    if isinstance(spec, str) and spec.lstrip()[:1] in ("[", "{"):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError:
            pass  # code that happens to start with a bracket
    entry_point = fields.get("entry_point")
    setup = fields.get("setup") or ""
    allow_objects = fields.get("allow_objects", False)
    mutates = fields.get("mutates", False)
    if isinstance(spec, dict):
        entry_point = spec.get("entry_point", entry_point)
        setup = spec.get("setup", setup) or ""
        allow_objects = spec.get("allow_objects", allow_objects)
        mutates = spec.get("mutates", mutates)
        if "inputs" in spec and "outputs" in spec:
            spec = [{"input": i, "output": o} for i, o in zip(spec["inputs"], spec["outputs"])]
        else:
            spec = spec.get("tests")
    if isinstance(spec, str):
        spec = [spec]
    if not isinstance(spec, list) or not spec:
        raise BadReference(f"no test cases found in reference/fields (got {type(spec).__name__})")
    for name, flag in (("allow_objects", allow_objects), ("mutates", mutates)):
        if not isinstance(flag, bool):
            raise BadReference(f"{name} must be true or false, got {flag!r}")
    if entry_point is not None and not (isinstance(entry_point, str) and entry_point.isidentifier()):
        raise BadReference(f"entry_point must be a Python name, got {entry_point!r}")
    return CodeTests([_case(item, entry_point, i) for i, item in enumerate(spec)], setup, allow_objects, mutates,
                     entry_point or None)


def _case(item: Any, entry_point: str | None, index: int) -> CodeCase:
    if isinstance(item, str):
        if not item.strip():
            raise BadReference(f"test case {index} is empty")
        if entry_point and re.search(r"^def check\(", item, re.M) and not re.search(r"^check\(", item, re.M):
            item = f"{item}\n\ncheck({entry_point})\n"
        return CodeCase(code=item)
    if isinstance(item, dict) and "input" in item and "output" in item:
        return CodeCase(stdin=_text(item["input"]), expected_stdout=_text(item["output"]))
    raise BadReference(f"test case {index} is neither test code nor an input/output pair: {str(item)[:80]!r}")


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) + "\n" if isinstance(value, list) else str(value)


def _case_passed(case: CodeCase, result) -> bool:
    if case.expected_stdout is None:
        return result.passed
    # A stdin/stdout program is judged on its output; exiting 0 early (sys.exit) is its right.
    ended_well = result.passed or (result.status == "failed" and result.exit_code == 0)
    return ended_well and result.stdout.split() == case.expected_stdout.split()


def _verdict(cases: list[CodeCase], results: list, program: str) -> Verdict:
    faults = [r for r in results if r.status == "sandbox_error"]
    if faults:
        return unjudged("error", f"sandbox fault in container {faults[0].sandbox_id}: {faults[0].detail}", program)
    passed = [_case_passed(c, r) for c, r in zip(cases, results)]
    reason = f"{sum(passed)}/{len(cases)} test cases passed"
    failed = [(i, r) for i, (ok, r) in enumerate(zip(passed, results)) if not ok]
    if failed:
        i, r = failed[0]
        why = r.detail if r.status != "passed" else "wrong output"
        reason += f"; first failure: case {i} ({r.status}: {why})"
    return Verdict(sum(passed) / len(cases), "ok", program, reason)


# ---------------------------------------------------------------- one sandbox per process
_sandbox: Any = None
_sandbox_pid: int | None = None


def get_sandbox():
    """This process's sandbox, created on first use (a fork gets its own, never its parent's)."""
    global _sandbox, _sandbox_pid
    if _sandbox is None or _sandbox_pid != os.getpid():
        size = int(os.environ.get("RLVR_CODE_SANDBOX_SIZE", "2"))
        if os.environ.get("RLVR_CODE_SANDBOX", "docker") == "local":
            from sandbox.local_sandbox import LocalSandbox

            box = LocalSandbox(unsafe=True, size=size)
        else:
            from sandbox import DockerSandbox

            box = DockerSandbox(size=size)
        use_sandbox(box)
    return _sandbox


def use_sandbox(box) -> None:
    """Make ``box`` (anything with ``run_batch``) this process's sandbox; tests inject fakes here."""
    global _sandbox, _sandbox_pid
    _sandbox, _sandbox_pid = box, os.getpid()


@atexit.register
def _close_sandbox() -> None:
    if _sandbox is not None and _sandbox_pid == os.getpid():
        _sandbox.close()
