"""Preference pairs for DPO: offline from a JSONL (or parquet) file, or mined from scored rollout groups.

    pairs = load_pairs("data/prefs.jsonl")                        # text; tokenise with tokenize_pair
    pairs = [tokenize_pair(p, tokenizer, config.data) for p in pairs]
    pairs = mine_pairs(scored_groups, max_pairs_per_group=1)      # on-policy: token ids kept from the rollouts

A record follows one of TRL's preference formats:
    standard        {"prompt": "text", "chosen": "text", "rejected": "text"}
    conversational  {"prompt": [{"role": "user", "content": ...}], "chosen": [{"role": "assistant", "content": ...}], ...}
    implicit prompt {"chosen": [...user turn, assistant turn], "rejected": [...same user turn, other assistant turn]}
                    (conversational only: the shared leading messages are the prompt).
A completion given as messages must be one assistant message. An ``id`` is optional (the pair's place,
``file:line``, otherwise); every other key is kept in ``metadata``. A bad record is an error naming
``path:line`` and the key.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from rl.config import DataConfig
from rl.data.prompts import DataError, parse_messages, read_records, render_prompt
from rl.data.records import PreferencePair, Prompt, ScoredGroup, ScoredRollout

# ---------------------------------------------------------------- offline pairs


def load_pairs(
    path: str | Path,
    *,
    id_field: str = "id",
    prompt_field: str = "prompt",
    chosen_field: str = "chosen",
    rejected_field: str = "rejected",
) -> list[PreferencePair]:
    """Every record of a JSONL (or parquet) file as a text PreferencePair; the first bad record stops it."""
    pairs = []
    for where, record in read_records(path):
        pair_id = _pair_id(record, id_field, where)
        chosen, rejected = _required(record, chosen_field, where), _required(record, rejected_field, where)
        if record.get(prompt_field) is not None:
            messages, text = _prompt(record[prompt_field], prompt_field, where)
        elif isinstance(chosen, list) and isinstance(rejected, list):
            messages, chosen, rejected = _split_implicit_prompt(chosen, rejected, chosen_field, rejected_field, where)
            text = None
        else:
            raise DataError(f"{where}: missing required key {prompt_field!r} (keys: {', '.join(record) or 'none'})")
        own = {id_field, prompt_field, chosen_field, rejected_field}
        pairs.append(PreferencePair(
            prompt=Prompt(id=pair_id, messages=messages, text=text, reference=""),
            chosen=_completion(chosen, chosen_field, where),
            rejected=_completion(rejected, rejected_field, where),
            id=pair_id,
            metadata={k: v for k, v in record.items() if k not in own and v is not None},
        ))
    return pairs


def _pair_id(record: dict[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if value is None:
        return where.rsplit("/", 1)[-1]  # file:line
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: {key!r} must be a string or an integer, got {type(value).__name__}")
    return str(value)


def _required(record: dict[str, Any], key: str, where: str) -> Any:
    if record.get(key) is None:
        raise DataError(f"{where}: missing required key {key!r} (keys: {', '.join(record) or 'none'})")
    return record[key]


def _prompt(value: Any, key: str, where: str) -> tuple[tuple[tuple[str, str], ...] | None, str | None]:
    """(messages, text) of a prompt given as text or as chat messages."""
    if isinstance(value, str):
        return None, value
    return parse_messages(value, key, where), None


def _split_implicit_prompt(chosen: Any, rejected: Any, chosen_key: str, rejected_key: str, where: str):
    """(prompt messages, chosen rest, rejected rest): the leading messages both conversations share are the prompt."""
    chosen_turns, rejected_turns = parse_messages(chosen, chosen_key, where), parse_messages(rejected, rejected_key, where)
    shared = 0
    while shared < min(len(chosen_turns), len(rejected_turns)) and chosen_turns[shared] == rejected_turns[shared]:
        shared += 1
    if shared == 0:
        raise DataError(f"{where}: no prompt: {chosen_key!r} and {rejected_key!r} share no leading message and there is no 'prompt' key")
    return chosen_turns[:shared], _as_messages(chosen_turns[shared:]), _as_messages(rejected_turns[shared:])


def _as_messages(turns: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


def _completion(value: Any, key: str, where: str) -> str:
    """A completion's text: a string, or exactly one assistant message."""
    if isinstance(value, str):
        return value
    turns = parse_messages(value, key, where) if value else ()
    if len(turns) != 1 or turns[0][0] != "assistant":
        roles = ", ".join(role for role, _ in turns) or "none"
        raise DataError(f"{where}: {key!r} must be text or one assistant message, got roles: {roles}")
    return turns[0][1]


