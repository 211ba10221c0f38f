"""``rlvr score``: judge a predictions JSONL file offline and print accuracy, pass@k and maj@k."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rl.cli.args import positive, subcommand

SCORE_EXAMPLES = """\
  rlvr score preds.jsonl --verifier math -o preds.scored.jsonl
  rlvr score preds.jsonl --completion-field response --reference-field answer --id-field problem_id
  rlvr score preds.jsonl --resume                     # continue a run that was killed
  rlvr score preds.jsonl --summary-json summary.json --workers 8 --timeout 10

Each input line is a JSON object with a completion and a reference; a record's own
"verifier" field (see --verifier-field) overrides --verifier, and its other fields
(e.g. tests, entry_point) are passed to the verifier. Each output line is the input
record plus "verdict" and "source_line". Exit code: 0 when something was scored,
1 when nothing could be, 2 when the run could not start.
"""


def add_score_command(subparsers) -> None:
    p = subcommand(subparsers, "score", "Score a predictions JSONL file offline with a verifier.", SCORE_EXAMPLES)
    p.add_argument("predictions", type=Path, metavar="PREDICTIONS", help="JSONL file, one sample per line")
    p.add_argument("-o", "--output", type=Path, help="scored JSONL (default: <input stem>.scored.jsonl beside the input)")
    p.add_argument("--verifier", default="math", help="verifier name or module:function (default: %(default)s)")
    p.add_argument("--verifier-field", default="verifier", help="record field naming a per-sample verifier (default: %(default)s)")
    p.add_argument("--completion-field", default="completion", help="(default: %(default)s)")
    p.add_argument("--reference-field", default="reference", help="(default: %(default)s)")
    p.add_argument("--id-field", default="id", help="samples sharing an id are one problem, for pass@k and maj@k (default: %(default)s)")
    p.add_argument("--workers", type=positive(int), default=os.cpu_count() or 1, help="verifier processes (default: CPU count, %(default)s)")
    p.add_argument("--timeout", type=positive(float), default=5.0, help="seconds per item before its worker is killed (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue a partly written output, scoring only the lines it lacks")
    p.add_argument("--force", action="store_true", help="overwrite an existing non-empty output")
    p.add_argument("--summary-json", type=Path, metavar="PATH", help="also write the summary figures as JSON")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar on stderr (default: only on a terminal)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default: %(default)s)")
    p.set_defaults(run=run_score)


def run_score(args: argparse.Namespace) -> int:
    from rl.offline.score_file import ScoreOptions, default_output

    opts = ScoreOptions(
        predictions=args.predictions,
        output=args.output or default_output(args.predictions),
        verifier=args.verifier,
        verifier_field=args.verifier_field,
        completion_field=args.completion_field,
        reference_field=args.reference_field,
        id_field=args.id_field,
        workers=args.workers,
        timeout_s=args.timeout,
        resume=args.resume,
        force=args.force,
        progress=args.progress,
    )
    return score_and_report(opts, seed=args.seed, summary_json_path=args.summary_json)


def score_and_report(opts, *, seed: int = 0, summary_json_path: Path | None = None) -> int:
    """Score ``opts.predictions``, print the summary; the exit code of ``rlvr score`` (``rlvr eval`` uses it too)."""
    from rl.offline.metrics import summarize
    from rl.offline.score_file import ScoringError, format_summary, read_scored, score_file, summary_json

    try:
        run = score_file(opts)
        samples = read_scored(run.output, opts.id_field)  # the whole file: a resumed run included
    except ScoringError as exc:
        print(f"rlvr score: error: {exc}", file=sys.stderr)
        return 2
    if not samples:
        print(f"rlvr score: nothing could be scored from {opts.predictions} ({run.malformed} malformed line(s))", file=sys.stderr)
        return 1
    summary = summarize(samples, malformed=run.malformed, seed=seed)
    kept = f", {run.kept} kept from before" if run.kept else ""
    print(format_summary(summary, title=f"{run.output}: {run.scored_now} line(s) scored now{kept}"))
    if summary_json_path:
        summary_json_path.write_text(json.dumps(summary_json(summary, run, opts), indent=2) + "\n", encoding="utf-8")
    return 0
