#!/usr/bin/env python
"""Rollout backends side by side: one ``generate`` call of P prompts x G samples, and whether each
backend's recorded log-probs are the learner's.

    .venv/bin/python benchmarks/rollout_backend_bench.py                       # tiny_arith's model, CPU: hf vs static
    python benchmarks/rollout_backend_bench.py --shape 0.5b --device cuda --backends hf,static,static_compile
    # options: --prompts 16 --group-size 8 --max-new-tokens 64 --rounds 3 --temperature 1.0 --top-p 1.0 --threads 1

Every backend is a ``rl.registries.ROLLOUT_BACKENDS`` entry built as a rollout actor builds it
(``rollout.dtype`` auto: bf16 on a GPU, fp32 on CPU) on the same model directory (``_grpo_common.SHAPES``,
shared with gpu_grpo_bench.py) and the same prompts. Each first makes one untimed call ("setup":
CUDA graph capture or compilation, allocator warm-up), then ``--rounds`` timed calls, the backend
order reversing every round; figures are medians. tok/s counts completion tokens (EOS included);
ms/step is a call's time over its decode steps (its longest completion).

Checks, printed before the summary: greedy completions (temperature 0) of every backend against
hf's, and the largest gap between a backend's ``rollout.sampling_logprobs`` and ``Learner._logprobs``
on the same tokens at the same temperature (fp32 on CPU: ~1e-6; bf16 sampler vs the learner's
bf16 autocast on a GPU: bf16 noise).
Last line: ``rollout_backend_bench: <shape> <device> tok/s hf=… static=… | speedup static=…x | logprob max|d| static=…``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _grpo_common import EXPERIMENT, SHAPES, shape_model  # noqa: E402


def make_worker(name: str, model_dir: str, config, args):
    from rl.registries import ROLLOUT_BACKENDS

    rollout = replace(config.rollout, backend=name, sampling_logprobs=True, max_new_tokens=args.max_new_tokens, top_p=args.top_p)
    return ROLLOUT_BACKENDS.get(name)(model_dir, config.data, rollout, device=args.device, threads=args.threads, dtype="auto")


def timed_generate(worker, prompts, args, seed: int, temperature: float):
    import torch

    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    groups = worker.generate(prompts, args.group_size, temperature=temperature, seed=seed)
    sync()
    return groups, time.perf_counter() - started


def logprob_gap(model_dir: str, groups, temperature: float, device: str) -> float:
    """Largest |sampler log-prob - learner log-prob| over every completion token."""
    import torch

    from rl.config import AlgorithmConfig, LearnerConfig
    from rl.data.records import TrainSequence
    from rl.engine.learner import Learner

    learner = Learner(model_dir, LearnerConfig(device=device, micro_batch_size=32), AlgorithmConfig(), temperature=temperature)
    rollouts = [r for g in groups for r in g.rollouts]
    gap = 0.0
    for start in range(0, len(rollouts), 32):
        chunk = rollouts[start : start + 32]
        batch = learner._collate([TrainSequence(r.prompt_ids, r.completion_ids) for r in chunk])
        lp = learner._logprobs(learner.model, batch, grad=False, temperature=temperature)  # (B, L-1)
        for i, r in enumerate(chunk):
            ours = lp[i, len(r.prompt_ids) - 1 : len(r.prompt_ids) - 1 + len(r.completion_ids)].cpu()
            gap = max(gap, float((ours - torch.tensor(r.logprobs)).abs().max()))
    del learner
    return gap


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="tiny", choices=sorted(SHAPES))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--backends", default="hf,static", help="comma-separated ROLLOUT_BACKENDS names; the first is the reference")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    import torch

    from rl.config.loader import load_config
    from rl.data.prompts import drop_long_prompts, load_splits
    from rl.engine.policy import load_tokenizer

    torch.set_num_threads(args.threads)
    model_dir = shape_model(args.shape)
    config = load_config(EXPERIMENT, [f"model.path={model_dir}", "data.n_eval=0"])
    prompts = drop_long_prompts(load_splits(config.data)[0], load_tokenizer(model_dir), config.data)[0][: args.prompts]
    names = args.backends.split(",")
    print(f"rollout_backend_bench: {args.shape} on {args.device}: {len(prompts)} prompts x G={args.group_size}, "
          f"max_new_tokens={args.max_new_tokens}, temperature {args.temperature}, top_p {args.top_p}; {model_dir}", flush=True)

    workers, setup = {}, {}
    for name in names:
        started = time.perf_counter()
        workers[name] = make_worker(name, model_dir, config, args)
        timed_generate(workers[name], prompts, args, seed=0, temperature=args.temperature)
        setup[name] = time.perf_counter() - started
    calls: dict[str, list[tuple[float, int, int]]] = {name: [] for name in names}  # (seconds, tokens, decode steps)
    last = {}
    for round_ in range(args.rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            groups, seconds = timed_generate(workers[name], prompts, args, seed=1 + round_, temperature=args.temperature)
            lengths = [len(r.completion_ids) for g in groups for r in g.rollouts]
            calls[name].append((seconds, sum(lengths), max(lengths)))
            last[name] = groups

    reference = names[0]
    greedy = {name: [r.completion_ids for g in timed_generate(w, prompts, args, seed=0, temperature=0.0)[0] for r in g.rollouts]
              for name, w in workers.items()}
    gaps = {name: logprob_gap(model_dir, last[name], args.temperature, args.device) for name in names}
    tok_s = {name: statistics.median(t / s for s, t, _ in c) for name, c in calls.items()}
    print(f"  {'backend':15} {'mode':10} {'setup s':>8} {'s/call':>8} {'tok/call':>9} {'tok/s':>9} {'ms/step':>8} "
          f"{'greedy=' + reference:>12} {'logprob max|d|':>15}")
    for name in names:
        seconds = statistics.median(s for s, _, _ in calls[name])
        ms_step = statistics.median(1000 * s / steps for s, _, steps in calls[name])
        same = sum(a == b for a, b in zip(greedy[name], greedy[reference]))
        mode = getattr(workers[name], "decode_mode", "generate")
        print(f"  {name:15} {mode:10} {setup[name]:8.2f} {seconds:8.3f} {statistics.median(t for _, t, _ in calls[name]):9.0f} "
              f"{tok_s[name]:9.0f} {ms_step:8.2f} {f'{same}/{len(greedy[name])}':>12} {gaps[name]:15.2e}")
    speedups = " ".join(f"{name}={tok_s[name] / tok_s[reference]:.2f}x" for name in names[1:])
    print(f"rollout_backend_bench: {args.shape} {args.device} tok/s "
          + " ".join(f"{name}={tok_s[name]:.0f}" for name in names)
          + f" | speedup {speedups} | logprob max|d| " + " ".join(f"{name}={gaps[name]:.1e}" for name in names))


if __name__ == "__main__":
    main()
