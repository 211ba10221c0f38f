"""The typed result every verifier returns.

A verdict keeps "could not judge" apart from "judged wrong": a reward pipeline
must never read a timeout or a crash as a wrong answer (nor as a right one).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "no_answer", "invalid_reference", "timeout", "error"]
STATUSES: tuple[str, ...] = ("ok", "no_answer", "invalid_reference", "timeout", "error")
# The verifier could not judge at all: the completion's reward is no evidence either way
# (no_answer is a judgement: the completion gave none, which is wrong).
UNJUDGED_STATUSES = frozenset({"invalid_reference", "timeout", "error"})


@dataclass(frozen=True)
class Verdict:
    """How one completion fared against its reference.

    score:     in [0, 1]; meaningful when status is "ok" (0 otherwise).
    status:    "ok" (judged), "no_answer" (nothing to extract), "invalid_reference"
               (the reference itself cannot be understood), "timeout", "error".
    extracted: the final answer taken from the completion, if any.
    reason:    one human-readable sentence on why.
    """

    score: float
    status: Status = "ok"
    extracted: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; expected one of {STATUSES}")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"verdict score must be in [0, 1], got {self.score}")

    @property
    def judged(self) -> bool:
        """A judgement was made: status ``ok`` (scored) or ``no_answer`` (wrong). Training, eval and mining
        use judged samples only; the rest are ``unjudged``."""
        return not self.unjudged

    @property
    def unjudged(self) -> bool:
        """The verifier could not judge (timeout, error, bad reference): no evidence either way."""
        return self.status in UNJUDGED_STATUSES

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Verdict:
        return cls(
            score=float(data["score"]),
            status=data.get("status", "ok"),
            extracted=data.get("extracted"),
            reason=data.get("reason", ""),
        )


def correct(extracted: str | None, reason: str = "equivalent to the reference") -> Verdict:
    return Verdict(1.0, "ok", extracted, reason)


def wrong(extracted: str | None, reason: str) -> Verdict:
    return Verdict(0.0, "ok", extracted, reason)


def unjudged(status: Status, reason: str, extracted: str | None = None) -> Verdict:
    return Verdict(0.0, status, extracted, reason)
