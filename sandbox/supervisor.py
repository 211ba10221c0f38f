"""The supervisor: runs one program at a time in a child process and judges how it ended.

Standard library only, because it runs in two places:

* as PID 1 of every pool container (``python3 -I -S -c <this source> <runner source> <tests source>``),
  where it reads requests from its stdin and answers on its stdout — the only
  channel to the host, and one the program cannot reach (see ``serve``);
* inside the host process for ``LocalSandbox``, through ``spawn_child`` and ``execute``.

Protocol, both directions: frames of ``<byte length>\\n<JSON>``. After each result
the container supervisor cleans up and sends ``{"ready": true}`` — or
``{"ready": false, "reason": ...}`` and exits, so that the host recycles it.
"""
from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import time

STATUSES = ("passed", "failed", "timeout", "memory", "output_limit", "sandbox_error")
CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
# Where a program may write inside a container; wiped after every execution.
SCRATCH_DIRS = ("/tmp", "/dev/shm", "/dev/mqueue")
_DRAIN_S = 0.5  # after the program ends, how long stray writers may keep its pipes open
_REPORT_CAP = 4096  # a program may flood the report pipe; the supervisor must not grow with it


# ---------------------------------------------------------------- framing
def encode_frame(obj: dict) -> bytes:
    body = json.dumps(obj).encode()
    return b"%d\n" % len(body) + body


class FrameReader:
    """Reassembles frames from a byte stream fed in arbitrary chunks."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict]:
        self._buf += data
        frames = []
        while True:
            newline = self._buf.find(b"\n")
            if newline < 0:
                return frames
            size = int(self._buf[:newline])
            end = newline + 1 + size
            if len(self._buf) < end:
                return frames
            frames.append(json.loads(bytes(self._buf[newline + 1 : end])))
            del self._buf[:end]


# ---------------------------------------------------------------- one child
# In a pool container the supervisor runs as root with a few capabilities, only to start each
# process as a user of its own: the program as one, the tests as another, so that neither can
# signal, trace or read the other (``serve``). Without it (``LocalSandbox``) both are the caller.
PROGRAM_USER = 65534
TESTS_USER = 65533


class Child:
    """A started process, waiting for its request on descriptor 3."""

    def __init__(self, pid: int, fds: dict[str, int]) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.fds = fds  # our ends: stdin, stdout, stderr, request, token, report (+ the channel's, the program's)


# Starts a runner from code compiled once by the supervisor: the runner's code comes first on
# descriptor 3 (8-byte length, then marshal data), before its request. Same interpreter binary
# on both sides, so the marshal format always matches; it saves each run a compile of the runner.
_BOOTSTRAP = """import marshal, os
def _read_exactly(n):
    data = b""
    while len(data) < n:
        chunk = os.read(3, min(n - len(data), 1 << 16))
        if not chunk:
            os._exit(1)
        data += chunk
    return data
