#!/usr/bin/env python
"""GRPO step throughput on one GPU: rlvr against TRL's ``GRPOTrainer`` on Qwen2.5-shaped models.

    python benchmarks/gpu_grpo_bench.py                       # 0.5B shape: rlvr, TRL bf16, TRL fp32+autocast; 6 steps, 2 rounds
    python benchmarks/gpu_grpo_bench.py --models 0.5b,1.5b --rounds 1
    python benchmarks/gpu_grpo_bench.py --rlvr-placement separate   # rlvr with a rollout actor beside the learner
    python benchmarks/gpu_grpo_bench.py --cpu --quick         # CI-sized smoke run on CPU: tiny model, 2 steps, 1 round
    python benchmarks/gpu_grpo_bench.py --memory ...          # the FSDP/LoRA memory map (benchmarks/gpu_memory.py)

Models: Qwen2.5-0.5B's and -1.5B's layer shapes (hidden 896/1536, intermediate 4864/8960, 24/28 layers,
14/12 heads, 2 KV heads, tied embeddings) around the task's own small tokenizer, random init, built
locally once (``_grpo_common.SHAPES``; 358M and 1.3B parameters) and loaded by every side.

Sides, each a fresh subprocess, in alternating order (round 1 forwards, round 2 backwards, ...):
  rlvr       ``rl.loops.grpo.train``: bf16 sampling (rollout.dtype auto), fp32 master weights with
             bf16 autocast (learner.mixed_precision auto); by default colocated (the learner samples
             from its own module: ``rollout.colocate=true``) with the ``static`` rollout backend (static
             KV cache, CUDA-graph decode step). ``--rlvr-placement``/``--rlvr-backend``/``--rlvr-override``
             change that.
  trl_bf16   TRL with the model loaded in bf16 and ``bf16=True``: bf16 weights and optimizer state.
  trl_amp    TRL with fp32 weights and ``bf16=True``: fp32 masters, bf16 autocast (what rlvr's learner does).
  (``--cpu``: rlvr with rollout actors, and one TRL side ``trl`` in fp32, as ``grpo_bench.py``.)

Equal settings on every side: what ``grpo_bench.py`` lists (prompts and their token ids, checked; the
math verifier as the only reward; G, prompts per step, max new tokens, temperature 1, top-p 1, no
top-k; clip 0.2/0.28, token-mean loss, no KL, one optimizer step per P x G batch, lr 1e-4, grad clip
1.0, micro-batch 32), no vLLM on either side, no gradient checkpointing; TRL generates each batch in
one ``generate`` call with its default dynamic cache (and ``disable_compile``, as TRL sets it).

What is timed: as ``grpo_bench.py``: steps 2..N (step 1 warms up: CUDA graph capture, allocator),
split into generate / score / update / sync (+ TRL's prep); completion tokens per second; and peak
GPU memory in use during the side's whole run above what was in use before it (nvidia-smi, all of
its processes: CUDA contexts and allocator reserve included, the same reading for both designs).
The LAST line: ``gpu_grpo_bench: <model> steps/s rlvr=… trl_bf16=… ratio=…x | <next model> …``, the
ratio being rlvr's steps/s over TRL-bf16's (over TRL fp32's with ``--cpu``), medians over rounds.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the shared machinery beside this script
from _grpo_common import (  # noqa: E402
    SHAPES,
    GpuMemoryPeak,
    add_step_arguments,
    check_same_prompt_ids,
    load_bench_config,
    run_rlvr,
    run_side,
    run_trl,
    shape_model,
    step_argv,
    summarise,
)

TRL_PRECISION = {"trl_bf16": "bf16", "trl_amp": "amp", "trl": "fp32"}
WEIGHTS_DTYPE = {"bf16": "bfloat16", "amp": "float32", "fp32": "float32"}  # what each TRL side must have trained
FALLBACK_MARK = "static rollout backend:"  # the static backend's warning when it could not capture its decode step


def rlvr_overrides(args: argparse.Namespace) -> list[str]:
    """Placement and backend of rlvr's side, then any ``--rlvr-override``, in that order."""
    if args.rlvr_placement == "colocate":
        placement = ["rollout.colocate=true"] + ([] if args.cpu else ["learner.num_gpus=1"])
    else:  # one GPU shared by a rollout actor and the learner
        placement = ["rollout.colocate=false"] + ([] if args.cpu else ["rollout.num_gpus=0.5", "learner.num_gpus=0.5"])
    return placement + [f"rollout.backend={args.rlvr_backend}"] + list(args.rlvr_override)


