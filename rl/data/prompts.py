"""Prompt datasets: JSONL or parquet files of problems, or a generated task, as ``Prompt`` records.

    train, held_out = load_splits(config.data)          # files, or the generator with its held-out split
    prompts = load_prompts("data/train.jsonl", config.data)
    text = render_prompt(prompts[0], tokenizer, config.data)

A record holds a prompt (``prompt``: text or a list of chat messages; or ``messages``), a
``reference`` answer, optionally an ``id``, a ``verifier`` name and a worked ``solution``
(field names are configurable in ``DataConfig``; chat messages that end with an assistant turn
make that turn the solution, and such SFT records need no reference), and a ``mode`` ("think" / "no_think") that
overrides ``DataConfig.enable_thinking`` for that sample. Every other key is kept in
``Prompt.fields`` (unless null) and handed to the verifier (e.g. ``tests``). A bad record is an error
naming its place: ``path:line`` in JSONL, ``path row N`` in parquet.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rl.config import DataConfig
from rl.data.jsonl import BadLine, parse_object_line
from rl.data.mixture import load_mixture
from rl.data.records import Prompt
from rl.data.tasks import generate
from rl.data.thinking import mode_name, resolve_mode
from rl.modes import MODES

JSONL_SUFFIXES = (".jsonl", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
MODE_FIELD = "mode"  # record key of a per-sample thinking mode
DOMAIN_FIELD = "domain"  # record key of the data.mixture domain a record came from (rlvr data export writes it)

T = TypeVar("T")


class DataError(ValueError):
    pass


def load_splits(cfg: DataConfig) -> tuple[list[Prompt], list[Prompt]]:
    """(train, held-out) prompts: every domain of ``mixture`` when set, else ``train_file``/``eval_file``,
    else the generator."""
    if cfg.mixture:
        return load_mixture(cfg, load_splits)
    if cfg.train_file is not None:
        train = load_prompts(cfg.train_file, cfg)
        held_out = load_prompts(cfg.eval_file, cfg) if cfg.eval_file is not None else []
        return train, held_out
    if cfg.eval_file is not None:
        raise DataError("data.eval_file is set without data.train_file; the generator brings its own held-out split")
    return generate(cfg.generator, cfg.n_train, cfg.n_eval, cfg.seed, dict(cfg.generator_params))


def load_prompts(path: str | Path, cfg: DataConfig) -> list[Prompt]:
    """Every record of a JSONL or parquet file as a Prompt; ids must be unique within the file."""
    prompts: list[Prompt] = []
    first_seen: dict[str, str] = {}
    for where, record in read_records(path):
        prompt = record_to_prompt(record, where, cfg)
        if prompt.id in first_seen:
            raise DataError(f"{where}: id {prompt.id!r} repeats the one at {first_seen[prompt.id]}")
        first_seen[prompt.id] = where
        prompts.append(prompt)
    return prompts


def read_records(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(place, record) for each record; place is ``path:line`` (JSONL) or ``path row N`` (parquet)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    if path.suffix in JSONL_SUFFIXES:
        yield from _read_jsonl(path)
    elif path.suffix in PARQUET_SUFFIXES:
        yield from _read_parquet(path)
    else:
        raise DataError(f"{path}: unknown data format {path.suffix!r}; expected {', '.join(JSONL_SUFFIXES + PARQUET_SUFFIXES)}")


def _read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.strip():  # blank lines (a trailing newline) carry nothing
                continue
            where = f"{path}:{line}"
            try:
                record = parse_object_line(raw)
            except BadLine as exc:
                raise DataError(f"{where}: {exc}") from None
            yield where, record


def _read_parquet(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading parquet needs pyarrow (pip install pyarrow)") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "cannot read"
        raise DataError(f"{path}: cannot read parquet: {exc}") from None
    for row, record in enumerate(table.to_pylist(), start=1):
        yield f"{path} row {row}", record


def record_to_prompt(record: dict[str, Any], where: str, cfg: DataConfig) -> Prompt:
    """One record as a Prompt; ``where`` names it in errors and is its id when it has none."""
    messages, text = _prompt_of(record, where, cfg)
    solution = _optional_str(record, cfg.solution_field, where)
    if messages is not None and messages[-1][0] == "assistant":  # a chat transcript: its last turn is the SFT target
        if solution is not None:
            raise DataError(f"{where}: both {cfg.solution_field!r} and a final assistant turn; keep one SFT target")
        messages, solution = messages[:-1], messages[-1][1]
        if not messages:
            raise DataError(f"{where}: the conversation is only an assistant turn; it needs a user turn before it")
    if cfg.reference_field not in record and solution is None:  # SFT-only records (cold start) may lack a reference
        raise DataError(f"{where}: missing required key {cfg.reference_field!r} (keys: {', '.join(record) or 'none'})")
    reference = record.get(cfg.reference_field, "")
    if isinstance(reference, bool) or not isinstance(reference, (str, int, float)):
        raise DataError(f"{where}: {cfg.reference_field!r} must be a string or a number, got {type(reference).__name__}")
    record_id = record.get(cfg.id_field)
    if record_id is not None and (isinstance(record_id, bool) or not isinstance(record_id, (str, int))):
        raise DataError(f"{where}: {cfg.id_field!r} must be a string or an integer, got {type(record_id).__name__}")
    verifier = _optional_str(record, cfg.verifier_field, where)
    mode = _optional_str(record, MODE_FIELD, where)
    if mode is not None and mode not in MODES:
        raise DataError(f"{where}: {MODE_FIELD!r} must be one of {', '.join(map(repr, MODES))} (or absent), got {mode!r}")
    domain = _optional_str(record, DOMAIN_FIELD, where) or ""
    own = {cfg.id_field, cfg.prompt_field, cfg.messages_field, cfg.reference_field, cfg.verifier_field, cfg.solution_field, MODE_FIELD,
           DOMAIN_FIELD}
    return Prompt(
        id=str(record_id) if record_id is not None else where.rsplit("/", 1)[-1],
        messages=messages,
        text=text,
        reference=str(reference),
        verifier=verifier or cfg.default_verifier,
        fields={k: v for k, v in record.items() if k not in own and v is not None},  # parquet fills absent values with null
        solution=solution,
        mode=mode,
        domain=domain,
    )


def _prompt_of(record: dict[str, Any], where: str, cfg: DataConfig) -> tuple[tuple[tuple[str, str], ...] | None, str | None]:
    """(messages, text): chat messages from ``messages_field``, or ``prompt_field`` as text or messages."""
    if record.get(cfg.messages_field) is not None:
        return parse_messages(record[cfg.messages_field], cfg.messages_field, where), None
    if record.get(cfg.prompt_field) is None:
        raise DataError(f"{where}: missing required key {cfg.prompt_field!r} (or {cfg.messages_field!r}) (keys: {', '.join(record) or 'none'})")
    value = record[cfg.prompt_field]
    if isinstance(value, str):
        return None, value
    return parse_messages(value, cfg.prompt_field, where), None


def parse_messages(value: Any, key: str, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: {key!r} must be text or a non-empty list of {{role, content}} messages")
    turns = []
    for index, message in enumerate(value):
        if not (isinstance(message, dict) and isinstance(message.get("role"), str) and isinstance(message.get("content"), str)):
            raise DataError(f"{where}: {key}[{index}] must be {{\"role\": str, \"content\": str}}, got {message!r:.80}")
        turns.append((message["role"], message["content"]))
    return tuple(turns)


def _optional_str(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value


def render_prompt(prompt: Prompt, tokenizer: Any, cfg: DataConfig, *, tools: list[dict] | None = None) -> str:
    """The text the policy continues: the chat template with a generation prompt, in the sample's
    thinking mode (``prompt_mode``), or the plain turns. ``tools``: JSON schemas the template declares
    (``rl.envs``), as transformers' ``apply_chat_template(tools=...)`` takes them."""
    chat = prompt.chat(cfg.system_prompt)
    if not cfg.use_chat_template:
        if tools:
            raise DataError("tools are declared to the model by its chat template; data.use_chat_template is false")
        return "\n\n".join(message["content"] for message in chat) + "\n"
    enable_thinking = resolve_mode(prompt, cfg.enable_thinking, system_prompt=cfg.system_prompt)
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking,
                                         tools=tools)


