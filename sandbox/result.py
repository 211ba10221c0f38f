"""The records that cross the sandbox boundary: what to limit, and how a run ended."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["passed", "failed", "timeout", "memory", "output_limit", "sandbox_error"]
STATUSES: tuple[str, ...] = ("passed", "failed", "timeout", "memory", "output_limit", "sandbox_error")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-execution limits; each container enforces them on the one program it runs."""

    memory_mb: int = 512  # address space of each process: test programs rarely need more
    cpus: float = 1.0  # CPU share of one container: a busy loop cannot starve its neighbours
    pids: int = 128  # processes + threads of one container: a fork bomb hits this, not the host
    scratch_mb: int = 64  # size of the private /tmp (counted in the memory limit too)
    file_mb: int = 16  # largest file a program may write (RLIMIT_FSIZE)
    open_files: int = 256  # RLIMIT_NOFILE: enough for any test, too few to exhaust the host
    max_output_bytes: int = 1 << 20  # kept of stdout and of stderr each; more is `output_limit`

    def __post_init__(self) -> None:
        for name in ("memory_mb", "pids", "scratch_mb", "file_mb", "open_files", "max_output_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive, got {getattr(self, name)}")
        if self.cpus <= 0:
            raise ValueError(f"SandboxLimits.cpus must be positive, got {self.cpus}")

    def for_runner(self, timeout_s: float) -> dict:
        """The rlimits the in-sandbox runner applies to the program's process."""
        return {
            "memory_bytes": self.memory_mb << 20,
            "cpu_s": int(timeout_s) + 2,  # a backstop behind the wall clock, never the first to fire
            "file_bytes": self.file_mb << 20,
            "open_files": self.open_files,
        }


@dataclass(frozen=True)
class ExecResult:
    """How one program run ended.

    status:     "passed" (ran to its last line: proven by the runner, not claimed by the
                program), "failed" (an exception, a non-zero or early exit, a signal),
                "timeout", "memory", "output_limit", or "sandbox_error" (our fault, not the
                program's: the container broke; ``detail`` names it).
    exit_code:  the process's exit code; negative for a signal; None when we killed it.
    stdout, stderr: decoded output, at most ``max_output_bytes`` each; the flags say when cut.
    duration_s: wall time of the program inside the sandbox.
    detail:     one sentence on why this status.
    sandbox_id: the container (or "local") that ran it, for error reports.
    """

    status: Status
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_s: float = 0.0
    detail: str = ""
    sandbox_id: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown sandbox status {self.status!r}; expected one of {STATUSES}")

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    @classmethod
    def from_supervisor(cls, frame: dict, sandbox_id: str | None) -> ExecResult:
        keys = ("status", "exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated", "duration_s", "detail")
        return cls(**{k: frame[k] for k in keys}, sandbox_id=sandbox_id)


def sandbox_error(detail: str, sandbox_id: str | None = None) -> ExecResult:
    return ExecResult("sandbox_error", detail=detail, sandbox_id=sandbox_id)
