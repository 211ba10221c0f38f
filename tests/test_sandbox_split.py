"""The program and its tests in two processes (property 10 of the threat model in sandbox/__init__.py).

Fast: the plain-data codec (sandbox/wire.py) runs in this process; the rules run in the local
sandbox, which uses the same two runners as the Docker pool (there, as two users:
tests/test_sandbox_docker.py; tests/test_code_hacks.py runs the adversarial set through both).
"""
from __future__ import annotations

import collections
import decimal
import fractions
import marshal
import warnings

import pytest

from sandbox import LocalSandbox
from sandbox.wire import NotPlain, from_wire, to_wire


class Evil(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


def cross(value, keep=None):
    """What the tests' process would hold after ``value`` crossed the channel."""
    return from_wire(marshal.loads(marshal.dumps(to_wire(value, keep))))


@pytest.mark.parametrize("value", [
    None, True, 3, 2 ** 10000, 2.5, float("inf"), 1j, "s", "\udc80", b"b", bytearray(b"x"), range(1, 9, 2),
    [1, "a", None], (1, (2, [3.0])), {1: [2], "k": {"n": (None,)}}, {1, 2}, frozenset({"a"}),
    collections.OrderedDict(b=1, a=2), collections.defaultdict(list, a=[1]), collections.deque([1, 2], 5),
    collections.Counter("abca"), fractions.Fraction(3, 7), decimal.Decimal("1.10"), [[[[1]]]] * 3,
    list(range(10_000)), {(1, 2): frozenset({(3,)})},
])
def test_plain_data_crosses_as_itself(value):
    back = cross(value)
    assert back == value and type(back) is type(value)
    if isinstance(value, collections.defaultdict):
        assert back.default_factory is list


def test_views_and_iterators_cross_as_data():
    d = {"a": 1, "b": 2}
    assert list(cross(d.keys())) == ["a", "b"] and type(cross(d.keys())) is type(d.keys())
    assert list(cross(d.values())) == [1, 2] and list(cross(d.items())) == [("a", 1), ("b", 2)]
    assert cross(iter([1, 2])) == [1, 2] and cross(x * x for x in range(3)) == [0, 1, 4]


def test_subclasses_cross_as_their_built_in_value():
    back = cross([1, Evil(2)])
    assert back == [1, 2] and type(back[1]) is int
    Point = collections.namedtuple("Point", "x y")
    assert type(cross(Point(1, 2))) is tuple
    counter = collections.Counter("ab")
    counter.payload = "attribute"
    assert not hasattr(cross(counter), "payload")


@pytest.mark.parametrize("value, where", [
    (object(), "the value is of type object"),
    ([1, {"k": print}], "the value[1]'s value is of type builtin_function_or_method"),
    (collections.defaultdict(lambda: 0), None),  # crosses, without its factory
])
def test_objects_do_not_cross(value, where):
    if where is None:
        assert cross(value).default_factory is None
        return
    with pytest.raises(NotPlain, match=where.replace("[", r"\[").replace("]", r"\]")):
        to_wire(value)


def test_cycles_are_refused_and_shared_data_is_copied():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(NotPlain, match="contains itself"):
        to_wire(cycle)
    shared = [1]
    assert cross({"a": shared, "b": shared}) == {"a": [1], "b": [1]}


@pytest.mark.parametrize("wire", [
    compile("1", "x", "eval"), ..., [1, ...], (..., "unknown", 1), (..., "bytearray"), (..., "bytearray", "str"),
    (..., "range", (1, "2")), (..., "defaultdict", ("print", [])), StopIteration,
])
def test_receiving_accepts_only_data(wire):
    with pytest.raises((NotPlain, KeyError)):
        from_wire(wire)


@pytest.fixture(scope="module")
def box():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return LocalSandbox(unsafe=True)


def run(box, program: str, tests: str, **kwargs):
    return box.run(program, tests=tests, timeout_s=10, **kwargs)


@pytest.mark.parametrize("name, program, tests, options, status, detail", [
    # Exceptions arrive as their built-in classes, every one of them, with plain arguments.
    ("exception", "class E(KeyError):\n    pass\ndef f():\n    raise E('k', 2)\n",
     "try:\n    f()\nexcept KeyError as e:\n    assert e.args == ('k', 2)\n", {}, "passed", ""),
    ("two built-in bases", "class E(ValueError, IndexError):\n    pass\ndef f():\n    raise E('x')\n",
     "try:\n    f()\nexcept IndexError as e:\n    assert isinstance(e, ValueError)\n", {}, "passed", ""),
    ("the program's class, rebuilt", "class Bad(ValueError):\n    pass\nclass Worse(Bad):\n    pass\ndef f():\n    raise Worse('x')\n",
     "try:\n    f()\nexcept Bad as e:\n    assert type(e) is Worse and isinstance(e, ValueError)\n", {}, "passed", ""),
    # StopIteration would end the tests' map()/all() early: it arrives as RuntimeError.
    ("StopIteration", "def f(x):\n    raise StopIteration\n", "assert all(map(f, [1]))\n", {}, "failed", "uncaught RuntimeError"),
    # Leaving a call is no answer: the run ends there.
    ("SystemExit", "def f():\n    raise SystemExit(0)\n", "try:\n    f()\nexcept BaseException:\n    pass\n", {}, "failed",
     "refused: f(...) raised SystemExit"),
    ("os._exit", "import os\ndef f():\n    os._exit(0)\n", "try:\n    f()\nexcept BaseException:\n    pass\n", {}, "failed",
     "refused: the program's process ended during f(...)"),
    ("forged reply", "import os, marshal\ndef f():\n    os.write(7, bytes(7) + b'\\x05junk!')\n    return 1\n",
     "f()\n", {}, "failed", "refused: the program's process sent a malformed reply"),
    # Results are data; an object is refused, naming its type; a handle forged on the wire too.
    ("forged handle", "import os, marshal\ndef f():\n    data = marshal.dumps(('ok', (..., 'handle', 0), None, ''))\n"
     "    os.write(7, len(data).to_bytes(8, 'big') + data)\n    os.read(6, 1 << 16)\n    return 0\n",
     "assert f()\n", {}, "failed", "refused: the program's process sent a malformed reply to f(...)"),
    ("object", "class A:\n    def __eq__(self, o):\n        return True\ndef f():\n    return [A()]\n", "assert f() == [1]\n", {},
     "failed", "refused: f(...) returned a value that is not plain data: the result[0] is of type A"),
    # The tests' builtins and modules are their own, whatever the program did to its own.
    ("builtins", "import builtins, math\nbuiltins.abs = lambda x: 3\nmath.isclose = lambda *a, **k: True\ndef f(x):\n    return x\n",
     "import math\nassert abs(f(-1)) == 1 and not math.isclose(f(1.0), 2.0)\n", {}, "passed", ""),
    # A name that shadows a builtin stays the builtin, unless it is the entry point.
    ("shadowed builtin", "def sorted(x):\n    return 1\n", "assert sorted([2, 1]) == [1, 2]\n", {}, "passed", ""),
    ("entry point", "def sorted(x):\n    return 1\n", "assert sorted([2, 1]) == [1, 2]\n", {"entry_point": "sorted"},
     "failed", "uncaught AssertionError"),
    ("missing entry point", "x = 1\n", "pass\n", {"entry_point": "sorted"}, "failed", "refused: the program defines no sorted"),
    # Honest shapes: signals at module level, attributes of the entry point, generators, in-place changes.
    ("signal", "import signal\nsignal.signal(signal.SIGPIPE, signal.SIG_DFL)\ndef f():\n    return 1\n", "assert f() == 1\n",
     {}, "passed", ""),
    ("cache_clear", "from functools import lru_cache\n@lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
     "assert fib(80) == 23416728348467685\nfib.cache_clear()\nassert fib.cache_info()[3] == 0\n", {}, "passed", ""),
    ("generator", "def g(n):\n    yield from range(n)\n", "assert list(g(3)) == [0, 1, 2] and g(2) == [0, 1]\n", {}, "passed", ""),
    ("mutates", "def s(xs):\n    xs.sort()\n", "a = [3, 1]\nassert s(a) is None and a == [1, 3]\n", {"mutates": True}, "passed", ""),
    ("a copy by default", "def s(xs):\n    xs.sort()\n", "a = [3, 1]\ns(a)\nassert a == [3, 1]\n", {}, "passed", ""),
    ("deep recursion", "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n", "assert depth(5000) == 5000\n", {}, "passed", ""),
    ("module-level data", "LIMIT = [1, 2]\nimport math as m\n", "assert LIMIT == [1, 2] and m.sqrt(4) == 2\n", {}, "passed", ""),
    ("the body fails", "x = 1 / 0\n", "pass\n", {}, "failed", "uncaught ZeroDivisionError"),
])
def test_rules(box, name, program, tests, options, status, detail):
    result = run(box, program, tests, **options)
    assert result.status == status, (name, result.detail, result.stderr[-500:])
    assert detail in result.detail, (name, result.detail)


def test_objects_stay_behind_as_handles_when_asked(box):
    program = ("class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)\n"
               "    def __len__(self):\n        return len(self.items)\n    def __eq__(self, other):\n        return True\n")
    tests = "s = Stack()\ns.push(1)\nassert len(s) == 1 and s.items == [1] and list(s.items) == [1]\nassert s == 5\n"
    assert run(box, program, tests, plain_results=False).passed
    assert "of type Stack" in run(box, program, tests).detail


def test_output_of_both_processes_reaches_the_run(box):
    result = run(box, "print('body')\ndef f():\n    print('call')\n    return 2\n", "assert f() == 2\nprint('tests')\n")
    assert result.passed and result.stdout == "body\ncall\ntests\n"


def test_a_report_forged_by_the_program_proves_nothing(box):
    # The program's process holds no token: writing a forged report from it proves nothing.
    program = "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'rlvr-completed ' + b'0' * 32)\n    except OSError:\n        pass\n"
    assert run(box, program + "def f():\n    return 1\n", "assert f() == 2\n").status == "failed"
