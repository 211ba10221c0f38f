#!/usr/bin/env python
"""GRPO step throughput: rlvr's Ray loop against TRL's ``GRPOTrainer``, same model, prompts and settings.

    .venv/bin/python benchmarks/grpo_bench.py               # 10 steps, 4 rounds per side (~4 min on 2 shared cores)
    .venv/bin/python benchmarks/grpo_bench.py --quick       # 4 steps, 1 round: a smoke run
    # options: --steps 10 --group-size 8 --prompts-per-step 16 --max-new-tokens 48 --rounds 4 --threads 1 --keep

What is equal on both sides
  model        ONE tiny Qwen2 directory built by ``rl.engine.policy.ensure_model`` (fp32, CPU); each side loads it.
  prompts      rlvr's own ``PromptSchedule`` order; TRL gets the same prompts in the same order
               (``shuffle_dataset=False``) as conversational messages, so it applies the same chat
               template; the token ids of the two paths are checked to be identical before timing.
  reward       rlvr: the single component ``correct`` (kind verifier, weight 1.0) of the math verifier,
               through its process pool. TRL: the same verifier called in-process (``run_verifier``, what
               a pool worker runs), wrapped as a reward function returning ``rewards.rules.verifier_score``
               (the function behind that component).
  algorithm    G, prompts per step, max new tokens, stop at the tokenizer's EOS and the model's
               generation_config EOS ids (both sides' rule), temperature 1.0, top_p 1.0,
               no top-k; group-normalised advantages; clip 0.2/0.28; token-mean loss (TRL
               ``loss_type="dapo"``); no KL (``beta=0``, no reference model); one update per batch
               (``num_iterations=1``); lr 1e-4 constant, AdamW, grad clip 1.0; micro-batch = rlvr's
               ``learner.micro_batch_size`` = TRL's ``per_device_train_batch_size``, with gradient
               accumulation over the whole P x G batch, so one optimizer step consumes one generation
               batch of P x G completions on both sides (TRL generates it in one ``generate`` call too).
  off          SFT, evals, checkpoints inside the loop, logging to external trackers; no vLLM; fp32
               (``bf16=False``), no gradient checkpointing (TRL turns it on by default; it only trades
               compute for memory), ``use_cpu=True``.
  threads      ``--threads`` (default 1) torch threads in every process that runs the model: rlvr's
               rollout and learner actors (``num_cpus``, its default 1; they take turns) and the TRL
               process. On this shared 2-core machine 2 threads made both sides 20-30x slower (OpenMP
               threads stall whenever another tenant holds a core), so 1 is TRL's sensible setting too.

What is timed
  Each side runs in a fresh subprocess (imports, Ray start-up, model load, trainer construction excluded).
  Step time is the wall time between the ends of consecutive RL steps, from the end of step 1 to the
  end of step N: step 1 (first-call warm-up) is left out on both sides; everything a step does,
  including per-step logging, is in. rlvr: after each step's ``RunDirectory.log`` line; TRL:
  ``on_step_end`` callbacks. Completion tokens (EOS included) are counted per generated batch on both sides.
  Phases (driver-side wrappers; no rlvr code is changed): rlvr generate = ``Cluster.generate`` (Ray
  round trip included), score = ``RolloutScorer.score``, update = ``Cluster._update`` (every learner step), sync =
  ``Cluster.sync_weights``; TRL generate = ``_generate_single_turn``, score = ``_calculate_rewards``,
  the rest of ``_generate_and_score_completions`` is "prep"; update = the remainder of the step
  (forward/backward over the micro-batches, optimizer, logging).
  Runs alternate (round 1: rlvr then TRL; round 2: TRL then rlvr; ...) because the machine is shared;
  figures are medians over rounds; the per-round ratios of back-to-back pairs are printed too.
  The LAST line is the summary; ``ratio`` is rlvr's steps/s over TRL's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared machinery beside this script
from _grpo_common import (  # noqa: E402
    REPO,
    add_step_arguments,
    check_same_prompt_ids,
    load_bench_config,
    run_rlvr,
    run_side,
    run_trl,
    step_argv,
    summarise,
)

WORKER_TIMEOUT_S = 900  # one side's run; a hung run fails the benchmark instead of stalling it


def report(runs: dict[str, list[dict]]) -> None:
    med = {side: {k: statistics.median(summarise(r)[k] for r in rs) for k in summarise(rs[0])} for side, rs in runs.items()}
    print("\nmedians over rounds, per timed step (seconds; each column its own median)")
    print(f"  {'side':5} {'step':>7} {'generate':>9} {'score':>7} {'prep':>7} {'update':>7} {'sync':>7} {'other':>7} {'tok/step':>9}")
    for side, m in med.items():
        print(f"  {side:5} {m['step_s']:7.2f} {m['generate_s']:9.2f} {m['score_s']:7.2f} {m['prep_s']:7.2f} "
              f"{m['update_s']:7.2f} {m['sync_s']:7.2f} {m['other_s']:7.2f} {m['tokens_per_step']:9.0f}")
    print("  (rlvr: generate includes the Ray round trip; other = advantages, records, metrics, logging."
          " TRL: update = forward/backward + optimizer + logging, by difference.)")
    paired = [summarise(x)["steps_per_s"] / summarise(y)["steps_per_s"] for x, y in zip(runs["rlvr"], runs["trl"])]
    print(f"  per-round ratios (each pair ran back to back): {' '.join(f'{q:.2f}x' for q in paired)}; "
          f"median {statistics.median(paired):.2f}x")
    a, b = med["rlvr"], med["trl"]
    print(f"grpo_bench: steps/s rlvr={a['steps_per_s']:.3f} trl={b['steps_per_s']:.3f} | "
          f"tokens/s rlvr={a['tokens_per_s']:.0f} trl={b['tokens_per_s']:.0f} | ratio={a['steps_per_s'] / b['steps_per_s']:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_step_arguments(parser, steps=10, max_new_tokens=48, rlvr_workers=os.cpu_count() or 1,
                       workers_help="rlvr rollout actors and learners (data-parallel; default: the CPU count, %(default)s)")
    parser.add_argument("--rounds", type=int, default=4, help="runs per side; the side that goes first alternates")
    parser.add_argument("--quick", action="store_true", help="4 steps, 1 round")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, metrics)")
    parser.add_argument("--worker", choices=("rlvr", "trl"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 4, 1
    if args.steps < 2:
        parser.error("--steps must be >= 2: step 1 is warm-up and is not timed")

    if args.worker:
        result = (run_rlvr if args.worker == "rlvr" else run_trl)(args)
        (Path(args.out) / "result.json").write_text(json.dumps(result))
        return

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    scratch = Path(tempfile.mkdtemp(prefix="grpo_bench_"))
    try:
        report(compare(args, scratch))
    finally:
        if args.keep:
            print(f"  logs and metrics kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def compare(args: argparse.Namespace, scratch: Path) -> dict[str, list[dict]]:
    """Build the model once, then run the two sides in alternating order, ``args.rounds`` times each."""
    from rl.engine.policy import ensure_model

    config = load_bench_config(args, str(REPO / "runs" / "grpo_bench"))
    model_dir = str(ensure_model(config).resolve())  # ONE tiny model, cached under runs/grpo_bench; both sides load it
    config = load_bench_config(args, str(scratch), model_dir)
    prompt_len = check_same_prompt_ids(config)
    r = config.rollout
    print(f"grpo_bench: model {model_dir}")
    print(f"  {args.steps} steps (first untimed) x {r.prompts_per_step} prompts x G={r.group_size}, "
          f"max_new_tokens={r.max_new_tokens}, micro-batch {config.learner.micro_batch_size}, "
          f"{args.threads} torch thread(s) per model process, prompt ~{prompt_len} tokens (same ids both sides)")
    runs: dict[str, list[dict]] = {"rlvr": [], "trl": []}
    for round_ in range(args.rounds):
        for side in (("rlvr", "trl") if round_ % 2 == 0 else ("trl", "rlvr")):
            run = run_side(Path(__file__).resolve(), side, step_argv(args, model_dir), scratch, round_,
                           threads=args.threads, timeout_s=WORKER_TIMEOUT_S)
            runs[side].append(run)
            s = summarise(run)
            print(f"  round {round_ + 1} {side:4}: {s['steps_per_s']:.3f} steps/s {s['tokens_per_s']:6.0f} tok/s | "
                  f"step {s['step_s']:.2f}s = generate {s['generate_s']:.2f} + score {s['score_s']:.2f} "
                  f"+ prep {s['prep_s']:.2f} + update {s['update_s']:.2f} + sync {s['sync_s']:.2f} "
                  f"| untimed {run['untimed_s']:.0f}s (start-up, step 1, shut-down)", flush=True)
    return runs


if __name__ == "__main__":
    main()
