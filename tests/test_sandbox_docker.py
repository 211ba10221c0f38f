"""One adversarial test per threat-model property of ``sandbox`` (see sandbox/__init__.py).

Each attack runs as a real program in a real container. ``solo`` has one container,
so consecutive runs share it — what the isolation tests need; ``pool`` has four,
for concurrency. Both are module-scoped: the whole file costs a few container starts.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from tests.sandbox_support import docker_sandbox_or_skip

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def solo():
    box = docker_sandbox_or_skip(size=1)
    yield box
    box.close()


@pytest.fixture(scope="module")
def pool():
    box = docker_sandbox_or_skip(size=4)
    yield box
    box.close()


def run(box, code: str, **kwargs):
    return box.run(textwrap.dedent(code), **kwargs)


def assert_passed(result):
    assert result.passed, f"{result.status}: {result.detail}\nstdout: {result.stdout}\nstderr: {result.stderr}"


# ---------------------------------------------------------------- 1. network
def test_no_network(solo):
    result = run(solo, """
        import errno, os, socket
        assert os.listdir("/sys/class/net") == ["lo"], os.listdir("/sys/class/net")
        # The Docker bridge (the host), a public resolver, a typical VM gateway: all unroutable,
        # not merely refused — a refusal would mean a route exists.
        for host, port in [("172.17.0.1", 2375), ("1.1.1.1", 53), ("8.8.8.8", 443), ("10.0.2.2", 22)]:
            s = socket.socket()
            s.settimeout(3)
            try:
                s.connect((host, port))
                raise SystemExit(f"connected to {host}:{port}")
            except OSError as e:
                assert e.errno == errno.ENETUNREACH, (host, e)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.sendto(b"x", ("8.8.8.8", 53))
            raise SystemExit("sent a UDP datagram out")
        except OSError as e:
            assert e.errno == errno.ENETUNREACH, e
        try:
            socket.getaddrinfo("deb.debian.org", 80)
            raise SystemExit("DNS answered")
        except socket.gaierror:
            pass
        for path in ("/var/run/docker.sock", "/run/docker.sock"):
            assert not os.path.exists(path), path
    """)
    assert_passed(result)


# ---------------------------------------------------------------- 2. filesystem
def test_filesystem(solo):
    result = run(solo, """
        import errno, json, os
        writable = []
        for root, dirs, _ in os.walk("/"):
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys")]
            try:
                fd = os.open(os.path.join(root, ".probe"), os.O_CREAT | os.O_WRONLY, 0o600)
            except OSError:
                continue
            os.close(fd)
            os.unlink(os.path.join(root, ".probe"))
            writable.append(root)
        assert set(writable) <= {"/tmp", "/dev/shm", "/dev/mqueue"}, writable
        for path in (json.__file__, "/usr/bin/python3", "/etc/passwd", "/etc/hostname"):
            try:
                open(path, "ab")
                raise SystemExit(f"{path} is writable")
            except OSError as e:
                assert e.errno in (errno.EROFS, errno.EACCES), (path, e)
        # Mounts: the image, kernel filesystems and our scratch; nothing of the host but /etc/hostname.
        sources = [line.split()[3] for line in open("/proc/self/mountinfo")]
        foreign = [s for s in sources if s not in ("/",) and not s.startswith(("/docker/", "/bus", "/fs", "/irq", "/sys", "/null"))]
        assert all(s.endswith("/hostname") for s in foreign), foreign
        # The scratch space is capped: 200 MiB do not fit.
        with open("/tmp/big", "wb") as f:
            try:
                for _ in range(200):
                    f.write(b"x" * (1 << 20))
                    f.flush()
                raise SystemExit("wrote 200 MiB to /tmp")
            except OSError as e:
                assert e.errno in (errno.ENOSPC, errno.EFBIG), e
    """)
    assert_passed(result)


# ---------------------------------------------------------------- 3. privileges
def test_unprivileged(solo):
    result = run(solo, """
        import os
        assert (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) == (65534,) * 4
        status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
        for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[key], 16) == 0, (key, status[key])
        assert status["NoNewPrivs"].strip() == "1"
        assert status["Seccomp"].strip() == "2"  # Docker's default filter
        for attempt in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot("/tmp"),
                        lambda: os.mknod("/tmp/dev", 0o600 | 0o020000, os.makedev(1, 3))):
            try:
                attempt()
                raise SystemExit("a privileged call succeeded")
            except PermissionError:
                pass
    """)
    assert_passed(result)


# ---------------------------------------------------------------- 4. limits
def test_limits_memory_single_process(solo):
    result = run(solo, "hog = [bytearray(64 << 20) for _ in range(64)]  # 4 GiB")
    assert result.status == "memory", result


def test_limits_memory_many_processes(solo):
    # Each child stays under its own RLIMIT_AS; together they burst the container's cgroup.
    result = run(solo, """
        import os
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                hog = bytearray(400 << 20)
                os._exit(0)
            children.append(pid)
        print([os.waitpid(p, 0)[1] for p in children])
    """, timeout_s=20)
    assert result.status == "memory", result


def test_limits_processes_and_threads(solo):
    result = run(solo, """
        import os, threading, time
        threads = []
        try:
            for _ in range(5000):
                t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
                t.start()
                threads.append(t)
        except RuntimeError:
            pass
        forks = 0
        try:
            for _ in range(5000):
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                forks += 1
        except OSError:
            pass
        print(len(threads), forks)
    """)
    assert_passed(result)
    threads, forks = map(int, result.stdout.split())
    assert threads < solo.limits.pids and forks < solo.limits.pids


def test_limits_cpu_and_wall_time(solo):
    for program in ("while True: pass", "import time; time.sleep(60)"):
        started = time.monotonic()
        result = solo.run(program, timeout_s=1.0)
        assert result.status == "timeout", result
        assert time.monotonic() - started < 5


def test_limits_cpu_share(solo):
    # Four busy threads for 1.5 s of wall time get about one CPU's worth, not four.
    result = run(solo, """
        import threading, time, resource
        end = time.monotonic() + 1.5
        def spin():
            while time.monotonic() < end:
                pass
        ts = [threading.Thread(target=spin) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print(resource.getrusage(resource.RUSAGE_SELF).ru_utime)
    """)
    assert_passed(result)
    assert float(result.stdout) < 2.2, result.stdout


def test_limits_output(solo):
    result = solo.run("while True: print('x' * 1000)", timeout_s=5)
    assert result.status == "output_limit", result
    assert result.stdout_truncated and len(result.stdout) == solo.limits.max_output_bytes


def test_limits_disk_and_open_files(solo):
    result = run(solo, """
        import errno
        try:
            with open("/tmp/big", "wb") as f:
                f.write(b"x" * (32 << 20))
            raise SystemExit("wrote a 32 MiB file")
        except OSError as e:
            assert e.errno == errno.EFBIG, e
        handles = []
        try:
            for _ in range(10000):
                handles.append(open("/dev/null"))
            raise SystemExit("opened 10000 files")
        except OSError as e:
            assert e.errno == errno.EMFILE, e
    """)
    assert_passed(result)


# ---------------------------------------------------------------- 5. nothing survives
def test_nothing_survives_an_execution(solo):
    leave = run(solo, """
        import os, subprocess, sys, time, json
        open("/tmp/left.txt", "w").write("secret")
        os.makedirs("/tmp/locked/inner")
        open("/tmp/locked/inner/f", "w").write("x")
        os.chmod("/tmp/locked/inner", 0)
        os.chmod("/tmp/locked", 0)
        open("/dev/shm/left", "w").write("x")
        os.environ["LEFT_BEHIND"] = "1"
        json.LEFT_BEHIND = True
        subprocess.Popen(["sleep", "1000"])                    # a background process
        if os.fork() == 0:                                     # a daemon: double fork + setsid
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        time.sleep(0.2)
    """)
    assert_passed(leave)
    check = run(solo, """
        import os, json
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        assert not others, [open(f"/proc/{p}/cmdline", "rb").read() for p in others]
        assert os.listdir("/tmp") == [] and os.listdir("/dev/shm") == [], (os.listdir("/tmp"), os.listdir("/dev/shm"))
        assert "LEFT_BEHIND" not in os.environ and not hasattr(json, "LEFT_BEHIND")
    """)
    assert_passed(check)
    assert check.sandbox_id == leave.sandbox_id  # the same container, cleaned, not a new one


def test_nothing_survives_a_parent_killer(solo):
    # The grandchild kills the runner, is re-parented to PID 1, and lingers: it must die too.
    killer = run(solo, """
        import os, signal, time
        if os.fork() == 0:
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(1000)
        time.sleep(1000)
    """, timeout_s=5)
    assert killer.status == "failed" and killer.exit_code == -9, killer
    check = run(solo, """
        import os
        assert [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())] == []
    """)
    assert_passed(check)


def test_unclean_container_is_recycled(solo):
    # System V shared memory outlives processes: the supervisor cannot remove it, so it
    # reports the container unclean and the next run gets a fresh container.
    dirty = run(solo, """
        import ctypes
        libc = ctypes.CDLL(None)
        assert libc.shmget(0x5EED, 4096, 0o1666) >= 0   # IPC_CREAT | 0666
    """)
    assert_passed(dirty)
    check = run(solo, "assert len(open('/proc/sysvipc/shm').readlines()) == 1")
    assert_passed(check)
    assert check.sandbox_id != dirty.sandbox_id


def test_unresponsive_container_is_recycled(solo, monkeypatch):
    # Freeze the whole container mid-run: its supervisor cannot answer, so the host's own
    # deadline fires, the fault is reported naming the container, and a fresh one takes over.
    import threading

    import sandbox.docker_sandbox as docker_sandbox

    monkeypatch.setattr(docker_sandbox, "_REPLY_MARGIN_S", 1.0)
    (box,) = solo._all
    threading.Timer(0.3, solo.client.api.pause, args=(box.id,)).start()
    frozen = solo.run("import time; time.sleep(1)", timeout_s=1.5)
    assert frozen.status == "sandbox_error" and frozen.sandbox_id == box.short_id, frozen
    assert box.short_id in frozen.detail
    after = solo.run("pass")
    assert_passed(after)
    assert after.sandbox_id != box.short_id


# ---------------------------------------------------------------- 6. host secrets
def test_host_secrets_invisible(solo, tmp_path):
    secret = uuid.uuid4().hex
    os.environ["RLVR_TEST_SECRET"] = secret
    host_file = tmp_path / "secret.txt"
    host_file.write_text(secret)
    try:
        result = run(solo, f"""
            import os
            assert not any("{secret}" in v for v in os.environ.values())
            assert "RLVR_TEST_SECRET" not in os.environ
            for path in ({str(host_file)!r}, {os.path.abspath(__file__)!r}, {os.getcwd()!r}):
                assert not os.path.exists(path), path
            try:
                open("/proc/1/environ", "rb").read()
                raise SystemExit("read PID 1's environment")
            except PermissionError:
                pass
        """)
    finally:
        del os.environ["RLVR_TEST_SECRET"]
    assert_passed(result)


# ---------------------------------------------------------------- 7. neighbours
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
MEMORY_BOMB = "import os\nos.fork(); os.fork()\nhog = []\nwhile True:\n    hog.append(bytearray(16 << 20))\n"
BUSY_LOOP = "while True:\n    pass\n"
PROBE = "import time\nt = time.perf_counter()\nsum(i * i for i in range(200_000))\nprint(time.perf_counter() - t)\n"


def test_neighbours_undisturbed(pool):
    quiet = [float(pool.run(PROBE).stdout) for _ in range(3)]
    results = pool.run_batch([FORK_BOMB, MEMORY_BOMB, BUSY_LOOP, PROBE], timeout_s=4, concurrency=4)
    fork_bomb, memory_bomb, busy, probe = results
    assert_passed(probe)
    assert probe.duration_s < 3, probe  # it finished well before the bombs' deadline
    assert float(probe.stdout) < 20 * min(quiet), (probe.stdout, quiet)
    assert fork_bomb.status == "timeout" and busy.status == "timeout", (fork_bomb, busy)
    assert memory_bomb.status in ("memory", "timeout"), memory_bomb
    # And the pool is whole afterwards.
    assert all(r.passed for r in pool.run_batch(["pass"] * 8)), "pool did not recover"


# ---------------------------------------------------------------- 8. supervisor out of reach
def test_supervisor_out_of_reach(solo):
    result = run(solo, """
        import ctypes, errno, os, signal
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(1, sig)                   # another user's process: refused
                raise SystemExit("signalled PID 1")
            except PermissionError:
                pass
        for path in ("/proc/1/mem", "/proc/1/environ", "/proc/1/fd/1"):
            try:
                open(path, "rb").read(1)
                raise SystemExit(f"opened {path}")
            except PermissionError:
                pass
        try:
            os.listdir("/proc/1/fd")
            raise SystemExit("listed PID 1's descriptors")
        except PermissionError:
            pass
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.ptrace(16, 1, 0, 0) == -1 and ctypes.get_errno() == errno.EPERM  # PTRACE_ATTACH
    """)
    assert_passed(result)
    assert_passed(solo.run("pass"))  # the supervisor is still serving


def test_tests_process_out_of_reach(solo):
    """Property 10: the program and its tests run as two users; the program can neither signal,
    trace nor read the tests' process, nor kill it."""
    program = textwrap.dedent("""
        import ctypes, errno, os, signal

        def probe():
            me, seen = os.getpid(), {}
            libc = ctypes.CDLL(None, use_errno=True)
            for pid in [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]:
                outcome = []
                try:
                    os.kill(pid, signal.SIGSTOP)
                    outcome.append("signalled")
                except PermissionError:
                    pass
                for name in ("mem", "environ", "fd/3"):
                    try:
                        open(f"/proc/{pid}/{name}", "rb").read(1)
                        outcome.append(f"read {name}")
                    except (PermissionError, FileNotFoundError):
                        pass
                if libc.ptrace(16, pid, 0, 0) == 0:
                    outcome.append("traced")
                seen[pid] = outcome
            return os.getuid(), seen

        def kill_all():
            os.kill(-1, signal.SIGKILL)
    """)
    tests = textwrap.dedent("""
        import os
        uid, seen = probe()
        assert (uid, os.getuid()) == (65534, 65533), (uid, os.getuid())
        assert os.getpid() in seen and all(outcome == [] for outcome in seen.values()), seen
        kill_all()  # everything the program may signal, but itself: not the tests, not PID 1
        assert probe()[0] == 65534
    """)
    assert_passed(solo.run(program, tests=tests, timeout_s=10))


