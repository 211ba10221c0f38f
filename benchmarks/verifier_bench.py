#!/usr/bin/env python
"""Score the labelled math grading cases with rlvr's math verifier and with math-verify.

    .venv/bin/python benchmarks/verifier_bench.py                 # full set, summary + per-category table
    .venv/bin/python benchmarks/verifier_bench.py --show-errors   # also list every misjudged case of each side

    .venv/bin/python benchmarks/verifier_bench.py --cases benchmarks/data/math_cases.jsonl \
        benchmarks/data/math_cases_heldout.jsonl benchmarks/data/math_cases_independent.jsonl

Each case in ``benchmarks/data/math_cases.jsonl`` carries a hand-decided ``label``:
whether the completion's final answer is mathematically equivalent to the reference.
A side's prediction is "judged correct" (rlvr: ``verdict.score == 1.0``; math-verify:
``verify(...) is True``); accuracy is prediction == label over the cases that are not
``"policy": true``. A policy case's label depends on a convention (decimal commas, coarse
rounding, ...) that reasonable graders set differently: both sides' verdicts on them are
listed apart and count in no accuracy, false-positive or false-negative figure (timeouts
and throughput do count them: they were run). Several ``--cases`` files are benchmarked
one after the other, each with its own report; the last line then pools them all.

How each side runs
  rlvr         ``VerifierPool("math", workers=W, timeout_s=T).score(chunk)``: worker
               processes, a hard per-item deadline. Pool start-up (incl. a warm-up batch)
               is timed separately and excluded from its throughput.
  math-verify  ``verify(parse("$ref$"), parse(completion))`` with default extraction
               configs and default timeouts (its signal.alarm based ones, which need the
               main thread), run in-process on the main thread of ONE spawned worker
               process, case by case. Its throughput counts only the time inside
               parse+verify measured in that process (its fastest configuration, no IPC),
               plus the full hard-guard time for a case that hangs. A case that has not
               returned after ``--mv-guard`` seconds (e.g. a C-level big-integer power
               that signal.alarm cannot interrupt) is counted as a timeout ("hang"): the
               process is killed and a fresh one continues with the next case. Returns
               caused by math-verify's own timeouts are detected from its
               "Timeout during ..." log warnings.

The machine may be shared and noisy, so the set is split into ``--rounds`` interleaved
chunks; each round runs rlvr then math-verify on the same chunk, swapping which side
goes first every round. The LAST line of output is a compact summary.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CASES = HERE / "data" / "math_cases.jsonl"
if str(REPO) not in sys.path:  # `verifiers` importable when run as a script from anywhere
    sys.path.insert(0, str(REPO))


# ----------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Case:
    id: str
    category: str
    completion: str
    reference: str
    label: bool
    adversarial: bool = False
    policy: bool = False  # the label rests on a convention: reported apart, out of accuracy and FP/FN


@dataclass
class Outcome:
    """One side's result on one case."""

    predicted: bool  # judged correct
    status: str  # rlvr: its verdict status; math-verify: ok/no_answer/gold_unparsed/timeout/hang/error
    seconds: float | None = None  # per-case time where the side measures it (math-verify)
    extracted: str | None = None
    detail: str = ""


def load_cases(path: Path, limit: int | None = None) -> list[Case]:
    cases, seen = [], set()
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            row = json.loads(line)
            case = Case(
                id=str(row["id"]),
                category=str(row["category"]),
                completion=str(row["completion"]),
                reference=str(row["reference"]),
                label=bool(row["label"]),
                adversarial=bool(row.get("adversarial", False)),
                policy=bool(row.get("policy", False)),
            )
            if case.id in seen:
                raise ValueError(f"{path}:{lineno}: duplicate id {case.id!r}")
            seen.add(case.id)
            cases.append(case)
    return cases[:limit] if limit else cases


# ----------------------------------------------------------------------------- rlvr side

