"""What the GRPO step benchmarks share (``grpo_bench.py`` on CPU, ``gpu_grpo_bench.py`` on one GPU):
the rlvr overrides of ``experiments/tiny_arith.yaml``, the prompts both sides train on, each side's
run (rlvr's Ray loop, TRL's ``GRPOTrainer``) with its phase clock, the equal-prompt check, one side
in a fresh subprocess, and the per-run summary. Each script documents what it measures.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `rl`, `verifiers`, `rewards` importable when run as a script from anywhere
    sys.path.insert(0, str(REPO))

EXPERIMENT = REPO / "experiments" / "tiny_arith.yaml"
PHASES = ("generate", "score", "prep", "update", "sync")

# Model shapes as ``model.tiny_*`` overrides: Qwen2.5's layer sizes around the task's own small tokenizer
# (random init, built locally). "tiny" is tiny_arith's own model.
SHAPES: dict[str, list[str]] = {
    "tiny": [],
    "0.5b": ["model.tiny_layers=24", "model.tiny_hidden_size=896", "model.tiny_intermediate_size=4864",
             "model.tiny_heads=14", "model.tiny_kv_heads=2"],
    "1.5b": ["model.tiny_layers=28", "model.tiny_hidden_size=1536", "model.tiny_intermediate_size=8960",
             "model.tiny_heads=12", "model.tiny_kv_heads=2"],
}


MODEL_CACHE = REPO / "runs" / "gpu_models"  # shape models built by the GPU benchmarks, reused across runs


def shape_model(shape: str) -> str:
    """The model directory of ``shape``, built on first use from the task's text and cached (ensure_model's
    key: the shape and the prompts, which ``bench_overrides`` leaves as they are apart from n_eval=0)."""
    from rl.config.loader import load_config
    from rl.engine.policy import ensure_model

    config = load_config(EXPERIMENT, [f"run.out_dir={MODEL_CACHE}", "data.n_eval=0", *SHAPES[shape]])
    return str(ensure_model(config).resolve())


# ----------------------------------------------------------------------------- shared settings

def add_step_arguments(parser: argparse.ArgumentParser, *, steps: int, max_new_tokens: int, rlvr_workers: int,
                       workers_help: str) -> None:
    """The settings every side runs with; ``step_argv`` hands them to each side's subprocess."""
    parser.add_argument("--steps", type=int, default=steps, help="RL steps per run; the first is warm-up, not timed")
    parser.add_argument("--group-size", type=int, default=8, help="G: completions per prompt")
    parser.add_argument("--prompts-per-step", type=int, default=16, help="prompts per optimizer step")
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens, help="completion length limit")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of each rlvr actor and of the TRL process (1: rlvr's default)")
    parser.add_argument("--rlvr-workers", type=int, default=rlvr_workers, help=workers_help)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)


def step_argv(args: argparse.Namespace, model_dir: str) -> list[str]:
    """``add_step_arguments``' settings as a side's command-line arguments."""
    return ["--model-dir", model_dir, "--steps", str(args.steps), "--group-size", str(args.group_size),
            "--prompts-per-step", str(args.prompts_per_step), "--max-new-tokens", str(args.max_new_tokens),
            "--threads", str(args.threads), "--rlvr-workers", str(args.rlvr_workers)]


