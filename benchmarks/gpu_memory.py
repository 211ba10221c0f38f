#!/usr/bin/env python
"""Memory map: does one GRPO step fit on one GPU, for Qwen2.5 shapes, and by how much, per way of holding the model.

    python benchmarks/gpu_memory.py                     # the GPU map: 0.5B, 1.5B, 3B, 7B x full-ddp, full-fsdp-offload, lora
    python benchmarks/gpu_memory.py --cpu --quick       # a smoke run here: two tiny shapes on CPU (peak RSS), seconds
    python benchmarks/gpu_grpo_bench.py --memory ...    # the same, through the GPU benchmark
    # options: --shapes 7b,1.5b  --modes lora,fsdp_offload  --batch 16 --prompt 256 --completion 768 --micro-batch 4
    #          --no-checkpointing  --lora-r 16  --config-timeout 300  --budget-s 540  --json OUT.json

Shapes: Qwen2.5-0.5B/1.5B/3B/7B's configs (hidden, intermediate, layers, heads, KV heads, vocabulary,
tied embeddings for all but 7B), random weights built on the spot (never written to disk).

Modes, all with activation checkpointing (``--no-checkpointing`` to measure without), each the real
``rl.engine.learner.Learner`` doing real GRPO steps:
  ddp            full fine-tuning, one replica: fp32 weights, gradients and AdamW state on the GPU
                 (16 bytes/parameter), bf16 autocast.
  fsdp_offload   full fine-tuning, learner.strategy=fsdp with offload_optimizer: fp32 master weights,
                 gradients and AdamW state in CPU memory, Adam steps there; the GPU holds bf16 layers
                 as they compute, and the activations.
  lora           model.lora (r=16, alpha=32, every linear layer of each block), ddp: the frozen base in
                 bf16, the adapter and its AdamW state in fp32.

Workload per configuration: two GRPO steps on ``--batch`` sequences of ``--prompt`` + ``--completion``
random tokens (advantages +-1), ``--micro-batch`` sequences per forward/backward. Step 2 is the one
that holds everything at once (Adam's state exists from step 1's end on).

What is reported: peak GPU memory allocated by PyTorch over both steps (``max_memory_allocated``; the
model, gradients, optimizer state and activations), and the peak the caching allocator reserved, and the
second step's time. On CPU (``--cpu``): peak resident memory of the process (``ru_maxrss``), which
includes Python and PyTorch themselves; ``fsdp`` there means two learners on CPU (gloo), each measured.

Each configuration runs in its own subprocess under ``--config-timeout``: an out-of-memory error is one
cell of the table ("OOM"), not the end of it. ``--budget-s`` bounds the whole run; configurations that do
not get their turn are listed as "not run". Order: 7B LoRA and 1.5B FSDP first (the checks issue 12 asks
for), then the rest from small to large. The LAST line: ``gpu_memory: ...`` one summary.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # rl importable when run as a script from anywhere
    sys.path.insert(0, str(REPO))

QWEN25 = dict(max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6)
SHAPES: dict[str, dict] = {  # Qwen2.5's config.json values
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                 vocab_size=151936, tie_word_embeddings=True, **QWEN25),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                 vocab_size=151936, tie_word_embeddings=True, **QWEN25),
    "3b": dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
               vocab_size=151936, tie_word_embeddings=True, **QWEN25),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
               vocab_size=152064, tie_word_embeddings=False, **QWEN25),
}
QUICK_SHAPES: dict[str, dict] = {  # --cpu --quick: the same code paths, in seconds
    "tiny-a": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                   vocab_size=1024, tie_word_embeddings=True, max_position_embeddings=512),
    "tiny-b": dict(hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                   vocab_size=4096, tie_word_embeddings=False, max_position_embeddings=512),
}
MODES = ("ddp", "fsdp_offload", "lora")
MODE_LABELS = {"ddp": "full, ddp", "fsdp_offload": "full, fsdp + optimizer offload", "lora": "LoRA r={r}, ddp"}
FIRST = (("7b", "lora"), ("1.5b", "fsdp_offload"))  # issue 12's two GPU checks run before the rest of the map


# ----------------------------------------------------------------------------- one configuration (a subprocess)

def random_policy(shape: dict, path: str, device: str = "cpu", dtype: str = "float32", *, lora=None, trainable: bool = False):
    """Stands in for ``rl.engine.policy.load_policy``: the same (model, tokenizer) contract, with random
    weights of ``shape`` built where the learner asked, in the dtype it asked for, and its adapter."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rl.engine.lora import add_adapter
    from rl.engine.policy import resolve_device, resolve_dtype

    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, resolve_dtype(dtype, device)))
    try:
        with torch.device(resolve_device(device)):
            model = Qwen2ForCausalLM(Qwen2Config(**shape))
    finally:
        torch.set_default_dtype(previous)
    if lora is not None and lora.enabled:
        model = add_adapter(model, lora)
    return model.train(), SimpleNamespace(pad_token_id=0)