class RlvrSide:
    name = "rlvr"

    def __init__(self, workers: int, timeout_s: float):
        from verifiers import VerifierPool, VerifyRequest

        self._request = VerifyRequest
        t0 = time.perf_counter()
        self.pool = VerifierPool("math", workers=workers, timeout_s=timeout_s)
        # Warm-up: every worker forked and verifiers.math loaded before timing starts.
        self.pool.score([VerifyRequest("\\boxed{1}", "1", item_id=f"warmup-{i}") for i in range(2 * workers)])
        self.startup_s = time.perf_counter() - t0
        self.timeout_s = timeout_s

    def run_chunk(self, chunk: list[Case]) -> list[Outcome]:
        requests = [self._request(c.completion, c.reference, item_id=c.id) for c in chunk]
        t0 = time.perf_counter()
        verdicts = self.pool.score(requests)
        seconds = time.perf_counter() - t0
        outcomes = [
            Outcome(predicted=v.score == 1.0, status=v.status, extracted=v.extracted, detail=v.reason or "")
            for v in verdicts
        ]
        return outcomes, seconds

    def close(self) -> None:
        self.pool.close()


# ----------------------------------------------------------------------------- math-verify side

def mv_gold_text(reference: str) -> str:
    """Gold answers go to math-verify's parse inside $...$, as its README does."""
    if "$" in reference or "\\boxed" in reference or "\\(" in reference or "\\[" in reference:
        return reference
    return f"${reference}$"


def _mv_child(conn, mem_gb: float) -> None:  # pragma: no cover - runs in the spawned worker
    """Worker loop: parse+verify each case on this process's main thread, time it, report."""
    if mem_gb and mem_gb > 0:
        import resource

        limit = int(mem_gb * 2**30)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = limit if hard == resource.RLIM_INFINITY or hard >= limit else hard
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    import logging

    import math_verify
    from math_verify import parse, verify

    timeouts: list[str] = []

    class _TimeoutLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            msg = str(record.msg)
            if msg.startswith("Timeout during"):
                timeouts.append("parse" if "parsing" in msg else "compare")

    logger = logging.getLogger("math_verify")
    logger.addHandler(_TimeoutLog(level=logging.WARNING))
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # keep its warnings (which echo whole inputs) off the report

    verify(parse("$\\frac{1}{2}$"), parse("so the answer is $\\boxed{0.5}$"))  # warm-up: lazy imports, regex caches
    conn.send(("ready", getattr(math_verify, "__version__", None) or _dist_version("math-verify")))
    while True:
        msg = conn.recv()
        if msg is None:
            return
        reference, completion = msg
        timeouts.clear()
        gold = pred = None
        ok, err = False, None
        t0 = time.perf_counter()
        try:
            gold = parse(mv_gold_text(reference))
            pred = parse(completion)
            ok = verify(gold, pred) is True
        except Exception as exc:  # MemoryError (address-space limit) and RecursionError included
            err = f"{type(exc).__name__}: {str(exc)[:160]}"
        except BaseException as exc:  # math_verify.errors.TimeoutException escaping (raise_on_error paths)
            if type(exc).__name__ == "TimeoutException":
                timeouts.append("escaped")
            else:
                raise
        dt = time.perf_counter() - t0
        if err:
            status = "error"
        elif timeouts:
            status = "timeout"
        elif not gold:
            status = "gold_unparsed"
        elif not pred:
            status = "no_answer"
        else:
            status = "ok"
        extracted = None
        if pred:  # parse() puts the matched string after the sympy value; printing sympy objects can hang
            extracted = next((p for p in pred if isinstance(p, str)), None)
            extracted = extracted[:200] if extracted is not None else None
        conn.send((ok, status, ",".join(timeouts), dt, err, extracted))


def _dist_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


