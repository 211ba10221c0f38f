"""String clean-up before parsing: what LaTeX and prose add that carries no value.

Removes math delimiters, sizing commands, text wrappers (``\\text``, ``\\textnormal``,
``\\mbox``), degree marks, currency, trailing ``\\\\`` and periods, and unit words (also
glued to the number, ``7weeks``, or in another script, ``3/4 千克``); maps Unicode maths,
other scripts' digits and full-width forms to ASCII/LaTeX; joins thousands separators
(``1,234``, ``1\\,234``, ``1{,}234``, ``12,\\!345``, ``1 250 000``); drops a quantifier
clause (``2\\pi k \\text{ for some integer } k``) and an ``\\approx`` tail after an exact
value; writes ``8:34 PM`` as ``20:34``. Nothing here changes a value.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from verifiers.math_tokens import GREEK
from verifiers.math_units import strip_units

_UNICODE = {
    "−": "-", "–": "-", "×": r"\times ", "·": r"\cdot ", "⋅": r"\cdot ", "÷": "/", "≤": r"\le ", "≥": r"\ge ",
    "≠": r"\ne ", "π": r"\pi ", "∞": r"\infty ", "√": r"\sqrt", "±": r"\pm ", "∓": r"\mp ", "≈": r"\approx ",
    "∪": r"\cup ", "∅": r"\{\}", "∈": r"\in ", "°": "", "²": "^2", "³": "^3", "½": r"\frac{1}{2}",
    "¼": r"\frac{1}{4}", "¾": r"\frac{3}{4}", "⅓": r"\frac{1}{3}", "⅔": r"\frac{2}{3}",
    "⟨": "(", "⟩": ")", r"\langle": "(", r"\rangle": ")", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
}
_DROP = [
    r"\\left\.", r"\\right\.", r"\\left", r"\\right", r"\\[bB]ig{1,2}[lr]?", r"\\displaystyle",
    r"\\limits", r"\\!", r"\\\$", r"\$", r"\\\(", r"\\\)", r"\\\[", r"\\\]",
    r"\^\s*\{\s*\\circ\s*\}", r"\^\s*\\circ", r"\\circ", r"\\degree",
]
_DROP_RE = re.compile("|".join(_DROP))
# Wrappers whose content is the value: \text{5}, \mathbf{-\tfrac{5}{2}} (braces inside and all).
_BRACE_TOKEN_RE = re.compile(
    r"(?P<wrapper>\\(?:text|textnormal|textbf|textit|textrm|textsf|textup|texttt|emph|mathrm|mathbf|mathit|mathsf"
    r"|mathtt|boldsymbol|bm|mbox|hbox|boxed|fbox|operatorname\*?|rm)\s*\{)|\\[{}]|[{}]"
)
# 0.\overline{3}, 0.1\overline{6}, 0.\dot{3}: repeating decimals, as the fractions they are.
_REPEATING_RE = re.compile(r"(-?)(?<!\d)(\d*)\.(\d*)\\(?:overline|dot|bar)\s*\{?(\d+)\}?")  # (?<!\d): linear
_DECIMAL_BRACE_COMMA_RE = re.compile(r"(\d)\{,\}(\d{1,2})(?!\d)")  # 2{,}5: three digits would group thousands
_FRAC_RE = re.compile(r"\\[dtc]frac")
# LaTeX as JSON or another tool hands it over: every backslash doubled (\\frac{1}{2}).
_DOUBLED_COMMAND_RE = re.compile(r"\\\\(?=[A-Za-z]{2})")
_BACKSLASH_RUN_RE = re.compile(r"\\+")
# Spacing commands with an argument or a length (\hspace{1mm}, \kern2pt) and the named ones.
_SPACING_RE = re.compile(
    r"\\(?:[hv]space|mspace|[hv]?phantom)\*?\s*\{[^{}]*\}|\\(?:m?kern|[hm]skip)\s*-?[\d.]+\s*(?:em|ex|mu|pt|mm|cm|in)"
    r"|\\(?:neg)?(?:thin|med|thick)space\b|\\(?:enspace|nobreakspace|space)\b"
)
_REALS_RE = (  # the reals and their halves, before \mathbb{R} alone
    (re.compile(r"\\mathbb\s*\{?\s*R\s*\}?\s*(?:\^\s*\{?\s*\+\s*\}?|_\s*\{?\s*(?:\+|>\s*0)\s*\}?)"), r"(0, \\infty)"),
    (re.compile(r"\\mathbb\s*\{?\s*R\s*\}?\s*(?:\^\s*\{?\s*-\s*\}?|_\s*\{?\s*(?:-|<\s*0)\s*\}?)"), r"(-\\infty, 0)"),
    (re.compile(r"\\mathbb\s*\{?\s*R\s*\}?\s*_\s*\{\s*(?:\\ge|\\geq|>=)\s*0\s*\}"), r"[0, \\infty)"),
    (re.compile(r"\\mathbb\s*\{?\s*R\s*\}?"), r"(-\\infty, \\infty)"),
)
# ]2, 5[ and [2, 5[: intervals written the French way.
_REVERSED_INTERVAL_RE = re.compile(r"([\[\]])([^\[\]{}(),]+,[^\[\]{}(),]+)([\[\]])")
# Whole answers that are sets in words.
_SET_WORDS = {
    **dict.fromkeys(("all real numbers", "all reals", "every real number", "the set of all real numbers",
                     "the real numbers", "all real values"), r"(-\infty, \infty)"),
    **dict.fromkeys(("the empty set", "empty set", "no solution", "no solutions", "no real solution",
                     "no real solutions", "there is no solution", "there are no solutions"), r"\{\}"),
}
# Digit grouping in LaTeX: 1\,234  1{,}234  12,\!345  45,\! 000  1\ 234.
_THOUSANDS_GROUP_RE = re.compile(r"(\d)(?:\{,\}|,\{\}|,\\!|,\\,|\\,|\\ |\\!)\s*(?=\d{3}(?!\d))")
_SPACES_RE = re.compile(r"(?<!\\)\\[,;: ]|\\q?quad\b|~")
_THOUSANDS_PLAIN_RE = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_THOUSANDS_SPACED_RE = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")  # 1 250 000 (SI style)
_MIXED_PLAIN_RE = re.compile(r"^(-?\d+)\s+(\d+)/(\d+)$")  # "3 1/2"
_PERCENT_WORD_RE = re.compile(r"\s*(?:percent|per\s*cent|pct)\.?\s*$", re.I)
_TRAILING = (r"\\", "\\", ".", ",", ";", r"\quad")  # LaTeX line breaks, a stray backslash, a full stop
# "2\pi k for some integer k", "x = 1 + 2k, where k is an integer", ", k \in \mathbb{Z}": a quantifier, no value.
# (No leading \s* in the pattern: the search finds the start, and nested \s* runs are cubic.)
_CLAUSE_RE = re.compile(
    r"\b(?:for\s+(?:some|all|any|every|each|integers?|an?\s+integer)|where)\b"
    r"|\(?[a-zA-Z]\s*\\in\s*\\mathbb\s*\{?\s*[ZN]\b"
)
_CLOCK_RE = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m\.?", re.I)
_NAMED_TIME_RE = re.compile(r"(?:12(?::00)?\s*)?(midnight|noon|midday)", re.I)
_CHOICE_RE = re.compile(r"\(\s*([A-Ea-e])\s*\)")
_DIGITS = {**{0x660 + i: str(i) for i in range(10)}, **{0x6F0 + i: str(i) for i in range(10)},
           **{0x966 + i: str(i) for i in range(10)}, **{0x9E6 + i: str(i) for i in range(10)},
           0x66B: ".", 0x66C: ","}  # Arabic-Indic, Persian, Devanagari, Bengali; Arabic decimal and group marks
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}  # full-width ASCII: ４２ ＝ ３


def _greek_letters() -> dict[str, str]:
    """ω -> \\omega, Δ -> \\Delta: Greek letters as the LaTeX commands the parser knows."""
    out = {}
    for code in range(0x391, 0x3CA):
        name = unicodedata.name(chr(code), "")
        if name.startswith("GREEK") and "LETTER" in name:
            word = name.rsplit(" ", 1)[-1].lower()
            command = word.capitalize() if "CAPITAL" in name else word
            if command in GREEK:
                out[chr(code)] = f"\\{command} "
    return out


_GREEK_LETTERS = _greek_letters()


def ascii_forms(text: str) -> str:
    """Other scripts' digits and full-width forms as ASCII (a number is a number in any script)."""
    return text.translate(_DIGITS).translate(_FULLWIDTH)


