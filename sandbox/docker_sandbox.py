"""``DockerSandbox``: a warm pool of locked-down containers that run one program at a time.

    >>> from sandbox import DockerSandbox
    >>> with DockerSandbox(size=2) as box:                      # doctest: +SKIP
    ...     box.run("def add(a, b): return a + b\\nassert add(2, 2) == 4").passed
    True

Why a pool: ``docker run`` costs a container's creation per execution (hundreds of
milliseconds); here containers are created once and each execution costs a pipe
write and a process already started by the supervisor. What keeps executions apart
although containers are reused is described in ``sandbox/__init__.py``.

A container that dies (``docker kill``, ``docker rm -f``, an engine restart) is replaced off the
caller's path, idle or busy; the program it was running runs again on another container (up to
pool size + 2 tries: a kill of every container at once must not use up the rerun on a container
that is dead but not yet known to be), then is a ``sandbox_error`` naming the last one (the
verifier's ``error``, unjudged). A container that is alive but does not answer in time is not rerun: that costs its
deadline once, not twice.
"""
from __future__ import annotations

import atexit
import os
import queue
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from sandbox.batch import run_batch
from sandbox.container import LABEL, OWNER_LABEL, ContainerDied, ContainerGone, PoolContainer, process_start_time
from sandbox.image import image_exists, image_tag
from sandbox.result import ExecResult, SandboxLimits, sandbox_error

_REPLY_MARGIN_S = 15.0  # beyond the program's own limit, for a supervisor starved of CPU
_MAX_USES = 2000  # recycle a container after this many runs, for hygiene only


class SandboxUnavailable(RuntimeError):
    """No Docker engine, or no sandbox image: the message says which and how to fix it."""


