"""Random token-id batches for learner tests (ids clear of the tiny tokenizer's special tokens), uneven lengths."""
from __future__ import annotations

import torch

from rl.data.records import PreferencePair, TrainSequence


def sequences(n: int = 8, seed: int = 0) -> list[TrainSequence]:
    """``n`` prompt + completion sequences with advantages -1, 0, +1 in turn."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        prompt = torch.randint(5, 200, (3 + i % 3,), generator=gen).tolist()
        completion = torch.randint(5, 200, (2 + (i * 5) % 7,), generator=gen).tolist()
        out.append(TrainSequence(tuple(prompt), tuple(completion), advantage=float(i % 3 - 1)))
    return out


def counts(batch: list[TrainSequence]) -> dict[str, int]:
    """The whole batch's counts, as ``Learner.grpo_step`` takes them."""
    return dict(num_tokens=sum(len(s.completion_ids) for s in batch), num_seqs=len(batch), max_len=16)


def pairs(n: int = 6, seed: int = 1) -> list[PreferencePair]:
    gen = torch.Generator().manual_seed(seed)

    def ids(length: int) -> tuple[int, ...]:
        return tuple(torch.randint(5, 200, (length,), generator=gen).tolist())

    return [PreferencePair(prompt=f"p{i}", chosen="a", rejected="b", id=f"pair-{i}", prompt_ids=ids(3 + i % 2),
                           chosen_ids=ids(2 + i % 3), rejected_ids=ids(3)) for i in range(n)]