def bench_overrides(args: argparse.Namespace, out_dir: str) -> list[str]:
    """rlvr overrides of experiments/tiny_arith.yaml: the benchmark's sizes, RL only, one reward component."""
    return [
        f"run.out_dir={out_dir}",
        f"run.total_steps={args.steps}",
        "run.eval_every=0",
        "run.save_every=0",  # 0 = only the final checkpoint, which run_rlvr skips (TRL saves nothing either)
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


def load_bench_config(args: argparse.Namespace, out_dir: str, model_dir: str | None = None, extra: Sequence[str] = ()):
    """The experiment with ``bench_overrides``, then ``extra`` (shape, placement), then ``model.path``."""
    from rl.config.loader import load_config

    overrides = bench_overrides(args, out_dir) + list(extra)
    if model_dir is not None:
        overrides.append(f"model.path={model_dir}")
    config = load_config(EXPERIMENT, overrides)
    batch = config.rollout.prompts_per_step * config.rollout.group_size
    micro = max(d for d in range(1, config.learner.micro_batch_size + 1) if batch % d == 0)  # TRL needs an exact split
    return load_config(EXPERIMENT, overrides + [f"learner.micro_batch_size={micro}"])


def step_prompts(config) -> list:
    """The prompts rlvr trains on at steps 0..N-1, in order (its PromptSchedule over the kept train split)."""
    from rl.data.prompts import drop_long_prompts, load_splits
    from rl.engine.policy import load_tokenizer
    from rl.loops.grpo import PromptSchedule

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
    """rlvr's own GRPO loop (``rl.loops.grpo.train``), with ``args.rlvr_override`` (if any) on top."""
    import ray

    from rl.engine.actors import Cluster
    from rl.engine.scorer import RolloutScorer
    from rl.loops.grpo import train
    from rl.runs.run_dir import RunDirectory

    started = time.perf_counter()
    config = load_bench_config(args, args.out, args.model_dir, getattr(args, "rlvr_override", None) or ())
    clock = PhaseClock()
    Cluster.generate = clock.wrap(Cluster.generate, "generate")
    Cluster._update = clock.wrap(Cluster._update, "update")
    Cluster.sync_weights = clock.wrap(Cluster.sync_weights, "sync")
    RolloutScorer.score = clock.wrap(RolloutScorer.score, "score")
    Cluster.save = lambda *_, **__: None  # the final checkpoint comes after the timed window: only wall time (GBs at 1.5B)
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
    return clock.result("rlvr", untimed_s=total - timed, backend=config.rollout.backend, colocate=config.rollout.colocate)


# ----------------------------------------------------------------------------- TRL side

def run_trl(args: argparse.Namespace) -> dict:
    """TRL's GRPOTrainer on the same prompts and settings. ``args.device`` "cpu" (default) or "cuda";
    ``args.precision``: "fp32" (default), "bf16" (bf16 weights, bf16=True) or "amp" (fp32 weights, bf16 autocast)."""
    import torch

    torch.set_num_threads(args.threads)  # as many as one rlvr actor gets
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rewards.rules import verifier_score
    from verifiers import VerifyRequest
    from verifiers.pool import run_verifier

    device, precision = getattr(args, "device", "cpu"), getattr(args, "precision", "fp32")
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
        use_cpu=device == "cpu", bf16=precision != "fp32", fp16=False, gradient_checkpointing=False,
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
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=dtype, local_files_only=True)
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
    out = clock.result("trl", untimed_s=total - timed, precision=precision,
                       weights_dtype=str(next(trainer.model.parameters()).dtype).removeprefix("torch."))
    rollout = sum(s for t, p, s in clock.events if p == "rollout" and clock.step_ends[0] < t <= clock.step_ends[-1])
    phases = out["phases_s"]
    phases["prep"] = rollout - phases["generate"] - phases["score"]
    phases["update"] = sum(out["step_s"]) - rollout
    return out


# ----------------------------------------------------------------------------- driver side

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


def run_side(script: Path, side: str, worker_argv: Sequence[str], scratch: Path, index: int, *, threads: int,
             timeout_s: float) -> dict:
    """``script --worker SIDE ...`` in a fresh process with a private Ray; its result.json, or an exit naming the log."""
    out = scratch / f"{side}_{index}"
    result = out / "result.json"
    log = out / "log.txt"
    out.mkdir(parents=True)
    cmd = [sys.executable, str(script), "--worker", side, "--out", str(out), *worker_argv]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_USAGE_STATS_ENABLED": "0",
           "OMP_NUM_THREADS": str(threads)}
    env.pop("RAY_ADDRESS", None)  # a local, private Ray instance: the cluster's other load would not be ours
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO, timeout=timeout_s)
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


class GpuMemoryPeak:
    """Peak device memory in use (MiB) while the block runs, above what was in use when it began: every
    process's allocations, CUDA contexts and caching-allocator reserve included, read from nvidia-smi
    every ``period_s`` (the same reading for a one-process trainer and for a driver with Ray actors).
    ``peak_mib`` is None where nvidia-smi is missing (CPU machines)."""

    def __init__(self, period_s: float = 0.2):
        self.period_s, self.peak_mib, self._base = period_s, None, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def used_mib() -> int | None:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        values = [int(v) for v in out.stdout.split() if v.strip().isdigit()]
        return sum(values) if out.returncode == 0 and values else None

    def _poll(self) -> None:
        while not self._stop.wait(self.period_s):
            used = self.used_mib()
            if used is not None:
                self.peak_mib = max(self.peak_mib or 0, used - self._base)

    def __enter__(self) -> GpuMemoryPeak:
        self._base = self.used_mib()
        if self._base is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
