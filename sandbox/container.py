"""One warm pool container: create it locked down, talk to its supervisor, throw it away.

The host speaks to the supervisor (PID 1) over the container's attached stdin and
stdout — no network, no shared files. Because the container is created with
``stdin_once``, the supervisor sees end-of-file when the host process dies, for
any reason, and the container stops and removes itself (``auto_remove``).
"""
from __future__ import annotations

import os
import select
import socket
import struct
import time
from pathlib import Path

from sandbox.result import SandboxLimits
from sandbox.supervisor import FrameReader, encode_frame

LABEL = "rlvr.sandbox"  # every container we create carries it: cleanup finds them by it
OWNER_LABEL = "rlvr.sandbox.owner"  # host:pid:start-time of the creating process
_HERE = Path(__file__).parent
SUPERVISOR_SOURCE = (_HERE / "supervisor.py").read_text()
# The plain-data codec first: both runners use it (the program's to answer, the tests' to ask).
RUNNER_SOURCE = "\n".join((_HERE / name).read_text() for name in ("wire.py", "child.py"))
TESTS_SOURCE = "\n".join((_HERE / name).read_text() for name in ("wire.py", "tests_runner.py"))
# PID 1 starts as root, only to give the program and the tests users of their own; it keeps
# these for itself and empties the bounding set, so nothing it starts can regain one.
SUPERVISOR_CAPS = ["SETUID", "SETGID", "KILL", "DAC_OVERRIDE", "FOWNER", "SETPCAP"]
_STDOUT, _STDERR = 1, 2


class ContainerGone(RuntimeError):
    """The container stopped answering; the message says what we know."""


class ContainerDied(ContainerGone):
    """The container is gone (killed, removed, its engine restarted): our connection to it closed.
    Unlike a supervisor that did not answer in time, nothing the program did need explain it."""


def owner_label(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start_time(pid)}"


