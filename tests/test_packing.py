"""Sequence packing for SFT: bins, packed micro-batches, and a packed step equal to the unpacked one."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import random
from collections import Counter

import pytest
import torch

from rl.config import AlgorithmConfig, LearnerConfig
from rl.data.records import TrainSequence
from rl.engine.learner import Learner
from rl.engine.packing import collate_packed, first_fit_decreasing, pack_sequences, padded_tokens, padding_saved, seq_len

LEARNER = LearnerConfig(lr=1e-2, micro_batch_size=3, device="cpu")
ALGO = AlgorithmConfig()


def mixed(n: int = 10, seed: int = 0) -> list[TrainSequence]:
    """Sequences of 5 to 33 tokens: short ones leave room beside the long ones."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        prompt = torch.randint(5, 200, (3 + i % 4,), generator=gen).tolist()
        completion = torch.randint(5, 200, (2 + (i * 7) % 27,), generator=gen).tolist()
        out.append(TrainSequence(tuple(prompt), tuple(completion)))
    return out


def test_first_fit_decreasing_example():
    assert first_fit_decreasing([3, 5, 2, 4], capacity=6) == [[1], [3, 2], [0]]


@pytest.mark.parametrize("seed", range(5))
def test_bins_respect_the_capacity_and_keep_every_sequence_once(seed):
    rng = random.Random(seed)
    lengths = [rng.randint(1, 40) for _ in range(rng.randint(1, 60))]
    capacity = max(lengths) + rng.randint(0, 10)
    bins = first_fit_decreasing(lengths, capacity)
    assert sorted(i for row in bins for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= capacity for row in bins)
    # First fit: no two bins could have been merged into one.
    loads = sorted(sum(lengths[i] for i in row) for row in bins)
    assert len(loads) < 2 or loads[0] + loads[1] > capacity


def test_a_sequence_longer_than_a_row_is_an_error():
    with pytest.raises(ValueError, match="sequence 1 has 9 tokens"):
        first_fit_decreasing([3, 9], capacity=8)


def test_packed_num_rowsare_no_longer_than_the_longest_sequence():
    sequences = mixed()
    rows = pack_sequences(sequences)
    longest = max(seq_len(s) for s in sequences)
    assert all(sum(seq_len(s) for s in row) <= longest for row in rows)
    assert Counter(s for row in rows for s in row) == Counter(sequences)
    assert len(rows) < len(sequences)


def test_packed_batch_restarts_positions_and_never_attends_across_sequences():
    a = TrainSequence((1, 2), (3, 4, 5))  # 5 tokens, targets 3, 4, 5
    b = TrainSequence((6, 7, 8), (9,))  # 4 tokens, target 9
    c = TrainSequence((10,), (11,))  # 2 tokens, alone in row 1, then padding
    batch = collate_packed([(a, b), (c,)], pad_id=0, dtype=torch.float32, device="cpu")
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 0, 0, 0, 0, 0, 0, 0]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 3], [0, 1, 0, 1, 2, 3, 4, 5, 6]]
    # Position t predicts token t+1: a's 3, 4, 5 and b's 9, never "5 predicts 6".
    assert batch["mask"].tolist() == [[0, 1, 1, 1, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 0, 0]]
    allowed = batch["attention_mask"][:, 0] == 0  # (B, L, L): additive mask, 0 = attend
    assert allowed[0, 6].tolist() == [False] * 5 + [True, True] + [False] * 2  # b's 2nd token sees b's first two only
    assert allowed[0, 4].tolist() == [True] * 5 + [False] * 4  # a's last token sees all of a, nothing later
    assert allowed[1, 1].tolist() == [True, True] + [False] * 7
    assert allowed[1].any(dim=-1).all()  # every row, padding too, attends somewhere: no NaN from an empty softmax


def test_padding_counts():
    assert padded_tokens([5, 2, 3, 4], micro_batch_size=2) == (5 - 2) + (4 - 3)
    sequences = [TrainSequence((1,) * 2, (2,) * 3), TrainSequence((1,) * 2, (2,) * 2), TrainSequence((1,), (2,))]
    rows = [(sequences[0],), (sequences[1], sequences[2])]  # lengths 5 and 4 + 2
    # Unpacked, one micro-batch of 5, 4, 2: 1 + 3 pads. Packed, rows of 5 and 6: 1 pad.
    assert padding_saved(sequences, rows, micro_batch_size=3) == 3


def _grads(learner: Learner) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in learner.model.named_parameters() if p.grad is not None}


def test_packed_sft_step_has_the_unpacked_loss_and_gradients(model_path):
    sequences = mixed()
    num_tokens = sum(len(s.completion_ids) for s in sequences)
    plain, packed = Learner(model_path, LEARNER, ALGO), Learner(model_path, LEARNER, ALGO)
    expected = plain.sft_step(sequences, num_tokens)
    got = packed.sft_step(sequences, num_tokens, packing=True)
    assert got["loss"] == pytest.approx(expected["loss"], abs=1e-5)
    assert got["grad_norm"] == pytest.approx(expected["grad_norm"], abs=1e-5)
    want, have = _grads(plain), _grads(packed)
    assert set(want) == set(have)
    for name in want:
        torch.testing.assert_close(have[name], want[name], rtol=0, atol=1e-5, msg=name)
    saved = padding_saved(sequences, pack_sequences(sequences), LEARNER.micro_batch_size)
    assert got["pad_tokens_saved"] == saved > 0
    assert "pad_tokens_saved" not in expected


def test_attention_across_sequences_would_change_the_loss(model_path):
    """The equality above can fail: the same packed rows under a plain causal mask score differently."""
    learner = Learner(model_path, LEARNER, ALGO)
    rows = pack_sequences(mixed())
    batch = collate_packed(rows[:LEARNER.micro_batch_size], pad_id=learner.pad_id, dtype=torch.float32, device="cpu")
    exact = learner._logprobs(learner.model, batch, grad=False).sum()
    num_rows, width = batch["input_ids"].shape
    blocked = ~torch.ones((width, width), dtype=torch.bool).tril()
    causal = torch.zeros((width, width)).masked_fill(blocked, torch.finfo(torch.float32).min)  # one causal row, no blocks
    leaky = learner._logprobs(learner.model, {**batch, "attention_mask": causal.expand(num_rows, 1, -1, -1)}, grad=False).sum()
    assert abs((leaky - exact).item()) > 1e-2


def test_the_decoder_gets_the_restarting_position_ids(model_path):
    """RoPE is relative, so under the block mask the loss alone cannot see them; models with
    position-dependent scaling can, so check that they reach the decoder."""
    learner = Learner(model_path, LEARNER, ALGO)
    seen = []
    learner.model.get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs.get("position_ids")), with_kwargs=True)
    sequences = mixed()
    learner.sft_step(sequences, num_tokens=1, packing=True)
    first_row = pack_sequences(sequences)[0]
    assert seen[0][0, : seq_len(first_row[0])].tolist() == list(range(seq_len(first_row[0])))
    assert len(seen) == -(-len(pack_sequences(sequences)) // LEARNER.micro_batch_size)
    assert any((ids[:, 1:] < ids[:, :-1]).any() for ids in seen)  # restarts inside a row


def test_packing_refuses_an_attention_without_4d_masks(model_path):
    learner = Learner(model_path, LEARNER, ALGO)
    learner.model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(ValueError, match="flash_attention_2"):
        learner.sft_step(mixed(), num_tokens=1, packing=True)