@lru_cache(maxsize=4096)  # one answer is normalised several times on its way through the verifier
def normalize(text: str) -> str:
    text = " ".join(ascii_forms(text).split())  # one space for any run: no regex below meets a long one
    for char, latex in _UNICODE.items():
        text = text.replace(char, latex)
    if not text.isascii():
        text = "".join(_GREEK_LETTERS.get(ch, ch) for ch in text)
    text = undouble_backslashes(text)
    text = _FRAC_RE.sub(r"\\frac", text)
    text = _SPACING_RE.sub(" ", text)
    for pattern, interval in _REALS_RE:
        text = pattern.sub(interval, text)
    text = re.sub(r"\\(?:emptyset|varnothing)", r"\\{\\}", text)
    text = _unwrap(text)
    text = _REPEATING_RE.sub(_repeating_fraction, text)
    text = _DECIMAL_BRACE_COMMA_RE.sub(r"\1.\2", text)
    text = _drop_clause(text)
    text = _THOUSANDS_GROUP_RE.sub(r"\1", text)
    text = _DROP_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = _strip_trailing(text).lstrip()
    text = _approx_exact_part(text)
    text = _MIXED_PLAIN_RE.sub(r"\1\\frac{\2}{\3}", text)
    text = _PERCENT_WORD_RE.sub(r"\\%", text)
    text = _clock_24h(text)
    text = _strip_item_units(text).strip()
    text = " ".join(text.split())
    text = _SET_WORDS.get(text.lower().rstrip("."), text)
    text = _REVERSED_INTERVAL_RE.sub(_interval_brackets, text)
    if _THOUSANDS_PLAIN_RE.fullmatch(text):
        text = text.replace(",", "")
    elif _THOUSANDS_SPACED_RE.fullmatch(text):
        text = text.replace(" ", "")
    if _CHOICE_RE.fullmatch(text):
        text = _CHOICE_RE.fullmatch(text).group(1)  # multiple choice: "(C)" is "C"
    return _number_word(text).strip()


