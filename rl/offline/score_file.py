"""Offline scoring: judge every line of a predictions JSONL file and write a scored copy.

    rlvr score preds.jsonl --verifier math -o preds.scored.jsonl

Each output line is its input record plus ``"verdict"`` (``Verdict.to_dict()``) and
``"source_line"`` (its 1-based line number in the input), in input order, flushed
chunk by chunk so that a killed run keeps what it finished. A bad input line is
reported as ``PATH:LINE: what is wrong``, skipped and counted; ``resume=True``
continues a partly written output. A line without a completion but with a multi-turn
transcript (``messages``, as ``rlvr eval --env tools`` writes) is judged on its last assistant
turn. No model is involved: this is the
verifiers -> verdicts half of the training loop, run on a file.
"""
from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from rl.config.schema import ConfigError, JudgeConfig
from rl.data.jsonl import BadLine, parse_object_line
from rl.offline.metrics import ScoredSample, Summary, problem_key
from verifiers.pool import VerifierPool, VerifyRequest
from verifiers.registry import VerifierNotFound, get_verifier
from verifiers.verdict import Verdict

# Keys this module adds to every output record; never passed on to a verifier.
OUTPUT_KEYS = ("verdict", "source_line")


class ScoringError(Exception):
    """A run that cannot start or continue; the message says why and where."""


DOMAIN_FIELD = "domain"  # a record's data.mixture domain (rlvr eval and rlvr data export write it): accuracy per domain
TRANSCRIPT_FIELD = "messages"  # a multi-turn transcript; its last assistant turn is judged when there is no completion


@dataclass(frozen=True)
class ScoreOptions:
    predictions: Path
    output: Path
    verifier: str = "math"  # used by records that do not name their own
    verifier_field: str = "verifier"  # a record's own verifier, when it has this field
    completion_field: str = "completion"
    reference_field: str = "reference"
    id_field: str = "id"  # samples sharing an id are one problem (pass@k, maj@k)
    workers: int | None = None  # None: one per CPU
    timeout_s: float = 5.0  # per item; a stuck verifier costs this much and no more
    resume: bool = False
    force: bool = False
    progress: bool | None = None  # None: show the bar only when stderr is a terminal
    chunk_size: int = 256  # requests handed to the pool at once: bounds memory on big files
    judge: JudgeConfig | None = None  # the served model for judge / cascade items; None: no judge
    judge_cache: Path | None = None  # sqlite of judged verdicts, reused by a second run; None: none kept
    question_field: str = "prompt"  # what the judge is told the question was (rlvr eval writes "prompt")


@dataclass(frozen=True)
class ScoreItem:
    source_line: int
    record: dict
    request: VerifyRequest


@dataclass(frozen=True)
class ScoreRun:
    output: Path
    scored_now: int  # lines judged by this run
    kept: int  # lines already in the output (resume)
    malformed: int  # input lines skipped as unreadable


def default_output(predictions: Path) -> Path:
    """``preds.jsonl`` -> ``preds.scored.jsonl`` beside it."""
    return predictions.with_name(predictions.stem + ".scored.jsonl")


def score_file(opts: ScoreOptions, *, err: TextIO | None = None) -> ScoreRun:
    """Score ``opts.predictions`` into ``opts.output``; raise ScoringError if the run cannot start."""
    err = err or sys.stderr
    if not opts.predictions.is_file():
        raise ScoringError(f"predictions file not found: {opts.predictions}")
    if opts.output.resolve() == opts.predictions.resolve():
        raise ScoringError(f"output {opts.output} is the predictions file itself; choose another -o")
    try:
        get_verifier(opts.verifier)  # fail before touching the output
        if opts.judge is not None:
            opts.judge.check_usable()
    except (VerifierNotFound, ConfigError) as exc:
        raise ScoringError(f"judge.{exc}" if isinstance(exc, ConfigError) else str(exc)) from None
    done = _prepare_output(opts, err)
    show = opts.progress if opts.progress is not None else err.isatty()
    total = max(0, _count_lines(opts.predictions) - len(done)) if show else None
    scored = 0
    with tqdm(total=total, disable=not show, file=err, unit="line", desc="scoring") as bar, open(
        opts.output, "a", encoding="utf-8", newline="\n"
    ) as out:
        progress = _Progress(bar, err)
        malformed = _MalformedLog(opts.predictions, progress)
        for chunk, verdicts in _judge(opts, _read_items(opts, done, malformed), progress):
            for item, verdict in zip(chunk, verdicts):
                record = {**item.record, "verdict": verdict.to_dict(), "source_line": item.source_line}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            scored += len(chunk)
    return ScoreRun(opts.output, scored, len(done), malformed.count)


class _Progress:
    """The bar, advanced once per verdict; messages (malformed lines) print above it."""

    def __init__(self, bar: tqdm, err: TextIO):
        self.bar, self.err = bar, err

    def advance(self) -> None:
        self.bar.update(1)

    def say(self, message: str) -> None:
        self.bar.write(message, file=self.err)


