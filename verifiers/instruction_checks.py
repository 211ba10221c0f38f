"""One small function per IFEval instruction id, registered with the arguments it takes.

    CHECKS["punctuation:no_comma"].fn("No commas here.")                    # Outcome(followed=True, ...)
    CHECKS["length_constraints:number_words"].args                           # {"num_words": "count", "relation": "relation"}

A check takes the response text and its arguments (IFEval's names) and returns an ``Outcome``: whether
the instruction was followed and what was found, for the verdict's reason. Arguments are validated
before a check runs (``verifiers.instructions``), by the kinds declared here, so a check never sees a
missing or ill-typed one. The definitions, and where they differ from IFEval's reference, are listed
in ``verifiers.instructions``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from verifiers.instruction_text import (
    compare,
    count_sentences,
    count_words,
    paragraphs_by_blank_lines,
    whole_word_re,
    words,
)


@dataclass(frozen=True)
class Outcome:
    followed: bool
    found: str  # what the response has, e.g. "2 bullet points"


@dataclass(frozen=True)
class Check:
    instruction_id: str
    fn: Callable[..., Outcome]
    args: dict[str, str] = field(default_factory=dict)  # argument name -> kind (see ARG_KINDS in instructions)


CHECKS: dict[str, Check] = {}


def check(instruction_id: str, **args: str):
    """Register the decorated function as the check of ``instruction_id``; ``args`` name its arguments' kinds."""

    def register(fn: Callable[..., Outcome]) -> Callable[..., Outcome]:
        CHECKS[instruction_id] = Check(instruction_id, fn, args)
        return fn

    return register


def _counted(n: int, relation: str, target: int, what: str) -> Outcome:
    return Outcome(compare(n, relation, target), f"{n} {what}, asked for {relation} {target}")


# --- keywords ---------------------------------------------------------------------------------------
@check("keywords:existence", keywords="phrases")
def keywords_existence(text: str, *, keywords: list[str]) -> Outcome:
    missing = [k for k in keywords if not whole_word_re(k).search(text)]
    return Outcome(not missing, f"missing {missing}" if missing else "all keywords present")


@check("keywords:frequency", keyword="phrase", frequency="count", relation="relation")
def keyword_frequency(text: str, *, keyword: str, frequency: int, relation: str) -> Outcome:
    return _counted(len(whole_word_re(keyword).findall(text)), relation, frequency, f"times {keyword!r}")


@check("keywords:forbidden_words", forbidden_words="phrases")
def forbidden_words(text: str, *, forbidden_words: list[str]) -> Outcome:
    used = [w for w in forbidden_words if whole_word_re(w).search(text)]
    return Outcome(not used, f"used {used}" if used else "no forbidden word")


@check("keywords:letter_frequency", letter="letter", let_frequency="count", let_relation="relation")
def letter_frequency(text: str, *, letter: str, let_frequency: int, let_relation: str) -> Outcome:
    return _counted(text.lower().count(letter.lower()), let_relation, let_frequency, f"letters {letter!r}")


# --- length -------------------------------------------------------------------------------------------
@check("length_constraints:number_words", num_words="count", relation="relation")
def number_words(text: str, *, num_words: int, relation: str) -> Outcome:
    return _counted(count_words(text), relation, num_words, "words")


@check("length_constraints:number_sentences", num_sentences="count", relation="relation")
def number_sentences(text: str, *, num_sentences: int, relation: str) -> Outcome:
    return _counted(count_sentences(text), relation, num_sentences, "sentences")


def _divided_paragraphs(text: str) -> list[str] | None:
    """Paragraphs separated by a markdown divider, ``* * *`` or ``***``, alone on its line; None if one
    between is empty."""
    parts = [p.strip() for p in re.split(r"^[ \t]*\*[ \t]*\*[ \t]*\*[ \t]*$", text, flags=re.MULTILINE)]
    while parts and not parts[0]:
        parts.pop(0)
    while parts and not parts[-1]:
        parts.pop()
    return None if any(not p for p in parts) else parts


