"""Tools for multi-turn rollouts: parsing calls, running them (statuses, concurrency, time limits),
schemas, loading plug-ins, the calculator, the python tool (Docker-marked) and truncation."""
from __future__ import annotations

import re
import time
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from rl.envs.builtin_tools import MAX_STREAM_CHARS, calculator, python_tool
from rl.envs.calculator import TooLarge
from rl.envs.tools import (
    EnvironmentFailure,
    ToolBox,
    ToolCall,
    ToolNotFound,
    ToolResult,
    load_tool,
    parse_tool_calls,
    tool_schema,
    truncate_middle,
)
from rl.registries import TOOLS
from sandbox.result import ExecResult
from tests.sandbox_support import docker_sandbox_or_skip

PLUGIN = "rlvr_plugin_example.tools"


@pytest.fixture
def plugin_path(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins" / "rlvr_plugin_example"))


def block(body: str) -> str:
    return f"<tool_call>\n{body}\n</tool_call>"


CALC = '{"name": "calculator", "arguments": {"expression": "6*7"}}'


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, calls, problems", [
    (block(CALC), [("calculator", {"expression": "6*7"})], []),
    ("I will compute.\n" + block(CALC) + "\n" + block('{"name": "python", "arguments": {"code": "print(1)"}}'),
     [("calculator", {"expression": "6*7"}), ("python", {"code": "print(1)"})], []),
    (block('{"name": "calculator", "arguments": {"expression": "6*7"'), [], ["tool call 1: not valid JSON: Expecting ',' delimiter"]),
    (block('["calculator", {"expression": "6*7"}]'), [], ["tool call 1: expected a JSON object"]),
    (block('{"arguments": {"expression": "6*7"}}'), [], ['tool call 1: no "name"']),
    (block('{"name": 7, "arguments": {}}'), [], ['tool call 1: "name" must be a non-empty string, got integer']),
    (block('{"name": "calculator", "arguments": "{\\"expression\\": \\"6*7\\"}"}'), [("calculator", {"expression": "6*7"})], []),
    (block('{"name": "calculator", "arguments": ["6*7"]}'), [], ['tool call 1: "arguments" must be a JSON object, got array']),
    (block('{"name": "calculator", "arguments": "6*7"}'), [], ['tool call 1: "arguments" is a string but not valid JSON']),
    ("<tool_call>\n" + CALC, [], ["tool call 1: <tool_call> is never closed"]),
    ("<tool_call>\n{\"name\": \"x\"\n" + block(CALC), [("calculator", {"expression": "6*7"})], ["tool call 1: <tool_call> is never closed"]),
    (CALC + "\n</tool_call>", [], ["a </tool_call> with no <tool_call> before it"]),
    (block(CALC) + block("{oops}"), [("calculator", {"expression": "6*7"})], ["tool call 2: not valid JSON"]),
    ("The answer is 42.", [], []),
])
def test_parse_tool_calls(text, calls, problems):
    parsed = parse_tool_calls(text)
    assert [(c.name, dict(c.arguments)) for c in parsed.calls] == calls
    assert len(parsed.problems) == len(problems)
    for got, expected in zip(parsed.problems, problems):
        assert got.startswith(expected), got
    assert parsed.well_formed == (bool(calls) and not problems)


def test_parse_reports_where_the_json_broke():
    problems = parse_tool_calls(block(CALC) + block('{"name": "calculator" "arguments": {}}')).problems
    assert problems == ("tool call 2: not valid JSON: Expecting ',' delimiter: line 1 column 23 (char 22)",)


# ---------------------------------------------------------------- loading and schemas
def test_builtins_are_registered():
    assert {"python", "calculator"} <= set(TOOLS.names())
    assert load_tool("calculator") is calculator


def test_load_by_module_function(plugin_path):
    fn = load_tool(f"{PLUGIN}:sleepy_echo")
    assert fn("hi", 0) == "hi"


def test_load_by_entry_point(plugin_path, monkeypatch):
    ep = EntryPoint(name="echo", value=f"{PLUGIN}:sleepy_echo", group="rlvr.tools")
    import verifiers.registry

    monkeypatch.setattr(verifiers.registry, "entry_points", lambda group: [ep] if group == "rlvr.tools" else [])
    assert load_tool("echo")("hello", 0) == "hello"


@pytest.mark.parametrize("name, message", [
    ("no_such_tool", "unknown tool 'no_such_tool'; known: calculator, python"),
    ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
    (f"{PLUGIN}:missing", "has no attribute 'missing'"),
])
def test_load_errors_name_the_tool(plugin_path, name, message):
    with pytest.raises(ToolNotFound, match=message):
        load_tool(name)


