"""Answers in words ('Yes', '\\text{an ellipse}', 'Bob'): compared as words, not as maths.

Without this, ``Yes`` parses as the product Y·e·s and ``\\text{Bob}`` against ``bob`` as two
products that differ. Both sides are read as words when both are made of letters only and
either side says it is words: a text command around it (``\\text{Bob}``), more than one word
(``an ellipse``), a word too long to be a product of variables, or a short answer word
(``yes``, ``odd``). ``xy`` against ``yx`` says neither, and stays a product. Words compare
without case, articles (a, an, the), hyphens and punctuation: ``\\text{The Circle}`` is ``circle``.
"""
from __future__ import annotations

import re

from verifiers.math_normalize import normalize
from verifiers.math_tokens import ParseError, split_word

_PHRASE_RE = re.compile(r"[A-Za-z][A-Za-z' .-]*")
_TEXT_COMMAND_RE = re.compile(r"^\W*\\(?:text\w*|mathrm|mbox|emph)\s*\{")
_ANSWER_WORDS = {"yes", "no", "odd", "all", "any", "none", "both", "neither", "true", "false", "nil"}
_WINNER_RE = re.compile(r" (?:wins|will win|can win|has a winning strategy|is the winner|can force a win|should win)$")
_ARTICLES_RE = re.compile(r"\b(?:a|an|the)\b")


def same_words(answer: str, reference: str) -> bool | None:
    """Whether two word answers are the same words; None when either is not a word answer.
    "Bob wins" answers "Bob" (who wins?); "Bob loses" does not."""
    keys = [_key(text) for text in (answer, reference)]
    if None in keys or not (_says_words(answer) or _says_words(reference)):
        return None
    return keys[0] == keys[1] or _WINNER_RE.sub("", keys[0]) == keys[1]


def _key(text: str) -> str | None:
    words = normalize(text)
    if not _PHRASE_RE.fullmatch(words) or not re.search(r"[A-Za-z]{2}", words):
        return None
    return " ".join(_ARTICLES_RE.sub(" ", re.sub(r"[^a-z]+", " ", words.lower())).split())


def _says_words(text: str) -> bool:
    words = normalize(text).split()
    if _TEXT_COMMAND_RE.match(text) or len(words) > 1 or words[0].lower() in _ANSWER_WORDS:
        return True
    try:
        split_word(words[0])
    except ParseError:
        return True  # too long to be a product of variables
    return False