class _MalformedLog:
    """Reports a bad input line as PATH:LINE and counts it."""

    def __init__(self, path: Path, progress: _Progress):
        self.path, self.progress, self.count = path, progress, 0

    def __call__(self, line: int, problem: str) -> None:
        self.count += 1
        self.progress.say(f"{self.path}:{line}: {problem}; skipped")
        self.progress.advance()


class _Malformed(ValueError):
    pass


def _read_items(opts: ScoreOptions, done: set[int], report: _MalformedLog) -> Iterator[ScoreItem]:
    """Stream the input: one ScoreItem per good line not already done; bad lines go to ``report``."""
    with open(opts.predictions, "rb") as f:
        for line, raw in enumerate(f, start=1):
            if line in done or not raw.strip():  # blank lines carry nothing to lose
                continue
            try:
                yield _parse_item(raw, line, opts)
            except _Malformed as exc:
                report(line, str(exc))


def _parse_item(raw: bytes, line: int, opts: ScoreOptions) -> ScoreItem:
    try:
        record = parse_object_line(raw)
    except BadLine as exc:
        raise _Malformed(str(exc)) from None
    if opts.reference_field not in record:
        raise _Malformed(f"missing field {opts.reference_field!r}")
    completion = _completion_of(record, opts.completion_field)
    verifier = record.get(opts.verifier_field)
    if verifier is not None and not isinstance(verifier, str):
        raise _Malformed(f"field {opts.verifier_field!r} must be a verifier name, got {type(verifier).__name__}")
    record_id = record.get(opts.id_field)
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise _Malformed(f"field {opts.id_field!r} must be a string or an integer, got {type(record_id).__name__}")
    own = {opts.completion_field, opts.reference_field, opts.id_field, opts.verifier_field, TRANSCRIPT_FIELD, *OUTPUT_KEYS}
    request = VerifyRequest(
        completion=completion,
        reference=record[opts.reference_field],
        fields={k: v for k, v in record.items() if k not in own},
        verifier=verifier,
        item_id=str(record_id) if record_id is not None else f"line {line}",
    )
    return ScoreItem(line, record, request)


def _completion_of(record: dict, field: str) -> str:
    """The text to judge: the completion field, or else the last assistant turn of a multi-turn transcript
    (``messages``: the conversation with its tool turns, as ``rlvr eval --env tools`` writes it)."""
    if field in record:
        completion = record[field]
        if not isinstance(completion, str):
            raise _Malformed(f"field {field!r} must be a string, got {type(completion).__name__}")
        return completion
    messages = record.get(TRANSCRIPT_FIELD)
    if messages is None:
        raise _Malformed(f"missing field {field!r} (or a {TRANSCRIPT_FIELD!r} transcript ending with an assistant turn)")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise _Malformed(f"field {TRANSCRIPT_FIELD!r} must be a list of {{role, content}} messages")
    assistant = [m for m in messages if m.get("role") == "assistant"]
    if not assistant or messages[-1].get("role") != "assistant":
        raise _Malformed(f"field {TRANSCRIPT_FIELD!r} must end with an assistant turn (the answer that is judged)")
    content = assistant[-1].get("content")
    if not isinstance(content, str):
        raise _Malformed(f"the last assistant turn of {TRANSCRIPT_FIELD!r} has no text content")
    return content


def _judge(opts: ScoreOptions, items: Iterable[ScoreItem], progress: _Progress) -> Iterator[tuple[list[ScoreItem], list[Verdict]]]:
    """Chunks of items with their verdicts, in input order.

    The pool streams: two chunks' worth of requests are queued in it at any time, so a slow
    item or the writer never leaves workers idle, and memory stays bounded on big files.
    The pool starts only once there is something to judge.
    """
    items = iter(items)
    first = next(items, None)
    if first is None:
        return
    queued: deque[ScoreItem] = deque()

    def requests() -> Iterator[VerifyRequest]:
        for item in chain([first], items):
            queued.append(item)
            yield item.request

    if opts.judge is not None:
        yield from _judge_in_batches(opts, chain([first], items), progress)
        return
    with VerifierPool(opts.verifier, workers=opts.workers, timeout_s=opts.timeout_s) as pool:
        done, verdicts = [], []
        for verdict in pool.imap(requests(), window=2 * opts.chunk_size):
            done.append(queued.popleft())
            verdicts.append(verdict)
            progress.advance()
            if len(done) == opts.chunk_size:
                yield done, verdicts
                done, verdicts = [], []
        if done:
            yield done, verdicts


