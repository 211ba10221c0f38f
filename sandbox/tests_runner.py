"""The tests' process: runs the tests against stand-ins for the program's functions.

Standard library only: the source is ``wire.py`` then this file (``container.TESTS_SOURCE``).
In a pool container the supervisor forks itself into it, as a user of its own (pristine
builtins: no program ever ran in the supervisor); ``LocalSandbox`` starts it as
``python3 -I -B -c``. Descriptors, as the program's runner (``child.py``) has them:

    0         /dev/null; 1, 2: the run's stdout and stderr (shared with the program)
    3         the request: one line "mode mutates entry_point cwd", then the tests' source
    4         the completion token; 5: the report
    6, 7      the channel: replies from the program's process in, calls out

The program runs in the other process. Here nothing it wrote is executed, unpickled or
imported: each of its module-level functions is a ``Remote`` whose call sends copied
arguments and receives the result as plain data (``wire.py``); its exceptions arrive as
(built-in classes, arguments, message) and are raised here anew; its modules are this
process's own imports of the same names; its exception classes are rebuilt here from their
built-in bases. A reply that is not plain data, a broken channel or a program that exits
inside a call ends the run at once, failed (``refuse``): no test after it can pass.
"""
import builtins
import os
import sys

if "to_wire" not in globals():  # imported on the host (tests, tools); in a runner, wire.py's text comes first
    from sandbox.wire import NotPlain, from_wire, loads, receive, send, to_wire

REQUEST_FD, TOKEN_FD, REPORT_FD, REPLIES_FD, CALLS_FD = 3, 4, 5, 6, 7
TESTS_NAME = "tests.py"
_BUILTINS = vars(builtins)
_BUILTIN_EXCEPTIONS = {k: v for k, v in _BUILTINS.items() if isinstance(v, type) and issubclass(v, BaseException)}
_ENDS_ITERATION = (StopIteration, StopAsyncIteration)  # would end the tests' map()/zip()/all() early


def refuse(why: str) -> None:
    """End the run now, failed, with ``why`` as its detail."""
    reason = why.encode("utf-8", "backslashreplace")[:1000]
    _flush()
    os.write(REPORT_FD, b"rlvr-refused " + reason)
    os.write(2, b"rlvr: refused: " + reason + b"\n")
    os._exit(1)


