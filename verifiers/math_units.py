"""Unit words and currency around a number: '12 cm', '7weeks', '17 €', '每人 3/4 千克' -> the number.

Part of ``verifiers.math_normalize``. A word is a unit only where it cannot be maths:
after a number, not a function or a variable name (``2 sin x`` and ``3 x`` keep theirs),
and, glued to the number, either a known abbreviation (``12cm``) or too long to be a
product of variables (``7weeks``; ``3xy`` stays ``3·x·y``).
"""
from __future__ import annotations

import re
import unicodedata

from verifiers.math_tokens import ParseError, split_word

# Unit words after a number: "12 cm", "5 apples", "3 m/s", "7 \text{ sq units}".
_UNIT_TAIL_RE = re.compile(
    r"(?<=[\d})])(?P<tail>(?:\s+[A-Za-z]{2,}|\s+[A-Za-z]\b)(?:\s*[A-Za-z]+|\s*\^\s*\{?\d\}?|\s*/\s*[A-Za-z]+)*)\s*$"
)
_GLUED_TAIL_RE = re.compile(r"(?<=\d)(?P<word>[A-Za-z]{2,})(?:\s*\^\s*\{?\d\}?)?(?:\s*/\s*[A-Za-z]+)?\s*$")
_NOT_UNITS = {
    "or", "and", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "abs",
    "i", "e", "x", "y", "z", "n", "k", "t", "a", "b", "c", "infty", "inf", "oo",
}
# Short units glued to a number; longer words are units when they cannot be read as maths.
_SHORT_UNITS = {
    "cm", "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "lb", "lbs", "oz", "hr", "hrs", "min", "sec", "mph",
    "kph", "cal", "rad", "deg", "pts", "yrs", "sq", "cu", "mL", "cm2", "m2",
}
_CURRENCY_RE = re.compile(r"[€£¥₹₩₽¢]")


def strip_units(text: str) -> str:
    text = _CURRENCY_RE.sub("", text).strip()
    text = _strip_foreign(text)
    glued = _GLUED_TAIL_RE.search(text)
    if glued and _is_glued_unit(glued.group("word")) and text[: glued.start()].strip():
        return text[: glued.start()].rstrip()
    match = _UNIT_TAIL_RE.search(text)
    if not match:
        return text
    words = re.findall(r"[A-Za-z]+", match.group("tail"))
    if any(w.lower() in _NOT_UNITS for w in words if len(w) > 1) or any(w in _NOT_UNITS for w in words):
        return text
    return text[: match.start("tail")]


def _is_glued_unit(word: str) -> bool:
    if word in _SHORT_UNITS:
        return True
    if len(word) < 4 or word.lower() in _NOT_UNITS:
        return False
    try:
        split_word(word)
    except ParseError:
        return True  # "weeks", "apples": prose, not a product of variables
    return False


def _is_foreign(ch: str) -> bool:
    """A letter, mark or punctuation of another script: 千, 克, ر, ी, 。 (Greek stays maths)."""
    if ch.isascii() or "\u0370" <= ch <= "\u03ff":
        return False
    return unicodedata.category(ch)[0] in "LMPS" or ch.isspace()


def _strip_foreign(text: str) -> str:
    """'每人 3/4 千克' -> '3/4': words of another script around an answer that has digits."""
    if not any(ch.isdigit() for ch in text) or all(ch.isascii() for ch in text):
        return text
    end = len(text)
    while end > 0 and (_is_foreign(text[end - 1]) or text[end - 1] == " "):
        end -= 1
    start = 0
    while start < end and (_is_foreign(text[start]) or text[start] == " "):
        start += 1
    core = text[start:end].strip()
    return core if core else text
