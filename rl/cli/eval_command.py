"""``rlvr eval``: sample completions of a benchmark from a local model, then score them as ``rlvr score`` does.

    rlvr eval runs/arith/final bench.jsonl --samples 8 --temperature 0.6 --mode both -o preds.jsonl

The model loads in this process (no Ray) into a sampler of the chosen rollout backend. Every prompt gets K samples,
written to a predictions JSONL (``id``, ``prompt``, ``completion``, ``reference``, ``verifier``,
``mode``, ``num_tokens``, ``finished`` and the record's other fields); that file then goes
through ``rlvr score`` itself, so the figures (accuracy, pass@k, maj@k) are exactly the ones
``rlvr score`` prints for it. ``--mode both`` writes and scores one file per thinking mode.
``add_eval_command(subparsers)`` adds the command to the ``rlvr`` parser.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from statistics import mean
from typing import Any

from rl.cli.args import positive
from rl.cli.budget_sweep import budget_path, parse_budgets, run_budget_sweep
from rl.cli.score_command import add_judge_arguments, judge_from_args, score_and_report
from rl.modes import MODES, QWEN3_EARLY_STOP, THINK

EVAL_EXAMPLES = """\
  rlvr eval MODEL_DIR bench.jsonl -o preds.jsonl                 # greedy, one sample each
  rlvr eval MODEL_DIR bench.jsonl --samples 8 --temperature 0.6 -o preds.jsonl  # pass@1..8, maj@1..8
  rlvr eval MODEL_DIR bench.jsonl --mode both -o preds.jsonl     # preds.think.jsonl, preds.no_think.jsonl
  rlvr eval MODEL_DIR bench.jsonl --env tools --tools calculator -o preds.jsonl  # multi-turn, with a tool
  rlvr eval MODEL_DIR bench.jsonl --thinking-budgets 0,16,32,64,none -o out/preds.jsonl  # accuracy vs budget, out/budgets.png
  rlvr eval MODEL_DIR bench.jsonl --judge-base-url http://127.0.0.1:8000/v1 --judge-model Qwen/Qwen3-8B -o preds.jsonl
  rlvr eval MODEL_DIR bench.jsonl --judge-backend local --judge-model JUDGE_DIR -o preds.jsonl  # the judge in a Ray actor

