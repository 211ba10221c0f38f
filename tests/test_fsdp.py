"""FSDP learners (learner.strategy: fsdp) on CPU with gloo: two sharded learners make one learner's update.

One spawn of two processes runs every sharded scenario (process start-up is most of the cost);
the parent runs the same steps on one plain learner and compares.

Tolerance: Adam's first step is about lr * sign(grad), so float noise in a near-zero gradient
(summed in another order across shards) can move an element by up to lr; TOL = lr / 100, as in
test_learner's ddp check. A wrong update (half the batch, a missed reduction, gradients averaged
instead of summed) is far outside it: test_the_comparison_can_fail shows one.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import socket
from dataclasses import replace

import pytest
import torch
import torch.multiprocessing as mp

from rl.config import AlgorithmConfig, LearnerConfig, LoRAConfig
from rl.engine.learner import Learner
from rl.engine.weight_export import WeightExport
from tests.helpers.learner_batches import counts, pairs
from tests.helpers.learner_batches import sequences as batch

LEARNER = LearnerConfig(lr=1e-2, micro_batch_size=3, device="cpu")
SHARDED = replace(LEARNER, strategy="fsdp", num_learners=2, gradient_checkpointing=True)  # checkpointing may not change the update
ALGO = AlgorithmConfig()
KL = AlgorithmConfig(kl_coef=0.05)
LORA = LoRAConfig(r=4, alpha=8)
TOL = LEARNER.lr * 1e-2


def shard(items, rank):
    """Uneven on purpose: 5 and 3 sequences make 2 and 1 micro-batches, so rank 1 must make an extra pass."""
    cut = 5 * len(items) // 8
    return items[:cut] if rank == 0 else items[cut:]


def grpo(learner, seed, rank=None):
    sequences = batch(seed=seed)
    return learner.grpo_step(sequences if rank is None else shard(sequences, rank), **counts(sequences))["loss"]


def dpo(learner, rank=None):
    items = pairs()
    learner.ensure_reference()
    part = items if rank is None else items[:4] if rank == 0 else items[4:]
    return learner.dpo_step(part, len(items), loss_type="sigmoid", beta=0.5)["loss"]


def _sharded_worker(rank: int, world: int, model_path: str, port: int, out: str):
    torch.set_num_threads(1)
    group = dict(rank=rank, world_size=world, master_addr="127.0.0.1", master_port=port)
    results = {}
    # Full fine-tuning, GRPO: a step, a checkpoint, a second step; then resume from the checkpoint.
    learner = Learner(model_path, SHARDED, ALGO, **group)
    results["loss1"] = grpo(learner, 0, rank)
    results["weights1"] = learner.get_weights()
    learner.save(os.path.join(out, "ckpt"), {"step": 1})
    results["loss2"] = grpo(learner, 1, rank)
    results["weights2"] = learner.get_weights()
    resumed = Learner(os.path.join(out, "ckpt"), SHARDED, ALGO, **group)  # the group is joined already: reused
    results["extra"] = resumed.load_trainer_state(os.path.join(out, "ckpt"))
    grpo(resumed, 1, rank)
    results["resumed2"] = resumed.get_weights()
    # The reference sharded like the policy: DPO against the policy as the stage starts.
    learner = Learner(model_path, SHARDED, ALGO, **group)
    grpo(learner, 2, rank)
    results["dpo_loss"] = dpo(learner, rank)
    results["dpo_weights"] = learner.get_weights()
    # LoRA on shards: only the adapter trains; the KL reference is the adapter switched off.
    learner = Learner(model_path, SHARDED, KL, lora=LORA, **group)
    results["lora_loss"] = grpo(learner, 0, rank)
    results["lora_weights"] = learner.get_weights()
    learner.save(os.path.join(out, "lora_ckpt"), {})
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))


@pytest.fixture(scope="module")
def sharded(model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdp")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mp.start_processes(_sharded_worker, args=(2, model_path, port, str(out)), nprocs=2, join=True, start_method="spawn")
    return out, [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]


def assert_weights_close(got, expected):
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=TOL, msg=key)


def test_two_sharded_learners_make_the_same_update_as_one(model_path, sharded):
    _, ranks = sharded
    single = Learner(model_path, LEARNER, ALGO)
    loss = grpo(single, 0)
    assert ranks[0]["loss1"] + ranks[1]["loss1"] == pytest.approx(loss, abs=1e-5)  # each rank's share of the batch's loss
    for rank in ranks:  # every learner gathers the same full weights
        assert_weights_close(rank["weights1"], single.get_weights())
    loss = grpo(single, 1)
    assert ranks[0]["loss2"] + ranks[1]["loss2"] == pytest.approx(loss, abs=1e-5)
    assert_weights_close(ranks[0]["weights2"], single.get_weights())


def test_the_checkpoint_is_a_from_pretrained_model_and_resume_continues_exactly(sharded):
    out, ranks = sharded
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "ckpt")  # the gathered full state dict, as Hugging Face writes it
    loaded = model.state_dict()
    for key, value in ranks[0]["weights1"].items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)
    assert (out / "ckpt" / "optimizer" / ".metadata").is_file()  # the sharded optimizer state
    assert ranks[0]["extra"] == {"step": 1}
    assert_weights_close(ranks[0]["resumed2"], ranks[0]["weights2"])  # Adam's moments came back: the same second step


def test_dpo_with_a_sharded_reference_matches_one_learner(model_path, sharded):
    _, ranks = sharded
    single = Learner(model_path, LEARNER, ALGO)
    grpo(single, 2)
    assert ranks[0]["dpo_loss"] + ranks[1]["dpo_loss"] == pytest.approx(dpo(single), abs=1e-5)
    assert_weights_close(ranks[0]["dpo_weights"], single.get_weights())


def test_lora_on_shards_matches_one_lora_learner_and_saves_the_adapter(model_path, sharded):
    out, ranks = sharded
    single = Learner(model_path, LEARNER, KL, lora=LORA)
    loss = grpo(single, 0)
    assert ranks[0]["lora_loss"] + ranks[1]["lora_loss"] == pytest.approx(loss, abs=1e-5)
    expected = single.get_weights()
    assert all(".lora_" in key for key in expected)
    assert_weights_close(ranks[0]["lora_weights"], expected)
    files = {p.name for p in (out / "lora_ckpt").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "trainer_state.pt"} <= files and "model.safetensors" not in files


def test_the_comparison_can_fail(model_path, sharded):
    """One learner on rank 0's shard alone (no reduction) is far outside the tolerance."""
    _, ranks = sharded
    half = Learner(model_path, LEARNER, ALGO)
    sequences = batch(seed=0)
    half.grpo_step(shard(sequences, 0), **counts(sequences))
    wrong, expected = half.get_weights(), ranks[0]["weights1"]
    assert max((wrong[k] - expected[k]).abs().max().item() for k in expected) > 10 * TOL


