"""Running untrusted programs: a warm Docker pool, and an unsafe local fallback.

    >>> from sandbox import DockerSandbox
    >>> with DockerSandbox() as box:                                   # doctest: +SKIP
    ...     box.run("def sq(x): return x * x\\nassert sq(3) == 9").passed
    True

Callers either append their tests to the program (``passed``: the whole program,
tests included, ran to its last line) or pass them as ``run(code, tests=...)``: the
tests then run in a process of their own, as another user, calling the program's
functions through stand-ins that carry only plain data (property 10), and ``passed``
means the tests ran to their end. ``rlvr sandbox --help`` for the command line.

THREAT MODEL
============
The adversary is the program: written by a model under optimisation pressure,
so it may be broken, hostile, or tuned to collect reward without earning it. The
host, the Docker engine and the image are trusted. Each property below has its
own adversarial test in ``tests/test_sandbox_docker.py`` (named in brackets).

How a run works: each pool container's PID 1 is a supervisor (``supervisor.py``)
that talks to the host over the container's attached stdin/stdout. It keeps the
program's runner (``child.py``) started ahead of time, and with it, when the last
request had tests, the tests' process (``tests_runner.py``); a run hands them the
program and the tests over pipes, watches them, then kills every other process in the
container, wipes the scratch directories, checks nothing is left, and starts the next.

1. No network [test_no_network]. ``network_mode=none``: only loopback exists; no
   route out, none to the host, no Docker socket inside. DNS fails.
2. Read-only root, private capped scratch [test_filesystem]. The root filesystem
   is read-only (site-packages included); ``/tmp`` is a private tmpfs of
   ``scratch_mb`` (noexec, nosuid), ``/dev/shm`` 4 MiB; nothing of the host is mounted.
3. Unprivileged [test_unprivileged]. The program runs as uid/gid 65534 with no
   capability (bounding set empty), ``no-new-privileges``, Docker's default seccomp
   profile. The tests run as uid/gid 65533, likewise. Only PID 1 is root, holding just
   what it needs to start those two and clean up after them (setuid, setgid, kill,
   dac_override, fowner, setpcap); it empties the bounding set first, so nothing it starts
   can gain a capability back, even through exec.
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
8. The supervisor and the tests are out of reach [test_supervisor_out_of_reach,
   test_tests_process_out_of_reach]. Both run as users other than the program's, so it
   can neither signal nor trace them, nor open their /proc files; both are non-dumpable
   besides, and PID 1 drops every signal it has no handler for. Neither hands the
   program any descriptor but its own: stdio, request, report and its end of the channel.
9. ``passed`` is proven, not claimed [test_pass_cannot_be_forged]. No observer
   outside a process can tell which instruction ran last inside it: whatever the
   runner does after the last line, the code it ran could have done first. So the
   proof rests on what that code cannot do first:
   - it cannot talk to the host: only the supervisor writes there, and stdout/stderr
     travel as data inside its answer, so a printed "all tests passed" (or a forged
     report line) is just output;
   - ``passed`` needs the report to carry a 128-bit token drawn fresh for this run, and
     the reporting process to exit 0. ``sys.exit``/``SystemExit`` are caught and
     reported as an early exit; ``os._exit``, signals, killing the parent, exiting from
     a thread, leave no report; ``atexit`` hooks never run (the runner leaves with
     ``os._exit``); ``sys.excepthook`` is never consulted; trace hooks are removed
     before the proof path runs;
   - with ``tests=``, the reporting process is the tests', and the program's process
     never holds the token at all; without, the token waits in a pipe's kernel buffer,
     read only after the module body returned.
   Residual risk, stated plainly [test_known_limit_a_program_targeting_the_runner]: a
   program run without ``tests=``, written against this runner (reading its private
   descriptor 4 and writing the report line on descriptor 5 itself), can forge a pass.
   That is targeting rlvr's runner; runs with ``tests=`` (the ``code`` verifier's) do not
   have this gap.

10. Tests the program cannot reach into [tests/test_sandbox_split.py; the adversarial
   set tests/data/code_hacks, run by tests/test_code_hacks.py: every hack scores 0, every
   honest control 1, in Docker and locally, and each hack marked "rewarded" earns reward
   with the tests appended instead: the negative control]. With ``tests=``, the program
   runs in one process and the tests in another, which never executes, unpickles or
   imports anything the program wrote. They meet only through a channel (two pipes) that
   carries plain data (``wire.py``):
   - What crosses, tests to program: a request (call, attribute, and for objects an
     operator) with copied arguments. Program to tests: the list of its module-level
     names, each a callable (the tests get a stand-in, ``tests_runner.Remote``: calling
     it, or reading an attribute of it such as ``fib.cache_clear``, is a request), a
     module (the tests get their own import of that name), a copy of plain data, or an
     exception class (rebuilt in the tests from its built-in bases and its parents among
     the program's classes); then one reply per request: the result as plain data,
     what the call printed (as text, written to the tests' ``sys.stdout``, which a test
     may be capturing), or the exception it raised as (its built-in classes, arguments,
     message). Plain data is what marshal holds, built anew on arrival (None, bool, int,
     float, complex, str, bytes, tuple, list, dict, set, frozenset), plus tagged payloads
     rebuilt by the tests' own code: bytearray, range, deque, Counter, OrderedDict,
     defaultdict (built-in default only), dict views, Fraction, Decimal.
   - What cannot cross: any object of the program's. No class, instance or function of
     its reaches the tests' process, so no ``__eq__`` that says yes, no subclass, no
     finaliser or weakref callback run beside the tests, no frame leading to the tests'
     globals, no view of a live dict, no attribute riding on a Counter, no result the
     program changes after handing it out (each is a copy). A subclass of a built-in
     type crosses as its built-in value (``int.__int__``, ``list(...)``: a namedtuple as
     a tuple, an IntEnum as an int); an iterator or generator result is materialised to
     a list in the program's process; anything else (an object, a callable result) fails
     the run naming its type. A name of the program's that shadows a builtin stays the
     builtin in the tests (the program's ``abs`` is for its own use), unless it is the
     task's ``entry_point``, which must then come from the program.
   - What the program can do to the tests' interpreter: nothing. The tests' process is a
     fork of the supervisor, in which no program ever ran (``LocalSandbox``: a fresh
     ``python -I -B``): pristine builtins, its own ``sys``, import system, decimal context
     and output streams, and a standard library imported from the read-only root, a path
     the program cannot write.
   - Exceptions that would change the tests' meaning do not cross as themselves:
     StopIteration (it would end the tests' ``map``/``zip``/``all`` early) arrives as
     RuntimeError, as PEP 479 does for generators; SystemExit or KeyboardInterrupt from
     a call, a reply that is not plain data, a malformed frame, or a program's process
     that ended, ends the run at once, failed: no case after it can pass.
   - Arguments are copies: the program cannot change the tests' values. A task whose
     tests check a change made in place declares ``mutates: true``, and the program's
     copy of each argument is put back into the tests' own after each call (as data).
   - ``plain_results=False`` (the verifier's ``allow_objects: true``) is for tasks whose
     results are objects by design: objects then stay in the program's process and the
     tests hold handles (``tests_runner.RemoteObject``) whose every use, ``==``, ``len``,
     indexing, iteration, a method call, is a request answered with data. The program's
     answer to ``==`` is then what the tests get, by the task's own choice.
   - Honest programs behave as with the tests appended: the module body runs on the
     main thread (module-level signal handlers work), with a recursion limit of 10,000;
     threads, prints and deep recursion are the program's own business.
   Costs, measured by ``benchmarks/sandbox_bench.py --split``: see benchmarks/README.md.
   Residual risk, stated plainly:
   - Tests that trust the program by construction still do: a helper it defines and the
     tests call (HumanEval/32's ``poly``) is the program's (a stand-in, but its answers
     are the program's to give). Put such helpers in the tests.
   - Tests can pass the program only data (and handles): a callback (``key=``) or an
     object of the tests' cannot be sent, and the call fails with TypeError.
   - Program output written past ``sys.stdout`` during a call (``os.write(1, ...)``, a
     ``sys.stdout.write`` bound before the call) reaches the run's stdout, not a capture
     the tests set up. ``mutates`` copies arguments back at their top level: a test that
     holds an inner list of an argument sees the new one only through the argument.
   - A generator result is materialised: an endless one runs to the time limit.
   - The tests' process reads the program's bytes with ``marshal.loads``, which Python
     does not promise to harden against crafted input; what it builds is checked to be
     plain data before use, and a crash of the tests' process fails the run. JSON would
     trade this for slower calls.
   - ``LocalSandbox`` runs both processes as the caller's user: there the program could
     reach the tests' process (signals, /proc/<pid>/mem); that sandbox is no boundary.
   - Checked against CPython 3.11, the image's and the project's.

Not covered: kernel exploits (containers share the host kernel, and PID 1 is the
host's root with the capabilities of 3, where the engine maps no user namespace; pass
``runtime="runsc"`` for gVisor where installed), micro-architectural side channels,
denial of service against the Docker engine itself, and test shapes that trust the
program by construction (see the residual risks of 10).
"""
from sandbox.docker_sandbox import DockerSandbox, SandboxUnavailable
from sandbox.local_sandbox import LocalSandbox
from sandbox.result import STATUSES, ExecResult, SandboxLimits

__all__ = ["STATUSES", "DockerSandbox", "ExecResult", "LocalSandbox", "SandboxLimits", "SandboxUnavailable"]
