"""The ``rlvr`` command line.

    rlvr score preds.jsonl --verifier math -o preds.scored.jsonl
    rlvr verify --verifier math --reference 3 "so the answer is \\boxed{3}"
    rlvr verifiers list

Each subcommand is added by one ``add_*_command(subparsers)`` function listed in
COMMANDS; it sets ``run=`` to a function ``(args) -> exit code``. Commands import
their heavy modules inside ``run`` so that ``rlvr --help`` stays instant.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from rl.cli.args import positive, subcommand
from rl.cli.data_command import add_data_command
from rl.cli.eval_command import add_eval_command
from rl.cli.score_command import add_score_command

# ---------------------------------------------------------------- rlvr verify

VERIFY_EXAMPLES = """\
  rlvr verify --verifier math --reference 3 "so the answer is \\boxed{3}"
  rlvr verify --reference "\\frac{1}{2}" --file completion.txt --json
  echo "The answer is 0.5" | rlvr verify --reference 1/2 -
  rlvr verify --verifier code --file solution.py --field entry_point=square \\
      --field 'tests=["assert square(3) == 9", "assert square(-2) == 4"]' --field timeout_s=2
  rlvr verify --verifier code --file solution.py --fields-json task.json   # {"tests": [...], "entry_point": ...}

With --verifier code, solution.py may be the program itself (a plain .py file) or a completion
with the program in a ```python block; prose around code needs the fence.

--field and --fields-json give the verifier the extra fields a `rlvr score` record would
carry (tests, entry_point, timeout_s, ...); a VALUE is read as JSON when it parses as JSON
and as a plain string otherwise; --field entries override --fields-json.

Exit code: 0 judged correct, 1 judged wrong, 2 not judged (no answer, timeout, error...).
"""


def add_verify_command(subparsers) -> None:
    p = subcommand(subparsers, "verify", "Judge one completion against a reference.", VERIFY_EXAMPLES)
    p.add_argument("completion", nargs="?", help='the completion text, or "-" to read it from stdin')
    p.add_argument("--file", type=Path, help="read the completion from this file")
    p.add_argument("--reference", default="", help='the reference answer (code: may stay empty when the tests come as --field tests=...)')
    p.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                   help="an extra field for the verifier, as in a `rlvr score` record; repeatable; VALUE is JSON if it parses")
    p.add_argument("--fields-json", type=Path, metavar="FILE", help="a JSON object of extra fields")
    p.add_argument("--verifier", default="math", help="verifier name or module:function (default: %(default)s)")
    p.add_argument("--timeout", type=positive(float), default=5.0, help="seconds before the verifier is killed (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    p.set_defaults(run=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from verifiers.pool import VerifierPool, VerifyRequest
    from verifiers.registry import VerifierNotFound

    if (args.completion is None) == (args.file is None):
        print('rlvr verify: error: give the completion as an argument, "-" for stdin, or --file F (exactly one)', file=sys.stderr)
        return 2
    if args.file is not None:
        try:
            completion = args.file.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"rlvr verify: error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    else:
        completion = sys.stdin.read() if args.completion == "-" else args.completion
    try:
        fields = verifier_fields(args.field, args.fields_json)
    except ValueError as exc:
        print(f"rlvr verify: error: {exc}", file=sys.stderr)
        return 2
    try:
        # A pool of one, not a direct call: the same hard time bound as in `rlvr score`.
        with VerifierPool(args.verifier, workers=1, timeout_s=args.timeout) as pool:
            verdict = pool.score([VerifyRequest(completion, args.reference, fields)])[0]
    except VerifierNotFound as exc:
        print(f"rlvr verify: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(verdict.to_dict(), ensure_ascii=False))
    else:
        for key, value in verdict.to_dict().items():
            print(f"{key:<10} {value}")
    if verdict.status != "ok":  # no answer found, or could not judge
        return 2
    return 0 if verdict.score >= 1.0 else 1


def verifier_fields(pairs: list[str], fields_json: Path | None) -> dict:
    """Extra verifier fields from ``--fields-json FILE`` and ``--field KEY=VALUE`` (later wins); a VALUE that
    parses as JSON is that JSON (lists, numbers, true), anything else is the string itself."""
    fields: dict = {}
    if fields_json is not None:
        from rl.data.jsonl import BadLine, parse_object_line  # one JSON-object reader for records and fields

        try:
            fields.update(parse_object_line(fields_json.read_bytes()))
        except OSError as exc:
            raise ValueError(f"cannot read --fields-json {fields_json}: {exc.strerror or exc}") from None
        except BadLine as exc:
            raise ValueError(f"--fields-json {fields_json}: {exc}") from None
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--field {pair!r}: expected KEY=VALUE, e.g. --field entry_point=square")
        try:
            fields[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            fields[key.strip()] = text
    return fields


# ---------------------------------------------------------------- rlvr verifiers

VERIFIERS_EXAMPLES = """\
  rlvr verifiers list

Any importable function also works as a verifier: --verifier my_pkg.checks:exact_match
"""


def add_verifiers_command(subparsers) -> None:
    p = subcommand(subparsers, "verifiers", "List the verifiers this installation knows.", VERIFIERS_EXAMPLES)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="table of verifier names and where they come from")
    p.set_defaults(run=run_verifiers_list)  # `rlvr verifiers` alone lists too


def run_verifiers_list(args: argparse.Namespace) -> int:
    from verifiers.registry import list_verifiers

    rows = [("name", "origin"), *list_verifiers()]
    width = max(len(name) for name, _ in rows)
    for name, origin in rows:
        print(f"{name:<{width}}  {origin}")
    return 0


# ---------------------------------------------------------------- rlvr train

TRAIN_EXAMPLES = """\
  rlvr train experiments/tiny_arith.yaml --out runs/arith
  rlvr train experiments/tiny_arith.yaml --out runs/arith --resume      # continue a killed run
  rlvr train experiments/tiny_arith.yaml rollout.group_size=4 algorithm.advantage_estimator=rloo
  rlvr train experiments/tiny_arith.yaml --dry-run                     # validate, load nothing
  rlvr train experiments/tiny_pipeline.yaml --out runs/pipe            # cold start -> GRPO -> fusion -> eval
  rlvr train experiments/tiny_pipeline.yaml stages.grpo.run.total_steps=20   # change one stage

Any config field can be overridden as section.key=value (YAML syntax for values); stages are
addressed by name (or kind). The run directory gets config.yaml, metrics.jsonl, tb/
(TensorBoard), curves.png, checkpoints/ and summary.json with held-out accuracy before and
after RL. A config with `stages:` runs them in order, each from the previous one's checkpoint,
in OUT/stages/NN_name/, and ends with stages.md and stages.png: what each stage gained.
"""


def add_train_command(subparsers) -> None:
    p = subcommand(subparsers, "train", "Train a policy on Ray actors: SFT warm-up then GRPO, or a pipeline of stages.", TRAIN_EXAMPLES)
    p.add_argument("config", type=Path, metavar="CONFIG", help="experiment YAML")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. run.total_steps=10")
    p.add_argument("--out", help="run directory (overrides run.out_dir)")
    p.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in the run directory")
    p.add_argument("--dry-run", action="store_true", help="validate config, data, verifiers and rewards; load no weights, train nothing")
    p.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from rl.config import ConfigError
    from rl.config.loader import load_config

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"run.out_dir={args.out}")
    if args.resume:
        overrides.append("run.resume=true")
    try:
        config = load_config(args.config, overrides)
        from rl.engine.lora import check_lora_settings

        check_lora_settings(config)  # LoRA target modules against the model's architecture (no weights are read)
    except ConfigError as exc:
        print(f"rlvr train: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        from rl.cli.dry_run import dry_run

        try:
            lines = dry_run(config)
        except Exception as exc:  # any failure here is the answer the user asked for
            print(f"rlvr train --dry-run: {args.config}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        print("\n".join(lines + ["dry run OK: nothing was loaded or trained"]))
        return 0
    if config.expected_duration:  # what a newcomer should expect before the first progress bar appears
        print(f"{config.name}: expect {config.expected_duration}; progress bars follow, results in {config.run.out_dir}")
    if config.stages:
        from rl.loops.pipeline import run_pipeline
        from rl.runs.stage_report import markdown_table

        summary = run_pipeline(config)
        print(markdown_table(summary["table"], config.run.eval_modes))
        print(f"run directory {config.run.out_dir}  (stages.md, stages.png, summary.json, manifest.json, stages/)")
        return 0
    from rl.registries import ALGORITHMS
    from rl.runs.interrupts import Interrupted

    train = ALGORITHMS.get(config.algorithm.name)  # a registered algorithm runs, never silently GRPO
    try:
        summary = train(config)
    except Interrupted as exc:  # the loop saved what it could and said where; no traceback for a request
        print(f"rlvr train: stopped ({exc})", file=sys.stderr)
        return 128 + int(exc.signal_number)  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
    print(_format_train_summary(summary, config.run.out_dir))
    return 0


def _format_train_summary(summary: dict, out_dir: str) -> str:
    def pct(key: str) -> str:
        value = summary.get(key)
        return "-" if value is None else f"{100 * value:5.1f}%"

    return "\n".join([
        f"held-out accuracy  initial {pct('heldout_accuracy_initial')}   before RL {pct('heldout_accuracy_before_rl')}"
        f"   after RL {pct('heldout_accuracy_after_rl')}",
        f"run directory      {out_dir}  (summary.json, metrics.jsonl, curves.png, tb/)",
        f"wall time          {summary.get('wall_time_s', 0):.0f}s",
    ])


# ---------------------------------------------------------------- registration

def add_sandbox_command(subparsers) -> None:
    from sandbox.cli import add_sandbox_commands

    add_sandbox_commands(subparsers)


# One entry per command (or family of commands).
COMMANDS: list[Callable[..., None]] = [
    add_train_command,
    add_eval_command,
    add_score_command,
    add_verify_command,
    add_verifiers_command,
    add_sandbox_command,
    add_data_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlvr",
        description="RL of language models with verifiable rewards.",
        epilog=(
            "examples:\n  rlvr train experiments/tiny_arith.yaml --out runs/arith\n"
            "  rlvr score preds.jsonl --verifier math\n  rlvr verify --reference 3 'answer: \\boxed{3}'\n"
            "  rlvr verifiers list\n  rlvr sandbox doctor\n\n'rlvr COMMAND --help' explains each command."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come after options (`rlvr train X.yaml --out d run.seed=1`).
    if extra and getattr(args, "overrides", None) is not None and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