def worker_argv(args: argparse.Namespace, model_dir: str) -> list[str]:
    argv = step_argv(args, model_dir) + ["--rlvr-placement", args.rlvr_placement, "--rlvr-backend", args.rlvr_backend]
    for override in args.rlvr_override:
        argv += ["--rlvr-override", override]
    return argv + (["--cpu"] if args.cpu else [])


def run_worker(args: argparse.Namespace) -> dict:
    """One side, in this (sub)process; its result with the peak GPU memory of its run."""
    args.device = "cpu" if args.cpu else "cuda"
    with GpuMemoryPeak() as memory:
        if args.worker == "rlvr":
            args.rlvr_override = rlvr_overrides(args)  # run_rlvr applies these on top of the bench settings
            result = run_rlvr(args)
        else:
            args.precision = TRL_PRECISION[args.worker]
            result = run_trl(args)
    return {**result, "side": args.worker, "gpu_peak_mib": memory.peak_mib}


def count_parameters(model_dir: str) -> int:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):  # shapes only, no memory
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_dir, local_files_only=True))
    return sum(p.numel() for p in model.parameters())


def compare(args: argparse.Namespace, shape: str, scratch: Path) -> dict[str, list[dict]]:
    """Build ``shape`` once, check the prompts, then every side ``args.rounds`` times, alternating the order."""
    model_dir = shape_model(shape)  # built once, cached under runs/gpu_models
    config = load_bench_config(args, str(scratch), model_dir)
    prompt_len = check_same_prompt_ids(config)
    r = config.rollout
    print(f"gpu_grpo_bench: {shape} ({count_parameters(model_dir) / 1e6:.1f}M params) {model_dir}")
    print(f"  {args.steps} steps (first untimed) x {r.prompts_per_step} prompts x G={r.group_size}, max_new_tokens="
          f"{r.max_new_tokens}, micro-batch {config.learner.micro_batch_size}, prompt ~{prompt_len} tokens (same ids on every "
          f"side); {'CPU fp32' if args.cpu else 'GPU'}; rlvr overrides: {' '.join(rlvr_overrides(args))}", flush=True)
    runs: dict[str, list[dict]] = {side: [] for side in args.sides}
    for round_ in range(args.rounds):
        for side in (args.sides if round_ % 2 == 0 else args.sides[::-1]):
            run = run_side(Path(__file__).resolve(), side, worker_argv(args, model_dir), scratch / shape, round_,
                           threads=args.threads, timeout_s=args.side_timeout)
            check_settings(side, run, scratch / shape / f"{side}_{round_}" / "log.txt")
            runs[side].append(run)
            s = summarise(run)
            print(f"  round {round_ + 1} {side:8}: {s['steps_per_s']:.3f} steps/s {s['tokens_per_s']:7.0f} tok/s | step "
                  f"{s['step_s']:.2f}s = generate {s['generate_s']:.2f} + score {s['score_s']:.2f} + prep {s['prep_s']:.2f} "
                  f"+ update {s['update_s']:.2f} + sync {s['sync_s']:.2f} | peak {_gib(run['gpu_peak_mib'])} GiB "
                  f"| untimed {run['untimed_s']:.0f}s", flush=True)
    return runs


def check_settings(side: str, run: dict, log: Path) -> None:
    """What a side must have run with; a static-backend fallback is reported, not hidden."""
    if side in TRL_PRECISION and run["weights_dtype"] != WEIGHTS_DTYPE[run["precision"]]:
        raise SystemExit(f"{side}: TRL trained {run['weights_dtype']} weights, expected {WEIGHTS_DTYPE[run['precision']]}")
    fallbacks = [line.strip() for line in log.read_text(errors="replace").splitlines() if FALLBACK_MARK in line]
    for line in fallbacks[:2]:
        print(f"  WARNING {side}: {line}")


def _gib(mib: int | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.1f}"