BENCHMARK records are read as training data is: "prompt" (text or chat messages) or
"messages", "reference", and optionally "id", "verifier" and "mode". --mode auto renders
each sample in its own mode (its "mode", else its last /think or /no_think, else
thinking); think or no_think puts every sample in that mode. With --env tools the model may call
the --tools (registered names or module:function) for up to --max-turns turns; each line then
holds the whole transcript ("messages") and its last assistant turn is judged. Each predictions file is
scored to <stem>.scored.jsonl beside it (replaced). --thinking-budgets samples every prompt in
thinking mode once per budget (<stem>.budget_<B>.jsonl) and tabulates accuracy, thinking and answer
tokens and the share cut, per budget (<stem>.budgets.md, budgets.png). Records whose "verifier" is judge or
cascade are judged by the model the --judge-* flags (as `rlvr score`'s) name. Exit code: as `rlvr score`; 2 when the
benchmark, the model or the judge cannot be used.
"""
MODE_CHOICES = ("auto", *MODES, "both")


def add_eval_command(subparsers) -> None:
    summary = "Generate on a benchmark with a local model and score it (pass@k, maj@k) as `rlvr score` does."
    p = subparsers.add_parser("eval", help=summary, description=summary, epilog="examples:\n" + EVAL_EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="local Hugging Face model directory")
    p.add_argument("benchmark", type=Path, metavar="BENCHMARK", help="JSONL or parquet of prompts with references")
    p.add_argument("-o", "--output", type=Path, required=True, help="predictions JSONL to write")
    p.add_argument("--samples", type=positive(int), default=1, help="completions per prompt, K (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default: %(default)s)")
    p.add_argument("--top-p", type=float, default=1.0, help="(default: %(default)s)")
    p.add_argument("--max-new-tokens", type=positive(int), default=512, help="(default: %(default)s)")
    p.add_argument("--mode", choices=MODE_CHOICES, default="auto", help="thinking mode (default: %(default)s)")
    p.add_argument("--system-prompt", help="system message for prompts that bring none")
    p.add_argument("--batch-size", type=positive(int), default=16, help="prompts per generate call (default: %(default)s)")
    p.add_argument("--device", default="auto", help='"auto": cuda when visible, else cpu (default: %(default)s)')
    p.add_argument("--backend", default="hf", help="rollout backend, as rollout.backend: hf, static, ... (default: %(default)s)")
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"),
                   help="weights to sample with, as rollout.dtype: auto = bfloat16 on a GPU, float32 on CPU (default: %(default)s)")
    p.add_argument("--env", default="single_turn", help="environment, as rollout.env.name: single_turn, tools (default: %(default)s)")
    p.add_argument("--tools", default="", help="comma-separated tools for --env tools, e.g. calculator,python")
    p.add_argument("--max-turns", type=positive(int), default=4, help="assistant turns per transcript with --env tools (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    p.add_argument("--thinking-budget", type=parse_budgets, default=None, dest="thinking_budget",
                   help="one thinking budget for every sample (tokens or none), as rollout.thinking_budget")
    p.add_argument("--thinking-budgets", type=parse_budgets, default=None,
                   help="sweep: comma-separated budgets, e.g. 0,16,32,64,none; one predictions file and table row each")
    p.add_argument("--budget-mode", choices=("inject", "truncate"), default="inject",
                   help="at the budget: inject Qwen3's early stop and let the model answer, or truncate (default: %(default)s)")
    p.add_argument("--answer-budget", type=positive(int), default=32,
                   help="inject: answer tokens after the forced </think> (default: %(default)s)")
    p.add_argument("--early-stop", default=QWEN3_EARLY_STOP,
                   help="inject: the text injected at the budget, ending the thought with </think> (default: Qwen3's)")
    p.add_argument("--workers", type=positive(int), help="verifier processes (default: as rlvr score)")
    p.add_argument("--timeout", type=positive(float), default=5.0, help="verifier seconds per sample (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite existing predictions")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars on stderr (default: only on a terminal)")
    add_judge_arguments(p, "model judge (benchmark records whose verifier is judge or cascade)")
    p.set_defaults(run=run_eval)


def prediction_paths(output: Path, mode: str) -> list[tuple[str, Path]]:
    """(mode, predictions file) per mode run: ``output`` itself, or one file per mode for "both"."""
    if mode != "both":
        return [(mode, output)]
    return [(m, output.with_name(f"{output.stem}.{m}{output.suffix}")) for m in MODES]


def run_eval(args: argparse.Namespace) -> int:
    from rl.config import ConfigError, DataConfig, EnvConfig, RolloutConfig
    from rl.data.prompts import DataError, load_prompts
    from rl.engine.policy import PolicyError

    data = DataConfig(system_prompt=args.system_prompt)  # enable_thinking=True: Qwen3's default, for --mode auto
    runs = prediction_paths(args.output, args.mode)
    if args.thinking_budgets:
        runs = [(THINK, budget_path(args.output, "none" if b is None else str(b))) for b in args.thinking_budgets]
    if any(path.resolve() == args.benchmark.resolve() for _, path in runs):
        return _fail(f"-o {args.output} would overwrite the benchmark; choose another")
    existing = [str(path) for _, path in runs if path.exists() and path.stat().st_size > 0]
    if existing and not args.force:
        return _fail(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
    if args.thinking_budgets and args.mode in ("no_think", "both"):
        return _fail("--thinking-budgets caps thoughts: it samples in thinking mode; drop --mode or use --mode think")
    if args.thinking_budget is not None and len(args.thinking_budget) != 1:
        return _fail("--thinking-budget takes one budget; use --thinking-budgets for a sweep")
    # Before the model loads: a judge that cannot be used would otherwise fail after the whole benchmark is sampled.
    try:
        judge = judge_from_args(args)
    except ConfigError as exc:  # --judge-config's own errors name its file and line
        return _fail(str(exc))
    try:
        if judge is not None:
            judge.check_usable()
    except ConfigError as exc:
        return _fail(f"judge.{exc}")
    if args.samples > 1 and args.temperature == 0:
        print("rlvr eval: warning: greedy decoding (--temperature 0) makes the K samples identical", file=sys.stderr)
    try:
        prompts = load_prompts(args.benchmark, data)
        if not prompts:
            return _fail(f"{args.benchmark}: no prompts")
        from rl.registries import ROLLOUT_BACKENDS

        tools = tuple(t.strip() for t in args.tools.split(",") if t.strip())
        env = EnvConfig(name=args.env, tools=tools, max_turns=args.max_turns)
        budget = args.thinking_budget[0] if args.thinking_budget else None
        rollout = RolloutConfig(max_new_tokens=args.max_new_tokens, top_p=args.top_p, dtype=args.dtype, backend=args.backend, env=env,
                                thinking_budget=budget, thinking_budget_mode=args.budget_mode, answer_budget=args.answer_budget,
                                thinking_early_stop=args.early_stop)
        worker = ROLLOUT_BACKENDS.get(args.backend)(str(args.model), data, rollout, device=args.device, dtype=args.dtype)
    except (ConfigError, DataError, PolicyError, ValueError) as exc:  # ValueError: a budget this tokenizer cannot count
        return _fail(str(exc))
    if args.thinking_budgets:
        return run_budget_sweep(worker, prompts, args, write_predictions, _score)
    lengths = {}
    for mode, path in runs:
        pinned = prompts if mode == "auto" else [replace(p, mode=mode) for p in prompts]
        lengths[mode] = write_predictions(worker, pinned, path, args)
    code = 0
    for mode, path in runs:
        if len(runs) > 1:
            print(f"== mode {mode} ==")
        code = max(code, _score(path, args))
        tokens, finished = lengths[mode]
        print(f"completions: {tokens:.1f} tokens on average, {100 * finished:.0f}% finished within --max-new-tokens\n")
    return code


def write_predictions(worker, prompts: Sequence, path: Path, args: argparse.Namespace, *,
                      thinking_budget=None) -> tuple[float, float]:
    """Sample ``args.samples`` completions per prompt into ``path`` (under ``thinking_budget``, default the
    worker's); (mean tokens, finished share)."""
    from tqdm import tqdm

    from rl.data.prompts import prompt_mode

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    tokens, finished = [], []
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as out, tqdm(
        total=len(prompts) * args.samples, disable=not show, file=sys.stderr, unit="sample", desc=f"generating {path.name}"
    ) as bar:
        for start in range(0, len(prompts), args.batch_size):
            batch = prompts[start : start + args.batch_size]
            groups = worker.generate(batch, args.samples, temperature=args.temperature, seed=args.seed + start,
                                     thinking_budget=thinking_budget)
            rollouts = [rollout for group in groups for rollout in group.rollouts]
            for rollout in rollouts:
                record = prediction_record(rollout, prompt_mode(rollout.prompt, worker.data))
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                tokens.append(len(rollout.completion_ids))
                finished.append(rollout.finished)
            out.flush()  # a killed run keeps whole lines
            bar.update(len(rollouts))
    return mean(tokens), mean(finished)


def prediction_record(rollout, mode: str) -> dict[str, Any]:
    """One predictions line: the prompt's own extra fields (e.g. ``tests``), then what scoring reads."""
    prompt = rollout.prompt
    shown = prompt.text if prompt.text is not None else [{"role": r, "content": c} for r, c in prompt.messages]
    multi_turn = {}
    if rollout.messages:  # the whole transcript; `rlvr score` judges the completion, its last assistant turn
        multi_turn = {"messages": prompt.chat() + [dict(m) for m in rollout.messages],
                      "env_info": dict(rollout.env_info)}
    return {
        **prompt.fields,
        "id": prompt.id,
        "prompt": shown,
        "completion": rollout.text,
        "reference": prompt.reference,
        "verifier": prompt.verifier,
        "mode": mode,
        "num_tokens": len(rollout.completion_ids),
        "finished": rollout.finished,
        "finish_reason": rollout.finish_reason,
        "thinking_tokens": rollout.thinking_tokens,
        "answer_tokens": rollout.answer_tokens,
        "budget_hit": rollout.budget_hit,
        **({"domain": prompt.domain} if prompt.domain else {}),
        **multi_turn,
    }


def _score(path: Path, args: argparse.Namespace) -> int:
    """What ``rlvr score PATH`` does: the same scoring, summary and exit code."""
    from rl.offline.score_file import ScoreOptions, default_output

    opts = ScoreOptions(predictions=path, output=default_output(path), force=True, timeout_s=args.timeout,
                        workers=args.workers, progress=args.progress, judge=judge_from_args(args),
                        judge_cache=args.judge_cache, question_field=args.question_field)
    return score_and_report(opts)


def _fail(message: str) -> int:
    print(f"rlvr eval: error: {message}", file=sys.stderr)
    return 2
