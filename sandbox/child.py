"""The program's runner: runs the program alone, or serves the tests' calls to its functions.

Standard library only: the runner is ``wire.py`` then this file (``container.RUNNER_SOURCE``);
the supervisor starts it as ``python3 -I -B -c`` with that source, or with a bootstrap that
loads it compiled (``supervisor.spawn_child``), and with these descriptors already in place:

    0, 1, 2   the program's stdin, stdout and stderr (pipes to the supervisor)
    3         the request: one line "memory_bytes cpu_s file_bytes open_files mode program_bytes cwd",
              then the program's source; read to EOF, then closed
    4         the completion token, waiting in the kernel's pipe buffer (mode 0 only)
    5         the report back to the supervisor
    6, 7      the channel: calls from the tests' process in, replies out (modes 1 and 2)

Mode 0 runs the program alone, as ``python program.py`` would; ``passed`` then means it ran
to its end. The token is read only after the program's module body has returned, so during the
run it exists in no memory of this process, no argument, no variable and no file: only in a
pipe buffer. The report is ``rlvr-completed <token>`` after a normal end, ``rlvr-raised
<ExceptionName>`` after an exception.

Modes 1 (plain results) and 2 (objects stay here, as handles) run the module body, send the
tests' process the list of the program's names (``_manifest``), then answer its calls until it
hangs up (``_serve``). Here this process proves nothing: the tests' process
(``tests_runner.py``) holds the token and the report, and it receives only plain data
(``wire.py``). See the threat model in ``sandbox/__init__.py``.
"""
import builtins
import gc
import os
import resource
import sys
from io import StringIO as _StringIO

if "to_wire" not in globals():  # imported on the host (tests, tools); in a runner, wire.py's text comes first
    from sandbox.wire import NotPlain, from_wire, loads, receive, send, to_wire

REQUEST_FD, TOKEN_FD, REPORT_FD = 3, 4, 5
PROGRAM_NAME = "program.py"

# Bound now, before the program runs, so that monkeypatching ``os`` cannot
# redirect the proof path (it can only break it, which fails the run).
_read, _write, _exit, _close = os.read, os.write, os._exit, os.close
_class_name, _encode = type.__dict__["__name__"].__get__, str.encode  # no metaclass of the program's runs


