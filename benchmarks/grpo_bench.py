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
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `rl`, `verifiers`, `rewards` importable when run as a script from anywhere
    sys.path.insert(0, str(REPO))

EXPERIMENT = REPO / "experiments" / "tiny_arith.yaml"
WORKER_TIMEOUT_S = 900  # one side's run; a hung run fails the benchmark instead of stalling it
PHASES = ("generate", "score", "prep", "update", "sync")


# ----------------------------------------------------------------------------- shared settings

def bench_overrides(args: argparse.Namespace, out_dir: str) -> list[str]:
    """rlvr overrides of experiments/tiny_arith.yaml: the benchmark's sizes, RL only, one reward component."""
    return [
        f"run.out_dir={out_dir}",
        f"run.total_steps={args.steps}",
        "run.eval_every=0",
        "run.save_every=0",  # 0 = only the final checkpoint, written after the last timed step
        "data.n_eval=0",
        "sft.steps=0",
        f"rollout.group_size={args.group_size}",
        f"rollout.prompts_per_step={args.prompts_per_step}",
        f"rollout.max_new_tokens={args.max_new_tokens}",
        "rewards.components=[{name: correct, kind: verifier, weight: 1.0}]",
        f"rollout.num_cpus={args.threads}",  # also each actor's torch threads
        f"learner.num_cpus={args.threads}",
        # rlvr's design on a multi-core box: data-parallel rollout actors and learners, each one
        # process with its own thread; the algorithm (on-policy, one update per batch) is unchanged.
        f"rollout.num_actors={args.rlvr_workers}",
        f"learner.num_learners={args.rlvr_workers}",
    ]


def load_bench_config(args: argparse.Namespace, out_dir: str, model_dir: str | None = None):
    from rl.config.loader import load_config

    overrides = bench_overrides(args, out_dir)
    if model_dir is not None:
        overrides.append(f"model.path={model_dir}")
    config = load_config(EXPERIMENT, overrides)
    batch = config.rollout.prompts_per_step * config.rollout.group_size
    micro = max(d for d in range(1, config.learner.micro_batch_size + 1) if batch % d == 0)  # TRL needs an exact split
    return load_config(EXPERIMENT, overrides + [f"learner.micro_batch_size={micro}"])


def step_prompts(config) -> list:
    """The prompts rlvr trains on at steps 0..N-1, in order (its PromptSchedule over the kept train split)."""
    from rl.data.prompts import drop_long_prompts, load_splits
    from rl.loops.grpo import PromptSchedule
    from rl.engine.policy import load_tokenizer

    train, _ = load_splits(config.data)
    train, _ = drop_long_prompts(train, load_tokenizer(config.model.path), config.data)
    schedule = PromptSchedule(train, config.rollout.prompts_per_step, config.run.seed)
    return [p for step in range(config.run.total_steps) for p in schedule.batch(step)]


