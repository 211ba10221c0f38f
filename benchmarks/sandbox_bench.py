"""Warm pool vs a ``docker run`` per execution: latency and throughput, side by side.

    .venv/bin/python benchmarks/sandbox_bench.py            # about a minute
    .venv/bin/python benchmarks/sandbox_bench.py --quick    # fewer samples
    .venv/bin/python benchmarks/sandbox_bench.py --split    # the cost of running tests apart instead
    .venv/bin/python benchmarks/sandbox_bench.py --python-tool   # the python tool's cost per call instead

``--split``: one HumanEval-style test case (a ``check`` function asserting on 1 or 8 calls),
run the old way (tests appended to the program, one process) and with ``tests=`` (the tests
in a process of their own, calling the program's functions over the channel: threat model
property 10), alternating, on one container, with a pause before each run so that its
runner is warm (the pool starts the next runner while the host is busy elsewhere). It
reports the run time the supervisor measures inside the container, medians.

``--python-tool``: a trivial program that times itself, run through ``sandbox.run``, the
``python`` tool (``rl.envs.builtin_tools``) and a ``ToolBox`` call, alternating, on a pool
of 2; overhead = wall time of the call - the program's own time. A pause before each run
lets its runner start, as the generation between two tool turns does; the "no pause" row
runs three calls back to back and records the last two, which find their container's runner
still starting (a pool smaller than the calls in flight). Load is the 1-minute average
before and after: the figures mean little on a busy machine.

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
import os
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


TIMED_PROGRAM = "import time\n_t = time.perf_counter()\nprint('ok')\nprint(time.perf_counter() - _t)"


def python_tool_main(rounds: int) -> int:
    from rl.envs.builtin_tools import python_tool
    from rl.envs.tools import ToolBox, ToolCall

    load_before = os.getloadavg()[0]
    with DockerSandbox(size=2) as box:
        tool = python_tool(box)
        toolbox = ToolBox([tool], timeout_s=10)
        call = ToolCall("python", {"code": TIMED_PROGRAM})
        sides = {"sandbox.run": lambda: box.run(TIMED_PROGRAM).stdout, "tool": lambda: tool(TIMED_PROGRAM),
                 "toolbox": lambda: toolbox.run([call])[0].content}
        wall = {side: [] for side in [*sides, "tool, no pause"]}
        own = {side: [] for side in wall}

        def sample(side: str, fn, pause: float) -> None:
            time.sleep(pause)
            started = time.perf_counter()
            out = fn()
            elapsed = time.perf_counter() - started
            printed, seconds = out.split()
            if printed != "ok":
                raise RuntimeError(f"{side}: the program printed {out!r}")
            wall[side].append(elapsed * 1e3)
            own[side].append(float(seconds) * 1e3)

        for i in range(rounds + 3):  # the first rounds warm the containers
            order = list(sides) if i % 2 else list(reversed(sides))
            for side in order:
                sample(side, sides[side], 0.05)
            tool(TIMED_PROGRAM)  # unrecorded: the two calls after it each find their runner still starting
            for _ in range(2):
                sample("tool, no pause", sides["tool"], 0.0)
            if i == 2:
                for values in (*wall.values(), *own.values()):
                    values.clear()
        toolbox.close()
    load_after = os.getloadavg()[0]
    over = {side: [w - o for w, o in zip(wall[side], own[side])] for side in wall}
    print(f"{'side':<15} {'p50 ms':>7} {'own ms':>7} {'overhead p50':>13} {'p95':>7}   (n)")
    for side in wall:
        print(f"{side:<15} {statistics.median(wall[side]):>7.2f} {statistics.median(own[side]):>7.3f} "
              f"{statistics.median(over[side]):>13.2f} {pct(over[side], 95):>7.2f}   ({len(wall[side])})")
    print(f"sandbox_bench python-tool: p50 overhead tool={statistics.median(over['tool']):.2f}ms "
          f"toolbox={statistics.median(over['toolbox']):.2f}ms sandbox.run={statistics.median(over['sandbox.run']):.2f}ms "
          f"(program's own {statistics.median(own['tool']):.3f}ms) | no pause {statistics.median(over['tool, no pause']):.2f}ms "
          f"| load {load_before:.2f}->{load_after:.2f} on {os.cpu_count()} cpus")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer samples (about 20 s)")
    ap.add_argument("--split", action="store_true", help="measure the cost of running the tests apart instead")
    ap.add_argument("--python-tool", action="store_true", help="measure the python tool's overhead per call instead")
    args = ap.parse_args()
    if args.split:
        return split_main(rounds=10 if args.quick else 40)
    if args.python_tool:
        return python_tool_main(rounds=15 if args.quick else 40)
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