# The runner's own view of the builtins, taken before any program exists: a program that patches
# ``builtins.len`` for itself does not break the code that answers the tests.
for _name, _value in vars(builtins).items():
    if _name[:2] != "__":
        globals().setdefault(_name, _value)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = _read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _apply_limits(values: list[int]) -> None:
    kinds = (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE)
    for which, value in zip(kinds, values):
        if value > 0:  # 0: leave this one as inherited
            resource.setrlimit(which, (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:  # make this process tree the out-of-memory killer's first choice, never the supervisor
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _stop_tracing() -> None:
    # A trace or profile hook the program installed must not run inside the proof path.
    sys.settrace(None)
    sys.setprofile(None)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # the program may have closed or replaced its streams
            pass


def _fail(exc: BaseException) -> None:
    _stop_tracing()
    _write(REPORT_FD, b"rlvr-raised " + _encode(_class_name(type(exc)), "ascii", "replace"))
    _exit(_print_exit(exc) & 0xFF)


def _print_exit(exc: BaseException) -> int:
    """Print ``exc`` as Python would at the end of ``python program.py``; the exit code that follows."""
    code = 1
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    else:
        import linecache
        import traceback

        # Tracebacks then show the program's lines, as they would for a file on disk.
        linecache.cache[PROGRAM_NAME] = (len(_source), None, _source.splitlines(True), PROGRAM_NAME)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != PROGRAM_NAME and tb.tb_next:
            tb = tb.tb_next  # the runner's own frames tell the reader nothing
        traceback.print_exception(type(exc), exc, tb)
    _flush_std()
    return code


# ---------------------------------------------------------------- serving the tests' process
CALLS_FD, REPLIES_FD = 6, 7
_RECURSION_LIMIT = 10_000  # deep recursion is common in solutions; the old in-process tests allowed it
_BUILTIN_EXCEPTIONS = {v: k for k, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
_OPS = {  # what the tests may do with a handle (``tests_runner.Remote``); each result crosses as data
    "call": lambda f, *args, **kwargs: f(*args, **kwargs), "getattr": getattr, "setattr": setattr, "delattr": delattr,
    "len": len, "list": list, "contains": lambda o, x: x in o, "getitem": lambda o, k: o[k],
    "setitem": lambda o, k, v: o.__setitem__(k, v), "delitem": lambda o, k: o.__delitem__(k),
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "bool": bool, "repr": repr, "str": str, "hash": hash,
}


def _printed(stream) -> str:
    try:  # the buffer's own method: an attribute the program set on the buffer is not asked
        return _StringIO.getvalue(stream)
    except ValueError:  # the program closed the buffer it was lent
        return ""


def _builtin_bases(cls) -> list:
    """The built-in exception classes ``cls`` derives from, nearest first, none implied by another."""
    found = [k for k in cls.__mro__ if k in _BUILTIN_EXCEPTIONS]
    return [k for k in found if not any(other is not k and issubclass(other, k) for other in found)]


class _Server:
    """The program's side of the channel: its names, then the answers to the tests' calls."""

    def __init__(self, namespace: dict, objects: bool) -> None:
        self.namespace, self.objects = namespace, objects
        self.handles, self.numbers = [], {}
        self.exception_names = {}  # the program's own exception classes, by module-level name

    def keep(self, obj):
        number = self.numbers.get(id(obj))
        if number is None:
            number = self.numbers[id(obj)] = len(self.handles)
            self.handles.append(obj)
        return number

    def keep_callable(self, obj):
        return self.keep(obj) if callable(obj) else None

    def manifest(self) -> list:
        """(name, kind, detail) for each name of the program's module: what the tests may refer to."""
        entries, classes = [], []
        for name, value in list(self.namespace.items()):
            if type(name) is not str or name.startswith("__"):
                continue
            if isinstance(value, type(sys)):
                entries.append((name, "module", str(getattr(value, "__name__", ""))))
            elif isinstance(value, type) and issubclass(value, BaseException) and value not in _BUILTIN_EXCEPTIONS:
                classes.append((name, value))
                self.exception_names.setdefault(value, name)
            elif callable(value):
                entries.append((name, "callable", self.keep(value)))
            else:
                try:
                    entries.append((name, "value", to_wire(value, self.keep if self.objects else None)))
                except Exception:
                    pass  # not plain data: the tests do without it, as they would without a helper
        for name, cls in sorted(classes, key=lambda item: len(item[1].__mro__)):  # parents before children
            bases = []
            for base in cls.__bases__:
                if base in self.exception_names:
                    bases.append(("program", self.exception_names[base]))
                elif isinstance(base, type) and issubclass(base, BaseException):
                    bases += [("builtin", _BUILTIN_EXCEPTIONS[b]) for b in _builtin_bases(base)]
            entries.append((name, "exception", (bases, [_BUILTIN_EXCEPTIONS[b] for b in _builtin_bases(cls)])))
        return entries

    def raised(self, exc: BaseException) -> tuple:
        try:
            args = to_wire(exc.args)
        except Exception:
            args = None
        try:
            message = str.__str__(str(exc))
        except Exception:
            message = ""
        names = [_BUILTIN_EXCEPTIONS[b] for b in _builtin_bases(type(exc))]
        return ("raised", names, self.exception_names.get(type(exc)), args, message[:2000])

    def answer(self, request: tuple) -> tuple:
        """One request; the reply ends with what the call printed, for the tests' own ``sys.stdout``
        (a test may capture it): the text alone crosses, never the stream."""
        op, args, kwargs, mutates = request
        args = from_wire(args, self.handles.__getitem__)
        kwargs = from_wire(kwargs, self.handles.__getitem__)
        saved, sys.stdout = sys.stdout, _StringIO()
        printed = sys.stdout
        try:
            value = _OPS[op](*args, **kwargs)
            keep = self.keep if self.objects else (self.keep_callable if op == "getattr" else None)
            back = to_wire((args[1:], kwargs), keep, "an argument after the call") if mutates else None
            reply = ("ok", to_wire(value, keep, "the result"), back)
        except NotPlain as exc:
            reply = ("refused", str(exc))
        except BaseException as exc:  # the program's exception, as data; SystemExit and all
            reply = self.raised(exc)
        finally:
            sys.stdout = saved
        return (*reply, _printed(printed))

    def serve(self) -> None:
        send(REPLIES_FD, ("ready", self.manifest()))
        while True:
            data = receive(CALLS_FD)
            if data is None:  # the tests are done (or gone): nothing more will be asked
                _flush_std()
                _exit(0)
            reply = self.answer(loads(data))
            _flush_std()  # what the call printed reaches the run's output before the tests go on
            send(REPLIES_FD, reply)


_source = ""


def main() -> None:
    # No json, re or linecache here: this process is started ahead of every run, and
    # each import it skips is CPU the pool gets back.
    global _source
    module = type(sys)("__main__")
    sys.modules["__main__"] = module
    sys.argv = [PROGRAM_NAME]
    # A process's first compile() costs about 1.5 ms more than the next (measured in the image,
    # Python 3.11): pay it here, while the runner waits, not on the request's path.
    compile("pass", "<warm-up>", "exec")
    gc.freeze()  # what exists now is the runner's: no collection during the run need look at it again
    header, _, body = _read_all(REQUEST_FD).partition(b"\n")
    _close(REQUEST_FD)
    *limits, mode, program_bytes, cwd = header.decode().split(" ", 6)
    os.chdir(cwd)
    _apply_limits([int(v) for v in limits])
    _source = body[: int(program_bytes)].decode("utf-8", "surrogatepass")
    sys.path.insert(0, cwd)  # as for `python <cwd>/program.py`: helper modules it writes import
    if mode != "0":
        _close(TOKEN_FD)  # the tests' process proves the run: this one never holds a token
        sys.setrecursionlimit(_RECURSION_LIMIT)
    server = _Server(module.__dict__, objects=mode == "2")
    try:
        exec(compile(_source, PROGRAM_NAME, "exec"), module.__dict__)
    except BaseException as exc:  # SystemExit included: a program that exits early did not finish
        if mode == "0":
            _fail(exc)
        code = _print_exit(exc)
        send(REPLIES_FD, server.raised(exc))
        _exit(code & 0xFF)
    _stop_tracing()
    _flush_std()
    if mode != "0":
        server.serve()
    _write(REPORT_FD, b"rlvr-completed " + _read(TOKEN_FD, 64))
    _exit(0)


if __name__ == "__main__":
    main()
