"""The guard: tests that run after a program, in its interpreter, see what the program could not change.

Standard library only. The runner is ``guard_env.py``, this file, then ``child.py``
(``container.RUNNER_SOURCE``), so every name here is bound before any program exists; code
that runs after the program calls only bound names. ``child.py`` calls ``run_guarded`` when a
request carries tests. What each rule defends, and what stays out of reach: property 10 of the
threat model in ``sandbox/__init__.py``. In short:

* Program code never runs on the main thread. The module body and every call the tests make
  run on a fresh thread of their own, so no frame of the tests or of this harness is on its
  stack; the main thread waits until that thread has really ended, and runs with the garbage
  collector off, so no finaliser of the program's runs there either.
* The tests' environment is put back after every turn of the program (``guard_env.Environment``).
* Plain results: a call returns exact built-in data (``impure``), or the run is refused.
* An audit hook refuses, at once and for good, what would let the program around the rest.
"""
import _thread
import builtins
import gc
import marshal
import os
import sys
import time
from _collections import OrderedDict as _OrderedDict
from _collections import defaultdict as _defaultdict
from _collections import deque as _deque
from _operator import is_ as _is
from itertools import chain as _chain
from itertools import repeat as _repeat

if __name__ != "__main__":  # imported on the host (tests); in the runner guard_env.py's text comes first
    from sandbox.guard_env import (  # noqa: F401
        Environment,
        _all,
        _builtins_dict,
        _class_name,
        _dict_items,
        _dict_values,
        _len,
        _list,
        _map,
        _module_dict,
        _modules,
        _ModuleType,
        _str,
        _tuple,
        _type,
        _zip,
    )

_callable, _exec, _import, _enumerate, _id = callable, exec, __import__, enumerate, id
_BaseException, _Exception = BaseException, Exception
_from_iterable = _chain.from_iterable
_dict_keys = dict.keys
_class_mro = type.__dict__["__mro__"].__get__
_exception_args = BaseException.__dict__["args"].__get__
_thread_count, _start_thread, _allocate_lock, _get_ident = _thread._count, _thread.start_new_thread, _thread.allocate_lock, _thread.get_ident
_set_sentinel = _thread._set_sentinel  # a lock the interpreter itself releases once its thread is gone
_gc_enable, _gc_disable = gc.enable, gc.disable
_marshal_dumps, _marshal_loads = marshal.dumps, marshal.loads
_monotonic, _sleep, _write, _exit = time.monotonic, time.sleep, os.write, os._exit
_BUILTIN_EXCEPTIONS = {k: v for k, v in builtins.__dict__.items() if isinstance(v, type) and issubclass(v, BaseException)}
_THREAD_GRACE_S = 0.25  # how long threads the program started may take to end after its turn
_REPORT_FD = 5  # as in child.py: a refusal goes where the completion report would have gone
_NAME_KEY = "__name__"  # interned, as the key every module's dict is created with

# Plain data: these exact types, nothing derived from them. deque, OrderedDict and defaultdict
# are C types; Counter joins when ``collections`` was loaded before the program (``Guard``), so
# that its Python code is restored like every other class's after each turn.
_SCALARS = (int, float, complex, bool, str, bytes, type(None), range, bytearray)
_SEQUENCES = (list, tuple, set, frozenset, _deque, type({}.keys()), type({}.values()), type({}.items()))
_MAPPINGS = [dict, _OrderedDict, _defaultdict]


def refuse(why: str) -> None:
    """End the run now: failed, with ``why`` as its detail. Nothing the program left runs after this."""
    reason = why.encode("utf-8", "backslashreplace")[:1000]
    _write(_REPORT_FD, b"rlvr-refused " + reason)
    _write(2, b"rlvr guard: refused: " + reason + b"\n")
    _exit(1)


def _one_of(t, types) -> bool:
    for candidate in types:
        if t is candidate:
            return True
    return False


def _plain_name(cls) -> str:
    return _str.__str__(_class_name(cls))  # an exact str, even if the program named its class with a subclass