def process_start_time(pid: int) -> str:
    """Start time in clock ticks since boot: with the pid, it names a process uniquely."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def container_config(client, image: str, limits: SandboxLimits, runtime: str | None = None) -> dict:
    """Keyword arguments for ``APIClient.create_container``: the whole lockdown in one place."""
    from docker.types import Ulimit

    memory = f"{limits.memory_mb + limits.scratch_mb + 96}m"  # + tmpfs pages + supervisor + idle runner
    file_bytes = limits.file_mb << 20
    host_config = client.api.create_host_config(
        network_mode="none",  # no interface but loopback: no egress, no route to the host
        read_only=True,
        tmpfs={"/tmp": f"rw,nosuid,nodev,noexec,size={limits.scratch_mb}m,mode=1777"},
        shm_size=4 << 20,
        cap_drop=["ALL"],
        cap_add=SUPERVISOR_CAPS,
        security_opt=["no-new-privileges"],
        pids_limit=limits.pids,
        mem_limit=memory,
        memswap_limit=memory,  # equal: no swap to hide a memory bomb in
        nano_cpus=int(limits.cpus * 1e9),
        ulimits=[Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                 Ulimit(name="fsize", soft=file_bytes, hard=file_bytes),
                 Ulimit(name="core", soft=0, hard=0)],
        ipc_mode="private",
        auto_remove=True,
        runtime=runtime,  # e.g. "runsc" (gVisor) where installed, for a kernel of its own
    )
    return dict(
        image=image,
        command=["python3", "-I", "-S", "-c", SUPERVISOR_SOURCE, RUNNER_SOURCE, TESTS_SOURCE],
        user="0:0",
        working_dir="/tmp",
        environment={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
        hostname="sandbox",
        stdin_open=True,  # with detach=False the SDK also sets StdinOnce: our hang-up closes it
        tty=False,
        network_disabled=True,
        labels={LABEL: "1", OWNER_LABEL: owner_label(), "rlvr.sandbox.image": image},
        host_config=host_config,
    )


class PoolContainer:
    """A started container whose supervisor is waiting for a request."""

    def __init__(self, client, image: str, limits: SandboxLimits, runtime: str | None = None) -> None:
        self.client = client
        self.id = client.api.create_container(**container_config(client, image, limits, runtime))["Id"]
        self.short_id = self.id[:12]
        self.uses = 0
        self._frames: list[dict] = []
        self._reader = FrameReader()
        self._muxed = bytearray()  # attach-stream bytes not yet split into stdout/stderr payloads
        self._stderr_tail = b""
        self._awaiting_ready = False
        try:
            # The SDK's attach_socket, minus dropping the response: we keep it so that
            # nothing can close or reuse the hijacked connection behind our back.
            self._response = client.api.post(
                client.api._url("/containers/{0}/attach", self.id), None,
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}, stream=True,
                headers={"Connection": "Upgrade", "Upgrade": "tcp"})
            raw = client.api._get_raw_response_socket(self._response)
            self._sock = getattr(raw, "_sock", raw)
            client.api.start(self.id)
        except Exception:
            self.destroy()
            raise

    # -- talking to the supervisor
    def run(self, request: dict, timeout_s: float) -> dict:
        """Send one request; return the supervisor's result frame."""
        self.wait_ready(timeout_s)
        self.uses += 1
        try:
            self._sock.sendall(encode_frame(request))
        except OSError as exc:
            raise ContainerDied(f"container {self.short_id}: request could not be sent: {exc}") from exc
        frame = self._next_frame(time.monotonic() + timeout_s)
        self._awaiting_ready = True
        return frame

    def wait_ready(self, timeout_s: float) -> None:
        """Wait for the supervisor's all-clean after the previous run (usually already here)."""
        if not self._awaiting_ready:
            return
        frame = self._next_frame(time.monotonic() + timeout_s)
        self._awaiting_ready = False
        if not frame.get("ready"):
            raise ContainerGone(f"container {self.short_id} is not clean after its last run: {frame.get('reason')}")

    def _next_frame(self, deadline: float) -> dict:
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._sock], [], [], left)[0]:
                raise ContainerGone(f"container {self.short_id}: supervisor did not answer in time")
            data = self._sock.recv(1 << 16)
            if not data:
                raise ContainerDied(f"container {self.short_id} stopped{self._last_words()}")
            self._demux(data)
        return self._frames.pop(0)

    def _demux(self, data: bytes) -> None:
        # Docker's attach stream without a TTY: 8-byte headers (stream, 0, 0, 0, length).
        self._muxed += data
        while len(self._muxed) >= 8:
            stream, size = struct.unpack(">BxxxL", self._muxed[:8])
            if len(self._muxed) < 8 + size:
                return
            payload = bytes(self._muxed[8 : 8 + size])
            del self._muxed[: 8 + size]
            if stream == _STDOUT:
                self._frames += self._reader.feed(payload)
            else:  # the supervisor's own stderr: only a crash writes there
                self._stderr_tail = (self._stderr_tail + payload)[-2000:]

    def _last_words(self) -> str:
        text = self._stderr_tail.decode("utf-8", "replace").strip()
        return f"; supervisor said: {text[-500:]}" if text else ""

    def alive(self) -> bool:
        """False once the supervisor has hung up (it exits when it cannot stay clean)."""
        try:
            readable = select.select([self._sock], [], [], 0)[0]
            return not readable or self._sock.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def hang_up(self) -> None:
        """Close our end: the supervisor sees end-of-file, kills its program and exits, and the
        container removes itself (``auto_remove``)."""
        sock = getattr(self, "_sock", None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def destroy(self) -> None:
        """Hang up and remove the container; safe to call twice, or on a dead one."""
        import docker.errors

        self.hang_up()
        try:
            self.client.api.remove_container(self.id, force=True)
        except docker.errors.APIError:
            pass  # already gone, or being removed by auto_remove
