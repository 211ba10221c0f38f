"""The instruction-following verifier (registered as ``ifeval``): IFEval-style verifiable constraints.

    >>> verify_ifeval("* red\\n* blue", "", instruction_id_list=["detectable_format:number_bullet_lists"],
    ...               kwargs=[{"num_bullets": 2}]).score
    1.0

The constraints come from the record's fields, under IFEval's own names, so IFEval-format data scores
as it is (IFEval rows have no reference: name any field as the reference, it is ignored;
``rlvr score data.jsonl --verifier ifeval --completion-field response --reference-field prompt --id-field key``):
``instruction_id_list`` (ids such as ``length_constraints:number_words``) and ``kwargs`` (one dict of
arguments per instruction, IFEval's argument names; ``None`` values are absent arguments, as in the
published dataset). The reference is not used (IFEval has none; generated prompts pass "").

Score: the fraction of instructions followed, or with ``ifeval_mode="all"`` 1.0 only when all are
(IFEval's instruction-level and prompt-level accuracy). ``loose=True`` is IFEval's loose variant: an
instruction also counts as followed when it holds after dropping the first line, the last line or
both, and/or removing every ``*``. Only the answer after a ``<think>`` block is judged, stripped of
surrounding whitespace; a think block that never closes, or an empty answer, is ``no_answer``.
An unknown instruction id, a kwargs list that does not match the ids, or a missing, unexpected or
ill-typed argument is ``invalid_reference`` naming the instruction (and the item, when the record
has IFEval's ``key``). The checks are ``verifiers.instruction_checks``.

Deliberate differences from the reference definitions (google-research ``instruction_following_eval``
as lm-evaluation-harness vendors it); ``benchmarks/ifeval_reference_compare.py`` measures them:

- Words: runs of letters/digits joined by inner hyphens or apostrophes, so "well-known" and "don't"
  are one word each, and a number keeps its separators ("1,500", "3.50") (the reference counts
  ``\\w+`` runs: two each). Used for number_words and capital_word_frequency (the reference uses
  nltk's word tokenizer there).
- Sentences: a rule (``verifiers.instruction_text.split_sentences``: ., ! or ? then whitespace, not
  after a known abbreviation or an initial) instead of nltk's trained punkt model, which needs a
  download and gives a policy a model to game; they differ on rarer abbreviations.
- Keywords (existence, frequency, forbidden): matched as whole words, literally, case-insensitively.
  The reference searches existence and frequency keywords as regular expressions anywhere, so "cat"
  is found in "concatenate" and "c++" is a bad pattern; forbidden words it already matches whole.
- Bullets: a line starting with ``*`` or ``-`` then a space and text. The reference also counts
  "---" rules, "-5 degrees" and lines opening with "*italic*" as bullets.
- Paragraphs (number_paragraphs): separated by a ``* * *`` (or ``***``) divider alone on its line; the
  reference splits at any "***" or "* * *", including inside "***bold italic***".
  nth_paragraph_first_word splits at one or more blank lines (the reference at exactly "\\n\\n") and
  takes the first word by the word rule.
- Placeholders: ``[...]`` with some text inside, on one line; the reference also counts "[]".
- Postscript: the marker must start a line and the postscript end the response (only further
  postscripts after it); the reference finds "P.S." anywhere, mid-sentence or mid-text too.
- constrained_response: exactly one of the three answers ("My answer is yes. ... my answer is no."
  chooses none); the reference takes any answer that contains one.
- no_comma: the full-width, ideographic and Arabic commas are commas too.
- Sections and postscripts: the marker is matched literally (the reference builds a regular
  expression from it, unescaped, except for its two special-cased postscript markers).
- english_capital / english_lowercase: only the case is checked; the reference also requires
  langdetect to say English, which is unreliable on the short answers small models give and makes a
  case instruction depend on a language guess (on 288 short English responses of our labelled sets,
  langdetect named another language, at p >= 0.9, for 19 even with the text lower-cased).
- response_language: an answer in which langdetect finds no language is not followed; the reference
  counts it as followed, a free pass for an answer of digits or punctuation. Needs ``langdetect``
  (optional extra ``ifeval``); without it the instruction is unjudged (``error``).
- Relations: besides IFEval's "less than" and "at least", "at most", "more than" and "exactly".
- Unknown or missing arguments are ``invalid_reference``; the reference draws random ones instead.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from verifiers.answer_region import answer_region
from verifiers.instruction_checks import CHECKS, Check, Outcome
from verifiers.instruction_language import LanguageUnavailable
from verifiers.instruction_text import RELATIONS
from verifiers.verdict import Verdict, unjudged

VERSION = "1"  # bump when a verdict on some input changes; recorded in run manifests
MODES = ("fraction", "all")


class BadInstruction(ValueError):
    """The record's instructions cannot be understood (the reference's fault, not the response's)."""