class MathVerifySide:
    name = "math-verify"

    def __init__(self, guard_s: float, mem_gb: float):
        self.guard_s = guard_s
        self.mem_gb = mem_gb
        self.ctx = multiprocessing.get_context("spawn")
        self.hangs = 0
        self.restarts = 0
        self.version: str | None = None
        t0 = time.perf_counter()
        self._start()
        self.startup_s = time.perf_counter() - t0

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_mv_child, args=(child, self.mem_gb), daemon=True, name="math-verify-bench")
        self.proc.start()
        child.close()
        self.conn = parent
        if not self.conn.poll(300):
            raise RuntimeError("math-verify worker did not start within 300 s")
        tag, version = self.conn.recv()
        assert tag == "ready", tag
        self.version = version

    def _restart(self) -> None:
        self._stop(kill=True)
        self.restarts += 1
        self._start()

    def _stop(self, kill: bool) -> None:
        if self.proc.is_alive():
            if kill:
                self.proc.kill()
            else:
                try:
                    self.conn.send(None)
                except OSError:
                    pass
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()
        self.conn.close()

    def run_one(self, case: Case) -> Outcome:
        """One case; ``Outcome.seconds`` is what it costs in the throughput figure."""
        t0 = time.perf_counter()
        try:
            self.conn.send((case.reference, case.completion))
            ready = self.conn.poll(self.guard_s)
        except (OSError, EOFError):
            ready = True  # the worker is gone; recv below reports it
        if not ready:
            elapsed = time.perf_counter() - t0
            self.hangs += 1
            self._restart()
            return Outcome(False, "hang", elapsed, None, f"no result after the {self.guard_s:g}s hard guard; worker killed")
        try:
            ok, status, timeouts, dt, err, extracted = self.conn.recv()
        except (EOFError, OSError):
            elapsed = time.perf_counter() - t0
            code = self.proc.exitcode
            self._restart()
            return Outcome(False, "error", elapsed, None, f"math-verify worker died (exit code {code})")
        detail = err or (f"math-verify's own timeout hit ({timeouts})" if timeouts else "")
        return Outcome(bool(ok), status, dt, extracted, detail)

    def run_chunk(self, chunk: list[Case]) -> tuple[list[Outcome], float]:
        outcomes = [self.run_one(c) for c in chunk]
        return outcomes, sum(o.seconds or 0.0 for o in outcomes)

    def close(self) -> None:
        self._stop(kill=False)


# ----------------------------------------------------------------------------- report

@dataclass
class SideReport:
    name: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # seconds per subset
    startup_s: float = 0.0
    available: bool = True
    note: str = ""

    @property
    def busy_s(self) -> float:
        return sum(self.busy.values())

    def wrong(self, cases: list[Case]) -> list[Case]:
        return [c for c in cases if self.outcomes[c.id].predicted != c.label and not c.policy]

    def counts(self, cases: list[Case]) -> dict[str, Any]:
        """Accuracy, FP and FN over the non-policy cases; statuses and throughput over all."""
        statuses = Counter(self.outcomes[c.id].status for c in cases)
        throughput = len(cases) / self.busy_s if self.busy_s > 0 else float("nan")
        cases = [c for c in cases if not c.policy]
        fp = sum(1 for c in cases if self.outcomes[c.id].predicted and not c.label)
        fn = sum(1 for c in cases if not self.outcomes[c.id].predicted and c.label)
        n = len(cases)
        return {
            "n": n,
            "correct": n - fp - fn,
            "accuracy": (n - fp - fn) / n if n else float("nan"),
            "fp": fp,
            "fn": fn,
            "statuses": dict(statuses),
            "throughput": throughput,
        }


def _short(text: str | None, width: int = 110) -> str:
    if text is None:
        return "-"
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 15] + f"...(+{len(text) - width + 15} chars)"


