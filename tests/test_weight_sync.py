"""Weight sync to separate rollout actors: buckets, transport choice, a gloo broadcast, and on Ray end to end."""
from __future__ import annotations

import json
import os
import socket
import threading

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from rl.config import DataConfig, RolloutConfig
from rl.config.loader import load_config
from rl.data.records import TrainSequence
from rl.engine.policy import load_policy
from rl.engine.rollout import RolloutWorker
from rl.engine.weight_sync import Endpoint, TensorSpec, WeightChannel, WeightSyncError, buckets, check_plan, tensor_specs, transport
from tests.test_grpo import ROOT, TINY


def spec(name: str, n: int, dtype: str = "float32") -> TensorSpec:
    return TensorSpec(name, (n,), dtype)


@pytest.mark.parametrize("plan, bucket_bytes, expected", [
    ([spec("a", 4), spec("b", 4)], 32, [["a", "b"]]),  # exactly full
    ([spec("a", 4), spec("b", 4), spec("c", 1)], 32, [["a", "b"], ["c"]]),
    ([spec("a", 1), spec("big", 100), spec("c", 1)], 32, [["a"], ["big"], ["c"]]),  # too big for any bucket: its own
    ([spec("a", 1), spec("b", 1, "bfloat16"), spec("c", 1, "bfloat16")], 1024, [["a"], ["b", "c"]]),  # one dtype per bucket
])
def test_buckets(plan, bucket_bytes, expected):
    assert [[s.name for s in bucket] for bucket in buckets(plan, bucket_bytes)] == expected


def end(*, node: str = "n", gpus: tuple[str, ...] = (), device: str = "cpu", tensors=(spec("w", 4),)) -> Endpoint:
    return Endpoint(node, gpus, device, tuple(tensors))


@pytest.mark.parametrize("mode, learner, rollouts, expected", [
    ("auto", end(), [end(), end()], "gloo"),
    ("collective", end(device="cuda", gpus=("0",)), [end(device="cuda", gpus=("1",))], "nccl"),
    ("auto", end(device="cuda", gpus=("0",)), [end(device="cuda", gpus=("0",))], "object_store"),  # shared GPU: fallback
    ("auto", end(device="cuda", gpus=("0",)), [end(node="m", device="cuda", gpus=("0",))], "nccl"),  # GPU 0 of another node
    ("auto", end(device="cuda", gpus=("0",)), [end(device="cpu")], "gloo"),
    ("object_store", end(), [end()], "object_store"),
])
def test_transport(mode, learner, rollouts, expected):
    assert transport(mode, learner, rollouts)[0] == expected


def test_transport_refuses_a_shared_gpu_when_the_collective_is_asked_for():
    with pytest.raises(WeightSyncError, match="rollout.colocate: true"):
        transport("collective", end(device="cuda", gpus=("0",)), [end(device="cuda", gpus=("0",))])


def test_auto_falls_back_to_the_object_store_when_learner_0_holds_other_tensors():
    learner, rollouts = end(tensors=[spec("base_model.w", 4)]), [end()]  # e.g. an unmerged LoRA model
    assert transport("auto", learner, rollouts)[0] == "object_store"
    with pytest.raises(WeightSyncError, match="no tensor 'w'"):
        transport("collective", learner, rollouts)


@pytest.mark.parametrize("learner, rollouts, match", [
    (end(tensors=[spec("w", 4)]), [end(tensors=[spec("v", 4)])], "no tensor 'v'"),
    (end(tensors=[spec("w", 5)]), [end(tensors=[spec("w", 4)])], "shape"),
    (end(), [end(), end(tensors=[spec("w", 4, "bfloat16")])], "rollout actor 1"),
])
def test_plans_must_match(learner, rollouts, match):
    with pytest.raises(WeightSyncError, match=match):
        check_plan(learner, rollouts)


def test_gloo_broadcast_gives_two_workers_exactly_the_senders_weights(model_path):
    """Learner 0 and two rollout workers as threads of one process: the same gloo group as across actors."""
    sender, _ = load_policy(model_path)
    with torch.no_grad():
        for p in sender.parameters():
            p.add_(torch.randn_like(p))
    workers = [RolloutWorker(model_path, DataConfig(), RolloutConfig(), device="cpu") for _ in range(2)]
    plan = tensor_specs(workers[0].model.state_dict())
    assert len(plan) < len(sender.state_dict())  # the tied embedding travels once
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    errors = []

    def member(rank: int) -> None:
        try:
            channel = WeightChannel("127.0.0.1", port, rank=rank, world_size=3, backend="gloo", plan=plan, timeout_s=30,
                                    bucket_bytes=8 << 10)  # small buckets: several of them, and a tensor bigger than one
            if rank == 0:
                channel.send(sender.state_dict(), version=5)
            else:
                channel.receive(5, workers[rank - 1].load_weights)
        except Exception as exc:  # surfaced below: an exception in a thread would vanish
            errors.append(exc)

    threads = [threading.Thread(target=member, args=(rank,)) for rank in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(buckets(plan, 8 << 10)) > 2
    expected = sender.state_dict()
    for worker in workers:
        got = worker.model.state_dict()
        assert got.keys() == expected.keys()
        for key in expected:
            assert torch.equal(got[key], expected[key]), key


@pytest.fixture(scope="module")
def ray_local():
    """One Ray runtime for the module's Ray tests (the first ``start_ray`` starts it): starting one costs seconds."""
    import ray

    yield
    ray.shutdown()


def _weights_of(actor) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in actor.worker.model.state_dict().items()}


@pytest.mark.ray
def test_two_rollout_actors_hold_learner_0s_weights_after_a_sync(tmp_path, ray_local):
    import ray

    from rl.data.tasks import arithmetic
    from rl.engine.actors import Cluster
    from rl.engine.policy import ensure_model
    from rl.loops.grpo import start_ray

    config = load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [f"run.out_dir={tmp_path}", "rollout.num_actors=2"])
    start_ray(config)
    cluster = Cluster(config, str(ensure_model(config)))
    try:
        assert cluster.weight_sync == "gloo"  # auto: the collective, over gloo on CPU
        for version in (1, 2):
            cluster.sft_step([TrainSequence((1, 2, 3), (4, 5, 6), 0.0)] * 2, num_tokens=6)  # the learner's weights move
            cluster.sync_weights(version)
            learner = ray.get(cluster.learners[0].get_weights.remote())
            for actor in cluster.rollouts:
                held = ray.get(actor.__ray_call__.remote(_weights_of))
                assert held.keys() == learner.keys()
                assert all(torch.equal(held[k], learner[k]) for k in learner), f"after sync {version}"
        groups = cluster.generate(arithmetic(2, 1, seed=0)[0], 2, temperature=1.0, seed=0)  # one prompt per actor
        assert {r.policy_version for g in groups for r in g.rollouts} == {2}
    finally:
        cluster.shutdown()


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.parametrize("mode, expected", [("collective", "gloo"), ("object_store", "object_store")])
def test_two_grpo_steps_with_each_weight_sync(tmp_path, ray_local, mode, expected):
    from rl.loops.grpo import train

    out = tmp_path / "run"
    overrides = TINY + [f"run.out_dir={out}", f"rollout.weight_sync={mode}", "sft.steps=0",
                        "run.eval_every=0", "data.n_eval=2"]
    summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", overrides))
    assert summary["weight_sync"] == expected and summary["rl_steps"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
