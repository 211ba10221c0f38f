"""The verifier pool: hard per-item deadlines, input order, faults isolated to their item."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from verifiers import VerifierNotFound, VerifierPool, VerifyRequest, get_verifier, list_verifiers, score_batch

FAULTY = "tests.helpers.faulty_verifiers"


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(f"{FAULTY}:echo_after", workers=2, timeout_s=1.5) as p:
        yield p


def test_keeps_input_order_when_items_finish_out_of_order(pool):
    delays = [0.3, 0.0, 0.2, 0.0, 0.1, 0.0]
    requests = [VerifyRequest(str(i), str(i) if i % 2 else "x", {"delay": d}) for i, d in enumerate(delays)]
    verdicts = pool.score(requests)
    assert [v.extracted for v in verdicts] == [str(i) for i in range(len(delays))]
    assert [v.score for v in verdicts] == [0.0, 1.0] * 3


def test_hang_and_busy_loop_time_out_alone(pool):
    requests = [
        VerifyRequest("a", "a"),
        VerifyRequest("b", "b", verifier="tests.helpers.toy_verifiers:hang", item_id="sleeper"),
        VerifyRequest("c", "c", verifier=f"{FAULTY}:spin", item_id="spinner"),
        VerifyRequest("d", "d"),
    ]
    start = time.perf_counter()
    verdicts = pool.score(requests)
    assert time.perf_counter() - start < 10
    assert [v.status for v in verdicts] == ["ok", "timeout", "timeout", "ok"]
    assert "sleeper" in verdicts[1].reason and "spinner" in verdicts[2].reason
    # The pool replaced its killed workers and still works.
    assert pool.score([VerifyRequest("e", "e")])[0].score == 1.0


def test_exceptions_crashes_and_bad_returns_are_errors_naming_the_item(pool):
    verdicts = pool.score([
        VerifyRequest("a", "a", verifier="tests.helpers.toy_verifiers:explode", item_id="q7"),
        VerifyRequest("b", "b", verifier=f"{FAULTY}:crash", item_id="q8"),
        VerifyRequest("c", "c", verifier=f"{FAULTY}:bad_return", item_id="q9"),
        VerifyRequest("d", "d"),
    ])
    assert [v.status for v in verdicts] == ["error", "error", "error", "ok"]
    assert "q7" in verdicts[0].reason and "RuntimeError" in verdicts[0].reason
    assert "q8" in verdicts[1].reason and "died" in verdicts[1].reason
    assert "q9" in verdicts[2].reason
    assert all(v.score == 0.0 for v in verdicts[:3])


def test_a_worker_killed_mid_item_is_replaced_and_the_item_judged_on_another(pool, tmp_path):
    marker = tmp_path / "kill-me"
    marker.touch()
    reruns = pool.reruns
    verdicts = pool.score([VerifyRequest("a", "a", {"marker": str(marker)}, verifier=f"{FAULTY}:killed_once", item_id="k1"),
                           VerifyRequest("b", "b")])
    assert not marker.exists(), "the worker was never killed"
    assert [(v.status, v.score) for v in verdicts] == [("ok", 1.0), ("ok", 1.0)]  # judged, not lost to the kill
    assert pool.reruns == reruns + 1
    assert pool.score([VerifyRequest(str(i), str(i)) for i in range(4)])[3].score == 1.0  # both workers serve again


def test_a_worker_killed_while_idle_leaves_a_pool_that_still_judges():
    # pebble gives a pool up for good when a worker dies while no item runs ("All workers expired"):
    # the OOM killer between two batches must not stop a run's scoring.
    with VerifierPool(f"{FAULTY}:worker_pid", workers=1, timeout_s=5) as pool:
        (first,) = pool.score([VerifyRequest("a", "a")])
        os.kill(int(first.extracted), signal.SIGKILL)
        time.sleep(1.0)  # the pool's manager sees the death
        verdicts = pool.score([VerifyRequest(str(i), str(i), item_id=str(i)) for i in range(3)])
        assert [(v.status, v.score) for v in verdicts] == [("ok", 1.0)] * 3
        assert int(verdicts[0].extracted) != int(first.extracted)
        assert pool.pool_restarts == 1


def test_items_held_by_a_pool_that_breaks_are_judged_again():
    # A worker killed while idle as a batch goes in: the items the broken pool held, or took in at that
    # moment, run once more on a fresh pool instead of waiting forever.
    with VerifierPool(f"{FAULTY}:echo_after", workers=1, timeout_s=5) as pool:
        (first,) = pool.score([VerifyRequest("a", "a", verifier=f"{FAULTY}:worker_pid")])
        os.kill(int(first.extracted), signal.SIGKILL)
        verdicts = pool.score([VerifyRequest(str(i), str(i), {"delay": 0.05}, item_id=str(i)) for i in range(20)])
        assert [(v.status, v.score) for v in verdicts] == [("ok", 1.0)] * 20


def test_timeout_from_a_worker_thread():
    out = {}

    def work():
        out["verdicts"] = score_batch(["1", "2"], ["1", "2"], "tests.helpers.toy_verifiers:hang", timeout_s=1.0)

    thread = threading.Thread(target=work)
    start = time.perf_counter()
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [v.status for v in out["verdicts"]] == ["timeout", "timeout"]
    assert time.perf_counter() - start < 15


def test_math_through_the_pool():
    # A tower beyond evaluation is judged wrong (issue 19): a timeout would mask it, unpenalised.
    verdicts = score_batch([r"\boxed{\frac12}", "It is 1 or 2", r"\boxed{9^{9^{9^{9}}}}"], ["0.5", "1", "1"], timeout_s=5)
    assert [(v.status, v.score) for v in verdicts] == [("ok", 1.0), ("ok", 0.0), ("ok", 0.0)]


def test_unknown_verifier_fails_loudly():
    with pytest.raises(VerifierNotFound, match="nope"):
        get_verifier("nope")
    with pytest.raises(VerifierNotFound, match="no attribute"):
        VerifierPool("tests.helpers.faulty_verifiers:missing")


@pytest.mark.ray
def test_timeout_inside_a_ray_actor():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        @ray.remote
        class Scorer:
            def score(self):
                verdicts = score_batch(["x", r"\boxed{2}"], ["x", "2"], "tests.helpers.toy_verifiers:hang", timeout_s=1.0)
                math = score_batch([r"\boxed{2}"], ["2"], "math", timeout_s=5.0)
                return [v.status for v in verdicts] + [math[0].score]

        scorer = Scorer.remote()
        assert ray.get(scorer.score.remote(), timeout=120) == ["timeout", "timeout", 1.0]
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_plugin_registered_through_an_entry_point(tmp_path):
    plugin = Path(__file__).parent / "plugins" / "rlvr_plugin_example"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(tmp_path), str(plugin)],
        check=True, capture_output=True,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib
        importlib.invalidate_caches()
        assert ("casefold", "entry point (rlvr_plugin_example:casefold_match)") in list_verifiers()
        verdict = get_verifier("casefold")("The colour is\nBLUE", "blue")
        assert (verdict.status, verdict.score, verdict.extracted) == ("ok", 1.0, "BLUE")
    finally:
        sys.path.remove(str(tmp_path))