# ---------------------------------------------------------------- 9. unforgeable pass
FORGERIES = {
    "sys.exit(0)": "import sys; sys.exit(0)",
    "raise SystemExit(0)": "raise SystemExit(0)",
    "os._exit(0)": "import os; os._exit(0)",
    "exit from a thread": "import os, threading, time\nthreading.Thread(target=os._exit, args=(0,)).start()\ntime.sleep(2)",
    "SIGKILL self": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    "kill the parent": "import os, signal; os.kill(os.getppid(), signal.SIGKILL); os._exit(0)",
    "atexit os._exit": "import atexit, os; atexit.register(os._exit, 0)",
    "silent excepthook": "import sys; sys.excepthook = lambda *a: None",
    "exec /bin/true": "import os; os.execv('/bin/true', ['true'])",
    "print success": "print('All tests passed'); print('rlvr-completed ' + '0' * 32); import os; os._exit(0)",
    "fake supervisor frame": ("import json, os\nbody = json.dumps({'status': 'passed', 'exit_code': 0}).encode()\n"
                              "os.write(1, b'%d\\n' % len(body) + body); os._exit(0)"),
    "report on every fd": ("import os\nfor fd in range(3, 256):\n    try:\n"
                           "        os.write(fd, b'rlvr-completed ' + b'0' * 32)\n    except OSError:\n        pass\n"
                           "os._exit(0)"),
    "echo every fd to every fd": ("import os\ngot = b''\nfor fd in range(3, 64):\n    try:\n"
                                  "        os.set_blocking(fd, False); got += os.read(fd, 64)\n    except OSError:\n        pass\n"
                                  "for fd in range(3, 64):\n    try:\n        os.write(fd, got)\n    except OSError:\n        pass\n"
                                  "os._exit(0)"),
    "flood the report pipe": "import os\nfor _ in range(500):\n    os.write(5, b'rlvr-completed ' * 4096)\nos._exit(0)",
    "trace hook": "import sys\nsys.settrace(lambda *a: None)\nsys.setprofile(lambda *a: None)",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "abort": "import os; os.abort()",
}


