"""String clean-up before parsing: what LaTeX and prose add that carries no value.

Removes math delimiters, sizing commands, text wrappers, degree marks, currency
and trailing unit words; maps Unicode maths to LaTeX; joins thousands
separators (``1,234``, ``1\\,234``, ``1{,}234``). Nothing here changes a value.
"""
from __future__ import annotations

import re

_UNICODE = {
    "−": "-", "–": "-", "×": r"\times ", "·": r"\cdot ", "÷": "/", "≤": r"\le ", "≥": r"\ge ",
    "≠": r"\ne ", "π": r"\pi ", "∞": r"\infty ", "√": r"\sqrt", "±": r"\pm ", "∓": r"\mp ",
    "∪": r"\cup ", "∅": r"\{\}", "°": "",
}
_DROP = [
    r"\\left\.", r"\\right\.", r"\\left", r"\\right", r"\\[bB]ig{1,2}[lr]?", r"\\displaystyle",
    r"\\limits", r"\\!", r"\\\$", r"\$", r"\\\(", r"\\\)", r"\\\[", r"\\\]",
    r"\^\s*\{\s*\\circ\s*\}", r"\^\s*\\circ", r"\\circ", r"\\degree",
]
_DROP_RE = re.compile("|".join(_DROP))
_WRAPPERS_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname\*?|rm)\s*\{([^{}]*)\}")
_FRAC_RE = re.compile(r"\\[dtc]frac")
_THOUSANDS_GROUP_RE = re.compile(r"(\d)(?:\{,\}|\\,|\\ )(?=\d{3}(?!\d))")
_SPACES_RE = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad\b|~")
_THOUSANDS_PLAIN_RE = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_MIXED_PLAIN_RE = re.compile(r"^(-?\d+)\s+(\d+)/(\d+)$")  # "3 1/2"
_PERCENT_WORD_RE = re.compile(r"\s*(?:percent|per\s*cent|pct)\.?\s*$", re.I)
# Unit words after a number: "12 cm", "5 apples", "3 m/s", "7 \text{ sq units}".
_UNIT_TAIL_RE = re.compile(
    r"(?<=[\d})])(?P<tail>(?:\s+[A-Za-z]{2,}|\s+[A-Za-z]\b)(?:\s*[A-Za-z]+|\s*\^\s*\{?\d\}?|\s*/\s*[A-Za-z]+)*)\s*$"
)
_NOT_UNITS = {
    "or", "and", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "abs",
    "i", "e", "x", "y", "z", "n", "k", "t", "a", "b", "c", "infty", "inf", "oo",
}


def normalize(text: str) -> str:
    text = text.strip()
    for char, latex in _UNICODE.items():
        text = text.replace(char, latex)
    text = _FRAC_RE.sub(r"\\frac", text)
    text = re.sub(r"\\mathbb\s*\{?\s*R\s*\}?", r"(-\\infty, \\infty)", text)
    text = re.sub(r"\\(?:emptyset|varnothing)", r"\\{\\}", text)
    prev = None
    while prev != text:  # nested wrappers: \text{\textbf{5}}
        prev, text = text, _WRAPPERS_RE.sub(lambda m: f" {m.group(1)} ", text)
    text = _DROP_RE.sub("", text)
    text = _THOUSANDS_GROUP_RE.sub(r"\1", text)
    text = _SPACES_RE.sub(" ", text)
    text = text.strip().rstrip(".").strip()
    text = _MIXED_PLAIN_RE.sub(r"\1\\frac{\2}{\3}", text)
    text = _PERCENT_WORD_RE.sub(r"\\%", text)
    text = _strip_units(text).strip()
    if _THOUSANDS_PLAIN_RE.fullmatch(text):
        text = text.replace(",", "")
    return _NUMBER_WORDS.get(text.lower(), text).strip()


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_ONES)}
_NUMBER_WORDS |= {t: str(20 + 10 * i) for i, t in enumerate(_TENS)}
_NUMBER_WORDS |= {f"{t}-{o}": str(20 + 10 * i + j) for i, t in enumerate(_TENS) for j, o in enumerate(_ONES[1:10], 1)}


def _strip_units(text: str) -> str:
    match = _UNIT_TAIL_RE.search(text)
    if not match:
        return text
    words = re.findall(r"[A-Za-z]+", match.group("tail"))
    if any(w.lower() in _NOT_UNITS for w in words if len(w) > 1) or any(w in _NOT_UNITS for w in words):
        return text
    return text[: match.start("tail")]