def impure(value, where: str):
    """None when ``value`` is plain data, else where the first object that is not sits, and its type."""
    todo, seen = [(value, where)], {}
    while todo:
        x, path = todo.pop()
        t = _type(x)
        if _one_of(t, _SCALARS):
            continue
        if _id(x) in seen:  # a container met before: a cycle, or one shared
            continue
        seen[_id(x)] = x  # kept alive: a freed one (an items() tuple) could lend its id to another
        if _one_of(t, _MAPPINGS):
            factory = x.default_factory if t is _defaultdict else None  # a C attribute of a C type
            if factory is not None and not _one_of(factory, _SCALARS + _SEQUENCES + (dict,)):
                return f"{path} is a defaultdict whose default_factory is not a built-in type"
            items = _list(_chain(_dict_keys(x), _dict_values(x)))
        elif _one_of(t, _SEQUENCES):
            items = _list(x)  # exact C types: iterating them runs none of the program's code
        else:
            return f"{path} is of type {_plain_name(t)}"
        kinds = _list(_map(_type, items))
        if kinds and _one_of(kinds[0], _SCALARS) and _all(_map(_is, kinds, _repeat(kinds[0]))):
            continue  # the common case, all of one scalar type, checked at C speed
        for i, item in _enumerate(items):
            todo.append((item, f"{path}[{i}]"))
    return None


# ---------------------------------------------------------------- refusals
_HARMLESS_DEVICES = frozenset({"null", "zero", "full", "random", "urandom"})
_REFUSED_IMPORTS = frozenset({"ctypes", "_ctypes"})
_REFUSED_EVENTS = {
    "gc.get_objects": "walked the garbage collector's objects",
    "gc.get_referrers": "walked the garbage collector's referrers",
    "gc.get_referents": "walked the garbage collector's referents",
    "sys._current_frames": "read the frames of other threads",
    "sys.addaudithook": "added an audit hook (it could not be removed before the tests)",
    "sys._settraceallthreads": "set a trace function on every thread",  # Python 3.12+
    "sys._setprofileallthreads": "set a profile function on every thread",  # Python 3.12+
    "sys.monitoring.register_callback": "registered a monitoring callback",  # Python 3.12+
}


def _bind_prctl():
    """``prctl`` from libc, bound once at runner start-up with ``_ctypes`` alone (the ``ctypes``
    package costs milliseconds more), which then leaves ``sys.modules``: a program that wants
    it must import it again, and in a guarded run the audit hook refuses that."""
    try:
        import _ctypes
    except ImportError:  # an interpreter without ctypes: the run stays dumpable (see Guard)
        return None

    class _Int(_ctypes._SimpleCData):
        _type_ = "i"

    class _Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = _Int

    prctl = _Function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))
    del sys.modules["_ctypes"]
    return prctl


_prctl = _bind_prctl()
_PR_SET_DUMPABLE = 4


def _reaches_memory(path) -> bool:
    """Whether opening ``path`` could lead to this process's memory (/proc, or /dev links into it)."""
    t = _type(path)
    if t is int:
        return False  # a descriptor already open: opening it was checked
    if t is bytes:
        path = path.decode("utf-8", "surrogateescape")
    elif t is not _str:
        return True  # a path object would run its own __fspath__ after this check: refused
    parts = path.split("/")
    return "proc" in parts or ("dev" in parts and parts[-1] not in _HARMLESS_DEVICES)


def _audit(event, args) -> None:
    """The audit hook of a guarded run: refuses, for good, what would let a program around the guard.

    CPython runs audit hooks untraced, and this one calls nothing of the program's: it compares
    exact strings only. It never raises either: an exception's traceback would hand the
    program this frame, and through it the guard's globals.
    """
    try:
        why = _refusal(event, args)
    except BaseException:  # e.g. the program calling sys.audit("open") with no arguments
        why = "raised an audit event the guard could not read"
    if why is not None:
        refuse(why)