def test_pass_cannot_be_forged(pool):
    failing_tests = "\nassert False, 'the appended tests ran, and fail'\n"
    names = list(FORGERIES)
    results = pool.run_batch([FORGERIES[n] + failing_tests for n in names], timeout_s=5)
    forged = {n: f"{r.status}: {r.detail}" for n, r in zip(names, results) if r.passed}
    assert not forged, forged
    assert all(r.status in ("failed", "timeout") for r in results), [(n, r.status) for n, r in zip(names, results)]
    # The same tricks placed after tests that pass change nothing: the honest run passes.
    assert_passed(pool.run("x = 1\nassert x == 1\nprint('rlvr-completed nonsense')"))


def test_known_limit_a_program_targeting_the_runner(solo):
    """The residual risk of threat-model item 9, pinned down: a program that knows this
    runner's descriptors can read the token and report for itself. If this ever stops
    passing, the proof got stronger: update the threat model, then this test."""
    result = solo.run("import os\nos.write(5, b'rlvr-completed ' + os.read(4, 64))\nos._exit(0)\nassert False")
    assert result.passed


# ---------------------------------------------------------------- pool mechanics
def test_batch_keeps_order_and_stdin(pool):
    codes = [f"import sys\nprint({i} + int(sys.stdin.read()))" for i in range(12)]
    results = pool.run_batch(codes, stdins=[str(100 * i) for i in range(12)], concurrency=4)
    assert [r.stdout.strip() for r in results] == [str(101 * i) for i in range(12)]