def test_schema_of_a_typed_plugin(plugin_path):
    schema = tool_schema(load_tool(f"{PLUGIN}:word_stats"))
    fn = schema["function"]
    assert (schema["type"], fn["name"]) == ("function", "word_stats")
    assert fn["description"].startswith("Count the words")
    assert fn["parameters"]["properties"]["text"]["type"] == "string"
    assert fn["parameters"]["properties"]["top"]["type"] == "integer"
    assert fn["parameters"]["required"] == ["text"]


def test_schema_error_names_the_untyped_function(plugin_path):
    with pytest.raises(ValueError, match=r"rlvr_plugin_example\.tools\.untyped.*type hint"):
        tool_schema(load_tool(f"{PLUGIN}:untyped"))


def test_two_tools_with_one_name_are_refused(plugin_path):
    with pytest.raises(ValueError, match="two tools are called 'sleepy_echo'"):
        ToolBox([f"{PLUGIN}:sleepy_echo", f"{PLUGIN}:sleepy_echo"])


# ---------------------------------------------------------------- running calls: statuses
def fails_on(text: str) -> str:
    """Raise on the word "bad".

    Args:
        text: Anything.
    """
    if text == "bad":
        raise ValueError("bad input")
    if text == "env":
        raise EnvironmentFailure("backend unreachable")
    if text == "slow":
        raise TimeoutError("gave up after 1 s")
    return text.upper()


@pytest.fixture
def box(plugin_path):
    with ToolBox([fails_on, "calculator", f"{PLUGIN}:word_stats", f"{PLUGIN}:sleepy_echo"], timeout_s=0.5) as b:
        yield b


@pytest.mark.parametrize("call, status, content", [
    (ToolCall("fails_on", {"text": "ok"}), "ok", "OK"),
    (ToolCall("word_stats", {"text": "b a b"}), "ok", '{"words": 3, "most_frequent": ["b", "a"]}'),
    (ToolCall("calculator", {"expression": "123456*789"}), "ok", "97406784"),
    (ToolCall("search", {"q": "x"}), "bad_call", "unknown tool 'search'; the tools are: fails_on, calculator, word_stats, sleepy_echo"),
    (ToolCall("fails_on", {}), "bad_call", "fails_on is missing its required argument 'text'; it takes: text"),
    (ToolCall("fails_on", {"text": "a", "loud": True}), "bad_call", "fails_on has no argument 'loud'; it takes: text"),
    (ToolCall("fails_on", {"text": 3}), "bad_call", "fails_on: argument 'text' must be a string, got integer 3"),
    (ToolCall("word_stats", {"text": "a", "top": True}), "bad_call", "word_stats: argument 'top' must be an integer, got boolean true"),
    (ToolCall("sleepy_echo", {"text": "a", "seconds": "1"}), "bad_call", "sleepy_echo: argument 'seconds' must be a number, got string \"1\""),
    (ToolCall("fails_on", {"text": "bad"}), "raised", "ValueError: bad input"),
    (ToolCall("calculator", {"expression": "2 +* 3"}), "raised", "ValueError: not an expression: invalid syntax"),
    (ToolCall("fails_on", {"text": "env"}), "env_failure", "fails_on could not run: backend unreachable"),
    (ToolCall("fails_on", {"text": "slow"}), "timeout", "gave up after 1 s"),
    (ToolCall("sleepy_echo", {"text": "a", "seconds": 30}), "timeout", "sleepy_echo did not finish within 0.5 s; the call was abandoned"),
])
def test_each_status(box, call, status, content):
    [result] = box.run([call])
    assert result == ToolResult(call.name, content, status)
    assert "Traceback" not in result.content


def test_results_come_back_in_call_order(box):
    calls = [ToolCall("sleepy_echo", {"text": str(i), "seconds": 0.05 * (5 - i)}) for i in range(5)]
    assert [r.content for r in box.run(calls)] == ["0", "1", "2", "3", "4"]


def test_concurrent_calls(plugin_path):
    """The issue's requirement: 16 calls of a tool that sleeps 0.5 s take at most 1.5 x 0.5 s in one turn."""
    with ToolBox([f"{PLUGIN}:sleepy_echo"], timeout_s=5) as b:
        calls = [ToolCall("sleepy_echo", {"text": str(i), "seconds": 0.5}) for i in range(16)]
        started = time.perf_counter()
        results = b.run(calls)
        elapsed = time.perf_counter() - started
    assert [r.content for r in results] == [str(i) for i in range(16)]
    assert elapsed <= 1.5 * 0.5, f"16 concurrent 0.5 s calls took {elapsed:.3f} s"


