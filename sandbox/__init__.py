"""Running untrusted programs: a warm Docker pool, and an unsafe local fallback.

    >>> from sandbox import DockerSandbox
    >>> with DockerSandbox() as box:                                   # doctest: +SKIP
    ...     box.run("def sq(x): return x * x\\nassert sq(3) == 9").passed
    True

Callers append their tests to the program; ``passed`` means the whole program,
tests included, ran to its last line. ``rlvr sandbox --help`` for the command line.

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

Not covered: kernel exploits (containers share the host kernel; pass
``runtime="runsc"`` for gVisor where installed), micro-architectural side
channels, denial of service against the Docker engine itself, and tests that a
program defeats from inside Python (e.g. an object whose ``__eq__`` is always
true) — that is the verifier's and the dataset's business.
"""
from sandbox.docker_sandbox import DockerSandbox, SandboxUnavailable
from sandbox.local_sandbox import LocalSandbox
from sandbox.result import STATUSES, ExecResult, SandboxLimits

__all__ = ["STATUSES", "DockerSandbox", "ExecResult", "LocalSandbox", "SandboxLimits", "SandboxUnavailable"]