def test_large_stdin_and_unread_stdin(pool):
    data = "x" * (3 << 20)
    assert pool.run("import sys\nassert len(sys.stdin.read()) == 3 << 20", stdin=data).passed
    assert pool.run("print('ignores its stdin')", stdin=data).passed


def test_close_removes_every_container():
    box = docker_sandbox_or_skip(size=2)
    ids = [c.id for c in box._all]
    box.close()
    assert not _existing(box.client, ids)


def test_crashed_owner_leaves_nothing(solo):
    # A caller killed with SIGKILL gets no chance to clean up. Its containers' supervisors see
    # their stdin close, exit, and Docker removes them — with no sweep from anyone.
    program = ("import os, sys\nfrom sandbox import DockerSandbox\nbox = DockerSandbox(size=2)\n"
               "print(' '.join(c.id for c in box._all), flush=True)\nos.kill(os.getpid(), 9)\n")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    ids = out.stdout.split()
    assert len(ids) == 2, out.stderr
    deadline = time.monotonic() + 15
    while _existing(solo.client, ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _existing(solo.client, ids)


def test_orphans_of_dead_owners_are_removed(solo):
    from sandbox.container import LABEL, OWNER_LABEL
    from sandbox.docker_sandbox import remove_orphans

    dead_owner = f"{socket.gethostname()}:999999999:0"
    c = solo.client.containers.create(solo.image, ["true"], labels={LABEL: "1", OWNER_LABEL: dead_owner})
    assert c.short_id in remove_orphans(solo.client)
    assert not _existing(solo.client, [c.id])
    assert_passed(solo.run("pass"))  # our own, live owner's, containers were left alone


def _existing(client, ids) -> list[str]:
    alive = {c["Id"] for c in client.api.containers(all=True, filters={"label": "rlvr.sandbox=1"})}
    return [i for i in ids if i in alive]


def test_result_is_json_ready(solo):
    result = solo.run("print('hi')")
    assert json.loads(json.dumps(result.to_dict()))["passed"] is True


def test_killing_every_container_mid_run_costs_a_rerun_not_the_result():
    # `docker kill` of every pool container while programs run in them: each program runs once more
    # on a replacement and passes; the pool is whole again afterwards.
    import threading

    box = docker_sandbox_or_skip(size=2)
    try:
        first = {c.id for c in box._all}
        threading.Timer(1.0, lambda: [box.client.api.kill(cid) for cid in first]).start()
        results = box.run_batch(["import time; time.sleep(2); print('done')"] * 2, timeout_s=20)
        assert [(r.status, r.stdout.strip()) for r in results] == [("passed", "done")] * 2, results
        assert not {r.sandbox_id for r in results} & {cid[:12] for cid in first}  # rerun elsewhere
        assert_passed(box.run("pass"))
        assert box.health()["containers"] == 2
    finally:
        box.close()


def test_a_program_whose_containers_keep_dying_is_a_sandbox_error_naming_the_last(monkeypatch):
    import sandbox.container as container

    box = docker_sandbox_or_skip(size=1)
    try:
        killed = []

        def run_and_die(self, request, timeout_s):
            killed.append(self.short_id)
            raise container.ContainerDied(f"container {self.short_id} stopped")

        monkeypatch.setattr(container.PoolContainer, "run", run_and_die)
        result = box.run("pass")
        assert result.status == "sandbox_error" and killed[-1] in result.detail and len(killed) == box.size + 2, result
    finally:
        box.close()