def prompt_mode(prompt: Prompt, cfg: DataConfig) -> str:
    """"think" or "no_think": the mode ``render_prompt`` renders ``prompt`` in, and so the one its
    completions are judged in (without a chat template nothing pre-fills it; the model must comply)."""
    return mode_name(resolve_mode(prompt, cfg.enable_thinking, system_prompt=cfg.system_prompt))


def drop_long_prompts(prompts: Sequence[Prompt], tokenizer: Any, cfg: DataConfig) -> tuple[list[Prompt], list[Prompt]]:
    """(kept, dropped): prompts whose rendered text is longer than ``max_prompt_tokens`` are dropped."""
    kept, dropped = [], []
    for prompt in prompts:
        length = len(tokenizer(render_prompt(prompt, tokenizer, cfg), add_special_tokens=False)["input_ids"])
        (kept if length <= cfg.max_prompt_tokens else dropped).append(prompt)
    return kept, dropped


def shuffled_batches(items: Sequence[T], batch_size: int, *, seed: int) -> Iterator[list[T]]:
    """Endless batches: each epoch a fresh shuffle, an epoch's leftover items lead the next batch
    (so every item is seen once per epoch, even when the batch size does not divide the count)."""
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        if len(order) < batch_size:
            fresh = list(range(len(items)))
            rng.shuffle(fresh)
            order += fresh
        yield [items[i] for i in order[:batch_size]]
        del order[:batch_size]