def synthetic_batch(vocab: int, args: argparse.Namespace) -> list:
    import torch

    from rl.data.records import TrainSequence

    gen = torch.Generator().manual_seed(0)
    return [TrainSequence(tuple(torch.randint(1, vocab, (args.prompt,), generator=gen).tolist()),
                          tuple(torch.randint(1, vocab, (args.completion,), generator=gen).tolist()), advantage=1.0 - 2 * (i % 2))
            for i in range(args.batch)]


def learner_config(mode: str, args: argparse.Namespace, world: int):
    from rl.config import LearnerConfig, LoRAConfig

    device = "cpu" if args.cpu else "cuda"
    cfg = LearnerConfig(device=device, lr=1e-6, micro_batch_size=args.micro_batch, gradient_checkpointing=not args.no_checkpointing,
                        strategy="fsdp" if mode == "fsdp_offload" else "ddp", num_learners=world,
                        offload_optimizer=mode == "fsdp_offload" and not args.cpu)  # on CPU there is nothing to offload to
    lora = LoRAConfig(r=args.lora_r, alpha=2.0 * args.lora_r) if mode == "lora" else None
    return cfg, lora


def measure(shape_name: str, mode: str, args: argparse.Namespace, rank: int = 0, world: int = 1, port: int | None = None) -> dict:
    """Build the learner, run two GRPO steps, report memory; an OOM is a result, not a crash."""
    import torch

    from rl.config import AlgorithmConfig
    from rl.engine import learner as learner_module
    from rl.engine.lora import LORA_KEY

    shape = (QUICK_SHAPES if args.quick else SHAPES)[shape_name]
    learner_module.load_policy = lambda path, **kw: random_policy(shape, path, **kw)
    cfg, lora = learner_config(mode, args, world)
    cuda = not args.cpu
    out: dict = {"shape": shape_name, "mode": mode}
    try:
        started = time.perf_counter()
        learner = learner_module.Learner(shape_name, cfg, AlgorithmConfig(), rank=rank, world_size=world, lora=lora,
                                         master_addr="127.0.0.1" if world > 1 else None, master_port=port)
        base = [p for name, p in learner.model.named_parameters() if LORA_KEY not in name]
        out["params"] = sum(p.numel() for p in base)  # the model's own (a shard's numel is its whole tensor's)
        out["trainable"] = sum(p.numel() for p in learner.trainable)
        out["build_s"] = round(time.perf_counter() - started, 1)
        if cuda:
            torch.cuda.synchronize()
            out["resident_gib"] = torch.cuda.memory_allocated() / 2**30
            torch.cuda.reset_peak_memory_stats()
        sequences = synthetic_batch(shape["vocab_size"], args)
        counts = dict(num_tokens=args.batch * args.completion, num_seqs=args.batch, max_len=args.completion)
        mine = sequences[rank::world]
        for step in (1, 2):
            t0 = time.perf_counter()
            metrics = learner.grpo_step(mine, **counts)
            if cuda:
                torch.cuda.synchronize()
            out[f"step{step}_s"] = round(time.perf_counter() - t0, 2)
        out.update(fits=True, loss=metrics["loss"])
    except torch.OutOfMemoryError as exc:
        out.update(fits=False, error="OOM", detail=str(exc).splitlines()[0][:200])
    if cuda:
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        out["reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
    else:
        out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    return out


def _rank_main(rank: int, world: int, shape: str, mode: str, args: argparse.Namespace, port: int, folder: str) -> None:
    import torch

    torch.set_num_threads(1)
    Path(folder, f"rank{rank}.json").write_text(json.dumps(measure(shape, mode, args, rank, world, port)))


def run_one(shape: str, mode: str, args: argparse.Namespace) -> dict:
    """This process's measurement of one configuration (``--one``); on CPU, fsdp runs two learners."""
    if not (args.cpu and mode == "fsdp_offload"):
        return measure(shape, mode, args)
    import socket
    import tempfile

    import torch.multiprocessing as mp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        mp.start_processes(_rank_main, args=(2, shape, mode, args, port, folder), nprocs=2, join=True, start_method="spawn")
        ranks = [json.loads(Path(folder, f"rank{r}.json").read_text()) for r in range(2)]
    return {**ranks[0], "peak_gib": max(r["peak_gib"] for r in ranks), "learners": 2}


# ----------------------------------------------------------------------------- the map (the parent)

def cell(result: dict | None, cpu: bool) -> str:
    if result is None:
        return "not run (budget)"
    if result.get("fits"):
        peak = f"{result['peak_gib']:.1f} GiB" + ("" if cpu else f" (reserved {result['reserved_gib']:.1f})")
        return f"fits: {peak}, step {result['step2_s']:.1f} s"
    if result.get("error") == "OOM":
        return f"OOM (at {result['peak_gib']:.1f} GiB allocated)"
    return result.get("error", "error")


def run_map(args: argparse.Namespace) -> dict:
    shapes = args.shapes.split(",") if args.shapes else list(QUICK_SHAPES if args.quick else SHAPES)
    modes = args.modes.split(",") if args.modes else list(MODES)
    wanted = [(s, m) for s in shapes for m in modes]
    order = [c for c in FIRST if c in wanted] + [c for c in wanted if c not in FIRST]
    started, results = time.monotonic(), {}
    for shape, mode in order:
        left = args.budget_s - (time.monotonic() - started)
        if left < 20:
            break
        limit = min(args.config_timeout, left)
        argv = [sys.executable, str(Path(__file__).resolve()), "--one", shape, mode, *passthrough(args)]
        t0 = time.monotonic()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=limit)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            result = json.loads(lines[-1]) if lines else {"fits": False, "error": f"error (rc {done.returncode}): "
                                                           f"{(done.stderr.strip().splitlines() or ['?'])[-1][:160]}"}
        except subprocess.TimeoutExpired:
            result = {"fits": False, "error": f"timeout ({limit:.0f} s)"}
        result["wall_s"] = round(time.monotonic() - t0, 1)
        results[(shape, mode)] = result
        print(f"{shape:>6} {mode:<13} {cell(result, args.cpu)}  [{result['wall_s']:.0f} s]", flush=True)
    return {"shapes": shapes, "modes": modes, "results": results}


