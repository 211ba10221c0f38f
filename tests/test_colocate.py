"""Colocated placement: learners sample their own rollouts from their own weights, nothing transferred."""
from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from rl.config import AlgorithmConfig, DataConfig, LearnerConfig, RolloutConfig
from rl.config.loader import load_config
from rl.data.records import TrainSequence
from rl.data.tasks import arithmetic
from rl.engine.colocated import ColocatedSampling
from rl.engine.learner import Learner
from rl.engine.rollout import RolloutWorker
from tests.test_grpo import ROOT, TINY

ROLLOUT = RolloutConfig(max_new_tokens=8, group_size=2)
PROMPTS = arithmetic(3, 1, seed=0)[0]


def _rollouts(groups):
    return [(r.prompt.id, r.completion_ids, r.finished, r.policy_version) for g in groups for r in g.rollouts]


class ColocatedLearner(Learner, ColocatedSampling):
    """A learner that samples, as ``LearnerActor`` is, without Ray."""


def _learner(model_path) -> Learner:
    learner = ColocatedLearner(model_path, LearnerConfig(lr=1e-2, device="cpu"), AlgorithmConfig())
    learner.attach_sampler(DataConfig(), ROLLOUT)
    return learner


def _batch(groups) -> list[TrainSequence]:
    return [TrainSequence(r.prompt_ids, r.completion_ids, advantage=float(i % 2) - 0.5)
            for g in groups for i, r in enumerate(g.rollouts) if r.completion_ids]


def test_learner_samples_what_a_rollout_worker_with_its_weights_samples(model_path):
    learner = _learner(model_path)
    worker = RolloutWorker(model_path, DataConfig(), ROLLOUT, device="cpu")
    initial = learner.get_weights()
    for version in (0, 1):  # the initial weights, then the learner's after an update
        mine = learner.generate(PROMPTS, 2, temperature=1.0, seed=7, version=version)
        theirs = worker.generate(PROMPTS, 2, temperature=1.0, seed=7)
        assert [g.prompt for g in mine] == PROMPTS
        assert _rollouts(mine) == _rollouts(theirs)
        assert learner.model.training  # back in training mode
        batch = _batch(mine)
        learner.grpo_step(batch, sum(len(s.completion_ids) for s in batch), len(batch), ROLLOUT.max_new_tokens)
        worker.set_weights(learner.get_weights(), version + 1)
    assert any(not torch.equal(v, initial[k]) for k, v in learner.get_weights().items()), "the updates changed nothing"


def test_sampling_between_updates_changes_no_update(model_path):
    a, b = _learner(model_path), _learner(model_path)
    batch = _batch(a.generate(PROMPTS, 2, temperature=1.0, seed=3))
    counts = (sum(len(s.completion_ids) for s in batch), len(batch), ROLLOUT.max_new_tokens)
    for learner in (a, b):
        learner.grpo_step(batch, *counts)
    rng = torch.get_rng_state()
    b.generate(PROMPTS, 2, temperature=1.0, seed=5)  # samples between two updates
    assert torch.equal(torch.get_rng_state(), rng)  # the sampler reseeds a forked stream, not the learner's
    for learner in (a, b):
        learner.grpo_step(batch, *counts)
    expected = a.get_weights()
    for key, value in b.get_weights().items():
        assert torch.equal(value, expected[key]), key


@pytest.mark.parametrize("overrides, expected", [
    ([], False),  # CPU learners: rollout actors
    (["learner.num_gpus=1"], True),  # unset, learners with GPUs: colocated
    (["learner.num_gpus=1", "learner.strategy=fsdp"], False),  # a shard cannot sample alone
    (["rollout.colocate=true"], True),
    (["rollout.colocate=false", "learner.num_gpus=1"], False),
])
def test_when_learners_generate(overrides, expected):
    from rl.engine.actors import colocated

    assert colocated(load_config(ROOT / "experiments/tiny_arith.yaml", overrides)) is expected


def test_colocation_refuses_fsdp_learners():
    from rl.config import ConfigError

    with pytest.raises(ConfigError, match="rollout.colocate"):
        load_config(ROOT / "experiments/tiny_arith.yaml", ["rollout.colocate=true", "learner.strategy=fsdp", "learner.num_learners=2"])


@pytest.fixture(scope="module")
def ray_local():
    """One Ray runtime for the module's Ray tests (the first ``start_ray`` starts it): starting one costs seconds."""
    import ray

    yield
    ray.shutdown()


@pytest.mark.ray
@pytest.mark.slow
def test_two_colocated_learners_run_two_grpo_steps(tmp_path, ray_local):
    from rl.loops.grpo import train

    out = tmp_path / "run"
    overrides = TINY + [f"run.out_dir={out}", "rollout.colocate=true", "learner.num_learners=2", "sft.steps=0",
                        "run.eval_every=0", "data.n_eval=2"]
    summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", overrides))
    assert summary["weight_sync"] == "colocated" and summary["rl_steps"] == 2
    assert summary["placement"]["rollout"] == summary["placement"]["learners"] and len(summary["placement"]["learners"]) == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2] and all("learner/loss" in r for r in rows[1:])


@pytest.mark.ray
def test_colocated_cluster_keeps_the_generate_contract(tmp_path, ray_local):
    from rl.engine.actors import Cluster
    from rl.engine.policy import ensure_model
    from rl.loops.grpo import start_ray

    config = load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [f"run.out_dir={tmp_path}", "rollout.colocate=true",
                                                                       "learner.num_learners=2"])
    start_ray(config)
    evaluation = Cluster(config, str(ensure_model(config)), with_learners=False)  # no learners to generate: rollout actors
    try:
        assert len(evaluation.rollouts) == 1 and not evaluation.colocated
    finally:
        evaluation.shutdown()
    cluster = Cluster(config, str(ensure_model(config)))
    try:
        assert cluster.rollouts == [] and cluster.weight_sync == "colocated"
        cluster.sync_weights(version=3)  # nothing to send: only the version moves
        prompts = arithmetic(5, 1, seed=1)[0]  # 3 + 2 across two learners
        groups = cluster.generate(prompts, 2, temperature=1.0, seed=0)
        assert [g.prompt for g in groups] == prompts and all(len(g) == 2 for g in groups)
        assert {r.policy_version for g in groups for r in g.rollouts} == {3}
    finally:
        cluster.shutdown()


@pytest.mark.gpu
@pytest.mark.ray
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_colocated_grpo_step_on_cuda_in_bf16(tmp_path, ray_local):
    from rl.loops.grpo import train

    overrides = TINY + [f"run.out_dir={tmp_path}", "rollout.colocate=true", "rollout.dtype=bfloat16", "learner.device=cuda",
                        "learner.mixed_precision=bf16", "learner.num_gpus=1", "sft.steps=0", "run.total_steps=1",
                        "run.eval_every=0", "data.n_eval=2"]
    summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", overrides))
    assert summary["weight_sync"] == "colocated" and summary["rl_steps"] == 1
    assert 0.0 <= summary["heldout_accuracy_after_rl"] <= 1.0