def _refusal(event, args):
    if _type(event) is not _str or _type(args) is not _tuple:
        return None  # only the program itself raises events that way (sys.audit): nothing happens
    why = _REFUSED_EVENTS.get(event)
    if why is not None:
        return why
    if event == "open" or event == "os.chdir" or event == "os.symlink":
        if _len(args) and _reaches_memory(args[0]):
            return "opened a path that leads to the process's memory (/proc, /dev/fd)"
    elif event == "import":
        if _len(args) and (_type(args[0]) is not _str or args[0] in _REFUSED_IMPORTS):
            return f"imported {args[0] if _type(args[0]) is _str else 'a module'} (native code can rewrite the interpreter)"
    elif event[:7] == "ctypes.":
        return "used ctypes"
    return None


# ---------------------------------------------------------------- program code, off the main thread
def _thread_main(fn, args, kwargs, box, done, gc_enable, gc_disable, base_exception, modules, decimal_state,
                 set_sentinel, sentinels):
    # Runs on the program's thread with globals of its own (below): its frame, the bottom of
    # that thread's stack, leads nowhere but here. Only C callables and the program's code run.
    sentinels.append(set_sentinel())
    gc_enable()
    try:
        decimal = modules.get("decimal")
        if decimal is not None and decimal_state:  # the decimal context is per thread: carry the program's over
            decimal.setcontext(decimal_state[0])
        box.append(fn(*args, **kwargs))
        box.append(True)
        decimal = modules.get("decimal")
        if decimal is not None:
            decimal_state[:] = [decimal.getcontext()]
    except base_exception as exc:
        box[:] = [exc, False]
    gc_disable()
    done.release()


_thread_main = type(_thread_main)(_thread_main.__code__, {"__builtins__": {}})
_decimal_state = []


def _run_in_thread(fn, args, kwargs) -> list:
    """``[value, True]`` or ``[exception, False]``, once the thread and every thread it started have ended."""
    box, sentinels = [], []
    done = _allocate_lock()
    done.acquire()
    _start_thread(_thread_main, (fn, args, kwargs, box, done, _gc_enable, _gc_disable, _BaseException, _modules,
                                 _decimal_state, _set_sentinel, sentinels))
    done.acquire()
    if sentinels:
        sentinels[0].acquire(True, _THREAD_GRACE_S)  # usually returns at once: the thread is ending
    deadline = _monotonic() + _THREAD_GRACE_S
    while _thread_count():  # the program may have released either lock itself; this counter it cannot fake
        if _monotonic() > deadline:
            refuse(f"the program left {_thread_count()} thread(s) running")
        _sleep(0.0005)
    _gc_disable()
    if _len(box) != 2:
        refuse("the program's thread ended without a result")
    return box


def _for_tests(exc, grave):
    """The exception a call raised, as a new instance of its nearest built-in class: the tests
    can catch it as usual, and no method of the program's runs when they look at it."""
    grave.append(exc)
    base = _BaseException
    for c in _class_mro(_type(exc)):
        name = _class_name(c)
        if _type(name) is _str and _BUILTIN_EXCEPTIONS.get(name) is c:
            base = c
            break
    args = _exception_args(exc)
    if impure(args, "args") is None:
        try:
            return base(*args)
        except _Exception:  # arguments its class refuses (UnicodeError wants five): the message below
            pass
    return base(f"{_plain_name(_type(exc))} (its arguments are not plain data)")