class DockerSandbox:
    """Run untrusted Python in a pool of warm containers.

    image:  image tag; defaults to the current recipe's (``rlvr sandbox build-image``).
    size:   containers kept warm; also the most executions that run at once.
    limits: per-execution limits, see ``SandboxLimits``.
    runtime: a Docker runtime other than the default, e.g. "runsc" for gVisor.
    """

    def __init__(self, image: str | None = None, *, size: int = 4, limits: SandboxLimits = SandboxLimits(),
                 runtime: str | None = None, client=None) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.image = image or image_tag()
        self.size = size
        self.limits = limits
        self.runtime = runtime
        self.client = client or connect()
        if not image_exists(self.client, self.image):
            raise SandboxUnavailable(f"sandbox image {self.image} not found; build it with "
                                     "`rlvr sandbox build-image --offline` (or without --offline where a registry is reachable)")
        self._pid = os.getpid()
        self._idle: queue.Queue[PoolContainer] = queue.Queue()
        self._all: set[PoolContainer] = set()
        self._lock = threading.Lock()
        self._starting = 0  # replacements under way: while any are, a waiting run keeps waiting
        self._closed = False
        self.last_error: str | None = None
        remove_orphans(self.client)
        with ThreadPoolExecutor(max_workers=size) as ex:
            started = list(ex.map(lambda _: self._try_start(), range(size)))
        if not any(started):
            self.close()
            raise SandboxUnavailable(f"no sandbox container could be started: {self.last_error}")
        _live_sandboxes.add(self)

    # -- running programs
    def run(self, code: str, *, stdin: str | None = None, timeout_s: float = 10.0, tests: str | None = None,
            plain_results: bool = True, mutates: bool = False, entry_point: str | None = None) -> ExecResult:
        """Run ``code`` to its end, a limit, or a failure.

        tests:         test code run in a process of its own, as another user, calling the program's
                       functions through stand-ins that carry only plain data (threat model,
                       property 10); ``passed`` then means the tests ran to their end. Without it,
                       ``passed`` proves only that ``code`` (tests appended, if any) ran to its end.
        plain_results: with ``tests``: every call must return plain data. False for tasks whose
                       results are objects by design: they stay in the program's process, and the
                       tests hold handles whose every use is a request to it.
        mutates:       with ``tests``: each call also sends back the program's copy of its arguments,
                       put into the tests' own (for tests that check changes made in place).
        entry_point:   with ``tests``: a name the tests must get from the program, even one that
                       shadows a builtin (other such names stay the builtins in the tests).
        """
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._check_usable()
        request = {"code": code, "stdin": stdin, "timeout_s": timeout_s, "cwd": "/tmp",
                   "tests": tests, "plain_results": plain_results, "mutates": mutates, "entry_point": entry_point,
                   "max_output_bytes": self.limits.max_output_bytes, "limits": self.limits.for_runner(timeout_s)}
        for _ in range(self.size + 2):  # every container may have turned out unclean, or died, at once
            box = self._take()
            if box is None:
                return sandbox_error(f"no sandbox container could be started: {self.last_error}")
            try:
                box.wait_ready(_REPLY_MARGIN_S)
            except ContainerGone as exc:  # unclean after its last run: replace it, use another
                self._recycle(box, str(exc))
                continue
            try:
                frame = box.run(request, timeout_s + _REPLY_MARGIN_S)
            except ContainerGone as exc:
                self._recycle(box, str(exc))
                if not isinstance(exc, ContainerDied):
                    return sandbox_error(str(exc), box.short_id)
                # Killed under the program, through no fault of the program's: again on another container.
                # Not just once: when every container is killed at once, the next one taken may be dead
                # too without knowing it yet (the chaos test saw it); the loop's bound still ends it.
                continue
            self._give_back(box)
            return ExecResult.from_supervisor(frame, box.short_id)
        return sandbox_error(f"sandbox containers keep failing: {self.last_error}")

    def run_batch(self, codes: Sequence[str], *, stdins: Sequence[str | None] | None = None,
                  timeout_s: float = 10.0, concurrency: int | None = None,
                  tests: Sequence[str | None] | None = None, plain_results: bool = True,
                  mutates: bool = False, entry_point: str | None = None) -> list[ExecResult]:
        """Run many programs, at most ``concurrency`` (default: pool size) at once; results in order."""
        return run_batch(self.run, codes, stdins, timeout_s, min(concurrency or self.size, self.size), tests,
                         plain_results=plain_results, mutates=mutates, entry_point=entry_point)

    # -- pool bookkeeping
    def _take(self) -> PoolContainer | None:
        """The container idle longest; waits while others are busy, gives up when none can be had."""
        restarted = False
        while True:
            try:
                box = self._idle.get(timeout=0.5)
            except queue.Empty:
                with self._lock:
                    empty = not self._all and not self._starting
                if empty and restarted:
                    return None
                if empty:  # e.g. the engine restarted and took every container with it
                    restarted = True
                    self._try_start()
                continue
            if box.alive():
                return box
            self._recycle(box, f"container {box.short_id} exited while idle")

    def _give_back(self, box: PoolContainer) -> None:
        if box.uses >= _MAX_USES:
            self._recycle(box, None)
        else:
            self._idle.put(box)

    def _recycle(self, box: PoolContainer, fault: str | None) -> None:
        """Throw ``box`` away and start a replacement, both off the caller's path."""
        if fault:
            self.last_error = fault
        with self._lock:
            self._all.discard(box)
            self._starting += 1
        threading.Thread(target=self._replace, args=(box,), daemon=True).start()

    def _replace(self, box: PoolContainer) -> None:
        try:
            box.destroy()
            if not self._closed:
                self._try_start()
        finally:
            with self._lock:
                self._starting -= 1

    def _try_start(self) -> bool:
        try:
            box = PoolContainer(self.client, self.image, self.limits, self.runtime)
        except Exception as exc:  # engine trouble: keep the reason for the next sandbox_error
            self.last_error = f"could not start a container: {type(exc).__name__}: {exc}"
            return False
        with self._lock:
            if self._closed:
                box.destroy()
                return False
            self._all.add(box)
        self._idle.put(box)
        return True

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("this DockerSandbox is closed")
        if os.getpid() != self._pid:
            raise RuntimeError("a DockerSandbox cannot cross a fork; create one in each process")

    def health(self) -> dict:
        """Counts for ``rlvr sandbox doctor``: containers held, idle now, and the last fault."""
        with self._lock:
            held = len(self._all)
        return {"image": self.image, "size": self.size, "containers": held, "idle": self._idle.qsize(),
                "last_error": self.last_error}

    def close(self) -> None:
        """Remove every container this sandbox created. Idempotent.

        Starts no thread, so that it also works from an ``atexit`` hook, after the interpreter
        has shut its executors down: hanging up first makes every supervisor stop its
        container at once, in parallel; the removals that follow then only confirm it.
        """
        if getattr(self, "_closed", True) or os.getpid() != self._pid:
            return
        self._closed = True
        with self._lock:
            boxes, self._all = list(self._all), set()
        for box in boxes:
            box.hang_up()
        for box in boxes:
            box.destroy()
        _live_sandboxes.discard(self)

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect():
    """A Docker client, or ``SandboxUnavailable`` saying why not."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:
        raise SandboxUnavailable(f"no Docker engine answers ({type(exc).__name__}: {exc}); "
                                 "start dockerd, or run .ci/docker.sh") from exc


def orphaned_containers(client) -> list[str]:
    """Ids of sandbox containers whose creating process on this host is gone (a crash, a kill -9)."""
    import socket

    found = []
    # The low-level list: one call, and no per-container inspect to trip over one being removed.
    for c in client.api.containers(all=True, filters={"label": f"{LABEL}=1"}):
        host, _, rest = (c.get("Labels") or {}).get(OWNER_LABEL, "").partition(":")
        pid, _, started = rest.partition(":")
        if host != socket.gethostname():
            continue  # created from another machine or container sharing this engine: not ours to judge
        if not (pid.isdigit() and process_start_time(int(pid)) == started):
            found.append(c["Id"])
    return found


def remove_orphans(client) -> list[str]:
    """Remove the ``orphaned_containers``; returns their short ids."""
    import docker.errors

    removed = []
    for cid in orphaned_containers(client):
        try:
            client.api.remove_container(cid, force=True)
            removed.append(cid[:12])
        except docker.errors.APIError:
            pass  # removed meanwhile (auto_remove) or by another caller's sweep
    return removed


_live_sandboxes: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()


@atexit.register
def _close_live_sandboxes() -> None:
    for box in list(_live_sandboxes):
        box.close()
