"""SFT throughput with sequence packing against the same learner without it.

    .venv/bin/python benchmarks/sft_packing_bench.py [--model default|small] [--rounds 4]

Long chain-of-thought cold-start data mixes a few long answers with many short ones, so padded
micro-batches are mostly padding. Both sides run ``Learner.sft_step`` on the same 64 sequences
(lengths drawn log-normally, most short, a few near the context limit) with the same micro-batch
size; the packed side puts several sequences per row with block-diagonal attention (rl.engine.packing),
which makes the same loss (tests/test_packing.py). Sides alternate within each round, on one
learner, so both see the same machine load. Last line: tokens/s ratio packed / unpacked.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from rl.config import AlgorithmConfig, LearnerConfig
from rl.data.records import TrainSequence
from rl.data.tasks import arithmetic, corpus
from rl.engine.learner import Learner
from rl.engine.packing import pack_sequences, seq_len
from rl.engine.policy import build_tiny_model

MODELS = {
    "small": dict(hidden=32, intermediate=64, layers=1, heads=2, kv_heads=1, vocab_size=320, max_positions=128),
    "default": dict(max_positions=512),  # the tiny model the experiments use, with a longer context
}


def mixed_lengths(count: int, max_len: int, seed: int) -> list[TrainSequence]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        prompt = rng.randint(8, max_len // 4)
        completion = min(max_len - prompt, max(2, int(rng.lognormvariate(3.0, 0.9))))
        out.append(TrainSequence(tuple(rng.randrange(5, 300) for _ in range(prompt)),
                                 tuple(rng.randrange(5, 300) for _ in range(completion))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="default")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per side per round")
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = MODELS[args.model]
    train, held_out = arithmetic(60, 5, seed=0)
    path = str(build_tiny_model(tempfile.mkdtemp(), corpus(train + held_out), seed=0, **sizes))
    sequences = mixed_lengths(64, sizes["max_positions"], seed=0)
    tokens = sum(seq_len(s) for s in sequences)
    targets = sum(len(s.completion_ids) for s in sequences)
    learner = Learner(path, LearnerConfig(lr=1e-4, micro_batch_size=args.micro_batch_size, device="cpu"), AlgorithmConfig())
    print(f"sft_packing_bench: {len(sequences)} sequences, {tokens} tokens, longest {max(map(seq_len, sequences))}, "
          f"{len(pack_sequences(sequences))} packed rows; micro-batch {args.micro_batch_size}, {args.threads} thread(s)")
    for packing in (False, True):  # warm-up: allocator, kernels
        learner.sft_step(sequences, targets, packing=packing)
    rates: dict[bool, list[float]] = {False: [], True: []}
    saved = 0.0
    for round_ in range(args.rounds):
        for packing in ((False, True) if round_ % 2 == 0 else (True, False)):
            started = time.perf_counter()
            for _ in range(args.steps):
                metrics = learner.sft_step(sequences, targets, packing=packing)
            rates[packing].append(tokens * args.steps / (time.perf_counter() - started))
            saved = metrics["pad_tokens_saved"] if packing else saved
        print(f"  round {round_ + 1}: unpacked {rates[False][-1]:8.0f} tok/s  packed {rates[True][-1]:8.0f} tok/s "
              f"(padding saved {saved:.0f} tokens/step)", flush=True)
    unpacked, packed = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"sft_packing model={args.model} unpacked={unpacked:.0f}tok/s packed={packed:.0f}tok/s ratio={packed / unpacked:.2f}x")


if __name__ == "__main__":
    main()
