"""Sequence packing for supervised fine-tuning: fewer, fuller rows, the same loss.

Unpacked, a micro-batch is right-padded to its longest sequence, so short sequences drag long
tails of padding through every forward and backward pass. Packed, several sequences share a row.

The rule. Rows hold at most ``width`` tokens, ``width`` being the longest sequence of the step
(this learner's shard); sequences go to rows by first-fit decreasing, and the learner groups
``micro_batch_size`` rows per micro-batch. A packed micro-batch is therefore never larger than the
largest unpacked one (``micro_batch_size x width`` tokens, the same activation memory), and there
are fewer of them. The one extra cost is the mask: (rows, width, width) in the model's dtype where
an unpadded micro-batch needs none and a padded one a boolean mask of that size.

Why it is exact. Position ids restart at 0 at every sequence, as if it had its own row, and the
attention mask is block-diagonal causal: a token attends only to itself and the earlier tokens of
its own sequence. Each sequence sees exactly the context it sees alone, and the loss mask marks the
same completion targets (never "the last token of one sequence predicts the first of the next"), so
the summed loss, normalised by the caller with the step's completion-token count, is the unpacked
loss up to float rounding.

Why an explicit mask. Transformers 5 would infer the blocks itself from position ids that restart
when it gets no ``attention_mask`` (``masking_utils.find_packed_sequence_indices``); older releases,
which pyproject still admits, did not for sdpa or eager attention, and an inference is one more
thing to trust. A 4D mask is used as given (``create_causal_mask`` returns it untouched; eager
attention adds it to the scores, sdpa passes it as ``attn_mask``), so an additive mask (0 = attend,
dtype minimum = blocked) in the model's dtype means one thing to both. Position ids then only feed
the rotary embedding. Flash-attention kernels take no 4D mask: packing refuses them.

    >>> first_fit_decreasing([3, 5, 2, 4], capacity=6)
    [[1], [3, 2], [0]]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rl.data.records import TrainSequence

# Attention implementations that take a 4D additive mask as given.
MASKED_ATTENTION = ("sdpa", "eager")


def seq_len(seq: TrainSequence) -> int:
    return len(seq.prompt_ids) + len(seq.completion_ids)


def first_fit_decreasing(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of ``lengths`` in bins of total at most ``capacity``: longest first, each into the first bin it fits.

    Deterministic (ties keep input order); every index lands in exactly one bin.
    """
    too_long = [i for i, n in enumerate(lengths) if n > capacity]
    if too_long:
        raise ValueError(f"sequence {too_long[0]} has {lengths[too_long[0]]} tokens, more than the row capacity {capacity}")
    bins: list[list[int]] = []
    free: list[int] = []  # tokens left in each bin
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        slot = next((b for b, room in enumerate(free) if room >= lengths[i]), None)
        if slot is None:
            bins.append([])
            free.append(capacity)
            slot = len(bins) - 1
        bins[slot].append(i)
        free[slot] -= lengths[i]
    return bins


def pack_sequences(sequences: Sequence[TrainSequence]) -> list[tuple[TrainSequence, ...]]:
    """Rows of sequences, each row at most as long as the longest sequence (see the module docstring)."""
    lengths = [seq_len(s) for s in sequences]
    bins = first_fit_decreasing(lengths, capacity=max(lengths, default=0))
    return [tuple(sequences[i] for i in row) for row in bins]


def collate_packed(rows: Sequence[Sequence[TrainSequence]], *, pad_id: int, dtype: torch.dtype,
                   device: Any) -> dict[str, torch.Tensor]:
    """One micro-batch of packed rows, right-padded to its longest row.

    ``input_ids``, ``position_ids`` (B, L); ``attention_mask`` (B, 1, L, L) additive, block-diagonal
    causal; ``mask`` (B, L-1), set where position t predicts a completion token of t's own sequence.
    """
    width = max(sum(seq_len(s) for s in row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    segments = torch.full((len(rows), width), -1, dtype=torch.long)  # -1: the row's trailing padding
    mask = torch.zeros((len(rows), width - 1))
    for r, row in enumerate(rows):
        start = 0
        for k, seq in enumerate(row):
            n = seq_len(seq)
            end = start + n
            ids[r, start:end] = torch.tensor(list(seq.prompt_ids) + list(seq.completion_ids))
            positions[r, start:end] = torch.arange(n)
            segments[r, start:end] = k
            first = max(start, start + len(seq.prompt_ids) - 1)  # never the previous sequence's last token
            skipped = first - (start + len(seq.prompt_ids) - 1)  # 1 when there is no prompt token to predict from
            targets = seq.target_mask()[skipped:]
            mask[r, first : end - 1] = torch.tensor(targets, dtype=mask.dtype)  # this sequence's target tokens
            start = end
        positions[r, start:] = torch.arange(width - start)  # padding: harmless positions, never a target
    causal = torch.ones((width, width), dtype=torch.bool).tril()  # (L, L)
    allowed = (segments[:, :, None] == segments[:, None, :]) & causal  # (B, L, L); padding attends to padding
    additive = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    batch = {"input_ids": ids, "position_ids": positions, "attention_mask": additive[:, None], "mask": mask}
    return {k: v.to(device) for k, v in batch.items()}


def padded_tokens(row_lengths: Sequence[int], micro_batch_size: int) -> int:
    """Padding positions when rows of these lengths are right-padded in micro-batches of ``micro_batch_size``."""
    total = 0
    for start in range(0, len(row_lengths), micro_batch_size):
        chunk = row_lengths[start : start + micro_batch_size]
        total += len(chunk) * max(chunk) - sum(chunk)
    return total


def padding_saved(sequences: Sequence[TrainSequence], rows: Sequence[Sequence[TrainSequence]], micro_batch_size: int) -> int:
    """Padding positions the packed ``rows`` avoid against the same ``sequences`` unpacked, both in micro-batches."""
    unpacked = padded_tokens([seq_len(s) for s in sequences], micro_batch_size)
    packed = padded_tokens([sum(seq_len(s) for s in row) for row in rows], micro_batch_size)
    return unpacked - packed


def check_attention(config: Any) -> None:
    """Packing needs an attention implementation that honours a 4D mask (see the module docstring)."""
    impl = getattr(config, "_attn_implementation", None)
    if impl not in MASKED_ATTENTION:
        raise ValueError(f"sequence packing needs attn_implementation in {MASKED_ATTENTION}; this model uses {impl!r}")
