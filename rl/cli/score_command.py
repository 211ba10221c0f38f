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
  rlvr score preds.jsonl --verifier judge --judge-base-url http://127.0.0.1:8000/v1 --judge-model Qwen/Qwen3-8B
  rlvr score preds.jsonl --verifier cascade --judge-config experiments/my_general_rl.yaml --judge-concurrency 16

Each input line is a JSON object with a completion and a reference; a record's own
"verifier" field (see --verifier-field) overrides --verifier, and its other fields
(e.g. tests, entry_point) are passed to the verifier. --verifier judge sends every item to a served
model (OpenAI-compatible, batched, --judge-concurrency requests at once) with its "prompt" field as the
question; cascade asks the math rule first and the judge only about what it rejected. A judge that
cannot answer leaves its items unjudged (counted under "status"), never wrong. Each output line is the input
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
    add_judge_arguments(p)
    p.set_defaults(run=run_score)


def run_score(args: argparse.Namespace) -> int:
    from rl.config import ConfigError
    from rl.offline.score_file import ScoreOptions, default_output
    from verifiers.judge import JUDGE_VERIFIERS

    try:
        judge = judge_from_args(args, asked=args.verifier in JUDGE_VERIFIERS)
    except ConfigError as exc:
        print(f"rlvr score: error: {exc}", file=sys.stderr)
        return 2

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
        judge=judge,
        judge_cache=args.judge_cache,
        question_field=args.question_field,
    )
    return score_and_report(opts, seed=args.seed, summary_json_path=args.summary_json)


def add_judge_arguments(p, title: str = "model judge (--verifier judge or cascade)") -> None:
    """The ``--judge-*`` flags of ``rlvr score`` and ``rlvr eval``; ``judge_from_args`` reads them back."""
    g = p.add_argument_group(title)
    g.add_argument("--judge-config", type=Path, metavar="YAML", help="an experiment whose judge: section to start from")
    g.add_argument("--judge-backend", choices=("openai", "local"),
                   help="openai: a served endpoint; local: --judge-model is a model directory, run in a Ray actor (default: openai)")
    g.add_argument("--judge-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--judge-model", help="the served model id (openai) or a model directory (local)")
    g.add_argument("--judge-template", help="built-in template name or a text file with {question} {reference} {response}")
    g.add_argument("--judge-api-key-env", help="environment variable holding the API key (default: OPENAI_API_KEY)")
    g.add_argument("--judge-concurrency", type=positive(int), help="requests in flight at once (default: 8)")
    g.add_argument("--judge-timeout", type=positive(float), help="seconds per judge request (default: 60)")
    g.add_argument("--judge-cache", type=Path, metavar="PATH", help="sqlite file of judged verdicts, reused across runs")
    g.add_argument("--question-field", default="prompt", help="record field the judge sees as the question (default: %(default)s)")


_JUDGE_FLAGS = {"judge_backend": "backend", "judge_base_url": "base_url", "judge_model": "model", "judge_template": "template",
                "judge_api_key_env": "api_key_env", "judge_concurrency": "max_concurrency", "judge_timeout": "timeout_s"}


def judge_from_args(args: argparse.Namespace, *, asked: bool = False):
    """The judge settings of ``--judge-*`` over ``--judge-config``'s judge section; None when neither is given
    and the judge is not ``asked`` for (``rlvr score --verifier judge``)."""
    from dataclasses import replace

    from rl.config import JudgeConfig
    from rl.config.loader import load_config

    given = {field: getattr(args, flag) for flag, field in _JUDGE_FLAGS.items() if getattr(args, flag) is not None}
    if not asked and not given and args.judge_config is None:
        return None
    base = load_config(args.judge_config).judge if args.judge_config else JudgeConfig()
    return replace(base, **given)


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