def _unwrap(text: str) -> str:
    """Wrappers off, nested ones too (\\text{\\textbf{5}}), in one pass: a loop of regex passes
    is quadratic in the nesting depth."""
    if "{" not in text:
        return text
    out, stack, last = [], [], 0
    for match in _BRACE_TOKEN_RE.finditer(text):
        out.append(text[last:match.start()])
        last, token = match.end(), match.group()
        if match.group("wrapper"):
            stack.append(True)
            out.append(" ")
        elif token == "{":
            stack.append(False)
            out.append(token)
        elif token == "}":
            out.append(" " if stack and stack.pop() else token)
        else:
            out.append(token)  # \{ and \}: set braces
    out.append(text[last:])
    return "".join(out)


def _repeating_fraction(match: re.Match) -> str:
    """0.1\\overline{6} -> \\frac{15}{90}: (digits with one period - digits without) / (10^fixed (10^period - 1))."""
    sign, whole, fixed, period = match.groups()
    if len(whole) + len(fixed) + len(period) > 1000:
        return match.group(0)  # no exact fraction for that: left for the parser, which refuses it
    numerator = int(whole + fixed + period or "0") - int(whole + fixed or "0")
    return f"{sign}\\frac{{{numerator}}}{{{10 ** len(fixed) * (10 ** len(period) - 1)}}}"