class PhaseClock:
    """Wall-clock events (end time, phase, seconds) from wrapped calls, and the step ends."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, float]] = []
        self.step_ends: list[float] = []
        self.step_tokens: list[int] = []

    def wrap(self, fn: Callable, phase: str) -> Callable:
        @functools.wraps(fn)
        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                t1 = time.perf_counter()
                self.events.append((t1, phase, t1 - t0))
        return timed

    def result(self, side: str, untimed_s: float, **extra: Any) -> dict:
        """Per-step times and tokens of steps 2..N, phase totals over the same window."""
        ends = self.step_ends
        if len(ends) < 2:
            raise RuntimeError(f"{side}: need at least 2 steps to time one after warm-up, got {len(ends)}")
        window = (ends[0], ends[-1])
        phases = {p: 0.0 for p in PHASES}
        for t_end, phase, seconds in self.events:
            if window[0] < t_end <= window[1]:
                phases[phase] = phases.get(phase, 0.0) + seconds
        return {
            "side": side,
            "step_s": [b - a for a, b in zip(ends, ends[1:])],
            "tokens": self.step_tokens[1:len(ends)],
            "phases_s": phases,
            "untimed_s": untimed_s,
            **extra,
        }


# ----------------------------------------------------------------------------- rlvr side

def run_rlvr(args: argparse.Namespace) -> dict:
    import ray

    from rl.engine.actors import Cluster
    from rl.loops.grpo import train
    from rl.runs.run_dir import RunDirectory
    from rl.engine.scorer import RolloutScorer

    started = time.perf_counter()
    config = load_bench_config(args, args.out, args.model_dir)
    clock = PhaseClock()
    Cluster.generate = clock.wrap(Cluster.generate, "generate")
    Cluster._update = clock.wrap(Cluster._update, "update")
    Cluster.sync_weights = clock.wrap(Cluster.sync_weights, "sync")
    RolloutScorer.score = clock.wrap(RolloutScorer.score, "score")
    per_step = config.rollout.prompts_per_step * config.rollout.group_size
    write_line = RunDirectory.log

    def log(self, step: int, metrics: dict) -> None:  # called once at the end of every RL step (and at step 0)
        write_line(self, step, metrics)
        if step >= 1:
            clock.step_ends.append(time.perf_counter())
            clock.step_tokens.append(round(metrics["completion/length"] * per_step))

    RunDirectory.log = log
    try:
        train(config)
    finally:
        ray.shutdown()
    total = time.perf_counter() - started
    timed = clock.step_ends[-1] - clock.step_ends[0]
    return clock.result("rlvr", untimed_s=total - timed)


# ----------------------------------------------------------------------------- TRL side

def run_trl(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)  # as many as one rlvr actor gets
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rewards.rules import verifier_score
    from verifiers import VerifyRequest
    from verifiers.pool import run_verifier

    started = time.perf_counter()
    config = load_bench_config(args, args.out, args.model_dir)
    r, lc, algo = config.rollout, config.learner, config.algorithm
    prompts = step_prompts(config)
    dataset = Dataset.from_list([{"prompt": p.chat(config.data.system_prompt), "reference": p.reference} for p in prompts])

    def math_reward(completions, reference, **_) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        verdicts = [run_verifier(config.data.default_verifier, VerifyRequest(t, ref)) for t, ref in zip(texts, reference)]
        return [verifier_score(t, v) for t, v in zip(texts, verdicts)]

    batch = r.prompts_per_step * r.group_size
    trl_args = GRPOConfig(
        output_dir=str(Path(args.out) / "trl"),
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
        per_device_train_batch_size=lc.micro_batch_size,
        gradient_accumulation_steps=batch // lc.micro_batch_size,  # one optimizer step = one P x G generation batch
        num_generations=r.group_size, max_completion_length=r.max_new_tokens,
        temperature=r.temperature, top_p=r.top_p, top_k=0,
        beta=algo.kl_coef, num_iterations=algo.ppo_epochs, epsilon=algo.clip_low, epsilon_high=algo.clip_high,
        loss_type="dapo", scale_rewards="group",
        learning_rate=lc.lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=lc.weight_decay,
        max_grad_norm=lc.grad_clip, max_steps=config.run.total_steps, shuffle_dataset=False, seed=config.run.seed,
        logging_steps=1, report_to=[], save_strategy="no", disable_tqdm=True, log_completions=False,
    )
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    tokenizer.padding_side = "left"
    trainer = GRPOTrainer(model=model, reward_funcs=[math_reward], args=trl_args, train_dataset=dataset,
                          processing_class=tokenizer)

    clock = PhaseClock()

    class StepEnds(TrainerCallback):
        def on_step_end(self, *_, **__):
            clock.step_ends.append(time.perf_counter())

    def count_tokens(fn):
        def generate(*a, **kw):
            completion_ids, logprobs = fn(*a, **kw)
            clock.step_tokens.append(sum(len(c) for c in completion_ids))
            return completion_ids, logprobs
        return generate

    trainer.add_callback(StepEnds())
    trainer._generate_single_turn = clock.wrap(count_tokens(trainer._generate_single_turn), "generate")
    trainer._calculate_rewards = clock.wrap(trainer._calculate_rewards, "score")
    trainer._generate_and_score_completions = clock.wrap(trainer._generate_and_score_completions, "rollout")
    trainer.train()
    total = time.perf_counter() - started
    timed = clock.step_ends[-1] - clock.step_ends[0]
    out = clock.result("trl", untimed_s=total - timed)
    rollout = sum(s for t, p, s in clock.events if p == "rollout" and clock.step_ends[0] < t <= clock.step_ends[-1])
    phases = out["phases_s"]
    phases["prep"] = rollout - phases["generate"] - phases["score"]
    phases["update"] = sum(out["step_s"]) - rollout
    return out


# ----------------------------------------------------------------------------- driver

def check_same_prompt_ids(config) -> int:
    """Mean prompt length of step 1, after checking that rlvr's rendering and TRL's conversational
    path give the same token ids for each of its prompts."""
    from transformers import AutoTokenizer

    from rl.data.prompts import render_prompt
    from rl.engine.policy import load_tokenizer

    ours = load_tokenizer(config.model.path)
    theirs = AutoTokenizer.from_pretrained(config.model.path, local_files_only=True)
    lengths = []
    for p in step_prompts(config)[: config.rollout.prompts_per_step]:
        a = list(ours(render_prompt(p, ours, config.data), add_special_tokens=False)["input_ids"])
        b = list(theirs.apply_chat_template(conversation=[p.chat(config.data.system_prompt)], add_generation_prompt=True,
                                            tokenize=True, return_dict=True)["input_ids"][0])
        if a != b:
            raise SystemExit(f"prompt {p.id}: rlvr and TRL tokenize the prompt differently:\n  {a}\n  {b}")
        lengths.append(len(a))
    return round(statistics.mean(lengths))


def run_side(side: str, args: argparse.Namespace, model_dir: str, scratch: Path, index: int) -> dict:
    out = scratch / f"{side}_{index}"
    result = out / "result.json"
    log = out / "log.txt"
    out.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--model-dir", model_dir, "--out", str(out),
           "--steps", str(args.steps), "--group-size", str(args.group_size),
           "--prompts-per-step", str(args.prompts_per_step), "--max-new-tokens", str(args.max_new_tokens),
           "--threads", str(args.threads)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_USAGE_STATS_ENABLED": "0",
           "OMP_NUM_THREADS": str(args.threads)}
    env.pop("RAY_ADDRESS", None)  # a local, private Ray instance: the cluster's other load would not be ours
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO, timeout=WORKER_TIMEOUT_S)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    if code != 0 or not result.exists():
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise SystemExit(f"{side} run {index} failed ({code}); last lines of {log}:\n{tail}")
    return json.loads(result.read_text())


def summarise(run: dict) -> dict:
    """Throughput and per-step phase seconds of one run; "other" is the step time no phase accounts for."""
    seconds, tokens, steps = sum(run["step_s"]), sum(run["tokens"]), len(run["step_s"])
    phases = {f"{p}_s": run["phases_s"][p] / steps for p in PHASES}
    return {"steps_per_s": steps / seconds, "tokens_per_s": tokens / seconds, "step_s": seconds / steps,
            "tokens_per_step": tokens / len(run["tokens"]), **phases, "other_s": seconds / steps - sum(phases.values())}


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
    parser.add_argument("--steps", type=int, default=10, help="RL steps per run; the first is warm-up, not timed")
    parser.add_argument("--group-size", type=int, default=8, help="G: completions per prompt")
    parser.add_argument("--prompts-per-step", type=int, default=16, help="prompts per optimizer step")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="completion length limit")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of each rlvr actor and of the TRL process (1: rlvr's default)")
    parser.add_argument("--rlvr-workers", type=int, default=os.cpu_count() or 1,
                        help="rlvr rollout actors and learners (data-parallel; default: the CPU count, %(default)s)")
    parser.add_argument("--rounds", type=int, default=4, help="runs per side; the side that goes first alternates")
    parser.add_argument("--quick", action="store_true", help="4 steps, 1 round")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, metrics)")
    parser.add_argument("--worker", choices=("rlvr", "trl"), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
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
            run = run_side(side, args, model_dir, scratch, round_)
            runs[side].append(run)
            s = summarise(run)
            print(f"  round {round_ + 1} {side:4}: {s['steps_per_s']:.3f} steps/s {s['tokens_per_s']:6.0f} tok/s | "
                  f"step {s['step_s']:.2f}s = generate {s['generate_s']:.2f} + score {s['score_s']:.2f} "
                  f"+ prep {s['prep_s']:.2f} + update {s['update_s']:.2f} + sync {s['sync_s']:.2f} "
                  f"| untimed {run['untimed_s']:.0f}s (start-up, step 1, final save)", flush=True)
    return runs


if __name__ == "__main__":
    main()
