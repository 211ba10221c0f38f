"""Warm pool vs a ``docker run`` per execution: latency and throughput, side by side.

    .venv/bin/python benchmarks/sandbox_bench.py            # about a minute
    .venv/bin/python benchmarks/sandbox_bench.py --quick    # fewer samples
    .venv/bin/python benchmarks/sandbox_bench.py --split    # the cost of running tests apart instead

``--split``: one HumanEval-style test case (a ``check`` function asserting on 1 or 8 calls),
run the old way (tests appended to the program, one process) and with ``tests=`` (the tests
in a process of their own, calling the program's functions over the channel: threat model
property 10), alternating, on one container, with a pause before each run so that its
runner is warm (the pool starts the next runner while the host is busy elsewhere). It
reports the run time the supervisor measures inside the container, medians.

Both sides run the same trivial program (``print('ok')``) in the same image under
the same lockdown (no network, read-only root, uid 65534, no capabilities, limits);
the baseline is what ``docker run --rm`` does — create, start, wait, read logs,
remove — through the same SDK, so CLI start-up is not counted against it. The
machine is shared and noisy, so the sides alternate: one pool sample, one
docker-run sample, and so on (blocks of executions for throughput). The last line
is the summary.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import DockerSandbox, SandboxLimits  # noqa: E402
from sandbox.container import container_config  # noqa: E402

PROGRAM = "print('ok')"


class DockerRunPerExecution:
    """The baseline: a fresh container for every execution, removed afterwards."""

    def __init__(self, client, image: str, limits: SandboxLimits) -> None:
        self.api = client.api
        config = container_config(client, image, limits)
        config["host_config"] = {**config["host_config"], "AutoRemove": False}  # we read logs, then remove
        for key in ("stdin_open", "labels"):
            config.pop(key)
        self.config = config

    def run(self, code: str) -> str:
        cid = self.api.create_container(**{**self.config, "command": ["python3", "-I", "-c", code]})["Id"]
        try:
            self.api.start(cid)
            self.api.wait(cid, timeout=60)
            return self.api.logs(cid, stdout=True, stderr=False).decode()
        finally:
            self.api.remove_container(cid, force=True)


def timed(fn) -> float:
    started = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - started
    if out != "ok\n":
        raise RuntimeError(f"benchmark program printed {out!r}")
    return elapsed


def block(fn, n: int, concurrency: int) -> tuple[list[float], float]:
    """n executions at the given concurrency: per-execution latencies and the wall time of all."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as ex:
        latencies = list(ex.map(lambda _: timed(fn), range(n)))
    return latencies, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


SPLIT_PROGRAM = "def square(x):\n    return x * x\n"


def split_tests(calls: int) -> str:
    return "def check(candidate):\n" + "".join(f"    assert candidate({i}) == {i * i}\n" for i in range(calls)) + "\ncheck(square)\n"


def split_main(rounds: int) -> int:
    sides = {(mode, calls): (dict(code=SPLIT_PROGRAM + "\n" + split_tests(calls)) if mode == "appended"
                             else dict(code=SPLIT_PROGRAM, tests=split_tests(calls)))
             for mode in ("appended", "split") for calls in (1, 8)}
    ms = {side: [] for side in sides}
    with DockerSandbox(size=1) as box:
        for i in range(rounds + 3):
            order = list(sides) if i % 2 else list(reversed(sides))
            for side in order:
                time.sleep(0.05)  # the runner of the next run has started by then
                result = box.run(**sides[side])
                if not result.passed:
                    raise RuntimeError(f"{side}: {result.status} {result.detail}")
                if i >= 3:  # the first rounds warm the container
                    ms[side].append(result.duration_s * 1e3)
    p50 = {side: statistics.median(v) for side, v in ms.items()}
    print(f"{'calls':>5} {'appended ms':>12} {'split ms':>11} {'split adds':>11}   (n={rounds} each)")
    for calls in (1, 8):
        a, g = p50[("appended", calls)], p50[("split", calls)]
        print(f"{calls:>5} {a:>12.2f} {g:>11.2f} {g - a:>+11.2f}")
    per_call = (p50[("split", 8)] - p50[("appended", 8)] - p50[("split", 1)] + p50[("appended", 1)]) / 7
    print(f"sandbox_bench split: per test case +{p50[('split', 1)] - p50[('appended', 1)]:.2f}ms (1 call) "
          f"+{p50[('split', 8)] - p50[('appended', 8)]:.2f}ms (8 calls) | per call +{per_call:.2f}ms")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples (about 20 s)")
    ap.add_argument("--split", action="store_true", help="measure the cost of running the tests apart instead")
    args = ap.parse_args()
    if args.split:
        return split_main(rounds=10 if args.quick else 40)
    samples, rounds = (12, 2) if args.quick else (30, 3)
    pool_block, docker_block = (40, 8) if args.quick else (60, 12)

    limits = SandboxLimits()
    with DockerSandbox(size=4, limits=limits) as pool:
        pool_run = lambda: pool.run(PROGRAM).stdout  # noqa: E731
        baseline = DockerRunPerExecution(pool.client, pool.image, limits)
        for _ in range(3):  # warm both: page cache, image layers, the pool's first runners
            timed(pool_run), timed(lambda: baseline.run(PROGRAM))

        lat = {"pool": [], "docker_run": []}
        for _ in range(samples):  # concurrency 1, alternating one by one
            lat["pool"].append(timed(pool_run))
            lat["docker_run"].append(timed(lambda: baseline.run(PROGRAM)))

        lat4 = {"pool": [], "docker_run": []}
        wall4 = {"pool": 0.0, "docker_run": 0.0}
        count4 = {"pool": 0, "docker_run": 0}
        for _ in range(rounds):  # concurrency 4, alternating block by block
            for side, fn, n in (("pool", pool_run, pool_block), ("docker_run", lambda: baseline.run(PROGRAM), docker_block)):
                latencies, wall = block(fn, n, 4)
                lat4[side] += latencies
                wall4[side] += wall
                count4[side] += n

    print(f"{'side':<11} {'conc':>4} {'p50 ms':>8} {'p95 ms':>8} {'exec/s':>8}   (n)")
    for side in ("pool", "docker_run"):
        tp1 = 1 / statistics.mean(lat[side])
        print(f"{side:<11} {1:>4} {pct(lat[side], 50) * 1e3:>8.1f} {pct(lat[side], 95) * 1e3:>8.1f} {tp1:>8.1f}   ({len(lat[side])})")
        tp4 = count4[side] / wall4[side]
        print(f"{side:<11} {4:>4} {pct(lat4[side], 50) * 1e3:>8.1f} {pct(lat4[side], 95) * 1e3:>8.1f} {tp4:>8.1f}   ({count4[side]})")
    p50_pool, p50_run = pct(lat["pool"], 50), pct(lat["docker_run"], 50)
    tp_ratio = (count4["pool"] / wall4["pool"]) / (count4["docker_run"] / wall4["docker_run"])
    print(f"sandbox_bench: p50 pool={p50_pool * 1e3:.1f}ms docker_run={p50_run * 1e3:.1f}ms "
          f"ratio={p50_run / p50_pool:.1f}x | throughput@4 pool={count4['pool'] / wall4['pool']:.1f}/s "
          f"docker_run={count4['docker_run'] / wall4['docker_run']:.1f}/s ratio={tp_ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