def undouble_backslashes(text: str) -> str:
    """'\\\\frac{1}{2}' -> '\\frac{1}{2}' when every backslash is doubled, as JSON-escaped LaTeX arrives.

    A single backslash anywhere (``\\begin{pmatrix}1\\\\2``) means the text is real LaTeX: unchanged.
    """
    if not _DOUBLED_COMMAND_RE.search(text) or any(len(run) % 2 for run in _BACKSLASH_RUN_RE.findall(text)):
        return text
    return text.replace("\\\\", "\\")


def _interval_brackets(match: re.Match) -> str:
    """']2, 5[' -> '(2, 5)', '[2, 5[' -> '[2, 5)': a bracket turned outwards is open."""
    left, inner, right = match.groups()
    if left == "[" and right == "]":
        return match.group(0)
    return ("(" if left == "]" else "[") + inner + (")" if right == "[" else "]")


_ITEM_SEPARATOR_RE = re.compile(r"[,;]|\b(?:and|or)\b")


def _strip_item_units(text: str) -> str:
    """Units after each item of a list: '3 cm and 4 cm' -> '3 and 4' (only top-level separators split)."""
    separators = {m.start(): m.end() for m in _ITEM_SEPARATOR_RE.finditer(text)}
    if not separators:
        return strip_units(text)
    pieces, start, depth, i = [], 0, 0, 0
    while i < len(text):
        depth += text[i] in "([{"
        depth -= text[i] in ")]}"
        if depth == 0 and i in separators:
            pieces += [_units_off(text[start:i]), text[i:separators[i]]]
            start = i = separators[i]
            continue
        i += 1
    return "".join(pieces + [_units_off(text[start:])])


def _units_off(item: str) -> str:
    """strip_units, keeping the spaces around the item ('1, 234' must not become '1,234')."""
    core = item.strip()
    if not core:
        return item
    head, tail = item[: len(item) - len(item.lstrip())], item[len(item.rstrip()):]
    return head + strip_units(core) + tail


def _number_word(text: str) -> str:
    """'seven' -> '7', 'twenty-five\\%' -> '25\\%'."""
    word, percent = (text[:-2].strip(), "\\%") if text.endswith("\\%") else (text, "")
    number = _NUMBER_WORDS.get(word.lower())
    return number + percent if number else text


def _strip_trailing(text: str) -> str:
    """Drop trailing punctuation and breaks (a loop, not a regex: long runs stay linear)."""
    text = text.rstrip()
    while text and (end := next((t for t in _TRAILING if text.endswith(t)), None)):
        text = text[: -len(end)].rstrip()
    return text


def _drop_clause(text: str) -> str:
    """Everything from the first quantifier on, unless nothing would be left."""
    match = _CLAUSE_RE.search(text)
    return text[: match.start()].rstrip(" ,") if match and text[: match.start()].strip(" ,") else text


def _approx_exact_part(text: str) -> str:
    r"""'\frac{\sqrt2}{2} \approx 0.707' is its exact part; 'x \approx 0.707' is 'x = 0.707'."""
    if r"\approx" not in text:
        return text
    exact, _, approx = text.partition(r"\approx")
    exact = exact.strip().rstrip("=").strip()
    if re.fullmatch(r"[A-Za-z](?:_\{?\w+\}?)?", exact):
        return f"{exact} = {approx.strip()}"
    return exact or approx.strip()


def _clock_24h(text: str) -> str:
    """'8:34 PM' -> '20:34', '12:05 a.m.' -> '0:05', '9 pm' -> '21:00', '12:00 midnight' -> '0:00'."""
    named = _NAMED_TIME_RE.fullmatch(text)
    if named:
        return "0:00" if named.group(1).lower() == "midnight" else "12:00"
    match = _CLOCK_RE.fullmatch(text)
    if not match or not 1 <= int(match.group(1)) <= 12:
        return text
    hours = int(match.group(1)) % 12 + (12 if match.group(3).lower() == "p" else 0)
    return f"{hours}:{match.group(2) or '00'}"


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_ONES)}
_NUMBER_WORDS |= {t: str(20 + 10 * i) for i, t in enumerate(_TENS)}
_NUMBER_WORDS |= {f"{t}-{o}": str(20 + 10 * i + j) for i, t in enumerate(_TENS) for j, o in enumerate(_ONES[1:10], 1)}