class Channel:
    """The tests' end of the channel: one request, one reply, in turn."""

    def __init__(self, objects: bool, mutates: bool) -> None:
        self.objects, self.mutates = objects, mutates
        self.mirrors = {}  # the program's exception classes, rebuilt here, by name
        self.combined = {}  # several built-in bases: one class here per combination

    def remote(self, name: str, op: str = "value"):
        """How a handle in a reply becomes a stand-in; None where only data may come back. With plain
        results, only an attribute read (``fib.cache_clear``) may give a callable's handle: a call
        whose result were a stand-in would hand the tests something truthy that is not data."""
        if self.objects:
            return lambda number: RemoteObject(self, number, name)
        return (lambda number: Remote(self, number, name)) if op == "getattr" else None

    @staticmethod
    def _number(obj):
        return obj._number if type(obj) in (Remote, RemoteObject) else None

    def receive(self, what: str):
        try:
            data = receive(REPLIES_FD)
            if data is None:
                refuse(f"the program's process ended during {what}")
            reply = loads(data)
            if type(reply) is not tuple or not reply or type(reply[0]) is not str:
                raise NotPlain("a reply that is not a tagged tuple")
            return reply
        except NotPlain as exc:
            refuse(f"the program's process sent a malformed reply to {what}: {exc}")

    def ask(self, op: str, args: tuple, kwargs: dict, what: str, name: str):
        try:
            sent = to_wire(args, self._number, "an argument"), to_wire(kwargs, self._number, "a keyword argument")
        except NotPlain as exc:
            raise TypeError(f"{what}: {exc}; only plain data can be sent to the program") from None
        send(CALLS_FD, (op, *sent, self.mutates and op == "call"))
        reply = self.receive(what)
        try:
            *reply, printed = reply
            if type(printed) is not str:
                raise NotPlain("printed output that is not text")
            if printed:  # what the call printed, into the tests' stdout: a test may be capturing it
                sys.stdout.write(printed)
            if reply[0] == "ok" and len(reply) == 3:
                value = from_wire(reply[1], self.remote(name, op))
                if reply[2] is not None:
                    self._copy_back(args, kwargs, from_wire(reply[2], self.remote(name)))
                return value
            if reply[0] == "raised" and len(reply) == 5:
                exc = self.exception(reply, what)
            elif reply[0] == "refused" and len(reply) == 2:
                refuse(f"{what} returned a value that is not plain data: {str(reply[1])[:300]}")
            else:
                raise NotPlain(f"a reply tagged {reply[0][:40]!r}")
        except (NotPlain, TypeError, ValueError, IndexError) as exc:
            refuse(f"the program's process sent a malformed reply to {what}: {exc}")
        raise exc

    @staticmethod
    def _copy_back(args: tuple, kwargs: dict, after) -> None:
        """``mutates: true``: the program's copy of each argument after the call, put into the tests' own."""
        new_args, new_kwargs = after
        for old, new in zip(args[1:] + tuple(kwargs.values()), tuple(new_args) + tuple(new_kwargs.values())):
            if type(old) is not type(new):
                continue
            if isinstance(old, (list, bytearray)):
                old[:] = new
            elif isinstance(old, (dict, set)):
                old.clear()
                old.update(new)
            elif type(old).__name__ == "deque":
                old.clear()
                old.extend(new)

    def exception(self, reply: tuple, what: str) -> BaseException:
        _, names, mirror, args, message = reply
        if type(names) is not list or not names or not all(type(n) is str and n in _BUILTIN_EXCEPTIONS for n in names):
            raise NotPlain("an exception without built-in classes")
        cls = self.mirrors.get(mirror) if type(mirror) is str else None
        if cls is None:
            cls = self._combined(names)
        if issubclass(cls, _ENDS_ITERATION):  # as PEP 479 does for generators
            return RuntimeError(f"{what} raised {names[0]}: {str(message)[:200]}")
        if not issubclass(cls, Exception):
            refuse(f"{what} raised {names[0]}: the program left the call (SystemExit, KeyboardInterrupt...)")
        args = from_wire(args) if args is not None else (str(message),)
        for attempt in (lambda: cls(*args), lambda: cls(str(message))):
            try:
                return attempt()
            except Exception:
                continue
        return RuntimeError(f"{what} raised {names[0]}: {str(message)[:200]}")

    def _combined(self, names: list):
        if len(names) == 1:
            return _BUILTIN_EXCEPTIONS[names[0]]
        key = tuple(names)
        if key not in self.combined:
            self.combined[key] = type("_".join(names), tuple(_BUILTIN_EXCEPTIONS[n] for n in names), {})
        return self.combined[key]

    def mirror(self, name: str, detail) -> type:
        """One of the program's exception classes, rebuilt here from its built-in bases (and its
        parents among the program's classes already rebuilt), holding nothing of the program's."""
        bases, builtin_names = detail
        fallback = tuple(_BUILTIN_EXCEPTIONS[n] for n in builtin_names)
        chosen = []
        for kind, base in bases:
            cls = self.mirrors.get(base) if kind == "program" else _BUILTIN_EXCEPTIONS.get(base)
            if cls is None or cls in chosen:
                raise NotPlain(f"an exception class {name!r} with an unknown base")
            chosen.append(cls)
        for candidate in (tuple(chosen), fallback):
            try:
                self.mirrors[name] = type(name, candidate or (Exception,), {"__module__": "program"})
                return self.mirrors[name]
            except TypeError:  # bases this process cannot combine: the built-in ones alone
                continue
        raise NotPlain(f"an exception class {name!r} whose bases cannot be combined")


class Remote:
    """A stand-in for a callable of the program's: calling it, or reading one of its attributes
    (``fib.cache_clear``), is a request to the program's process; what comes back is data."""

    __slots__ = ("_channel", "_number", "_name")

    def __init__(self, channel: Channel, number: int, name: str) -> None:
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_name", name)

    def _ask(self, op: str, *args, what: str = "", **kwargs):
        what = what or f"{op} on {self._name}"
        return self._channel.ask(op, (self, *args), kwargs, what, self._name)

    def __call__(self, *args, **kwargs):
        return self._channel.ask("call", (self, *args), kwargs, f"{self._name}(...)", f"{self._name}(...)")

    def __getattr__(self, attr: str):
        if attr[:2] == "__" and attr not in ("__name__", "__qualname__", "__doc__", "__wrapped__"):
            raise AttributeError(attr)  # protocol probes (copy, pickle, inspect) stay here
        if attr in ("__name__", "__qualname__"):
            return self._name.rpartition(".")[2]
        return self._channel.ask("getattr", (self, attr), {}, f"{self._name}.{attr}", f"{self._name}.{attr}")

    def __repr__(self) -> str:
        return f"<the program's {self._name}>"