def print_report(cases: list[Case], sides: list[SideReport], args, source: str, tag: str = "", out=sys.stdout) -> str:
    def p(*a):
        print(*a, file=out)

    rl, mv = sides
    judged = [c for c in cases if not c.policy]
    pos = sum(c.label for c in judged)
    p(f"cases: {len(cases)} from {source}: {len(judged)} judged ({pos} true / {len(judged) - pos} false)"
      f" + {len(cases) - len(judged)} policy cases, reported apart and left out of accuracy, FP and FN")
    if rl.available:
        p(f"rlvr:        VerifierPool('math', workers={args.workers}, timeout_s={args.timeout:g}); "
          f"pool start-up {rl.startup_s:.2f}s (excluded from throughput)")
    else:
        p(f"rlvr:        NOT AVAILABLE ({rl.note})")
    p(f"math-verify: {mv.note}; worker start-up {mv.startup_s:.2f}s (excluded)")
    p(f"rounds: {args.rounds} interleaved chunks, side order alternating")
    p("")

    stats = {s.name: s.counts(cases) if s.available else None for s in sides}
    names = [s.name for s in sides]
    p(f"{'':28s}" + "".join(f"{n:>14s}" for n in names))

    def row(label, fn):
        p(f"{label:28s}" + "".join(f"{(fn(s) if s.available else 'n/a'):>14}" for s in sides))

    row("accuracy (non-policy)", lambda s: f"{stats[s.name]['accuracy']:.3f}")
    row("correct", lambda s: f"{stats[s.name]['correct']}/{stats[s.name]['n']}")
    row("false positives", lambda s: str(stats[s.name]["fp"]))
    row("false negatives", lambda s: str(stats[s.name]["fn"]))
    row("timeouts (all)", lambda s: str(_timeouts(s, cases)))
    row("  killed by hard deadline", lambda s: str(_hard_kills(s, cases)))
    row("errors", lambda s: str(stats[s.name]["statuses"].get("error", 0)))
    row("no answer extracted", lambda s: str(stats[s.name]["statuses"].get("no_answer", 0)))
    row("reference not understood", lambda s: str(stats[s.name]["statuses"].get("invalid_reference", 0)
                                                  + stats[s.name]["statuses"].get("gold_unparsed", 0)))
    row("busy time (s)", lambda s: f"{s.busy_s:.2f}")
    row("cases/s", lambda s: f"{stats[s.name]['throughput']:.0f}")
    normal = [c for c in cases if not c.adversarial]
    if normal and len(normal) < len(cases):
        row("cases/s, non-adversarial", lambda s: f"{len(normal) / s.busy['normal']:.0f}" if s.busy["normal"] > 0 else "nan")
    adv = [c for c in cases if c.adversarial]
    if adv:
        row("adversarial accuracy", lambda s: f"{s.counts(adv)['accuracy']:.3f} ({len(adv)})")
    p("")
    for s in sides:
        if s.available:
            p(f"{s.name} statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(stats[s.name]["statuses"].items())))
    if mv.available:
        slow = sorted(((mv.outcomes[c.id].seconds or 0.0, c.id) for c in cases), reverse=True)[:5]
        p("math-verify slowest: " + ", ".join(f"{cid} {sec:.2f}s" for sec, cid in slow))
    p("")

    by_cat: dict[str, list[Case]] = defaultdict(list)
    for c in judged:
        by_cat[c.category].append(c)
    p("per category (non-policy cases; + policy cases of the category, not counted)")
    p(f"{'category':24s} {'n':>4s} {'T/F':>7s} {'+pol':>4s}" + "".join(f"  {n + ' acc (fp/fn)':>24s}" for n in names))
    for cat, group in by_cat.items():
        t = sum(c.label for c in group)
        n_policy = sum(1 for c in cases if c.policy and c.category == cat)
        cells = []
        for s in sides:
            if not s.available:
                cells.append(f"  {'n/a':>24s}")
                continue
            k = s.counts(group)
            cell = f"{k['accuracy']:.3f} ({k['fp']:>2d}/{k['fn']:>2d})"
            cells.append(f"  {cell:>24s}")
        p(f"{cat:24s} {len(group):4d} {t:>3d}/{len(group) - t:<3d} {n_policy:>4d}" + "".join(cells))

    policy = [c for c in cases if c.policy]
    if policy:
        p("")
        p(f"policy cases ({len(policy)}; not in any figure above but timeouts and throughput): "
          + ", ".join(f"{s.name} agrees with {sum(s.outcomes[c.id].predicted == c.label for c in policy)}"
                      for s in sides if s.available))
        for c in policy:
            verdicts = "  ".join(f"{s.name}={'correct' if s.outcomes[c.id].predicted else 'wrong'}" for s in sides if s.available)
            p(f"  {c.id:34s} label={'correct' if c.label else 'wrong':8s} {verdicts}  ref={_short(c.reference, 30)}")

    if args.show_errors:
        for s in sides:
            if not s.available:
                continue
            bad = s.wrong(cases)
            p("")
            p(f"=== {s.name}: {len(bad)} misjudged ===")
            for c in bad:
                o = s.outcomes[c.id]
                kind = "FP" if o.predicted else "FN"
                p(f"[{kind}] {c.id} ({c.category}) label={c.label} status={o.status}")
                p(f"      reference: {_short(c.reference)}")
                p(f"      extracted: {_short(o.extracted)}")
                p(f"      completion: {_short(c.completion, 200)}")
                if o.detail:
                    p(f"      why: {_short(o.detail, 200)}")

    last = summary_line(cases, rl, mv, tag)
    p("")
    p(last)
    return last


def summary_line(cases: list[Case], rl: SideReport, mv: SideReport, tag: str = "") -> str:
    stats = {s.name: s.counts(cases) if s.available else None for s in (rl, mv)}

    def fmt(s, key, spec):
        return format(stats[s.name][key], spec) if s.available else "n/a"

    if rl.available and mv.available and stats[mv.name]["throughput"] > 0:
        ratio = f"{stats[rl.name]['throughput'] / stats[mv.name]['throughput']:.1f}x"
    else:
        ratio = "n/a"
    return (
        f"verifier_bench{tag}: acc rlvr={fmt(rl, 'accuracy', '.3f')} mv={fmt(mv, 'accuracy', '.3f')}"
        f" | fp rlvr={fmt(rl, 'fp', 'd')} mv={fmt(mv, 'fp', 'd')}"
        f" | timeouts rlvr={_timeouts(rl, cases) if rl.available else 'n/a'}"
        f" mv={_timeouts(mv, cases) if mv.available else 'n/a'}"
        f" | throughput rlvr={fmt(rl, 'throughput', '.0f')}/s mv={fmt(mv, 'throughput', '.0f')}/s ratio={ratio}"
    )


def _timeouts(side: SideReport, cases: list[Case]) -> int:
    return sum(1 for c in cases if side.outcomes[c.id].status in ("timeout", "hang"))


def _hard_kills(side: SideReport, cases: list[Case]) -> int:
    """rlvr: the pool killed the worker at timeout_s; math-verify: exceeded --mv-guard."""
    n = 0
    for c in cases:
        o = side.outcomes[c.id]
        if o.status == "hang" or (o.status == "timeout" and "was killed" in (o.detail or "")):
            n += 1
    return n


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=Path, nargs="+", default=[DEFAULT_CASES],
                    help="JSONL files of labelled cases, each benchmarked and reported on its own (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N cases")
    ap.add_argument("--workers", type=int, default=2, help="rlvr pool worker processes (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=5.0, help="rlvr per-item hard deadline in seconds (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved chunks, alternating side order (default: %(default)s)")
    ap.add_argument("--mv-guard", type=float, default=30.0,
                    help="hard wall-clock guard per math-verify case; its own timeouts are 5 s per parse "
                         "and per comparison (default: %(default)s)")
    ap.add_argument("--mv-mem-gb", type=float, default=4.0,
                    help="address-space limit of the math-verify worker, 0 = none (default: %(default)s)")
    ap.add_argument("--show-errors", action="store_true", help="print every misjudged case of each side")
    ap.add_argument("--json", type=Path, default=None, help="also write per-case outcomes of both sides to this file")
    args = ap.parse_args(argv)
    args.rounds = max(1, args.rounds)

    files = [(path, load_cases(path, args.limit)) for path in args.cases]
    if not any(cases for _, cases in files):
        print("no cases", file=sys.stderr)
        return 2

    mv_side = MathVerifySide(args.mv_guard, args.mv_mem_gb)
    mv_note = (f"math-verify {mv_side.version}, default parse/verify (timeouts 5s), in-process on the main thread "
               f"of one worker, hard guard {args.mv_guard:g}s")
    rl_side, rl_note = None, ""
    try:
        rl_side = RlvrSide(args.workers, args.timeout)
    except Exception as exc:  # e.g. verifiers.math not there yet: still benchmark math-verify
        rl_note = f"{type(exc).__name__}: {exc}"
        print(f"warning: rlvr side unavailable: {rl_note}", file=sys.stderr)

    results = []  # (path, cases, rlvr report, math-verify report) per file
    try:
        for path, cases in files:
            rl = SideReport("rlvr", startup_s=rl_side.startup_s if rl_side else 0.0, available=rl_side is not None, note=rl_note)
            mv = SideReport("math-verify", startup_s=mv_side.startup_s, note=mv_note)
            run_rounds(cases, [(rl_side, rl), (mv_side, mv)], args.rounds, path.name)
            results.append((path, cases, rl, mv))
    finally:
        if rl_side is not None:
            rl_side.close()
        mv_side.close()

    if args.json:
        rows = []
        for path, cases, rl, mv in results:
            for c in cases:
                row = {"file": path.name, "id": c.id, "category": c.category, "label": c.label, "policy": c.policy}
                for s, key in ((rl, "rlvr"), (mv, "mv")):
                    if s.available:
                        o = s.outcomes[c.id]
                        row[key] = {"predicted": o.predicted, "status": o.status, "seconds": o.seconds,
                                    "extracted": o.extracted, "detail": o.detail}
                rows.append(row)
        args.json.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")

    for i, (path, cases, rl, mv) in enumerate(results):
        if i:
            print("\n" + "=" * 100 + "\n")
        print_report(cases, [rl, mv], args, str(path), f"[{path.name}]" if len(results) > 1 else "")
    if len(results) > 1:
        print("\n" + "=" * 100)
        print(f"all {len(results)} files pooled (each file's busy time summed):")
        print(summary_line(*_pooled(results)))
    return 0


def run_rounds(cases: list[Case], sides: list[tuple[Any, SideReport]], rounds: int, name: str) -> None:
    """Interleaved chunks; each round runs both sides on one chunk, the side going first alternating."""
    for r, chunk in enumerate(cases[i::rounds] for i in range(rounds)):
        if not chunk:
            continue
        order = sides if r % 2 == 0 else sides[::-1]
        # Adversarial cases run as their own batch so the non-adversarial throughput is measured too.
        parts = [("normal", [c for c in chunk if not c.adversarial]), ("adversarial", [c for c in chunk if c.adversarial])]
        for side, report in order:
            if side is None:
                continue
            t0 = time.perf_counter()
            for part_name, part in parts:
                if not part:
                    continue
                outcomes, seconds = side.run_chunk(part)
                report.busy[part_name] += seconds
                for case, outcome in zip(part, outcomes):
                    report.outcomes[case.id] = outcome
            print(f"  {name} round {r + 1}/{rounds}: {report.name:11s} {len(chunk):4d} cases "
                  f"in {time.perf_counter() - t0:6.2f}s wall", file=sys.stderr)


def _pooled(results) -> tuple[list[Case], SideReport, SideReport]:
    """All files as one set: ids prefixed by their file, busy times summed."""
    cases, pooled = [], [SideReport("rlvr"), SideReport("math-verify")]
    for path, file_cases, *reports in results:
        cases += [replace(c, id=f"{path.name}:{c.id}") for c in file_cases]
        for into, report in zip(pooled, reports):
            into.available = into.available and report.available
            into.outcomes.update({f"{path.name}:{cid}": o for cid, o in report.outcomes.items()})
            for part, seconds in report.busy.items():
                into.busy[part] += seconds
    return cases, *pooled


if __name__ == "__main__":
    sys.exit(main())
