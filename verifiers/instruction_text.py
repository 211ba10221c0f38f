"""Counting things in a response for the instruction checks: words, sentences, paragraphs, relations.

    count_words("A well-known cat doesn't purr.")   # 5: a hyphenated word or a contraction is one word
    count_words("It costs 1,500.50 euros.")          # 4: so is a number with its separators
    count_sentences("Dr. Smith came. He sat down.")   # 2: "Dr." does not end a sentence
    compare(3, "at least", 2)                         # True

No tokenizer data is needed (IFEval's reference counts sentences with nltk's trained ``punkt``
model, which must be downloaded): sentences are split by a rule, documented on ``split_sentences``.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Callable

# IFEval's own relations are "less than" and "at least"; the other three are ours (exact counts are what
# short generated prompts ask for, e.g. "exactly 5 words").
RELATIONS: dict[str, Callable[[int, int], bool]] = {
    "less than": operator.lt,
    "at least": operator.ge,
    "at most": operator.le,
    "more than": operator.gt,
    "exactly": operator.eq,
}

# A word: letters/digits, joined by inner hyphens or apostrophes ("well-known", "don't", "rock'n'roll");
# a number keeps its inner separators ("1,500", "3.50", "2.5-3").
WORD_RE = re.compile(r"[^\W_]+(?:(?:[-'’]|(?<=\d)[.,](?=\d))[^\W_]+)*")

# Abbreviations whose full stop does not end a sentence (lower-cased, without the final dot).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co",
    "a.m", "p.m", "u.s", "u.k", "no", "fig", "approx", "capt", "lt", "mt", "ph.d",
})
# A sentence ends at . ! ? (or a run of them, or an ellipsis), possibly followed by closing quotes or
# brackets, then whitespace; a line break alone does not end one (as in punkt).
_SENTENCE_END_RE = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*(?=\s)")
_LAST_TOKEN_RE = re.compile(r"(\S+?)[.!?]+[\"'”’)\]]*$")


def count_words(text: str) -> int:
    return len(WORD_RE.findall(text))


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: split after ., ! or ? followed by whitespace, except after a known
    abbreviation ("Dr.", "e.g.") or a single-letter initial ("J. Smith"); a decimal point is never
    followed by whitespace, so "3.5" stays whole. A final fragment without a full stop is a sentence."""
    sentences, start = [], 0
    for match in _SENTENCE_END_RE.finditer(text):
        piece = text[start:match.end()]
        token = _LAST_TOKEN_RE.search(piece)
        if token and match.group().startswith(".") and _is_abbreviation(token.group(1)):
            continue
        if piece.strip():
            sentences.append(piece.strip())
        start = match.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def _is_abbreviation(token: str) -> bool:
    token = token.lstrip("(\"'“‘").lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def compare(count: int, relation: str, target: int) -> bool:
    return RELATIONS[relation](count, target)


def whole_word_re(phrase: str) -> re.Pattern[str]:
    """``phrase`` literally, case-insensitively, not inside a longer word ("cat" not in "concatenate")."""
    return re.compile(r"(?<!\w)" + re.escape(phrase.strip()) + r"(?!\w)", re.IGNORECASE)


def paragraphs_by_blank_lines(text: str) -> list[str]:
    """Paragraphs separated by one or more blank lines (a line of only spaces counts as blank)."""
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
