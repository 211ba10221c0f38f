"""Learners without Ray: SFT and GRPO steps, and data parallelism through torch.distributed."""
from __future__ import annotations

import os
import socket

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import torch.multiprocessing as mp

from rl.config import AlgorithmConfig, LearnerConfig
from rl.data.records import TrainSequence
from rl.engine.learner import Learner
from tests.helpers.learner_batches import sequences

LEARNER = LearnerConfig(lr=1e-2, micro_batch_size=3, device="cpu")
ALGO = AlgorithmConfig(clip_low=0.2, clip_high=0.28)
# Adam's first step is about lr * sign(grad): float noise in a near-zero gradient can move an
# element by up to lr. A wrong update (half the batch, a missed all-reduce) moves most of them.
TOL = LEARNER.lr * 1e-2


def batch(n: int = 8) -> list[TrainSequence]:
    return sequences(n, seed=0)


def counts(sequences):
    return dict(num_tokens=sum(len(s.completion_ids) for s in sequences), num_seqs=len(sequences), max_len=16)


def test_sft_step_lowers_the_loss_on_its_batch(model_path):
    learner = Learner(model_path, LEARNER, ALGO)
    sequences = batch()
    num_tokens = sum(len(s.completion_ids) for s in sequences)
    first = learner.sft_step(sequences, num_tokens)["loss"]
    for _ in range(5):
        last = learner.sft_step(sequences, num_tokens)["loss"]
    assert last < first


def test_grpo_step_moves_weights_and_reports_metrics(model_path):
    learner = Learner(model_path, LEARNER, ALGO)
    before = learner.get_weights()
    metrics = learner.grpo_step(batch(), **counts(batch()))
    after = learner.get_weights()
    assert {"loss", "grad_norm", "clip_frac"} <= set(metrics)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_micro_batch_size_does_not_change_the_update(model_path):
    results = []
    for micro in (1, 8):
        learner = Learner(model_path, LearnerConfig(lr=1e-2, micro_batch_size=micro, device="cpu"), ALGO)
        learner.grpo_step(batch(), **counts(batch()))
        results.append(learner.get_weights())
    for key in results[0]:
        torch.testing.assert_close(results[0][key], results[1][key], rtol=0, atol=TOL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _data_parallel_worker(rank: int, world: int, model_path: str, port: int, out_dir: str):
    learner = Learner(model_path, LEARNER, ALGO, rank=rank, world_size=world, master_addr="127.0.0.1", master_port=port)
    sequences = batch()
    shard = sequences[: len(sequences) // 2] if rank == 0 else sequences[len(sequences) // 2:]
    learner.grpo_step(shard, **counts(sequences))  # counts are the whole batch's
    torch.save(learner.get_weights(), os.path.join(out_dir, f"rank{rank}.pt"))


def test_two_learners_make_the_same_update_as_one(model_path, tmp_path):
    single = Learner(model_path, LEARNER, ALGO)
    single.grpo_step(batch(), **counts(batch()))
    expected = single.get_weights()
    mp.start_processes(_data_parallel_worker, args=(2, model_path, _free_port(), str(tmp_path)), nprocs=2,
                       join=True, start_method="spawn")
    for rank in (0, 1):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=0, atol=TOL)
    # The check can fail: one learner on half the batch (no all-reduce) is far outside TOL.
    half = Learner(model_path, LEARNER, ALGO)
    half.grpo_step(batch()[:4], **counts(batch()))
    wrong = half.get_weights()
    assert max((wrong[k] - expected[k]).abs().max().item() for k in expected) > 10 * TOL