def passthrough(args: argparse.Namespace) -> list[str]:
    flags = ["--batch", str(args.batch), "--prompt", str(args.prompt), "--completion", str(args.completion),
             "--micro-batch", str(args.micro_batch), "--lora-r", str(args.lora_r)]
    return flags + [f"--{name}" for name in ("cpu", "quick", "no-checkpointing") if getattr(args, name.replace("-", "_"))]


def table(report: dict, args: argparse.Namespace) -> str:
    params = {s: next((r["params"] for (shape, _), r in report["results"].items() if shape == s and "params" in r), None)
              for s in report["shapes"]}
    labels = {**MODE_LABELS, **({"fsdp_offload": "full, fsdp x2 learners (CPU: no offload)"} if args.cpu else {})}
    head = "| shape | parameters | " + " | ".join(labels[m].format(r=args.lora_r) for m in report["modes"]) + " |"
    rows = [head, "|" + "---|" * (2 + len(report["modes"]))]
    for s in report["shapes"]:
        count = f"{params[s] / 1e9:.2f} B" if params[s] and params[s] > 1e8 else (f"{params[s] / 1e6:.1f} M" if params[s] else "?")
        rows.append(f"| {s} | {count} | " + " | ".join(cell(report["results"].get((s, m)), args.cpu) for m in report["modes"]) + " |")
    return "\n".join(rows)


def device_name(cpu: bool) -> str:
    if cpu:
        return f"CPU ({os.cpu_count()} cores)"
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu", action="store_true", help="run on CPU (peak RSS): a smoke run of this script")
    p.add_argument("--quick", action="store_true", help="tiny shapes and a small batch")
    p.add_argument("--shapes", help=f"comma-separated, of {', '.join(SHAPES)} (or {', '.join(QUICK_SHAPES)} with --quick)")
    p.add_argument("--modes", help=f"comma-separated, of {', '.join(MODES)}")
    p.add_argument("--batch", type=int, default=None, help="sequences per GRPO step (default 16; 4 with --quick)")
    p.add_argument("--prompt", type=int, default=None, help="prompt tokens per sequence (default 256; 16 with --quick)")
    p.add_argument("--completion", type=int, default=None, help="completion tokens per sequence (default 768; 48 with --quick)")
    p.add_argument("--micro-batch", type=int, default=None, help="sequences per forward/backward (default 4; 2 with --quick)")
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank (alpha = 2r)")
    p.add_argument("--no-checkpointing", action="store_true", help="without activation checkpointing")
    p.add_argument("--config-timeout", type=float, default=300, help="seconds per configuration")
    p.add_argument("--budget-s", type=float, default=540, help="seconds for the whole map")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--one", nargs=2, metavar=("SHAPE", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    defaults = dict(batch=(4, 16), prompt=(16, 256), completion=(48, 768), micro_batch=(2, 4))
    for key, (quick, full) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.one:
        print(json.dumps(run_one(*args.one, args)), flush=True)
        return 0
    workload = (f"{args.batch} x ({args.prompt} + {args.completion}) tokens, micro-batch {args.micro_batch}, "
                f"activation checkpointing {'off' if args.no_checkpointing else 'on'}")
    print(f"memory map on {device_name(args.cpu)}: one GRPO step of {workload}", flush=True)
    report = run_map(args)
    print(table(report, args))
    if args.json:
        args.json.write_text(json.dumps({f"{s}/{m}": r for (s, m), r in report["results"].items()}, indent=2) + "\n")
    ran = list(report["results"].values())
    fits = sum(1 for r in ran if r.get("fits"))
    print(f"gpu_memory: {device_name(args.cpu)} {len(ran)}/{len(report['shapes']) * len(report['modes'])} configurations run, "
          f"{fits} fit, {sum(1 for r in ran if r.get('error') == 'OOM')} OOM, {len(ran) - fits} did not run a step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
