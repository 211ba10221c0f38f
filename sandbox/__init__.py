"""Running untrusted programs: a warm Docker pool, and an unsafe local fallback.

    >>> from sandbox import DockerSandbox
    >>> with DockerSandbox() as box:                                   # doctest: +SKIP
    ...     box.run("def sq(x): return x * x\\nassert sq(3) == 9").passed
    True

Callers either append their tests to the program (``passed``: the whole program,
tests included, ran to its last line) or pass them as ``run(code, tests=...)``: the
tests then run after the program under the guard (property 10), and ``passed`` means
both ran to their end. ``rlvr sandbox --help`` for the command line.

THREAT MODEL
============
The adversary is the program: written by a model under optimisation pressure,
so it may be broken, hostile, or tuned to collect reward without earning it. The
host, the Docker engine and the image are trusted. Each property below has its
own adversarial test in ``tests/test_sandbox_docker.py`` (named in brackets).

How a run works: each pool container's PID 1 is a supervisor (``supervisor.py``)
that talks to the host over the container's attached stdin/stdout. It keeps one
runner (``child.py``) started ahead of time; a run hands it the program over a
pipe, watches it, then kills every other process in the container, wipes the
scratch directories, checks nothing is left, and starts the next runner.

1. No network [test_no_network]. ``network_mode=none``: only loopback exists; no
   route out, none to the host, no Docker socket inside. DNS fails.
2. Read-only root, private capped scratch [test_filesystem]. The root filesystem
   is read-only (site-packages included); ``/tmp`` is a private tmpfs of
   ``scratch_mb`` (noexec, nosuid), ``/dev/shm`` 4 MiB; nothing of the host is mounted.
3. Unprivileged [test_unprivileged]. uid/gid 65534, every capability dropped
   (bounding set empty), ``no-new-privileges``, Docker's default seccomp profile.
4. Limits [test_limits_*]. Memory: RLIMIT_AS per process and the container's
   memory cgroup (no swap) — status ``memory``. Processes and threads: the pids
   cgroup. CPU: ``cpus`` per container (CFS quota) plus RLIMIT_CPU as a backstop.
   Wall time: the supervisor's deadline — ``timeout``; the host's own, later
   deadline recycles a container whose supervisor stops answering
   [test_unresponsive_container_is_recycled]. Output: at
   most ``max_output_bytes`` per stream, then a kill — ``output_limit``. Disk:
   RLIMIT_FSIZE and the tmpfs size. Open files: RLIMIT_NOFILE.
5. Nothing survives an execution [test_nothing_survives_*,
   test_unclean_container_is_recycled]. After every run the
   supervisor SIGKILLs all other processes of the container — kill(-1) reaches
   background, daemonised and re-parented processes alike, and the kernel
   delivers it atomically against fork — then empties /tmp, /dev/shm and
   /dev/mqueue. Any leftover it cannot remove (a surviving process, System V
   IPC objects) makes it report "not clean" and exit; the host recycles the
   container. The environment is rebuilt per run; the root filesystem is
   read-only; each runner is a fresh interpreter, so no module state carries over.
6. Host secrets invisible [test_host_secrets_invisible]. The container gets a fixed
   environment, not the caller's; no host path is mounted; PID 1's environment
   and memory are closed to the program (see 8).
7. Neighbours undisturbed [test_neighbours_undisturbed]. Every execution has its
   own container, hence its own memory, pids and CPU cgroups: a fork bomb, memory
   bomb or busy loop exhausts its own limits only. (RLIMIT_NPROC is deliberately
   not used: it counts per user across containers, so one bomb would starve all.)
8. The supervisor is out of reach [test_supervisor_out_of_reach]. It shares the
   program's uid, so: it is PID 1 (the kernel drops signals to a namespace's init
   that it has no handler for, SIGKILL included), it makes itself non-dumpable
   (no ptrace, no /proc/1/mem, /proc/1/fd or /proc/1/environ), and it hands the
   runner none of its own descriptors.
9. ``passed`` is proven, not claimed [test_pass_cannot_be_forged]. No observer
   outside a process can tell which instruction ran last inside it: whatever the
   runner does after the program's last line, the program could have done first.
   So the proof rests on what the program cannot do first:
   - it cannot talk to the host: only the supervisor writes there, and the
     program's stdout/stderr travel as data inside its answer, so a printed
     "all tests passed" (or a forged report line) is just output;
   - ``passed`` needs the runner's report to carry a 128-bit token drawn fresh
     for this run, and the runner to exit 0. ``sys.exit``/``SystemExit`` are
     caught and reported as an early exit; ``os._exit``, signals, killing the
     parent, exiting from a thread, leave no report; ``atexit`` hooks never run
     (the runner leaves with ``os._exit``); ``sys.excepthook`` is never consulted;
     trace hooks are removed before the proof path runs;
   - the program never holds the token while it runs: it waits in a pipe's
     kernel buffer, read only after the module body returned — in no variable,
     argument, environment variable or file, and not in the supervisor's memory
     the program could read.
   Residual risk, stated plainly [test_known_limit_a_program_targeting_the_runner]:
   a program written against this runner — one that reads the runner's private
   descriptor 4 and writes the report line on descriptor 5 itself — can forge a
   pass. That is targeting rlvr's runner specifically; closing it needs an
   observer of the interpreter from outside the process (ptrace, a tracing VM),
   which we judge not worth its cost here.

10. Tests the program cannot defeat from inside Python [tests/test_sandbox_guard.py;
   the adversarial set tests/data/code_hacks, run by tests/test_code_hacks.py: every
   hack scores 0, every honest control 1, in Docker and locally]. With ``tests=``, the
   tests run in the program's interpreter, after it, so the program could change what
   they see; the guard (``guard.py``, ``guard_env.py``, bound when the runner starts,
   before any program exists) keeps it from doing so:
   - Plain results. Each callable the program defines at module level reaches the
     tests wrapped: a call must return plain data, exact built-in types checked
     recursively with ``type(x) is``, never isinstance (None, bool, int, float,
     complex, str, bytes, bytearray, range; list, tuple, set, frozenset, dict and its
     views, deque, OrderedDict, defaultdict with a built-in default; Counter when the
     source names ``collections``, which the guard then loads first), and must leave
     plain arguments plain; else the run is refused, naming the type and where it sat.
     An exception reaches the tests as a new instance of its nearest built-in class.
     ``plain_results=False`` (the verifier's ``allow_objects: true``) is for tasks
     whose results are objects by design: the tests then call the program directly.
   - A pristine environment. A snapshot of every loaded module (builtins and sys
     included): its dict and class; the dicts, bases and metaclasses of its Python
     classes; the lists, dicts and sets it holds; the ``__dict__`` of the objects it
     holds; ``sys.modules``; the working directory. Restored after the module body and
     after every call. Modules the program imported stay its own: the tests import
     fresh copies, from a path without the program's directory. Of the program's
     names, one that shadows a builtin never reaches the tests, one bound to a module
     reaches them as the real module of that name, and plain data as a copy.
   - No code of the program's beside the tests. The module body and each call run on
     a fresh thread whose stack holds no frame of the tests' (no walking up to their
     constants or locals), and which, with every thread it started, must have ended
     before the tests go on (refused otherwise). Signal handlers can only be set from
     the main thread, where no program code runs; trace and profile functions are per
     thread; the collector is off while the tests run, so no finaliser of the
     program's runs there.
   - Refused at once (the run ends, failed, saying why) by an audit hook, which no
     Python code can remove: importing ctypes; the collector's object walks
     (``gc.get_objects``, ``get_referrers``, ``get_referents``); other threads' frames
     (``sys._current_frames``); adding an audit hook; opening, linking or changing
     directory to anything under /proc or /dev (but null, zero, full, random,
     urandom). And the runner makes itself non-dumpable: no other process of its
     user, a child the program starts included, may read or write its memory.
   Costs, measured by ``benchmarks/sandbox_bench.py --guard``: see benchmarks/README.md.
   Residual risk, stated plainly:
   - The guard's own state lives in the process. The program is handed no frame,
     object or name that leads to it, but a test that hands the program one of its
     own functions or objects hands it the tests' namespace, and from there the
     guard. Tests should pass the program data. (As in 9: targeting the harness.)
   - State more than one step from a module (an attribute of an object held in a
     list held by a module), registries kept in C (``codecs.register``, ABC
     registrations, so ``isinstance`` against an ABC), and interpreter settings
     (recursion limit, ``sys.set_int_max_str_digits``, locale, other threads' decimal
     contexts) are not restored. They can break honest tests, and make a test that
     checks ``isinstance(result, SomeABC)`` pass a plain value it should not.
   - Tests that trust the program by construction, calling a helper it defines
     (HumanEval/32's ``poly``) or using a name it imported without importing it, get
     the program's. Put such helpers in the tests, and import in the tests.
   - Tests that change the environment themselves between calls keep those changes
     in ``builtins``, ``sys`` and ``sys.modules`` only; a change elsewhere lasts until
     the program's next call returns.
   - With ``plain_results=False`` program code runs on the tests' thread: only the
     environment rules hold, for the module body.
   - ``LocalSandbox`` run as root: the program's children keep CAP_SYS_PTRACE, so the
     runner's memory is open to them; that sandbox is no boundary anyway.
   - Checked against CPython 3.11 (the image's and the project's): the audit events
     above are 3.11's, plus 3.12's all-thread tracing and ``sys.monitoring``.

Not covered: kernel exploits (containers share the host kernel; pass
``runtime="runsc"`` for gVisor where installed), micro-architectural side
channels, denial of service against the Docker engine itself, and test shapes that
trust the program by construction (see the residual risks of 10).
"""
from sandbox.docker_sandbox import DockerSandbox, SandboxUnavailable
from sandbox.local_sandbox import LocalSandbox
from sandbox.result import STATUSES, ExecResult, SandboxLimits

__all__ = ["STATUSES", "DockerSandbox", "ExecResult", "LocalSandbox", "SandboxLimits", "SandboxUnavailable"]
