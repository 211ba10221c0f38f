"""The GRPO loop end to end on Ray: a two-step smoke run, two nodes, kill and resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from safetensors.torch import load_file

from rl.config.loader import load_config

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "model.tiny_hidden_size=32", "model.tiny_intermediate_size=64", "model.tiny_layers=1", "model.tiny_heads=2",
    "model.tiny_kv_heads=1", "model.tiny_vocab_size=320", "model.tiny_max_positions=128",
    "data.n_train=60", "data.n_eval=6", "rollout.max_new_tokens=12", "rollout.group_size=4",
    "rollout.prompts_per_step=4", "sft.steps=3", "sft.batch_size=8", "run.total_steps=2", "run.eval_every=1",
]


@pytest.fixture
def ray_local():
    import ray

    yield
    ray.shutdown()


def test_two_step_smoke(tmp_path, ray_local):
    from rl.loops.grpo import train

    out = tmp_path / "run"
    summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [f"run.out_dir={out}", "run.save_every=1"]))
    assert {"heldout_accuracy_before_rl", "heldout_accuracy_after_rl", "placement"} <= set(summary)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert {"reward/mean", "train/accuracy", "eval/accuracy", "learner/loss"} <= set(rows[1])
    assert (out / "curves.png").stat().st_size > 0 and (out / "summary.json").exists()
    assert any((out / "tb").iterdir())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verifiers"] == {"math": "3"} and manifest["packages"]["torch"]  # the math verifier's declared VERSION
    assert manifest["config"]["rollout"]["group_size"] == 4 and len(manifest["data"]["train"]) == 16
    assert manifest["stages"]["sft+grpo"]["heldout_accuracy_after_rl"] == summary["heldout_accuracy_after_rl"]
    checkpoint = out / "checkpoints" / "step_000002"
    assert {"config.json", "model.safetensors", "tokenizer.json", "trainer_state.pt"} <= {p.name for p in checkpoint.iterdir()}


def test_rollouts_and_learners_on_different_nodes(tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    from rl.loops.grpo import train

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"rollout_node": 1}})
    learner_node = cluster.add_node(num_cpus=1, resources={"learner_node": 1})
    ray.init(address=cluster.address)
    try:
        overrides = TINY + [f"run.out_dir={tmp_path}", "rollout.resources={rollout_node: 1}", "learner.resources={learner_node: 1}"]
        summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", overrides))
        rollout_nodes, learner_nodes = summary["placement"]["rollout"], summary["placement"]["learners"]
        assert learner_nodes == [learner_node.node_id]
        assert set(rollout_nodes).isdisjoint(learner_nodes)
        assert 0.0 <= summary["heldout_accuracy_after_rl"] <= 1.0 and summary["rl_steps"] == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


def _train_cli(out: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "rl.cli.main", "train", str(ROOT / "experiments/tiny_arith.yaml"), *TINY,
            "run.total_steps=6", "run.save_every=2", "run.eval_every=0", "--out", str(out), *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _steps(out: Path) -> list[int]:
    path = out / "metrics.jsonl"
    return [json.loads(line)["step"] for line in path.read_text().splitlines()] if path.exists() else []


def test_kill_and_resume_loses_and_repeats_no_step(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert _train_cli(straight).wait(timeout=600) == 0

    proc = _train_cli(killed)
    deadline = time.time() + 600
    while max(_steps(killed), default=-1) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run: driver, Ray actors, verifier workers
    proc.wait()
    assert max(_steps(killed)) < 6, "the run finished before it could be killed"

    resumed = _train_cli(killed, "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()[-2000:]
    assert _steps(killed) == list(range(0, 7))  # each step logged exactly once
    final = "checkpoints/step_000006/model.safetensors"
    a, b = load_file(straight / final), load_file(killed / final)
    for key in a:  # same data, same seeds, restored optimizer: the same weights as a run never killed
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)


def test_a_dead_rollout_actor_is_named_not_waited_for(tmp_path, ray_local):
    """With no restarts left, a lost rollout actor stops the run naming it, as before restarts existed."""
    import ray

    from rl.data.tasks import arithmetic
    from rl.engine.actors import ActorFailure, Cluster
    from rl.engine.policy import ensure_model
    from rl.loops.grpo import start_ray

    config = load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [f"run.out_dir={tmp_path}", "run.actor_timeout_s=60",
                                                                          "run.max_actor_restarts=0"])
    start_ray(config)
    cluster = Cluster(config, str(ensure_model(config)))
    try:
        prompts = arithmetic(4, 1, seed=0)[0]
        groups = cluster.generate(prompts, 2, temperature=1.0, seed=0)
        assert [g.prompt for g in groups] == prompts and all(len(g) == 2 for g in groups)
        assert all(r.prompt == g.prompt for g in groups for r in g.rollouts)  # each rollout knows its group
        ray.kill(cluster.rollouts[0])
        with pytest.raises(ActorFailure, match=r"(?s)rollout actor 0.*max_actor_restarts=0"):
            cluster.generate(prompts, 2, temperature=1.0, seed=0)
    finally:
        cluster.shutdown()


def test_a_lost_rollout_actor_is_replaced_with_the_current_weights_and_the_generation_retried(tmp_path, ray_local):
    import ray

    from rl.data.records import TrainSequence
    from rl.data.tasks import arithmetic
    from rl.engine.actors import Cluster
    from rl.engine.policy import ensure_model
    from rl.loops.grpo import start_ray

    config = load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [f"run.out_dir={tmp_path}", "run.actor_timeout_s=60"])
    start_ray(config)
    cluster = Cluster(config, str(ensure_model(config)))
    try:
        cluster.start_phase(1e-2)
        cluster.grpo_step([TrainSequence((1, 2, 3), (4, 5, 6), 1.0)], num_tokens=3, num_seqs=1, max_len=12)
        cluster.sync_weights(version=1)  # the rollout actor now differs from the model it loaded at start
        prompts = arithmetic(4, 1, seed=0)[0]
        before = cluster.generate(prompts, 2, temperature=1.0, seed=7)
        ray.kill(cluster.rollouts[0])
        after = cluster.generate(prompts, 2, temperature=1.0, seed=7)
        assert cluster.restarts.spent == 1 and cluster.weight_sync == "gloo"
        assert [r.completion_ids for g in after for r in g.rollouts] == [r.completion_ids for g in before for r in g.rollouts]
        assert {r.policy_version for g in after for r in g.rollouts} == {1}
        cluster.sync_weights(version=2)  # the new weight-sync group carries the next update too
        assert ray.get(cluster.rollouts[0].ping.remote()) == 2
    finally:
        cluster.shutdown()


def test_a_lost_learner_restarts_from_the_newest_checkpoint_and_the_run_matches(tmp_path, ray_local):
    """Learner killed in step 3 (checkpoints every 2 steps): the run goes back to step 2 with a fresh
    learner and ends with the same weights and the same logged steps as a run never interrupted."""
    import ray

    from rl.loops import grpo

    def config(out):
        return load_config(ROOT / "experiments/tiny_arith.yaml", TINY + [
            f"run.out_dir={out}", "run.total_steps=5", "run.save_every=2", "run.eval_every=0", "run.actor_timeout_s=120"])

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    grpo.train(config(straight))
    ray.shutdown()

    real_update = grpo.update_policy

    def lose_the_learner_then_update(cfg, cluster, batch, step):
        if step == 2 and not cluster.restarts.spent:  # in step 3, after checkpoint 2: steps 3.. run again
            ray.kill(cluster.learners[0])
        return real_update(cfg, cluster, batch, step)

    grpo.update_policy = lose_the_learner_then_update
    try:
        summary = grpo.train(config(killed))
    finally:
        grpo.update_policy = real_update
    rows = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5] and rows[-1]["recovery/actor_restarts"] == 1
    final = "checkpoints/step_000005/model.safetensors"
    a, b = load_file(straight / final), load_file(killed / final)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    assert summary["rl_steps"] == 5


def test_multi_turn_rollouts_train_save_and_resume(tmp_path, ray_local):
    """Trajectories with injected turns go through the whole loop on Ray: sampled with the static backend,
    scored on their last turn, trained with their loss mask, checkpointed, and resumed."""
    from rl.loops.grpo import train

    env = ["rollout.env.name=tests.helpers.toy_envs:Nudge", "rollout.env.max_turns=2", "rollout.env.max_trajectory_tokens=100",
           "rollout.backend=static", "run.save_every=1", "run.eval_every=0", f"run.out_dir={tmp_path}"]
    train(load_config(ROOT / "experiments/tiny_arith.yaml", TINY + env + ["run.total_steps=1"]))
    summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", TINY + env + ["run.total_steps=2", "run.resume=true"]))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2] and summary["rl_steps"] == 2
    assert all(r["completion/sampled_tokens"] <= r["completion/length"] for r in rows[1:])
    assert {"env/turns", "env/tool_calls", "finish/max_turns", "learner/loss"} <= set(rows[2])


def test_a_mixture_trains_with_per_domain_metrics_and_rewards(tmp_path, ray_local):
    from rl.loops.grpo import train

    out = tmp_path / "run"
    mixture = ["data.mixture={sums: {generator: arithmetic, n_train: 30, n_eval: 4, weight: 3}, "
               "diffs: {generator: arithmetic, n_train: 30, n_eval: 4, generator_params: {operations: ['-']}, "
               "rewards: [{name: correct, kind: verifier, weight: 1.0}]}}"]
    summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", TINY + mixture + [f"run.out_dir={out}"]))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"train/accuracy/sums", "train/accuracy/diffs", "eval/accuracy/sums", "eval/accuracy/diffs"} <= set(rows[1])
    assert "reward/format" in rows[1]  # the sums domain's components (the experiment's) are logged beside diffs' own
    eval_after = summary["eval_after_rl"]
    assert eval_after["eval/accuracy"] == pytest.approx((eval_after["eval/accuracy/sums"] + eval_after["eval/accuracy/diffs"]) / 2)
