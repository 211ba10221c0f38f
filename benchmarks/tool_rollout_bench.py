#!/usr/bin/env python
"""Multi-turn rollouts with the ``python`` tool: trajectories per second and the share of time in tools, per backend.

    .venv/bin/python benchmarks/tool_rollout_bench.py                 # 16 prompts x 4 samples, hf and static, Docker sandbox
    .venv/bin/python benchmarks/tool_rollout_bench.py --quick         # fewer SFT steps and rounds
    # options: --prompts 16 --group-size 4 --rounds 3 --sft-steps 150 --backends hf,static --threads 2

The tiny model of ``tool_arithmetic`` (tool=python) is first taught the call format by a short SFT on tool
transcripts (question -> ``<tool_call>`` running ``print(a*b)`` -> the tool's output -> the answer), so that
its rollouts do call the tool; then each backend generates the same prompts, one untimed call first
(the sandbox's warm pool, allocator warm-up), then ``--rounds`` timed calls with the backend order
reversed every round. Tool time is the time spent in the environment's ``respond`` (all calls of a turn
run concurrently in the sandbox's pool); the rest is the model (prefill, decode) and bookkeeping.
Figures are medians. Last line:
``tool_rollout_bench: traj/s hf=… static=… | tool share hf=…% static=…% | calls/traj … | static/hf …x``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_and_teach(out: Path, sft_steps: int, threads: int):
    """A tiny model that calls the python tool: built from the task's text, SFT on tool transcripts, saved."""
    import torch

    from rl.config import AlgorithmConfig, LearnerConfig
    from rl.config.loader import load_config
    from rl.data.prompts import load_splits
    from rl.engine.learner import Learner
    from rl.engine.policy import ensure_model
    from rl.envs import declared_tools
    from rl.loops.sft import sft_sequences

    torch.set_num_threads(threads)
    config = load_config(ROOT / "experiments" / "tiny_tools.yaml", [
        f"run.out_dir={out}", "data.generator_params.tool=python", "rollout.env.tools=[python]"])
    model_dir = ensure_model(config)
    train, heldout = load_splits(config.data)
    learner = Learner(str(model_dir), LearnerConfig(lr=1e-3, device="cpu", micro_batch_size=32), AlgorithmConfig())
    sequences = sft_sequences(train, learner.tokenizer, config.data, tools=declared_tools(config.rollout.env))
    for step in range(sft_steps):
        batch = [sequences[(step * 32 + i) % len(sequences)] for i in range(32)]
        learner.sft_step(batch, num_tokens=sum(s.target_tokens for s in batch))
    taught = out / "taught"
    learner.model.save_pretrained(taught)
    learner.tokenizer.save_pretrained(taught)
    return config, str(taught), heldout


def make_worker(backend: str, model_dir: str, config, threads: int):
    from rl.registries import ROLLOUT_BACKENDS

    rollout = replace(config.rollout, backend=backend)
    worker = ROLLOUT_BACKENDS.get(backend)(model_dir, config.data, rollout, device="cpu", threads=threads, dtype="auto")
    respond = worker.env.respond
    worker.tool_s = 0.0

    def timed_respond(conversations):  # the environment's share: every tool call of a turn, run concurrently
        started = time.perf_counter()
        try:
            return respond(conversations)
        finally:
            worker.tool_s += time.perf_counter() - started

    worker.env.respond = timed_respond
    return worker


def one_round(worker, prompts, group_size: int, seed: int) -> dict[str, float]:
    worker.tool_s = 0.0
    started = time.perf_counter()
    groups = worker.generate(prompts, group_size, temperature=1.0, seed=seed)
    elapsed = time.perf_counter() - started
    rollouts = [r for g in groups for r in g.rollouts]
    return {"traj_per_s": len(rollouts) / elapsed, "tool_share": worker.tool_s / elapsed,
            "calls": statistics.mean(r.env_info.get("tool_calls", 0) for r in rollouts), "seconds": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sft-steps", type=int, default=150)  # the call format is learnt by ~120 steps
    parser.add_argument("--backends", default="hf,static")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="120 SFT steps, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.sft_steps, args.rounds = min(args.sft_steps, 120), min(args.rounds, 2)
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="tool_bench_") as scratch:
        config, model_dir, heldout = build_and_teach(Path(scratch), args.sft_steps, args.threads)
        prompts = heldout[: args.prompts]
        workers = {b: make_worker(b, model_dir, config, args.threads) for b in backends}
        for worker in workers.values():  # setup: the sandbox pool starts, first-call costs are paid
            one_round(worker, prompts[:2], 2, seed=-1)
        results: dict[str, list[dict]] = {b: [] for b in backends}
        for round_ in range(args.rounds):
            order = backends if round_ % 2 == 0 else backends[::-1]  # alternated: the machine is shared and noisy
            for name in order:
                results[name].append(one_round(workers[name], prompts, args.group_size, seed=round_))
        for worker in workers.values():
            worker.env.close()
    med = {b: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for b, rs in results.items()}
    for name, m in med.items():
        print(f"{name:>8}: {m['traj_per_s']:.2f} trajectories/s, {100 * m['tool_share']:.0f}% of the time in tools, "
              f"{m['calls']:.2f} tool calls per trajectory, {m['seconds']:.2f} s per {args.prompts}x{args.group_size}")
    if not any(m["calls"] for m in med.values()):
        print("warning: the model made no tool calls, so the tool share means nothing; raise --sft-steps", file=sys.stderr)
    ratio = f" | {backends[1]}/{backends[0]} {med[backends[1]]['traj_per_s'] / med[backends[0]]['traj_per_s']:.2f}x" if len(backends) > 1 else ""
    print("tool_rollout_bench: traj/s " + " ".join(f"{b}={m['traj_per_s']:.2f}" for b, m in med.items())
          + " | tool share " + " ".join(f"{b}={100 * m['tool_share']:.0f}%" for b, m in med.items())
          + f" | calls/traj {statistics.mean(m['calls'] for m in med.values()):.2f}" + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
