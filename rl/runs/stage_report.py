"""What each pipeline stage gained: ``OUT/stages.md`` (a table) and ``OUT/stages.png`` (a chart).

One row per point measured on the held-out split (the starting model, then the model after
each stage): accuracy and mean completion length in every eval mode, and each accuracy's
change from the row before it. With ``data.mixture``, held-out accuracy per domain. With ``run.eval_thinking_budgets``, a second table: accuracy and
mean thinking tokens under each budget, and the budget each stage trained under.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence


def write_stage_report(out: Path, initial: dict | None, results: Sequence[dict], modes: Sequence[str],
                       budgets: Sequence[int | None] = ()) -> list[dict]:
    rows = stage_rows(initial, results, modes)
    text = markdown_table(rows, modes)
    if budgets:
        text += "\n" + budget_table(initial, results, budgets)
    domains = domain_table(initial, results, modes)
    if domains:
        text += "\n" + domains
    (out / "stages.md").write_text(text, encoding="utf-8")
    plot_stages(rows, modes, out / "stages.png")
    return rows


def stage_rows(initial: dict | None, results: Sequence[dict], modes: Sequence[str]) -> list[dict[str, Any]]:
    """[{"after": "initial" | stage, "kind", "accuracy": {mode: x}, "length": {...}, "gain": {...}}, ...]"""
    columns = list(modes) or ["all"]
    points = ([("initial", "-", initial)] if initial else []) + [(r["stage"], r["kind"], r.get("eval_after") or {}) for r in results]
    rows, previous = [], None
    for label, kind, metrics in points:
        accuracy = {m: metrics.get(_key(m, "accuracy")) for m in columns}
        row = {"after": label, "kind": kind, "accuracy": accuracy, "length": {m: metrics.get(_key(m, "length")) for m in columns}}
        if previous is not None:
            row["gain"] = {m: None if accuracy[m] is None or previous[m] is None else accuracy[m] - previous[m] for m in columns}
        rows.append(row)
        previous = accuracy
    return rows


def _key(mode: str, metric: str) -> str:
    return f"eval/{metric}" if mode == "all" else f"eval/{mode}/{metric}"


def markdown_table(rows: Sequence[dict], modes: Sequence[str]) -> str:
    columns = list(modes) or ["all"]
    header = ["after", "kind"] + [f"{m} {what}" for m in columns for what in ("accuracy", "gain", "tokens")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["after"], row["kind"]]
        for m in columns:
            gain = row.get("gain", {}).get(m)
            cells += [_pct(row["accuracy"][m]), "" if gain is None else f"{100 * gain:+.1f}", _num(row["length"][m])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def budget_table(initial: dict | None, results: Sequence[dict], budgets: Sequence[int | None]) -> str:
    """Thinking-mode accuracy (mean thinking tokens) under each eval budget, after every stage."""
    labels = ["none" if b is None else str(b) for b in budgets]
    points = ([("initial", "-", None, initial)] if initial else []) + [
        (r["stage"], r["kind"], r.get("thinking_budget"), r.get("eval_after") or {}) for r in results]
    lines = ["Accuracy by thinking budget (thinking mode; mean thinking tokens in brackets)", "",
             "| after | kind | trained under budget | " + " | ".join(f"budget {label}" for label in labels) + " |",
             "|" + "---|" * (3 + len(labels))]
    for label, kind, trained, metrics in points:
        cells = [label, kind, "-" if trained is None else str(trained)]
        for b in labels:
            accuracy, tokens = metrics.get(f"eval/budget_{b}/accuracy"), metrics.get(f"eval/budget_{b}/thinking_tokens")
            cells.append(_pct(accuracy) + ("" if tokens is None else f" ({tokens:.0f})"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def domain_table(initial: dict | None, results: Sequence[dict], modes: Sequence[str] = ()) -> str:
    """Held-out accuracy per ``data.mixture`` domain (change from the row before in brackets), after every
    stage; "" when no eval measured a domain. With ``run.eval_modes``, in the first mode."""
    prefix = f"eval/{modes[0]}/accuracy/" if modes else "eval/accuracy/"
    points = ([("initial", "-", initial)] if initial else []) + [(r["stage"], r["kind"], r.get("eval_after") or {}) for r in results]
    domains = list(dict.fromkeys(key[len(prefix):] for _, _, metrics in points for key in metrics if key.startswith(prefix)))
    if not domains:
        return ""
    lines = ["Held-out accuracy per domain (change from the row above in brackets)", "",
             "| after | kind | " + " | ".join(domains) + " |", "|" + "---|" * (2 + len(domains))]
    previous: dict[str, float | None] = {}
    for label, kind, metrics in points:
        cells = [label, kind]
        for domain in domains:
            value, before = metrics.get(prefix + domain), previous.get(domain)
            gain = "" if value is None or before is None else f" ({100 * (value - before):+.1f})"
            cells.append(_pct(value) + gain)
            previous[domain] = value
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def plot_stages(rows: Sequence[dict], modes: Sequence[str], target: Path) -> Path | None:
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = list(modes) or ["all"]
    labels = [row["after"] for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(rows) * 2), 3.4))
    width = 0.8 / len(columns)
    for panel, (metric, title) in zip(axes, (("accuracy", "held-out accuracy"), ("length", "completion tokens"))):
        for i, mode in enumerate(columns):
            values = [row[metric][mode] or 0.0 for row in rows]
            xs = [x + (i - (len(columns) - 1) / 2) * width for x in range(len(rows))]
            bars = panel.bar(xs, [100 * v for v in values] if metric == "accuracy" else values, width, label=mode)
            if metric == "accuracy":
                panel.bar_label(bars, fmt="%.0f", fontsize=7)
        panel.set_xticks(range(len(rows)), labels, rotation=20, fontsize=8)
        panel.set_title(title + (" (%)" if metric == "accuracy" else ""), fontsize=10)
        panel.grid(axis="y", alpha=0.3)
    if len(columns) > 1:
        axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target