exec(marshal.loads(_read_exactly(int.from_bytes(_read_exactly(8), "big"))))
"""
_NAMES = ("stdin", "stdout", "stderr", "request", "token", "report", "calls", "replies")


def _pipes(names, child_reads: dict[str, bool]) -> tuple[dict[str, int], dict[str, int]]:
    """Pipes for ``names``: our ends, and theirs lifted above 64 so that no dup2 onto 0-7 clobbers another."""
    ours, theirs = {}, {}
    for name in names:
        r, w = os.pipe()
        ours[name], theirs[name] = (w, r) if child_reads[name] else (r, w)
    return ours, {k: _above(fd, 64) for k, fd in theirs.items()}


_PROGRAM_READS = {"stdin": True, "stdout": False, "stderr": False, "request": True, "token": True, "report": False,
                  "calls": True, "replies": False}


def spawn_child(python: str, runner_source: str, *, new_session: bool = False, runner_code: bytes | None = None,
                user: int | None = None) -> Child:
    """Start the program's runner now, so that a request only has to wait for a pipe write.

    runner_code: ``marshal.dumps`` of the compiled runner source, for an interpreter identical
    to this one; the runner then skips compiling its own source.
    user: run it as this uid and gid (needs CAP_SETUID and CAP_SETGID); None: as ourselves.
    """
    ours, theirs = _pipes(_NAMES, _PROGRAM_READS)
    argv = [python, "-I", "-B", "-c", _BOOTSTRAP if runner_code else runner_source]
    actions = [(os.POSIX_SPAWN_DUP2, theirs[name], target) for target, name in enumerate(_NAMES)]
    if user is None:
        pid = os.posix_spawn(python, argv, dict(CHILD_ENV), file_actions=actions, setsid=new_session)
    else:
        # posix_spawn (a vfork: no copy of our memory) with RESETIDS, which gives the child our real
        # ids as its effective ones: ours are ``user`` only for this call, while no program exists.
        os.setresgid(user, 0, 0)
        os.setresuid(user, 0, 0)
        try:
            pid = os.posix_spawn(python, argv, dict(CHILD_ENV), file_actions=actions, setsid=new_session, resetids=True)
        finally:
            os.setresuid(0, 0, 0)
            os.setresgid(0, 0, 0)
    # The tests' process writes to the same stdout and stderr: keep a copy of those ends for it.
    ours["out"], ours["err"] = theirs.pop("stdout"), theirs.pop("stderr")
    for fd in theirs.values():
        os.close(fd)
    if runner_code:
        _write_all(ours["request"], len(runner_code).to_bytes(8, "big") + runner_code)
    for name in ("stdout", "stderr", "report", "stdin"):
        os.set_blocking(ours[name], False)
    return Child(pid, ours)


def _fork_as(user: int, targets: list[int], become) -> int:
    """A fork of this process whose descriptors 0.. are ``targets``, taking on ``user`` (uid and
    gid, no other group, no capability left) before it calls ``become``, which must not return."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: nothing of the supervisor's but what ``targets`` names stays open
        for target, fd in enumerate(targets):
            os.dup2(fd, target, inheritable=True)
        os.closerange(len(targets), os.sysconf("SC_OPEN_MAX"))
        os.setresgid(user, user, user)
        os.setresuid(user, user, user)  # the last uid 0 goes: every capability with it
        become()
    finally:
        os._exit(127)


def spawn_tests(python: str, tests_source: str, child: Child, *, user: int | None = None, tests_main=None) -> Child:
    """Start the tests' process of ``child``'s run, joined to it by the channel.

    With ``user`` (a pool container): a fork of this supervisor, which no program ever ran in,
    taking on that user and calling ``tests_main``. Without: ``python -I -B`` in a new
    session (``LocalSandbox``, which kills both sessions after the run).
    """
    ours, theirs = _pipes(("request", "token", "report"), {"request": True, "token": True, "report": False})
    null = _above(os.open(os.devnull, os.O_RDONLY), 64)
    fds = [null, child.fds.pop("out"), child.fds.pop("err"), theirs["request"], theirs["token"], theirs["report"],
           child.fds.pop("replies"), child.fds.pop("calls")]
    if user is None:
        pid = os.posix_spawn(python, [python, "-I", "-B", "-c", tests_source], dict(CHILD_ENV), setsid=True,
                             file_actions=[(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)])
    else:
        pid = _fork_as(user, fds, tests_main)
    for fd in fds:
        os.close(fd)
    os.set_blocking(ours["report"], False)
    return Child(pid, ours)


def _above(fd: int, low: int) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return moved