def test_hung_calls_do_not_starve_the_ones_behind_them(plugin_path):
    with ToolBox([f"{PLUGIN}:sleepy_echo"], timeout_s=0.3, max_workers=2) as b:
        hung = [ToolCall("sleepy_echo", {"text": "hung", "seconds": 30})] * 2
        quick = [ToolCall("sleepy_echo", {"text": "quick", "seconds": 0})] * 2
        started = time.perf_counter()
        results = b.run(hung + quick)
        assert time.perf_counter() - started < 1.5
        assert [r.status for r in results] == ["timeout", "timeout", "ok", "ok"]
        # The abandoned threads were replaced: the next turn runs at full width again.
        started = time.perf_counter()
        assert [r.status for r in b.run([ToolCall("sleepy_echo", {"text": "x", "seconds": 0.2})] * 2)] == ["ok", "ok"]
        assert time.perf_counter() - started < 0.35


def test_a_closed_box_refuses_to_run(box):
    box.close()
    with pytest.raises(RuntimeError, match="closed"):
        box.run([ToolCall("fails_on", {"text": "x"})])


# ---------------------------------------------------------------- calculator
@pytest.mark.parametrize("expression, expected", [
    ("123456*789", "97406784"),
    ("2**100", "1267650600228229401496703205376"),
    ("2^3^2", "512"),  # ^ is power, grouped right to left as in maths
    ("1/3 + 1/6", "1/2 ≈ 0.5"),
    ("0.1 + 0.2", "0.3"),  # decimals as written, not binary floats
    ("12345678901234567890.5 * 2", "24691357802469135781"),
    ("1.5 / 7", "0.214285714285714"),
    ("sqrt(8) * sqrt(2)", "4"),
    ("sqrt(2)", "sqrt(2) ≈ 1.4142135623731"),
    ("7 % 3", "1"),
    ("-7 // 2", "-4"),
    ("factorial(20)", "2432902008176640000"),
    ("binomial(10, 3)", "120"),
    ("log(8, 2)", "3"),
    ("3×4−1", "11"),
    ("2*x + 3*x", "5*x"),
])
def test_calculator_values(expression, expected):
    assert calculator(expression) == expected


@pytest.mark.parametrize("expression, error, message", [
    ("10**10**10", TooLarge, "would have about 10,000,000,000 digits"),
    ("9**9**9", TooLarge, "digits"),
    ("factorial(10**6)", TooLarge, "factorial"),
    ("factorial(factorial(factorial(5)))", TooLarge, "factorial"),
    ("exp(10**3999)", TooLarge, "exponential"),
    ("floor(exp(10**5))", TooLarge, "limit"),
    ("sqrt(2)**(10**9)", TooLarge, "exponent"),
    ("-" * 500 + "1", TooLarge, "nested"),
    ("1" * 2000, TooLarge, "longer than"),
    ("1/0", ZeroDivisionError, "division by zero"),
    ("2x", ValueError, "write products with"),
    ("__import__('os').system('true')", ValueError, "not supported|unknown function"),
    ("().__class__.__bases__", ValueError, "attributes"),
    ("open('/etc/passwd')", ValueError, "unknown function 'open'"),
    ("'text'", ValueError, "not a number"),
    ("tan(pi/2)", ValueError, "undefined"),
])
def test_calculator_refuses_quickly(expression, error, message):
    started = time.perf_counter()
    with pytest.raises(error, match=message):
        calculator(expression)
    assert time.perf_counter() - started < 1.0


# ---------------------------------------------------------------- truncation
def test_truncate_keeps_short_text():
    assert truncate_middle("short", 10) == "short"


def test_truncate_characters():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    cut = truncate_middle(text, 200)
    assert 190 <= len(cut) <= 200 and cut.startswith("HEAD") and cut.endswith("TAIL")
    marker = re.search(r"\n\.\.\.\[([\d,]+) characters cut\]\.\.\.\n", cut)
    assert len(cut) - len(marker.group()) + int(marker.group(1).replace(",", "")) == len(text)


def test_truncate_under_a_token_counter():
    words = lambda s: len(s.split())  # noqa: E731 - a stand-in tokenizer: one token per word
    text = " ".join(f"w{i}" for i in range(1000))
    cut = truncate_middle(text, 50, words)
    assert words(cut) <= 50 and words(cut) >= 45
    assert cut.startswith("w0 w1") and cut.endswith("w998 w999") and "characters cut" in cut


def test_truncate_to_less_than_the_marker_gives_the_marker():
    assert "characters cut" in truncate_middle("x" * 100, 5)


# ---------------------------------------------------------------- python tool, without Docker
class FakeSandbox:
    def __init__(self, result: ExecResult) -> None:
        self.result, self.timeouts = result, []

    def run(self, code, *, timeout_s, **_):
        self.timeouts.append(timeout_s)
        return self.result


