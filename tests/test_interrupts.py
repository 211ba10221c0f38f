"""Ctrl-C and SIGTERM end a run between steps: a signal inside a step's commit waits for its end."""
from __future__ import annotations

import os
import signal

import pytest

from rl.runs.interrupts import Interrupted, StopSignals


@pytest.fixture
def stops():
    s = StopSignals()
    s.install()
    yield s
    s.uninstall()


def test_sigterm_outside_a_commit_stops_at_once(stops):
    with pytest.raises(Interrupted, match="SIGTERM") as caught:
        os.kill(os.getpid(), signal.SIGTERM)
    assert caught.value.signal_number == signal.SIGTERM


def test_a_signal_during_a_commit_waits_for_its_end(stops):
    finished = []
    with pytest.raises(Interrupted, match="SIGINT: stopped after the step in progress"):
        with stops.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished.append("update, sync, log, save")
    assert finished == ["update, sync, log, save"]


def test_a_second_signal_during_a_commit_stops_at_once(stops):
    with pytest.raises(Interrupted, match="^SIGTERM$"):
        with stops.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("the second signal did not stop the commit")


def test_uninstall_gives_back_the_previous_handlers():
    before = signal.getsignal(signal.SIGTERM)
    s = StopSignals()
    s.install()
    assert signal.getsignal(signal.SIGTERM) != before
    s.uninstall()
    assert signal.getsignal(signal.SIGTERM) == before