class Guard:
    """One guarded run: the environment, and the wrappers the tests call the program through."""

    def __init__(self, env: Environment, plain: bool, source: str, cwd: str) -> None:
        self.env, self.plain, self.main = env, plain, _get_ident()
        env.cwd = cwd
        if _prctl is not None:
            # Non-dumpable: no other process of this user (a child the program starts: a
            # fresh interpreter, with no audit hook) may ptrace this one or open its memory.
            _prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        if plain and "collections" in source:  # loaded before the program, its Counter is plain data
            _MAPPINGS.append(_import("collections").Counter)
            env.adopt()

    def run_module(self, code, namespace: dict, cwd: str) -> None:
        """Run the program's module body on its own thread, then restore; re-raise what it raised."""
        path = sys.path
        path.insert(0, cwd)  # as for `python program.py`: its own helper modules import; the tests' path has no cwd
        namespace["__builtins__"] = builtins  # as __main__ has; exec would otherwise lend it its caller's (none)
        sys.addaudithook(_audit)
        _gc_disable()
        box = _run_in_thread(_exec, (code, namespace), {})
        if _len(path) and path[0] is cwd:
            del path[0]  # ours to take back; anything else the program did to the path, restore undoes
        self._restore()
        if not box[1]:
            raise box[0]

    def _restore(self) -> None:
        try:
            self.env.restore()
        except RuntimeError as exc:
            refuse(_str.__str__(exc.args[0]))

    def tests_namespace(self, program: dict) -> dict:
        """The program's names as the tests get them: builtins and modules real, callables guarded."""
        ns = {"__builtins__": _builtins_dict, "__name__": "__main__"}
        for name, value in _list(_dict_items(program)):
            if _type(name) is not _str or name[:2] == "__" or name in _builtins_dict:
                continue  # a program's ``abs`` or ``sorted`` would stand in for the real one in the tests
            if _type(value) is _ModuleType:
                module = self._real_module(value)
                if module is not None:
                    ns[name] = module
            elif not self.plain:
                ns[name] = value
            elif _callable(value):
                ns[name] = self._guarded(value, name)
            elif impure(value, name) is None:
                try:  # a copy: the program cannot change later what the tests read
                    ns[name] = _marshal_loads(_marshal_dumps(value))
                except ValueError:
                    pass  # plain, but not marshal's (a deque): the tests do without it
        return ns

    @staticmethod
    def _real_module(module):
        """The module of that name as the tests would import it, never the program's copy or fake."""
        name = None
        for key, value in _dict_items(_module_dict(module)):  # by iteration: a lookup could hash a key of the program's
            if key is _NAME_KEY:  # identity on purpose: an equal str of the program's would be compared in its code
                name = value
        if _type(name) is not _str or name == "__main__":  # the program's own module is no module of the tests'
            return None
        if name not in _modules:
            try:
                _import(name)
            except Exception:
                return None
        found = _modules.get(name)
        return found if _type(found) is _ModuleType else None

    def _guarded(self, fn, name: str):
        guard = self

        def guarded(*args, **kwargs):
            return guard.call(fn, name, args, kwargs)

        guarded.__name__ = guarded.__qualname__ = name
        return guarded

    def call(self, fn, name: str, args: tuple, kwargs: dict):
        """One call from the tests: the program's thread, the tests' environment back, a plain result."""
        if _get_ident() != self.main:
            refuse(f"the program called the tests' guarded {name}")
        self.env.track()
        plain_before = [impure(v, "") is None for v in _chain(args, _dict_values(kwargs))]
        value, ok = _run_in_thread(fn, args, kwargs)
        self._restore()
        if not ok:
            raise _for_tests(value, self.env.grave) from None
        why = impure(value, f"{name}(...) returned a value that is not plain data: the result")
        if why is not None:
            refuse(why)
        for was_plain, arg in _zip(plain_before, _chain(args, _dict_values(kwargs))):
            why = was_plain and impure(arg, f"{name}(...) left an object that is not plain data in its argument: the argument")
            if why:
                refuse(why)
        return value


def run_guarded(env: Environment, source: str, program, namespace: dict, tests, cwd: str, plain: bool) -> None:
    """Run the compiled ``program`` as module ``namespace``, then the compiled ``tests`` against it.

    ``env`` was taken before the program existed. Returns when the tests ran to their end;
    raises what the program's body or the tests raised; ends the process (``refuse``) when the
    program broke a rule.
    """
    guard = Guard(env, plain, source, cwd)
    guard.run_module(program, namespace, cwd)
    _exec(tests, guard.tests_namespace(namespace))