class RemoteObject(Remote):
    """``allow_objects``: an object that stays in the program's process. What the tests do with it
    (compare it, take its length, index it, iterate it) is asked of the program; answers are data."""

    __slots__ = ()

    def __setattr__(self, attr: str, value) -> None:
        self._ask("setattr", attr, value)

    def __delattr__(self, attr: str) -> None:
        self._ask("delattr", attr)

    def __len__(self) -> int:
        return self._ask("len")

    def __iter__(self):
        return iter(self._ask("list"))

    def __contains__(self, item) -> bool:
        return self._ask("contains", item)

    def __getitem__(self, key):
        return self._ask("getitem", key)

    def __setitem__(self, key, value) -> None:
        self._ask("setitem", key, value)

    def __delitem__(self, key) -> None:
        self._ask("delitem", key)

    def __bool__(self) -> bool:
        return self._ask("bool")

    def __str__(self) -> str:
        return self._ask("str")

    def __repr__(self) -> str:
        return self._ask("repr")

    def __hash__(self) -> int:
        return self._ask("hash")

    def __eq__(self, other):
        return self._ask("eq", other)

    def __ne__(self, other):
        return self._ask("ne", other)

    def __lt__(self, other):
        return self._ask("lt", other)

    def __le__(self, other):
        return self._ask("le", other)

    def __gt__(self, other):
        return self._ask("gt", other)

    def __ge__(self, other):
        return self._ask("ge", other)


def tests_namespace(channel: Channel, entries, entry_point: str | None) -> dict:
    """The tests' globals: builtins, then the program's names as stand-ins, copies and mirrors.
    A name of the program's that shadows a builtin stays the builtin (the program's ``abs`` is for
    its own use), unless it is the task's entry point, which must come from the program."""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    if type(entries) is not list:
        raise NotPlain("a manifest that is not a list")
    for entry in entries:
        if type(entry) is not tuple or len(entry) != 3 or type(entry[0]) is not str or type(entry[1]) is not str:
            raise NotPlain("a malformed manifest entry")
        name, kind, detail = entry
        if name in _BUILTINS and name != entry_point:
            continue
        if kind == "callable" and type(detail) is int:
            namespace[name] = (RemoteObject if channel.objects else Remote)(channel, detail, name)
        elif kind == "value":
            namespace[name] = from_wire(detail, channel.remote(name))
        elif kind == "exception" and type(detail) is tuple and len(detail) == 2:
            namespace[name] = channel.mirror(name, detail)
        elif kind == "module" and type(detail) is str and detail and detail != "__main__":
            try:  # this process's own import of that name, from a path the program cannot write
                __import__(detail)
                namespace[name] = sys.modules[detail]
            except Exception:
                pass  # a module the program wrote itself: the tests do without it
    if entry_point and entry_point not in namespace:
        refuse(f"the program defines no {entry_point}")
    return namespace


def _failed(exc: BaseException, tests: str) -> None:
    import linecache
    import traceback

    os.write(REPORT_FD, b"rlvr-raised " + type(exc).__name__.encode("ascii", "replace"))
    linecache.cache[TESTS_NAME] = (len(tests), None, tests.splitlines(True), TESTS_NAME)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != TESTS_NAME and tb.tb_next:
        tb = tb.tb_next  # this runner's own frames tell the reader nothing
    traceback.print_exception(type(exc), exc, tb)
    _flush()
    os._exit(1)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a test may have closed or replaced its streams
            pass


def tests_main() -> None:
    sys.setrecursionlimit(10_000)  # deep plain data decodes recursively
    sys.dont_write_bytecode = True
    chunks = []
    while chunk := os.read(REQUEST_FD, 1 << 16):
        chunks.append(chunk)
    os.close(REQUEST_FD)
    header, _, body = b"".join(chunks).partition(b"\n")
    mode, mutates, entry_point, cwd = header.decode().split(" ", 3)
    tests = body.decode("utf-8", "surrogatepass")
    os.chdir(cwd)
    channel = Channel(objects=mode == "2", mutates=mutates == "1")
    ready = channel.receive("the program's start")
    try:
        if ready[0] == "raised" and len(ready) == 5:
            name = ready[1][0] if type(ready[1]) is list and ready[1] and ready[1][0] in _BUILTIN_EXCEPTIONS else "Exception"
            os.write(REPORT_FD, b"rlvr-raised " + name.encode())
            os.write(2, b"rlvr: the program raised " + name.encode() + b" before the tests ran\n")
            os._exit(1)
        if ready[0] != "ready" or len(ready) != 2:
            raise NotPlain(f"a first reply tagged {ready[0][:40]!r}")
        namespace = tests_namespace(channel, ready[1], entry_point if entry_point != "-" else None)
    except (NotPlain, TypeError, ValueError) as exc:
        refuse(f"the program's process sent a malformed list of its names: {exc}")
    try:
        exec(compile(tests, TESTS_NAME, "exec"), namespace)
    except BaseException as exc:
        _failed(exc, tests)
    _flush()
    os.write(REPORT_FD, b"rlvr-completed " + os.read(TOKEN_FD, 64))
    os._exit(0)


if __name__ == "__main__":
    tests_main()