def tokenize_pair(pair: PreferencePair, tokenizer: Any, cfg: DataConfig) -> PreferencePair:
    """The pair with token ids, laid out as a rollout's: the rendered prompt, then each completion + EOS."""
    prompt_ids = tokenizer(render_prompt(pair.prompt, tokenizer, cfg), add_special_tokens=False)["input_ids"]
    return replace(
        pair,
        prompt_ids=tuple(prompt_ids),
        chosen_ids=_completion_ids(pair.chosen, tokenizer),
        rejected_ids=_completion_ids(pair.rejected, tokenizer),
    )


def _completion_ids(text: str, tokenizer: Any) -> tuple[int, ...]:
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"]) + (tokenizer.eos_token_id,)


# ---------------------------------------------------------------- on-policy pairs


def mine_pairs(
    scored_groups: Iterable[ScoredGroup],
    *,
    max_pairs_per_group: int = 1,
    min_margin: float = 0.0,
) -> list[PreferencePair]:
    """Pairs from groups of scored completions of one prompt: best against worst, by reward.

    Pair k (k = 0, 1, ...) is the k-th highest reward against the k-th lowest; it is kept while its
    reward margin exceeds ``min_margin`` (>= 0, so two equal rewards never pair) and at most
    ``max_pairs_per_group`` are taken, no completion twice. Among equal rewards the completion
    sampled first wins on either side, so the result depends only on the groups' order. Rollouts
    whose verifier could not judge them (timeout, error, bad reference) are left out: their reward
    is no evidence. A group with no qualifying pair (all equal, or one left) gives none.
    """
    if max_pairs_per_group < 1:
        raise ValueError(f"max_pairs_per_group must be at least 1, got {max_pairs_per_group}")
    if min_margin < 0:
        raise ValueError(f"min_margin must be >= 0 (a negative margin would pair equal rewards), got {min_margin}")
    pairs = []
    for group in scored_groups:
        _check_group(group.samples)
        judged = [s for s in group.samples if s.verdict.judged]
        best_first = sorted(range(len(judged)), key=lambda i: (-judged[i].reward, i))
        worst_first = sorted(range(len(judged)), key=lambda i: (judged[i].reward, i))
        for k in range(min(max_pairs_per_group, len(judged) // 2)):
            chosen, rejected = judged[best_first[k]], judged[worst_first[k]]
            if not chosen.reward - rejected.reward > min_margin:
                break  # margins only shrink as k grows
            pairs.append(_mined_pair(chosen, rejected, k))
    return pairs


def _check_group(group: Sequence[ScoredRollout]) -> None:
    if not group:
        return
    first = group[0].rollout
    for scored in group:
        if not math.isfinite(scored.reward):
            raise ValueError(f"prompt {first.prompt.id!r}: reward {scored.reward} is not finite; rewards cannot be ranked")
        rollout = scored.rollout
        if rollout.prompt.id != first.prompt.id or rollout.prompt_ids != first.prompt_ids:
            raise ValueError(
                f"a group mixes prompts {first.prompt.id!r} and {rollout.prompt.id!r} (or their token ids differ); "
                "pairs must share one prompt"
            )


def _mined_pair(chosen: ScoredRollout, rejected: ScoredRollout, k: int) -> PreferencePair:
    prompt = chosen.rollout.prompt
    return PreferencePair(
        prompt=prompt,
        chosen=chosen.rollout.text,
        rejected=rejected.rollout.text,
        id=f"{prompt.id}/pair{k}",
        prompt_ids=tuple(chosen.rollout.prompt_ids),
        chosen_ids=tuple(chosen.rollout.completion_ids),
        rejected_ids=tuple(rejected.rollout.completion_ids),
        chosen_reward=chosen.reward,
        rejected_reward=rejected.reward,
        metadata={
            "chosen_components": dict(chosen.components),
            "rejected_components": dict(rejected.components),
        },
    )