def execute(child: Child, request: dict, kill_tree, oom_kills=lambda: 0, start_tests=None) -> dict:
    """Run ``request`` in ``child``; every process it started is dead when this returns.

    request:     code, stdin (str or None), timeout_s, max_output_bytes, cwd, limits; optionally
                 tests (str: run in a process of their own against the program's functions),
                 plain_results (bool, default True), mutates (bool), entry_point (str).
    kill_tree:   callable that SIGKILLs the child and everything it started, and reaps.
    oom_kills:   reads the memory cgroup's OOM-kill counter, to tell a memory kill apart.
    start_tests: ``start_tests(child)`` starts the tests' process (``spawn_tests``); needed with tests.
    """
    token = os.urandom(16).hex().encode()
    tests = request.get("tests")
    mode = 0 if tests is None else (1 if request.get("plain_results", True) else 2)
    judge = child  # the process whose report and exit decide the run
    if mode:
        judge = start_tests(child)
        os.close(child.fds.pop("token"))  # the program's process never sees this run's token
    else:
        for name in ("out", "err", "calls", "replies"):
            fd = child.fds.pop(name, None)  # gone already when a tests' process was started ahead
            if fd is not None:
                os.close(fd)
    os.write(judge.fds["token"], token)
    os.close(judge.fds.pop("token"))
    cap = int(request["max_output_bytes"])
    ooms_before = oom_kills()
    started = time.monotonic()
    limits = request.get("limits", {})
    header = " ".join(str(int(limits.get(k, 0))) for k in ("memory_bytes", "cpu_s", "file_bytes", "open_files"))
    # surrogatepass: any Python str round-trips, even one no UTF-8 text could hold.
    program = request["code"].encode("utf-8", "surrogatepass")
    _send_request(child, f"{header} {mode} {len(program)} {request['cwd']}\n".encode() + program)
    if mode:
        entry_point = request.get("entry_point") or "-"
        _send_request(judge, f"{mode} {int(bool(request.get('mutates')))} {entry_point} {request['cwd']}\n".encode()
                      + tests.encode("utf-8", "surrogatepass"))
    stdin = (request.get("stdin") or "").encode("utf-8", "surrogatepass")
    outputs = {"stdout": bytearray(), "stderr": bytearray(), "report": bytearray()}
    fds = {"stdin": child.fds.pop("stdin"), "stdout": child.fds["stdout"], "stderr": child.fds["stderr"],
           "report": judge.fds["report"]}
    outcome, status = _watch(judge, fds, stdin, outputs, cap, started + float(request["timeout_s"]))
    duration = time.monotonic() - started
    kill_tree()
    _drain(fds, outputs, cap)
    if fds["stdin"] is not None:
        os.close(fds["stdin"])
    for process in {id(child): child, id(judge): judge}.values():
        for fd in [process.pidfd, *process.fds.values()]:
            os.close(fd)
    ooms_after = oom_kills()
    # An unreadable counter (None) proves nothing either way: a memory kill then shows as MemoryError or SIGKILL.
    oom_killed = ooms_before is not None and ooms_after is not None and ooms_after > ooms_before
    return _judge(outcome, status, outputs, token, cap, duration, oom_killed)


def _send_request(process: Child, data: bytes) -> None:
    try:
        _write_all(process.fds["request"], data)
    except BrokenPipeError:
        pass  # the process died before reading; its exit status tells the rest
    os.close(process.fds.pop("request"))


def _watch(judge: Child, fds: dict, stdin: bytes, outputs: dict, cap: int, deadline: float):
    """Pump pipes until ``judge`` exits, the deadline passes or output overflows."""
    sel = selectors.DefaultSelector()
    for name in ("stdout", "stderr", "report"):
        sel.register(fds[name], selectors.EVENT_READ, name)
    sel.register(judge.pidfd, selectors.EVENT_READ, "exit")
    if stdin:
        sel.register(fds["stdin"], selectors.EVENT_WRITE, "stdin")
    else:
        os.close(fds["stdin"])
        fds["stdin"] = None
    pending = memoryview(stdin)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timeout"
            for key, _ in sel.select(left):
                name = key.data
                if name == "exit":
                    return _reap(judge.pid), None
                if name == "stdin":
                    try:
                        pending = pending[os.write(fds["stdin"], pending[: 1 << 16]):]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # the program closed its stdin: the rest is unwanted
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(fds["stdin"])
                        os.close(fds["stdin"])
                        fds["stdin"] = None
                    continue
                chunk = _read_some(fds[name])
                if chunk is None:
                    continue
                if not chunk:
                    sel.unregister(fds[name])
                    continue
                outputs[name] += chunk
                if name == "report":
                    del outputs[name][_REPORT_CAP:]  # the real report is 47 bytes; more is noise
                elif len(outputs[name]) > cap:
                    return None, "output_limit"
    finally:
        sel.close()


