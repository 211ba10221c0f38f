"""Judge throughput: requests per second through ``verifiers.judge`` at concurrency (or batch size) 1 and 8.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python benchmarks/judge_bench.py [--items 24] [--rounds 3] [--backend local]
    PYTHONPATH=. HF_HUB_OFFLINE=1 python benchmarks/judge_bench.py --judge runs/tiny_judge/stages/01_judge_sft/checkpoints/step_001000

Builds a tiny always-YES judge (trained here, ``tests.helpers.judge_server``) and judges the same batch
of distinct items (cache off) at 1 and at 8, alternating the two a few rounds so that drift hits both
alike; reports the median of each. The last line is the summary. ``--backend openai`` (default) serves
the model with ``transformers serve`` on loopback (CPU) and varies the requests in flight; ``--backend
local`` loads it in the shared Ray judge actor (``verifiers.judge.local``, CPU, a local Ray runtime)
and varies ``batch_size``, the prompts per generate call. What it measures is the plumbing (does
concurrency reach the server, does batching pay in the actor?), not a real judge's speed: a 1-layer
model answers in milliseconds. ``--judge DIR`` measures a trained judge instead (the tiny judge of
``experiments/tiny_judge.yaml``, its template, a 48-token reply: a digit-by-digit check, then the verdict)
on right answers to arithmetic problems; it must judge them all (a NO is fine, an unjudged item is not).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in a checkout

from rl.config import JudgeConfig  # noqa: E402
from tests.helpers.judge_server import build_judge_model, served_model  # noqa: E402
from verifiers.judge import Judge, JudgeItem  # noqa: E402

TINY_JUDGE_TEMPLATE = str(Path(__file__).resolve().parents[1] / "experiments" / "judges" / "tiny_judge_prompt.txt")


def rate(config: JudgeConfig, items: list[JudgeItem], width: int) -> float:
    config = replace(config, max_concurrency=width, batch_size=width)  # openai reads the first, local the second
    with Judge(config) as judge:
        started = time.perf_counter()
        verdicts = judge.judge(items)
        elapsed = time.perf_counter() - started
    bad = [v for v in verdicts if (v.score != 1.0 if config.template == "with_reference" else not v.judged)]
    if bad:
        raise SystemExit(f"judge_bench: {len(bad)} items not judged as expected, e.g. {bad[0]}")
    return len(items) / elapsed


@contextmanager
def judge_config(model: Path, backend: str, trained: bool = False, serve_args: tuple[str, ...] = ()):
    """The judge's settings, with its server (openai) or its actor (local) up until the block ends."""
    common = dict(model=str(model), cache=False, max_tokens=16, timeout_s=120)
    if trained:  # the tiny judge: its own template, room for its check line
        common.update(template=TINY_JUDGE_TEMPLATE, max_tokens=48)
    if backend == "openai":
        with served_model(model, extra_args=serve_args) as base_url:
            yield JudgeConfig(base_url=base_url, **common)
        return
    config = JudgeConfig(backend="local", **common)
    with Judge(config) as keeper:  # holds the shared actor between rounds: Ray frees it once no judge holds it
        keeper.ping()  # the load, kept out of the figures
        yield config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=24, help="distinct items per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="1/8 pairs, alternated")
    parser.add_argument("--backend", choices=("openai", "local"), default="openai",
                        help="openai: transformers serve, concurrency 1 vs 8; local: the Ray judge actor, batch size 1 vs 8")
    parser.add_argument("--judge", type=Path, metavar="DIR", help="a trained judge (the tiny judge's checkpoint) instead of the always-YES one")
    parser.add_argument("--continuous-batching", action="store_true", help="openai: serve with `transformers serve --continuous-batching`")
    args = parser.parse_args()
    label = "c" if args.backend == "openai" else "b"
    with tempfile.TemporaryDirectory() as tmp:
        model = args.judge or build_judge_model(Path(tmp) / "yes", reply="VERDICT: YES")
        serve_args = ("--continuous-batching",) if args.continuous_batching else ()
        with judge_config(model, args.backend, trained=args.judge is not None, serve_args=serve_args) as config:
            items = [JudgeItem(f"What is {i} + {i + 7}?", f"<think>{i} + {i + 7}</think> The answer is \\boxed{{{2 * i + 7}}}.",
                               str(2 * i + 7), str(i)) for i in range(10, 10 + args.items)]
            rate(config, items[:2], 1)  # warm-up: the first request loads and compiles nothing twice
            one, eight = [], []
            for round_ in range(args.rounds):
                pair = [(1, one), (8, eight)] if round_ % 2 == 0 else [(8, eight), (1, one)]
                for width, out in pair:
                    out.append(rate(config, items, width))
                print(f"round {round_ + 1}: {label}1 {one[-1]:.1f} req/s, {label}8 {eight[-1]:.1f} req/s", flush=True)
    x, y = median(one), median(eight)
    where = "the Ray judge actor on CPU" if args.backend == "local" else \
        f"transformers serve{' --continuous-batching' if args.continuous_batching else ''} on CPU"
    what = f"the tiny judge {args.judge}" if args.judge else "an always-YES 1-layer model"
    print(f"judge_bench: {label}1 {x:.1f} req/s, {label}8 {y:.1f} req/s, ratio {y / x:.2f} "
          f"(median of {args.rounds}, {args.items} items, {what}, {where})")


if __name__ == "__main__":
    main()