@check("length_constraints:number_paragraphs", num_paragraphs="count")
def number_paragraphs(text: str, *, num_paragraphs: int) -> Outcome:
    parts = _divided_paragraphs(text)
    if parts is None:
        return Outcome(False, "an empty paragraph between two * * * dividers")
    return _counted(len(parts), "exactly", num_paragraphs, "paragraphs")


@check("length_constraints:nth_paragraph_first_word", num_paragraphs="count", nth_paragraph="count", first_word="phrase")
def nth_paragraph_first_word(text: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> Outcome:
    paragraphs = paragraphs_by_blank_lines(text)
    if len(paragraphs) != num_paragraphs or not 1 <= nth_paragraph <= len(paragraphs):
        return Outcome(False, f"{len(paragraphs)} paragraphs, asked for {num_paragraphs} with word {first_word!r} "
                              f"opening paragraph {nth_paragraph}")
    found = words(paragraphs[nth_paragraph - 1])
    first = found[0].lower() if found else ""
    return Outcome(first == first_word.strip().lower(), f"paragraph {nth_paragraph} starts with {first!r}")


# --- content ------------------------------------------------------------------------------------------
@check("detectable_content:number_placeholders", num_placeholders="count")
def number_placeholders(text: str, *, num_placeholders: int) -> Outcome:
    found = [p for p in re.findall(r"\[([^\[\]\n]*)\]", text) if p.strip()]
    return _counted(len(found), "at least", num_placeholders, "placeholders")


# A paragraph that is itself a postscript ("P.S.", "P.P.S", "PS:"), which may follow the one asked for.
_ANY_POSTSCRIPT_RE = re.compile(r"^\s*p\.?\s?(?:p\.?\s?)*s\b", re.IGNORECASE)


@check("detectable_content:postscript", postscript_marker="phrase")
def postscript(text: str, *, postscript_marker: str) -> Outcome:
    # Each full stop of the marker may be followed by a space ("P. S." for "P.S.").
    marker = r"\.\s?".join(re.escape(part) for part in postscript_marker.strip().split("."))
    found = list(re.finditer(r"^\s*" + marker, text, flags=re.MULTILINE | re.IGNORECASE))
    if not found:
        return Outcome(False, "no postscript")
    # "At the end of your response": after the postscript's paragraph, only further postscripts.
    later = paragraphs_by_blank_lines(text[found[-1].start():])[1:]  # [0] is the postscript's own paragraph
    if any(not _ANY_POSTSCRIPT_RE.match(paragraph) for paragraph in later):
        return Outcome(False, f"{postscript_marker!r} is not at the end: the response goes on after it")
    return Outcome(True, f"ends with a postscript starting with {postscript_marker!r}")


# --- format -------------------------------------------------------------------------------------------
_BULLET_RE = re.compile(r"^[ \t]*[*-][ \t]+\S", re.MULTILINE)  # "* x" or "- x": the marker, a space, text


@check("detectable_format:number_bullet_lists", num_bullets="count")
def number_bullet_lists(text: str, *, num_bullets: int) -> Outcome:
    return _counted(len(_BULLET_RE.findall(text)), "exactly", num_bullets, "bullet points")


CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@check("detectable_format:constrained_response")
def constrained_response(text: str) -> Outcome:
    written = [option for option in CONSTRAINED_RESPONSES if option in text]
    if not written:
        return Outcome(False, "none of the allowed answers")
    named = [option for option in CONSTRAINED_RESPONSES if option.lower() in text.lower()]
    if len(named) > 1:  # "My answer is yes. ... my answer is no." chooses none of them
        return Outcome(False, f"gives {len(named)} of the allowed answers: {', '.join(map(repr, named))}")
    return Outcome(True, f"contains {written[0]!r}")


@check("detectable_format:number_highlighted_sections", num_highlights="count")
def number_highlighted_sections(text: str, *, num_highlights: int) -> Outcome:
    spans = re.findall(r"\*\*([^\n*]+)\*\*|\*([^\n*]+)\*", text)
    found = sum(1 for double, single in spans if (double or single).strip())
    return _counted(found, "at least", num_highlights, "highlighted sections")


@check("detectable_format:multiple_sections", section_spliter="phrase", num_sections="count")
def multiple_sections(text: str, *, section_spliter: str, num_sections: int) -> Outcome:
    found = len(re.findall(re.escape(section_spliter.strip()) + r"\s?\d+", text))
    return _counted(found, "at least", num_sections, f"{section_spliter.strip()} headers")


_FENCE_RE = re.compile(r"^```(?:json)?[ \t]*\n?(.*?)\n?```$", re.DOTALL | re.IGNORECASE)


@check("detectable_format:json_format")
def json_format(text: str) -> Outcome:
    text = text.strip()
    fenced = _FENCE_RE.match(text)
    body = fenced.group(1).strip() if fenced else text
    try:
        json.loads(body)
    except ValueError as exc:
        return Outcome(False, f"not JSON ({exc.args[0].split(':')[0]})")
    return Outcome(True, "valid JSON" + (" in a code fence" if fenced else ""))


@check("detectable_format:title")
def title(text: str) -> Outcome:
    found = [t for t in re.findall(r"<<([^\n]+?)>>", text) if t.strip()]
    return Outcome(bool(found), f"title {found[0]!r}" if found else "no <<title>>")


# --- combination, start/end, case, punctuation -------------------------------------------------------
@check("combination:two_responses")
def two_responses(text: str) -> Outcome:
    parts = text.split("******")
    inner_empty = any(not p.strip() for p in parts[1:-1])
    kept = [p.strip() for p in parts if p.strip()]
    ok = not inner_empty and len(kept) == 2 and kept[0] != kept[1]
    return Outcome(ok, f"{len(kept)} responses separated by ******" + (", the same twice" if len(kept) == 2 and not ok else ""))


@check("combination:repeat_prompt", prompt_to_repeat="phrase")
def repeat_prompt(text: str, *, prompt_to_repeat: str) -> Outcome:
    ok = text.strip().lower().startswith(prompt_to_repeat.strip().lower())
    return Outcome(ok, "starts with the request" if ok else "does not start with the request")


@check("startend:end_checker", end_phrase="phrase")
def end_checker(text: str, *, end_phrase: str) -> Outcome:
    ending = text.strip().strip('"').lower()
    ok = ending.endswith(end_phrase.strip().lower())
    return Outcome(ok, f"ends with {ending[-len(end_phrase.strip()) - 10:]!r}")


@check("startend:quotation")
def quotation(text: str) -> Outcome:
    text = text.strip()
    return Outcome(len(text) > 1 and text[0] == '"' and text[-1] == '"', "wrapped in double quotes" if text[:1] == '"' else "not wrapped")


@check("change_case:english_capital")
def english_capital(text: str) -> Outcome:
    return Outcome(text.isupper(), "all capitals" if text.isupper() else "has lower-case letters (or none)")


@check("change_case:english_lowercase")
def english_lowercase(text: str) -> Outcome:
    return Outcome(text.islower(), "all lower case" if text.islower() else "has capital letters (or none)")


@check("change_case:capital_word_frequency", capital_frequency="count", capital_relation="relation")
def capital_word_frequency(text: str, *, capital_frequency: int, capital_relation: str) -> Outcome:
    found = sum(1 for w in words(text) if w.isupper())
    return _counted(found, capital_relation, capital_frequency, "all-capital words")


_COMMAS = (",", "，", "、", "،")  # ASCII, full-width, ideographic, Arabic


@check("punctuation:no_comma")
def no_comma(text: str) -> Outcome:
    n = sum(text.count(comma) for comma in _COMMAS)
    return Outcome(n == 0, f"{n} commas")


@check("language:response_language", language="language")
def response_language(text: str, *, language: str) -> Outcome:
    from verifiers.instruction_language import detect_language  # langdetect is optional: imported when asked

    found = detect_language(text)
    return Outcome(found == language.strip().lower(), f"language {found or 'undetectable'}")