@pytest.mark.parametrize("result, status, content", [
    (ExecResult("passed", 0, "42\n"), "ok", "42"),
    (ExecResult("passed", 0), "ok", "[no output]"),
    (ExecResult("failed", 0, "bye\n", detail="exited early via SystemExit (code 0)"), "ok", "bye"),
    (ExecResult("failed", 1, "1\n", "Traceback ...\nZeroDivisionError: division by zero\n", detail="uncaught ZeroDivisionError"),
     "ok", "1\n[stderr]\nTraceback ...\nZeroDivisionError: division by zero\n[uncaught ZeroDivisionError]"),
    (ExecResult("timeout", None, "started\n", detail="killed at the wall-clock limit"), "timeout",
     "the program was stopped at its time limit of 1.5 s; its output until then:\nstarted"),
    (ExecResult("sandbox_error", detail="container stopped", sandbox_id="abc123"), "env_failure",
     "python could not run: sandbox fault in container abc123: container stopped"),
])
def test_python_tool_reports(result, status, content):
    sandbox = FakeSandbox(result)
    with ToolBox([python_tool(sandbox)], timeout_s=2.0) as b:
        assert b.run([ToolCall("python", {"code": "..."})]) == [ToolResult("python", content, status)]
    assert sandbox.timeouts == [pytest.approx(1.5, abs=0.05)]  # stopped before the box would abandon it


def test_python_tool_cuts_long_output():
    content = python_tool(FakeSandbox(ExecResult("passed", 0, "a" * 50_000 + "END\n")))("...")
    assert len(content) <= MAX_STREAM_CHARS and content.endswith("END") and "characters cut" in content


def test_python_tool_without_a_docker_engine_is_an_environment_failure(monkeypatch):
    import verifiers.code

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.delenv("RLVR_CODE_SANDBOX", raising=False)
    monkeypatch.setattr(verifiers.code, "_sandbox", None)
    with ToolBox(["python"]) as b:
        [result] = b.run([ToolCall("python", {"code": "print(1)"})])
    assert result.status == "env_failure" and "SandboxUnavailable" in result.content, result


# ---------------------------------------------------------------- python tool, in Docker
@pytest.fixture(scope="module")
def docker_box():
    box = docker_sandbox_or_skip(size=2)
    yield box
    box.close()


@pytest.mark.docker
@pytest.mark.parametrize("code, expected", [
    ("print(6 * 7)", "42"),
    ("import sys\nprint('out')\nprint('warn', file=sys.stderr)", "out\n[stderr]\nwarn"),
    ("print('before')\n1/0", "before\n[stderr]\nTraceback (most recent call last):\n"),
    ("import sys\nsys.exit(3)", "[exited early via SystemExit (code 3)]"),
    ("import sys\nprint('done')\nsys.exit(0)", "done"),
    ("pass", "[no output]"),
])
def test_python_tool_in_docker(docker_box, code, expected):
    with ToolBox([python_tool(docker_box)]) as b:
        [result] = b.run([ToolCall("python", {"code": code})])
    assert result.status == "ok" and result.content.startswith(expected), result
    if "1/0" in code:
        assert result.content.endswith("ZeroDivisionError: division by zero\n[uncaught ZeroDivisionError]")


@pytest.mark.docker
def test_python_tool_stops_a_loop_before_the_box_gives_up(docker_box):
    with ToolBox([python_tool(docker_box)], timeout_s=2.0) as b:
        started = time.perf_counter()
        [result] = b.run([ToolCall("python", {"code": "print('started', flush=True)\nwhile True: pass"})])
    assert time.perf_counter() - started < 2.0
    assert result.status == "timeout" and "stopped at its time limit" in result.content and "started" in result.content


@pytest.mark.docker
def test_python_tool_output_is_cut(docker_box):
    content = python_tool(docker_box)("print('x' * 100_000)\nprint('END')")
    assert len(content) <= MAX_STREAM_CHARS and content.endswith("END") and "characters cut" in content


@pytest.mark.docker
def test_registered_python_tool_uses_the_shared_pool(docker_box, monkeypatch):
    import verifiers.code

    monkeypatch.setattr(verifiers.code, "_sandbox", docker_box)
    monkeypatch.setattr(verifiers.code, "_sandbox_pid", __import__("os").getpid())
    with ToolBox(["python"]) as b:
        assert b.run([ToolCall("python", {"code": "print(sum(range(10)))"})]) == [ToolResult("python", "45", "ok")]


@pytest.mark.docker
def test_python_tool_on_a_closed_sandbox_is_an_environment_failure():
    box = docker_sandbox_or_skip(size=1)
    box.close()
    with ToolBox([python_tool(box)]) as b:
        [result] = b.run([ToolCall("python", {"code": "print(1)"})])
    assert result.status == "env_failure" and "closed" in result.content, result