def _reap(pid: int) -> int | None:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


def _drain(fds: dict, outputs: dict, cap: int) -> None:
    """Collect what is still buffered in the pipes, without waiting on stray writers for long."""
    until = time.monotonic() + _DRAIN_S
    open_fds = {fds[name]: name for name in ("stdout", "stderr", "report")}
    while open_fds and time.monotonic() < until:
        progressed = False
        for fd, name in list(open_fds.items()):
            chunk = _read_some(fd)
            if chunk is None:
                continue
            progressed = True
            outputs[name] += chunk
            if not chunk or len(outputs[name]) > (_REPORT_CAP if name == "report" else cap):
                del open_fds[fd]
        if not progressed:
            time.sleep(0.005)


def _read_some(fd: int) -> bytes | None:
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _judge(exit_code, status, outputs, token, cap, duration, oom_killed) -> dict:
    report = bytes(outputs["report"])
    raised = report[len(b"rlvr-raised "):].decode("ascii", "replace") if report.startswith(b"rlvr-raised ") else None
    refused = report[len(b"rlvr-refused "):].decode("utf-8", "replace") if report.startswith(b"rlvr-refused ") else None
    completed = report == b"rlvr-completed " + token and exit_code == 0
    if status is None:
        if max(len(outputs["stdout"]), len(outputs["stderr"])) > cap:  # the excess came after the exit
            status = "output_limit"
        elif oom_killed or raised == "MemoryError":
            status = "memory"
        else:
            status = "passed" if completed else "failed"
    return {
        "status": status,
        "exit_code": exit_code,
        "stdout": bytes(outputs["stdout"][:cap]).decode("utf-8", "replace"),
        "stderr": bytes(outputs["stderr"][:cap]).decode("utf-8", "replace"),
        "stdout_truncated": len(outputs["stdout"]) > cap,
        "stderr_truncated": len(outputs["stderr"]) > cap,
        "duration_s": round(duration, 6),
        "detail": _detail(status, exit_code, raised, report, completed) if refused is None or status != "failed"
                  else f"refused: {refused}",
    }


def _detail(status, exit_code, raised, report, completed) -> str:
    if status == "timeout":
        return "killed at the wall-clock limit"
    if status == "output_limit":
        return "killed for writing more than the output cap"
    if status == "memory":
        return "ran out of memory" + (" (MemoryError)" if raised == "MemoryError" else " (killed by the OOM killer)")
    if completed:
        return "ran to its end"
    if raised:
        return f"uncaught {raised}" if raised != "SystemExit" else f"exited early via SystemExit (code {exit_code})"
    if exit_code is not None and exit_code < 0:
        return f"killed by signal {signal.Signals(-exit_code).name if -exit_code in signal.valid_signals() else -exit_code}"
    if report.startswith(b"rlvr-completed "):
        return "completion proof did not match this run's token"
    return f"ended (exit code {exit_code}) before its last line ran"


# ---------------------------------------------------------------- container PID 1
def kill_everything() -> None:
    """SIGKILL every process of this PID namespace but ourselves, and reap them all.

    kill(-1) signals every process we may signal except PID 1 — us — and the kernel
    delivers it under the task-list lock, so a fork bomb cannot outrun it.
    """
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children, alive or zombie, are left
        if pid == 0:
            time.sleep(0.001)


def _wipe(path: str) -> None:
    for entry in os.scandir(path):
        full = entry.path
        try:
            if entry.is_dir(follow_symlinks=False):
                os.chmod(full, 0o700)  # the program may have locked its own directories
                _wipe(full)
                os.rmdir(full)
            else:
                os.unlink(full)
        except FileNotFoundError:
            pass


def leftovers() -> str | None:
    """Why this container is no longer clean, or None."""
    if _processes():
        return f"processes survived the kill: {_processes()}"
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                if len(f.readlines()) > 1:
                    return f"System V IPC {kind} objects left behind"
        except OSError:
            pass
    for path in SCRATCH_DIRS:
        if os.path.isdir(path) and os.listdir(path):
            return f"{path} could not be emptied"
    return None