class ExportingLearner(Learner, WeightExport):
    """A learner that exports its weights for weight sync, as ``LearnerActor`` does."""


def test_one_sharded_learner_is_one_learner(model_path, tmp_path):
    """The single-GPU path (FSDP for its offload and mixed precision), here on CPU, where the config refuses
    it because it adds nothing; so the check is made on a config that skipped validation."""
    import torch.distributed as dist

    one = replace(LEARNER)
    object.__setattr__(one, "strategy", "fsdp")
    try:
        learner, single = ExportingLearner(model_path, one, ALGO), Learner(model_path, LEARNER, ALGO)
        assert grpo(learner, 0) == pytest.approx(grpo(single, 0), abs=1e-6)
        assert_weights_close(learner.get_weights(), single.get_weights())
        assert all(not isinstance(v, torch.distributed.tensor.DTensor) for v in learner.weight_tensors().values())
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------- on a GPU (the device machine)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@needs_cuda
def test_one_gpu_fsdp_with_offload_bf16_and_checkpointing(model_path, tmp_path):
    """One learner: FSDP adds bf16 compute by MixedPrecisionPolicy and fp32 masters + Adam in CPU memory."""
    from transformers import AutoModelForCausalLM

    gpu = LearnerConfig(lr=1e-3, micro_batch_size=3, device="cuda", mixed_precision="bf16")
    learner = Learner(model_path, replace(gpu, strategy="fsdp", offload_optimizer=True, gradient_checkpointing=True), ALGO)
    plain = Learner(model_path, gpu, ALGO)  # ddp: bf16 autocast over fp32 weights on the GPU
    assert grpo(learner, 0) == pytest.approx(grpo(plain, 0), rel=0.05)  # bf16 compute on both sides
    master = learner.trainable[0].to_local()
    assert master.device.type == "cpu" and master.dtype == torch.float32  # offloaded fp32 master shard
    weights = learner.get_weights()
    for key, value in plain.get_weights().items():
        torch.testing.assert_close(weights[key], value, rtol=0, atol=2 * gpu.lr)  # Adam moved both about lr
    learner.save(str(tmp_path / "ckpt"), {"step": 1})
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt").state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())
    assert learner.load_trainer_state(str(tmp_path / "ckpt")) == {"step": 1}
    grpo(learner, 1)  # and it steps on from the reloaded optimizer state


@pytest.mark.ray
@pytest.mark.slow
def test_two_sharded_learners_train_save_and_sync_under_ray(tmp_path):
    """The whole loop with learner.strategy=fsdp and two learners: every learner joins the checkpoint and
    the weight export (both collectives), and the checkpoint loads with from_pretrained."""
    import ray
    from transformers import AutoModelForCausalLM

    from rl.config.loader import load_config
    from rl.loops.grpo import train
    from tests.test_grpo import ROOT, TINY

    overrides = TINY + [f"run.out_dir={tmp_path}", "run.save_every=1", "learner.strategy=fsdp", "learner.num_learners=2",
                        "learner.device=cpu", "sft.batch_size=8"]
    try:
        summary = train(load_config(ROOT / "experiments/tiny_arith.yaml", overrides))
    finally:
        ray.shutdown()
    assert 0.0 <= summary["heldout_accuracy_after_rl"] <= 1.0
    checkpoint = tmp_path / "checkpoints" / "step_000002"
    model = AutoModelForCausalLM.from_pretrained(checkpoint, local_files_only=True)
    assert sum(p.numel() for p in model.parameters()) > 0 and (checkpoint / "trainer_state.pt").is_file()
