"""The guard (sandbox/guard.py, guard_env.py): one test per rule of property 10 of the threat model.

Fast: the plain-data check runs in this process; the rules run in the local sandbox, which
uses the same runner as the Docker pool (tests/test_code_hacks.py runs the adversarial set
through both).
"""
from __future__ import annotations

import collections
import warnings

import pytest

from sandbox import LocalSandbox
from sandbox.guard import impure


class Evil(int):
    pass


@pytest.mark.parametrize("value", [
    None, True, 3, 2.5, 1j, "s", b"b", bytearray(b"x"), range(3),
    [1, "a", None], (1, (2, [3.0])), {1: [2], "k": {"n": (None,)}}, {1, 2}, frozenset({"a"}),
    collections.OrderedDict(a=1), collections.defaultdict(list, a=[1]), collections.deque([1, 2]),
    {}.keys(), {"a": [1]}.items(), [[[[1]]]] * 3, list(range(10_000)),
])
def test_plain_data(value):
    assert impure(value, "result") is None


@pytest.mark.parametrize("value, where", [
    (Evil(1), "result is of type Evil"),
    ([1, Evil(2)], "result[1] is of type Evil"),
    ({"k": (1, object())}, "result[1][1] is of type object"),  # dict items: keys first, then values
    ({Evil(1): 1}, "result[0] is of type Evil"),
    (collections.defaultdict(lambda: 0), "defaultdict whose default_factory is not a built-in type"),
    (collections.Counter("ab"), "result is of type Counter"),  # only when the guard loaded collections itself
    (iter([1]), "result is of type list_iterator"),
    (print, "result is of type builtin_function_or_method"),
])
def test_not_plain_data(value, where):
    assert where in impure(value, "result")


def test_cyclic_and_shared_plain_data():
    cycle: list = []
    cycle.append(cycle)
    shared = [1]
    assert impure([cycle, {"a": shared, "b": shared}], "r") is None
    cycle.append(Evil(0))
    assert impure(cycle, "r") == "r[1] is of type Evil"


@pytest.fixture(scope="module")
def box():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return LocalSandbox(unsafe=True)


def run(box, program: str, tests: str, **kwargs):
    return box.run(program, tests=tests, timeout_s=10, **kwargs)


@pytest.mark.parametrize("name, program, tests, status, detail", [
    # Exceptions reach the tests as their nearest built-in class, with plain arguments.
    ("exception", "class E(KeyError):\n    pass\ndef f():\n    raise E('k', 2)\n",
     "try:\n    f()\nexcept KeyError as e:\n    assert type(e) is KeyError and e.args == ('k', 2)\n", "passed", ""),
    # The tests' own changes to builtins survive the program's turns.
    ("tests patch input", "def f():\n    return input()\n",
     "import builtins\nbuiltins.input = lambda: 'x'\nassert f() == 'x'\nassert f() == 'x'\n", "passed", ""),
    # The tests never see a module object the program made.
    ("module copy", "import fractions\nfractions.Fraction = None\ndef f():\n    return 1\n",
     "from fractions import Fraction\nassert Fraction(1, 2) == 0.5\n", "passed", ""),
    # Threads the program leaves running are refused.
    ("thread", "import threading, time\nthreading.Thread(target=time.sleep, args=(5,)).start()\n", "pass",
     "failed", "refused: the program left 1 thread(s) running"),
    # Mutating an argument into non-plain data is refused.
    ("argument", "def f(xs):\n    xs.append(object())\n", "f([])", "failed", "left an object that is not plain data"),
    # Audit hooks, ctypes, the collector's walks, other threads' frames, /proc: refused.
    ("audit hook", "import sys\nsys.addaudithook(lambda *a: None)\n", "pass", "failed", "refused: added an audit hook"),
    ("ctypes", "import ctypes\n", "pass", "failed", "refused: imported ctypes"),
    ("gc", "import gc\ngc.get_objects()\n", "pass", "failed", "refused: walked the garbage collector's objects"),
    ("frames", "import sys\nsys._current_frames()\n", "pass", "failed", "refused: read the frames of other threads"),
    ("proc", "open('/proc/self/status').read()\n", "pass", "failed", "refused: opened a path that leads"),
    ("dev fd", "import os\nos.open('/dev/fd/0', os.O_RDONLY)\n", "pass", "failed", "refused: opened a path that leads"),
    ("symlink", "import os\nos.symlink('/proc', 'p')\n", "pass", "failed", "refused: opened a path that leads"),
    # A malformed event of the program's own making is read safely, and nothing happened: ignored.
    ("bad audit event", "import sys\nsys.audit('open')\nsys.audit('import')\n", "pass", "passed", ""),
    # /dev/null and friends stay open to honest programs.
    ("dev null", "open('/dev/null', 'w').write('x')\ndef f():\n    return 1\n", "assert f() == 1", "passed", ""),
])
def test_rules(box, name, program, tests, status, detail):
    result = run(box, program, tests)
    assert result.status == status, (name, result.detail, result.stderr[-500:])
    assert detail in result.detail, (name, result.detail)


def test_program_code_never_sees_the_tests_frames(box):
    # Called from the tests, the program finds only its own thread's frames: none of the tests'.
    program = ("import sys\n"
               "def f():\n"
               "    frame, names = sys._getframe(), []\n"
               "    while frame is not None:\n"
               "        names.append(frame.f_code.co_filename)\n"
               "        frame = frame.f_back\n"
               "    return names\n")
    result = run(box, program, "names = f()\nassert 'tests.py' not in names, names\nassert len(names) <= 2, names\n")
    assert result.passed, result.stderr


def test_module_body_runs_off_the_main_thread_and_signals_are_refused_there(box):
    result = run(box, "import signal\nsignal.signal(signal.SIGUSR1, lambda *a: None)\n", "pass")
    assert result.status == "failed" and "signal only works in main thread" in result.stderr


def test_decimal_context_of_the_module_body_carries_into_calls(box):
    program = "import decimal\ndecimal.getcontext().prec = 50\ndef f():\n    return decimal.getcontext().prec\n"
    assert run(box, program, "assert f() == 50\nassert f() == 50\n").passed


def test_objects_allowed_when_asked(box):
    program = "class P:\n    def __init__(self, x):\n        self.x = x\n"
    assert run(box, program, "assert P(2).x == 2", plain_results=False).passed
    assert run(box, program, "assert P(2).x == 2").status == "failed"


def test_tests_namespace_gets_real_modules_and_builtins(box):
    program = ("import math as m\nclass Fake:\n    pi = 3\nmath = Fake()\nlen = lambda x: 0\n"
               "def f():\n    return m.pi\n")
    # `math` is the program's fake object: not given to the tests; `m` is a module: the real one.
    result = run(box, program, "assert m.pi == f() > 3.14\nassert len('ab') == 2\ntry:\n    math\nexcept NameError:\n    pass\n")
    assert result.passed, result.stderr