def _processes() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]


def cgroup_oom_kills() -> int | None:
    """The memory cgroup's OOM-kill count; None when no counter can be read (unknown, not zero)."""
    for path, key in (("/sys/fs/cgroup/memory.events", "oom_kill"),
                      ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill")):
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except OSError:
            continue
    return None


def _harden_self() -> None:
    """Make PID 1 unreachable from the programs it runs, and keep its capabilities to itself."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_DUMPABLE, PR_CAPBSET_DROP, CAP_LAST_CAP = 4, 24, 63
    # Non-dumpable: no process can ptrace us or open /proc/1/{mem,fd,environ}.
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")
    # An empty bounding set: what we start can never gain a capability, even through exec. Ours,
    # kept for ourselves (setuid, setgid, kill, and the wipe of every user's files), stay.
    if os.getuid() == 0:
        for cap in range(CAP_LAST_CAP + 1):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
                raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap}) failed")
    # PID 1 ignores every signal it has no handler for; Python's SIGINT handler would be one.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def serve(runner_source: str, tests_source: str) -> None:
    _harden_self()
    if os.getuid() == 0:
        os.setgroups([])  # root's groups would pass to every process we start
    # Keep the host channel on private descriptors; 0 and 1 become /dev/null.
    chan_in, chan_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    import marshal
    import sys

    python = sys.executable or "/usr/bin/python3"  # this very binary: runner_code is in its marshal format
    runner_code = marshal.dumps(compile(runner_source, "<runner>", "exec"))
    # The tests' process is a fork of this one: its code is loaded here once, before any program runs.
    tests_runner = {"__name__": "rlvr_tests_runner"}
    exec(compile(tests_source, "<tests runner>", "exec"), tests_runner)
    # What exists now stays as it is in every fork: no collection in a tests' process touches
    # (and so copies) the pages of the supervisor's own objects.
    import gc

    gc.freeze()
    # Separate users only where we may switch to them: as root in a pool container.
    program_user, tests_user = (PROGRAM_USER, TESTS_USER) if os.getuid() == 0 else (None, None)

    def start_tests(child: Child) -> Child:
        return spawn_tests(python, tests_source, child, user=tests_user, tests_main=tests_runner["tests_main"])

    # The next run's processes are started ahead, while the host is busy elsewhere: the program's
    # runner always, the tests' process when the last request had tests (the next one likely has).
    child, ahead = spawn_child(python, runner_source, runner_code=runner_code, user=program_user), None
    reader = FrameReader()
    while True:
        data = os.read(chan_in, 1 << 16)
        if not data:  # the host went away: stop, and the container removes itself
            kill_everything()
            return
        for request in reader.feed(data):
            try:
                result = execute(child, request, kill_everything, cgroup_oom_kills, lambda c, ready=ahead: ready or start_tests(c))
            except Exception as exc:  # our bug, not the program's: answer, then let the host recycle us
                result = {"status": "sandbox_error", "exit_code": None, "stdout": "", "stderr": "",
                          "stdout_truncated": False, "stderr_truncated": False, "duration_s": 0.0,
                          "detail": f"supervisor failed: {type(exc).__name__}: {exc}"}
            _write_all(chan_out, encode_frame(result))
            kill_everything()
            if ahead is not None and request.get("tests") is None:  # started for nothing: its ends go
                for fd in [ahead.pidfd, *ahead.fds.values()]:
                    os.close(fd)
            for path in SCRATCH_DIRS:
                if os.path.isdir(path):
                    _wipe(path)
            dirty = leftovers() or (result["detail"] if result["status"] == "sandbox_error" else None)
            _write_all(chan_out, encode_frame({"ready": dirty is None, "reason": dirty}))
            if dirty:
                return
            child = spawn_child(python, runner_source, runner_code=runner_code, user=program_user)
            ahead = start_tests(child) if request.get("tests") is not None else None


if __name__ == "__main__":
    import sys

    serve(sys.argv[1], sys.argv[2])