def report(results: dict[str, dict[str, list[dict]]], reference: str) -> None:
    cols = ("step_s", "generate_s", "score_s", "prep_s", "update_s", "sync_s", "other_s")
    parts = []
    for shape, runs in results.items():
        med = {side: {k: statistics.median(summarise(r)[k] for r in rs) for k in summarise(rs[0])} for side, rs in runs.items()}
        print(f"\n{shape}: medians over rounds, per timed step (seconds; each column its own median)")
        print(f"  {'side':8} {'step':>7} {'generate':>9} {'score':>7} {'prep':>7} {'update':>7} {'sync':>7} {'other':>7} "
              f"{'tok/step':>9} {'tok/s':>8} {'peak GiB':>9}")
        for side, m in med.items():
            peak = max((r["gpu_peak_mib"] for r in runs[side] if r["gpu_peak_mib"] is not None), default=None)
            print(f"  {side:8} " + " ".join(f"{m[c]:{9 if c == 'generate_s' else 7}.3f}" for c in cols)
                  + f" {m['tokens_per_step']:9.0f} {m['tokens_per_s']:8.0f} {_gib(peak):>9}")
        paired = [summarise(x)["steps_per_s"] / summarise(y)["steps_per_s"] for x, y in zip(runs["rlvr"], runs[reference])]
        print(f"  per-round ratios rlvr/{reference} (each round ran both): {' '.join(f'{q:.2f}x' for q in paired)}")
        others = " ".join(f"{side}={m['steps_per_s']:.3f}" for side, m in med.items() if side != "rlvr")
        parts.append(f"{shape} steps/s rlvr={med['rlvr']['steps_per_s']:.3f} {others} "
                     f"ratio={med['rlvr']['steps_per_s'] / med[reference]['steps_per_s']:.2f}x")
    print("gpu_grpo_bench: " + " | ".join(parts))


def delegate_memory(argv: list[str]) -> int | None:
    """``--memory``: the FSDP/LoRA memory map lives in benchmarks/gpu_memory.py (its ``main(argv)``)."""
    path = HERE / "gpu_memory.py"
    if not path.is_file():
        raise SystemExit(f"gpu_grpo_bench --memory: {path} does not exist yet (the FSDP/LoRA memory map of issue 14 "
                         "is written separately); nothing was measured")
    spec = importlib.util.spec_from_file_location("gpu_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=None, help=f"comma-separated shapes of {sorted(SHAPES)} (default 0.5b; tiny with --cpu)")
    parser.add_argument("--cpu", action="store_true", help="run on CPU in fp32 (sides rlvr and trl): a smoke run of this script")
    parser.add_argument("--quick", action="store_true", help="2 steps, 1 round")
    add_step_arguments(parser, steps=6, max_new_tokens=64, rlvr_workers=1,
                       workers_help="rlvr learners (and rollout actors when separate); one GPU: 1")
    parser.add_argument("--rounds", type=int, default=2, help="runs per side; the order reverses every round")
    parser.add_argument("--rlvr-placement", choices=("colocate", "separate"), default=None,
                        help="colocate: the learner samples (GPU default); separate: rollout actor(s) beside it (CPU default)")
    parser.add_argument("--rlvr-backend", default="static", help="rollout.backend of rlvr's side (default %(default)s)")
    parser.add_argument("--rlvr-override", action="append", default=[], metavar="KEY=VALUE",
                        help="another rlvr config override, applied last (repeatable)")
    parser.add_argument("--sides", default=None, help="comma-separated (default rlvr,trl_bf16,trl_amp; rlvr,trl with --cpu)")
    parser.add_argument("--side-timeout", type=float, default=900, help="seconds one side's run may take")
    parser.add_argument("--scratch", default=None, help="directory for the sides' logs and results (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--worker", choices=("rlvr", *TRL_PRECISION), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 2, 1
    if args.steps < 2:
        parser.error("--steps must be >= 2: step 1 is warm-up and is not timed")
    args.models = (args.models or ("tiny" if args.cpu else "0.5b")).split(",")
    if unknown := [m for m in args.models if m not in SHAPES]:
        parser.error(f"unknown model shape(s) {unknown}; known: {sorted(SHAPES)}")
    args.sides = (args.sides or ("rlvr,trl" if args.cpu else "rlvr,trl_bf16,trl_amp")).split(",")
    reference = "trl" if args.cpu else "trl_bf16"
    if "rlvr" not in args.sides or reference not in args.sides or not set(args.sides) <= {"rlvr", *TRL_PRECISION}:
        parser.error(f"--sides must include rlvr and {reference} (the ratio's two sides); others: {sorted(TRL_PRECISION)}")
    args.rlvr_placement = args.rlvr_placement or ("separate" if args.cpu else "colocate")
    return args


def main(argv: list[str] | None = None) -> int | None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--memory" in argv:
        argv.remove("--memory")
        return delegate_memory(argv)
    args = parse(argv)
    if args.worker:
        (Path(args.out) / "result.json").write_text(json.dumps(run_worker(args)))
        return
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="gpu_grpo_bench_"))
    scratch.mkdir(parents=True, exist_ok=True)
    keep = args.keep or args.scratch
    try:
        results = {shape: compare(args, shape, scratch) for shape in args.models}
        if keep:
            print(f"\n  logs and results in {scratch}")
        report(results, reference="trl" if args.cpu else "trl_bf16")  # its last line is the summary
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
