"""Judge throughput: requests per second through ``verifiers.judge`` at concurrency 1 and 8.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python benchmarks/judge_bench.py [--items 24] [--rounds 3]

Serves a tiny always-YES judge (built and trained here, ``tests.helpers.judge_server``) with
``transformers serve`` on loopback (CPU), then judges the same batch of distinct items (cache off) at
concurrency 1 and at 8, alternating the two a few rounds so that drift hits both alike; reports the
median of each. The last line is the summary. What it measures is the client and server plumbing
(does concurrency reach the server?), not a real judge's speed: a 1-layer model answers in milliseconds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in a checkout

from rl.config import JudgeConfig  # noqa: E402
from tests.helpers.judge_server import build_judge_model, served_model  # noqa: E402
from verifiers.judge import Judge, JudgeItem  # noqa: E402


def rate(base_url: str, model: str, items: list[JudgeItem], concurrency: int) -> float:
    config = JudgeConfig(base_url=base_url, model=model, max_concurrency=concurrency, cache=False, max_tokens=16, timeout_s=120)
    with Judge(config) as judge:
        started = time.perf_counter()
        verdicts = judge.judge(items)
        elapsed = time.perf_counter() - started
    bad = [v for v in verdicts if v.score != 1.0]
    if bad:
        raise SystemExit(f"judge_bench: {len(bad)} items not judged YES, e.g. {bad[0]}")
    return len(items) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=24, help="distinct items per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="c1/c8 pairs, alternated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_judge_model(Path(tmp) / "yes", reply="VERDICT: YES")
        with served_model(model) as base_url:
            items = [JudgeItem(f"What is {i} + {i}?", f"<think>{i} + {i}</think> {2 * i}", str(2 * i), str(i))
                     for i in range(args.items)]
            rate(base_url, str(model), items[:2], 1)  # warm-up: the first request loads and compiles nothing twice
            c1, c8 = [], []
            for round_ in range(args.rounds):
                pair = [(1, c1), (8, c8)] if round_ % 2 == 0 else [(8, c8), (1, c1)]
                for concurrency, out in pair:
                    out.append(rate(base_url, str(model), items, concurrency))
                print(f"round {round_ + 1}: c1 {c1[-1]:.1f} req/s, c8 {c8[-1]:.1f} req/s", flush=True)
    x, y = median(c1), median(c8)
    print(f"judge_bench: c1 {x:.1f} req/s, c8 {y:.1f} req/s, ratio {y / x:.2f} "
          f"(median of {args.rounds}, {args.items} items, tiny model, transformers serve on CPU)")


if __name__ == "__main__":
    main()
