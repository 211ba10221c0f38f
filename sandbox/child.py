"""The runner inside one execution: runs the program, then proves it reached its end.

Standard library only: the runner is ``guard_env.py``, ``guard.py`` and this file, in that
order (``container.RUNNER_SOURCE``); the supervisor starts it as ``python3 -I -B -c`` with that
source, or with a bootstrap that loads it compiled (``supervisor.spawn_child``), and with
these descriptors already in place:

    0, 1, 2   the program's stdin, stdout and stderr (pipes to the supervisor)
    3         the request: one line "memory_bytes cpu_s file_bytes open_files guard program_bytes cwd",
              then the program's source, then (guard 1 or 2) the tests' source; read to EOF, then closed
    4         the completion token, waiting in the kernel's pipe buffer
    5         the report back to the supervisor

guard 0 runs the program alone, as ``python program.py`` would. guard 1 (plain results) and
guard 2 (objects allowed) run the program, then its tests, under ``guard.run_guarded``.

The token is read only after the program's module body has returned, so during the
run it exists in no memory of this process, no argument, no variable and no file:
only in a pipe buffer. The report is ``rlvr-completed <token>`` after a normal end,
``rlvr-raised <ExceptionName>`` after an exception, ``rlvr-refused <why>`` when the guard
refused the program. See the threat model in
``sandbox/__init__.py`` for what this does and does not prove.
"""
import gc
import os
import resource
import sys

REQUEST_FD, TOKEN_FD, REPORT_FD = 3, 4, 5
PROGRAM_NAME, TESTS_NAME = "program.py", "tests.py"

# Bound now, before the program runs, so that monkeypatching ``os`` cannot
# redirect the proof path (it can only break it, which fails the run).
_read, _write, _exit, _close = os.read, os.write, os._exit, os.close
_class_name, _encode = type.__dict__["__name__"].__get__, str.encode  # no metaclass of the program's runs


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
    code = 1
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    else:
        import linecache
        import traceback

        # Tracebacks then show the program's (and the tests') lines, as they would for files on disk.
        for name, text in ((PROGRAM_NAME, _source), (TESTS_NAME, _tests)):
            linecache.cache[name] = (len(text), None, text.splitlines(True), name)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename not in (PROGRAM_NAME, TESTS_NAME) and tb.tb_next:
            tb = tb.tb_next  # the runner's and the guard's own frames tell the reader nothing
        traceback.print_exception(type(exc), exc, tb)
    _flush_std()
    _exit(code & 0xFF)


_source = _tests = ""


def main() -> None:
    # No json, re or linecache here: this process is started ahead of every run, and
    # each import it skips is CPU the pool gets back.
    global _source, _tests
    module = type(sys)("__main__")
    sys.modules["__main__"] = module
    sys.argv = [PROGRAM_NAME]
    # A process's first compile() costs about 1.5 ms more than the next (measured in the image,
    # Python 3.11): pay it here, while the runner waits, not on the request's path.
    compile("pass", "<warm-up>", "exec")
    # The guard's snapshot of the interpreter, taken while this runner waits for its request:
    # before any program exists, and off the request's path.
    environment = Environment()  # noqa: F821 - from guard_env.py
    gc.freeze()  # what exists now is the runner's: no collection during the run need look at it again
    header, _, body = _read_all(REQUEST_FD).partition(b"\n")
    _close(REQUEST_FD)
    *limits, guard, program_bytes, cwd = header.decode().split(" ", 6)
    os.chdir(cwd)
    _apply_limits([int(v) for v in limits])
    _source = body[: int(program_bytes)].decode("utf-8", "surrogatepass")
    _tests = body[int(program_bytes) :].decode("utf-8", "surrogatepass")
    try:
        code = compile(_source, PROGRAM_NAME, "exec")
        if guard == "0":
            sys.path.insert(0, cwd)  # as for `python <cwd>/program.py`: helper modules it writes import
            exec(code, module.__dict__)
        else:
            tests = compile(_tests, TESTS_NAME, "exec")
            run_guarded(environment, _source, code, module.__dict__, tests, cwd, plain=guard == "1")  # noqa: F821
    except BaseException as exc:  # SystemExit included: a program that exits early did not finish
        _fail(exc)
    _stop_tracing()
    _flush_std()
    _write(REPORT_FD, b"rlvr-completed " + _read(TOKEN_FD, 64))
    _exit(0)


if __name__ == "__main__":
    main()
