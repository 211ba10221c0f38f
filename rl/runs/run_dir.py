"""A run directory: what a training run leaves behind, and what lets it resume.

    OUT/config.yaml        the resolved configuration
    OUT/metrics.jsonl      one line per logged step ({"step": 3, "reward/mean": ...})
    OUT/tb/                TensorBoard events
    OUT/curves.png         reward and accuracy curves, redrawn as the run goes
    OUT/summary.json       final figures (held-out accuracy before and after RL, timings)
    OUT/manifest.json      lineage: config, git revision, versions, data hashes (rl.runs.manifest)
    OUT/checkpoints/step_000050/   Hugging Face model + tokenizer + trainer_state.pt
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rl.config import ExperimentConfig
from rl.config.loader import save_config

CHECKPOINT_RE = re.compile(r"step_(\d+)$")
COMPLETE_MARKER = "trainer_state.pt"


def latest_checkpoint(out_dir: str | Path) -> tuple[int, Path] | None:
    """(step, path) of the newest *complete* checkpoint (its trainer state is written last), if any."""
    found = []
    for child in (Path(out_dir) / "checkpoints").glob("step_*"):
        match = CHECKPOINT_RE.search(child.name)
        if match and (child / COMPLETE_MARKER).is_file():
            found.append((int(match.group(1)), child))
    return max(found) if found else None


class RunDirectory:
    def __init__(self, config: ExperimentConfig, resume_step: int | None = None):
        self.path = Path(config.run.out_dir)
        self.path.mkdir(parents=True, exist_ok=True)
        save_config(config, self.path / "config.yaml")
        self.metrics_path = self.path / "metrics.jsonl"
        if resume_step is not None:
            self._drop_metrics_after(resume_step)  # those steps will run again: log each step once
        elif self.metrics_path.exists():
            self.metrics_path.unlink()
        self.tb = self._writer(purge_step=None if resume_step is None else resume_step + 1)

    def _writer(self, purge_step: int | None):
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.path / "tb"), purge_step=purge_step)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, **metrics}) + "\n")
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                self.tb.add_scalar(key, value, step)
        self.tb.flush()

    def history(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _drop_metrics_after(self, step: int) -> None:
        kept = [row for row in self.history() if row["step"] <= step]
        self.metrics_path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")

    def rewind(self, step: int) -> None:
        """Back to ``step`` within the run (learners restarted from its checkpoint): the steps after it
        will be logged again, so their rows go now, in metrics.jsonl and in TensorBoard."""
        self._drop_metrics_after(step)
        self.tb.close()
        self.tb = self._writer(purge_step=step + 1)

    # ---------------------------------------------------------------- checkpoints
    def checkpoint_path(self, step: int) -> Path:
        return self.path / "checkpoints" / f"step_{step:06d}"

    # ---------------------------------------------------------------- results
    def write_summary(self, summary: dict[str, Any]) -> Path:
        target = self.path / "summary.json"
        target.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return target

    def plot(self) -> Path | None:
        """curves.png: training reward and accuracy per step, held-out accuracy at each eval."""
        rows = self.history()
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        panels = [("reward/mean", "mean reward"), ("train/accuracy", "train accuracy (sampled)"),
                  ("eval/accuracy", "held-out accuracy (greedy)"), ("completion/length", "completion tokens")]
        fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
        for ax, (key, title) in zip(axes, panels):
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker="o" if key.startswith("eval") else None, markersize=3)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("RL step")
            ax.grid(alpha=0.3)
        fig.tight_layout()
        target = self.path / "curves.png"
        fig.savefig(target, dpi=90)
        plt.close(fig)
        return target

    def close(self) -> None:
        self.tb.close()