def _judge_in_batches(opts: ScoreOptions, items: Iterable[ScoreItem], progress: _Progress
                      ) -> Iterator[tuple[list[ScoreItem], list[Verdict]]]:
    """Chunks with the judge in the loop: each chunk's pool items and cascade rules in one pool batch, then its
    judge items in one judge batch (``rl.engine.judging``); the judge's counts are printed at the end."""
    from rl.engine.judging import JudgeRouting

    routing = JudgeRouting(opts.judge, cache_path=opts.judge_cache)
    try:
        with VerifierPool(opts.verifier, workers=opts.workers, timeout_s=opts.timeout_s) as pool:
            for chunk in _chunks(items, opts.chunk_size):
                questions = [_question_of(item.record, opts.question_field) for item in chunk]
                verdicts = routing.score([item.request for item in chunk], questions, pool, opts.verifier)
                for _ in chunk:
                    progress.advance()
                yield chunk, verdicts
        stats = routing.metrics()
        if stats:
            progress.say("judge: " + ", ".join(f"{k.split('/', 1)[1]} {v:g}" for k, v in stats.items()))
    finally:
        routing.close()


def _chunks(items: Iterable[ScoreItem], size: int) -> Iterator[list[ScoreItem]]:
    chunk: list[ScoreItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _question_of(record: dict, field: str) -> str:
    """The question as text: the field itself, or the last user turn of a list of chat messages."""
    value = record.get(field, "")
    if isinstance(value, list):
        users = [m.get("content", "") for m in value if isinstance(m, dict) and m.get("role") == "user"]
        return str(users[-1]) if users else ""
    return str(value)


def _prepare_output(opts: ScoreOptions, err: TextIO) -> set[int]:
    """Source lines already scored (resume), after cutting a truncated last line; else an empty output."""
    out = opts.output
    if opts.resume and out.exists():
        return _recover(out, err)
    if out.exists() and out.stat().st_size > 0 and not opts.force:
        raise ScoringError(f"output {out} already exists and is not empty; pass --resume to continue it or --force to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b"")
    return set()


def _recover(path: Path, err: TextIO) -> set[int]:
    done: set[int] = set()
    good_bytes = 0
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("line is cut short")
                done.add(int(json.loads(raw)["source_line"]))
            except (ValueError, KeyError, TypeError) as exc:
                if f.read(1):  # only the last line may be damaged: a killed run cut it short
                    raise ScoringError(f"{path}:{line}: cannot resume from this output: {exc}") from None
                print(f"{path}:{line}: dropping a truncated last line; it will be scored again", file=err)
                break
            good_bytes += len(raw)
    with open(path, "r+b") as f:
        f.truncate(good_bytes)
    return done


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_scored(path: Path, id_field: str = "id") -> list[ScoredSample]:
    """The samples of a scored output file, for the summary."""
    samples = []
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            try:
                record = json.loads(raw)
                verdict = record["verdict"]
                samples.append(
                    ScoredSample(
                        problem=problem_key(record.get(id_field), record["source_line"]),
                        score=float(verdict["score"]),
                        status=verdict.get("status", "ok"),
                        extracted=verdict.get("extracted"),
                        domain=str(record.get(DOMAIN_FIELD) or ""),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ScoringError(f"{path}:{line}: not a scored record: {exc}") from None
    return samples


def format_summary(summary: Summary, title: str = "") -> str:
    """The summary as a plain-text table."""

    def interval(low: float, high: float) -> str:
        return f"[{low:.3f}, {high:.3f}]"

    rows: list[tuple[str, str, str]] = [
        ("lines", str(summary.lines), ""),
        ("problems", str(summary.problems), _samples_note(summary)),
        ("accuracy", f"{summary.accuracy.value:.3f}", interval(summary.accuracy.low, summary.accuracy.high)),
    ]
    rows += [(f"accuracy {domain}", f"{e.value:.3f}", interval(e.low, e.high)) for domain, e in summary.by_domain.items()]
    for name, table in (("pass", summary.pass_at), ("maj", summary.maj_at)):
        rows += [(f"{name}@{k}", f"{e.value:.3f}", interval(e.low, e.high)) for k, e in table.items()]
    rows += [(f"status {status}", str(count), "") for status, count in summary.status_counts.items()]
    rows.append(("malformed", str(summary.malformed), "skipped input lines"))
    width = max(len(r[0]) for r in rows)
    lines = [title] if title else []
    lines.append(f"{'metric':<{width}}  {'value':>7}  95% CI (bootstrap over problems)")
    lines += [f"{name:<{width}}  {value:>7}  {note}".rstrip() for name, value, note in rows]
    return "\n".join(lines)


def _samples_note(summary: Summary) -> str:
    if summary.min_samples == summary.max_samples:
        return f"{summary.min_samples} sample(s) each"
    return f"{summary.min_samples}-{summary.max_samples} samples each"


def summary_json(summary: Summary, run: ScoreRun, opts: ScoreOptions) -> dict[str, Any]:
    return {"predictions": str(opts.predictions), "output": str(run.output), **summary.to_dict()}
