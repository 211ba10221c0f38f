"""``rlvr data export``: an experiment's prompts (generated or loaded) as a JSONL file.

    rlvr data export experiments/tiny_arith.yaml --split heldout -o bench.jsonl      # for rlvr eval / score
    rlvr data export experiments/tiny_arith.yaml --split train --chat -o sft.jsonl   # SFT transcripts

Records read back exactly as they were generated (``rl.data.prompts.record_to_prompt``): ``id``,
``prompt`` or, with ``--chat``, ``messages`` ending with the worked solution as the assistant
turn; ``reference``, ``verifier``, ``mode`` when set, and the prompt's other fields.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rl.data.records import Prompt

EXPORT_EXAMPLES = """\
  rlvr data export experiments/tiny_arith.yaml --split heldout -o bench.jsonl
  rlvr data export experiments/tiny_arith.yaml --split train --chat -o cold_start.jsonl
  rlvr data export experiments/tiny_arith.yaml data.n_train=500 --split train -o small.jsonl
  rlvr data export experiments/tiny_tools.yaml --split train --chat -o tool_sft.jsonl   # tool-call transcripts
"""


def add_data_command(subparsers) -> None:
    summary = "Export an experiment's prompts (generated or loaded) as JSONL."
    p = subparsers.add_parser("data", help=summary, description=summary)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    e = actions.add_parser("export", help="write the train or held-out split as JSONL", description=summary,
                           epilog="examples:\n" + EXPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("config", type=Path, metavar="CONFIG", help="experiment YAML whose data section to export")
    e.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. data.n_train=500")
    e.add_argument("--split", choices=("train", "heldout"), default="train", help="(default: %(default)s)")
    e.add_argument("--chat", action="store_true", help="messages with the worked solution as the final assistant turn")
    e.add_argument("-o", "--output", type=Path, required=True, help="JSONL file to write (replaced)")
    e.set_defaults(run=run_export)

    def no_action(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return 2

    p.set_defaults(run=no_action)


def run_export(args: argparse.Namespace) -> int:
    from rl.config import ConfigError
    from rl.config.loader import load_config
    from rl.data.prompts import DataError, load_splits

    try:
        config = load_config(args.config, args.overrides)
        train, heldout = load_splits(config.data)
    except (ConfigError, DataError) as exc:
        print(f"rlvr data export: {exc}", file=sys.stderr)
        return 2
    prompts = train if args.split == "train" else heldout
    missing = [p.id for p in prompts if args.chat and not p.solution]
    if missing:
        print(f"rlvr data export: --chat needs worked solutions; {len(missing)} prompts have none (first: {missing[0]})",
              file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w", encoding="utf-8") as fh:
        for prompt in prompts:
            fh.write(json.dumps(prompt_record(prompt, chat=args.chat), ensure_ascii=False) + "\n")
    print(f"wrote {len(prompts)} {args.split} records to {args.output}")
    return 0


def prompt_record(prompt: Prompt, *, chat: bool = False) -> dict[str, Any]:
    """A Prompt as the JSONL record that ``rl.data.prompts.record_to_prompt`` reads back into it."""
    turns = [{"role": role, "content": content} for role, content in prompt.messages or (("user", prompt.text),)]
    record: dict[str, Any] = {"id": prompt.id}
    if chat:
        record["messages"] = turns + [{"role": "assistant", "content": prompt.solution}]
    else:
        record["prompt"] = prompt.text if prompt.messages is None else turns
        if prompt.solution is not None:
            record["solution"] = prompt.solution
    record.update(reference=prompt.reference, verifier=prompt.verifier)
    if prompt.mode is not None:
        record["mode"] = prompt.mode
    if prompt.domain:
        record["domain"] = prompt.domain
    return {**record, **prompt.fields}