def verify_ifeval(completion: str, reference: Any = "", *, instruction_id_list: Any = None, kwargs: Any = None,
                  ifeval_mode: str = "fraction", loose: bool = False, key: Any = None, **fields: Any) -> Verdict:
    """Judge ``completion`` on the instructions of its record (see the module docstring)."""
    item = f"item {key!r}: " if key is not None else ""
    try:
        if ifeval_mode not in MODES:
            raise BadInstruction(f"ifeval_mode must be one of {', '.join(MODES)}, got {ifeval_mode!r}")
        instructions = list(_instructions(instruction_id_list, kwargs))
    except BadInstruction as exc:
        return unjudged("invalid_reference", f"{item}{exc}")
    region = answer_region(completion if isinstance(completion, str) else str(completion))
    if region is None:
        return unjudged("no_answer", "the think block never closes: no answer to judge")
    answer = region.strip()
    if not answer:
        return unjudged("no_answer", "the answer is empty")
    variants = loose_variants(answer) if loose else [answer]
    failed = []
    for index, (check, args) in enumerate(instructions):
        try:
            outcomes = [check.fn(text, **args) for text in variants]
        except LanguageUnavailable as exc:
            return unjudged("error", f"{item}instruction {index + 1} ({check.instruction_id}): {exc}", answer)
        if not any(o.followed for o in outcomes):
            failed.append(f"{check.instruction_id} ({outcomes[0].found})")
    followed = len(instructions) - len(failed)
    score = followed / len(instructions) if ifeval_mode == "fraction" else float(not failed)
    reason = f"followed {followed}/{len(instructions)} instructions"
    return Verdict(score, "ok", answer, reason + (f"; failed: {'; '.join(failed)}" if failed else ""))


def loose_variants(answer: str) -> list[str]:
    """IFEval's loose variants: the answer without its first line, its last line or both, each also
    without any ``*`` (markdown emphasis); empty variants are dropped."""
    lines = answer.split("\n")
    cut = [answer, "\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
    variants = [v.strip() for text in cut for v in (text, text.replace("*", ""))]
    return [v for v in dict.fromkeys(variants) if v]


def _instructions(ids: Any, kwargs: Any) -> Iterator[tuple[Check, dict[str, Any]]]:
    if not isinstance(ids, (list, tuple)) or not ids:
        raise BadInstruction(f"instruction_id_list must be a non-empty list of instruction ids, got {ids!r}")
    if kwargs is None:
        kwargs = [{}] * len(ids)
    if not isinstance(kwargs, (list, tuple)) or len(kwargs) != len(ids):
        raise BadInstruction(f"kwargs must be a list of {len(ids)} argument dicts (one per instruction), got {kwargs!r}")
    for index, (instruction_id, args) in enumerate(zip(ids, kwargs)):
        where = f"instruction {index + 1} ({instruction_id!r})"
        check = CHECKS.get(instruction_id) if isinstance(instruction_id, str) else None
        if check is None:
            raise BadInstruction(f"{where}: unknown instruction id; known: {', '.join(sorted(CHECKS))}")
        yield check, _arguments(check, args, where)


def _arguments(check: Check, given: Any, where: str) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise BadInstruction(f"{where}: kwargs must be a dict, got {type(given).__name__}")
    present = {k: v for k, v in given.items() if not _absent(v)}
    unexpected = sorted(set(present) - set(check.args))
    if unexpected:
        raise BadInstruction(f"{where}: unexpected argument(s) {unexpected}; it takes {sorted(check.args) or 'none'}")
    args = {}
    for name, kind in check.args.items():
        if name not in present:
            raise BadInstruction(f"{where}: missing argument {name!r} ({kind})")
        value, problem = ARG_KINDS[kind](present[name])
        if problem:
            raise BadInstruction(f"{where}: argument {name!r} {problem}, got {present[name]!r}")
        args[name] = value
    return args


def _absent(value: Any) -> bool:
    # IFEval's published rows carry every argument name, unused ones as None (NaN once through pandas).
    return value is None or (isinstance(value, float) and math.isnan(value))


def _count(value: Any) -> tuple[Any, str]:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0: an integer column that went through a float dtype
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None, "must be a non-negative integer"
    return value, ""


def _relation(value: Any) -> tuple[Any, str]:
    if not isinstance(value, str) or value.strip() not in RELATIONS:
        return None, f"must be one of {', '.join(map(repr, RELATIONS))}"
    return value.strip(), ""


def _phrase(value: Any) -> tuple[Any, str]:
    if not isinstance(value, str) or not value.strip():
        return None, "must be a non-empty string"
    return value, ""


def _phrases(value: Any) -> tuple[Any, str]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        return None, "must be a non-empty list of non-empty strings"
    return list(value), ""


def _letter(value: Any) -> tuple[Any, str]:
    if not isinstance(value, str) or len(value.strip()) != 1 or not value.strip().isalpha():
        return None, "must be a single letter"
    return value.strip(), ""


ARG_KINDS = {"count": _count, "relation": _relation, "phrase": _phrase, "phrases": _phrases, "letter": _letter,
             "language": _phrase}

__all__ = ["CHECKS", "Outcome", "loose_variants", "verify_ifeval"]
