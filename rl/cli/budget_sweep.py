"""``rlvr eval ... --thinking-budgets 0,16,32,64,none``: accuracy against thinking budget.

    rlvr eval runs/p/final bench.jsonl -o out/preds.jsonl --thinking-budgets 0,16,32,64,none

For each budget, every prompt is sampled in thinking mode under that budget (``rl.engine.thinking_budget``:
``--budget-mode inject`` appends Qwen3's early stop at the budget and lets the model answer within
``--answer-budget`` tokens; ``truncate`` stops there) into ``preds.budget_<B>.jsonl``, which is scored as
``rlvr score`` scores it. One row per budget: accuracy with its 95% bootstrap interval over problems,
mean thinking and answer tokens (sampled tokens inside / outside the thought), and the share of samples
the budget cut. The table is printed and written beside the predictions (``preds.budgets.md``,
``preds.budgets.json``), with ``budgets.png`` (accuracy against budget). Every budget samples with the
same ``--seed``, so the sweep is deterministic under it.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from statistics import mean
from typing import Any

from rl.modes import THINK


def parse_budgets(text: str) -> list[int | None]:
    """"0,16,none" -> [0, 16, None]; raises ``argparse.ArgumentTypeError`` naming the bad entry."""
    out: list[int | None] = []
    for part in (p.strip() for p in text.split(",")):
        if part.lower() in ("none", "null"):
            out.append(None)
        elif part.isdigit():
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"thinking budgets are token counts >= 0 or 'none', comma-separated; got {part!r}")
    if not out or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"thinking budgets must be distinct, at least one; got {text!r}")
    return out


def budget_path(output: Path, label: str) -> Path:
    return output.with_name(f"{output.stem}.budget_{label}{output.suffix}")


def run_budget_sweep(worker, prompts: Sequence, args: argparse.Namespace, write_predictions, score) -> int:
    """Sample, score and tabulate every budget of ``args.thinking_budgets``; the worst scoring exit code."""
    from rl.engine.thinking_budget import ThinkingBudget

    thinking = [replace(p, mode=THINK) for p in prompts]  # a budget caps thoughts: every prompt thinks
    rows, code = [], 0
    for tokens in args.thinking_budgets:
        budget = ThinkingBudget(tokens, args.budget_mode, args.answer_budget, worker.rollout.thinking_early_stop)
        path = budget_path(args.output, budget.label)
        write_predictions(worker, thinking, path, args, thinking_budget=budget)
        print(f"== thinking budget {budget.label} ==")
        code = max(code, score(path, args))
        rows.append(budget_row(budget.label, path, args.seed))
    table = budget_table(rows, args.budget_mode)
    print(table)
    stem = args.output.with_suffix("")
    Path(f"{stem}.budgets.md").write_text(table, encoding="utf-8")
    Path(f"{stem}.budgets.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    plot = plot_budgets(rows, args.output.parent / "budgets.png")
    print(f"table: {stem}.budgets.md; plot: {plot}")
    return code


def budget_row(label: str, predictions: Path, seed: int) -> dict[str, Any]:
    """One budget's figures from its predictions and their scored file."""
    from rl.offline.metrics import summarize
    from rl.offline.score_file import default_output, read_scored

    summary = summarize(read_scored(default_output(predictions)), seed=seed)
    with open(predictions, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh]
    return {
        "budget": label,
        "accuracy": summary.accuracy.value, "ci_low": summary.accuracy.low, "ci_high": summary.accuracy.high,
        "thinking_tokens": mean(r["thinking_tokens"] for r in records),
        "answer_tokens": mean(r["answer_tokens"] for r in records),
        "budget_hit": mean(r["budget_hit"] for r in records),
        "samples": len(records),
    }


def budget_table(rows: Sequence[dict], mode: str) -> str:
    lines = [f"accuracy by thinking budget ({mode} mode; 95% CI: bootstrap over problems)", "",
             "| budget | accuracy | 95% CI | thinking tokens | answer tokens | hit budget |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['budget']} | {100 * r['accuracy']:.1f}% | [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}] | "
                     f"{r['thinking_tokens']:.1f} | {r['answer_tokens']:.1f} | {100 * r['budget_hit']:.0f}% |")
    return "\n".join(lines) + "\n"


def plot_budgets(rows: Sequence[dict], target: Path) -> Path:
    """Accuracy (with its interval) against budget, budgets in the order given (e.g. 0, 16, ..., none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = range(len(rows))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    acc = [100 * r["accuracy"] for r in rows]
    err = [[a - 100 * r["ci_low"] for a, r in zip(acc, rows)], [100 * r["ci_high"] - a for a, r in zip(acc, rows)]]
    ax.errorbar(xs, acc, yerr=err, marker="o", capsize=3)
    ax.set_xticks(list(xs), [r["budget"] for r in rows])
    ax.set_xlabel("thinking budget (tokens)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=120)
    plt.close(fig)
    return target
