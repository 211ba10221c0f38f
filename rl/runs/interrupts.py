"""Ctrl-C and SIGTERM end a run where its last completed step can be saved.

A preempted job gets SIGTERM first (SIGKILL follows after a grace period); Ctrl-C is SIGINT.
Either raises ``Interrupted`` (a ``KeyboardInterrupt``) in the main thread, and the loop's
crash path saves the last completed step. A signal that arrives while a step is being
committed (the learners updating, their weights between two steps, until the step is logged)
waits for the commit to end: the step it ends on is then a whole one. A second signal stops at once.

    stops = StopSignals()
    stops.install()
    try:
        ...
        with stops.deferred():   # update, sync, log: a signal here ends the run after this block
            ...
    finally:
        stops.uninstall()
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop by ``signal_number`` (the message names it)."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number


class StopSignals:
    def __init__(self) -> None:
        self.pending: signal.Signals | None = None  # a signal that came while deferring
        self._deferring = False
        self._previous: dict[signal.Signals, object] = {}

    def install(self) -> None:
        """Our handler for SIGINT and SIGTERM until ``uninstall``. Off the main thread (where Python cannot
        install handlers, e.g. a run started from a test's thread) this does nothing."""
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A signal inside this block stops the run when the block ends, not in the middle of it."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self.pending:
            raise Interrupted(f"{self.pending.name}: stopped after the step in progress", self.pending)

    def _handle(self, signum: int, _frame) -> None:
        received = signal.Signals(signum)
        if self._deferring and self.pending is None:
            self.pending = received
            print(f"{received.name}: stopping once this step is done (again to stop at once)", flush=True)
            return
        raise Interrupted(received.name, received)
