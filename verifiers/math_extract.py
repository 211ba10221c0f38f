"""Find the final answer in a model's completion.

Order of precedence, each looked for in the text after the last ``</think>``
(a completion that opens ``<think>`` and never closes it has no answer):

1. the last ``<answer>…</answer>``;
2. the last ``\\boxed{…}`` / ``\\fbox{…}`` — boxes on the same line joined by
   "or", commas or "and" are all kept, so a guess list stays a guess list;
3. the last "the answer is …" / "final answer: …";
4. GSM8K's ``#### n``;
5. the last line: the whole of it if it is a bare answer, else what follows its
   last ``=``, else its last number (unless it hedges between several).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_ANSWER_PHRASE_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=|\bwould\s+be\b|\bshould\s+be\b)\s*:?\s*(.+)",
    re.I,
)
_GSM8K_RE = re.compile(r"####\s*([^\n]+)")
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_HEDGE_RE = re.compile(r"\b(?:or|either|maybe|perhaps|possibly|probably|might|unsure|not sure)\b", re.I)
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
# Connectors allowed between boxes that together form one (multi-valued) answer.
_BOX_JOINER_RE = re.compile(r"^[\s,;$]*(?:or|and|\\text\{\s*or\s*\}|\\quad|,)?[\s,;$]*$", re.I)
# A line that is nothing but a short formula: digits, letters, operators, LaTeX.
_BARE_ANSWER_RE = re.compile(r"^[\s$\\{}()\[\]\w.,+\-*/^=<>!|%:']{1,200}$")
# Plain-text values closing a sentence: "x = 1 or x = 2", "3, 4 and 5", "y = -2.5".
_VALUE = r"(?:[A-Za-z]\s*=\s*)?-?\d[\d.,/]*"
_TRAILING_VALUES_RE = re.compile(rf"(?<![\w^.]){_VALUE}(?:\s*(?:,|\bor\b|\band\b)\s*{_VALUE})+\s*$")
_PROSE_PIECE_RE = re.compile(r"[A-Za-z]{2,}[,;:]?")
_MATH_WORDS = {"pi", "infinity", "inf"}
_WORD_RE = re.compile(r"(?<![\\A-Za-z])(?!(?:sqrt|frac|infty|infinity|arcsin|arccos|arctan|sinh|cosh|tanh|pmatrix|bmatrix|matrix|begin)\b)[A-Za-z]{4,}")


@dataclass(frozen=True)
class Extracted:
    text: str     # the answer as written, e.g. "\\frac{3}{4}" or "1 \\text{ or } 2"
    source: str   # which rule found it: answer_tag, boxed, phrase, gsm8k, last_line


def answer_region(completion: str) -> str | None:
    """The part of the completion that may hold the answer; None if thinking never ended."""
    end = completion.rfind("</think>")
    if end != -1:
        return completion[end + len("</think>"):]
    if "<think>" in completion:
        return None
    return completion


def extract_answer(completion: str) -> Extracted | None:
    region = answer_region(completion)
    if region is None or not region.strip():
        return None
    region = region.replace("\\$", "")  # a currency sign, not a math delimiter
    tags = _ANSWER_TAG_RE.findall(region)
    if tags:
        inner = tags[-1]
        boxed = _last_boxed(inner)
        return Extracted(boxed if boxed is not None else _strip_math(inner), "answer_tag")
    boxed = _last_boxed(region)
    if boxed is not None:
        # "\boxed{12} ... #### 13" or "\boxed{7} (or possibly 8)": a second answer makes a hedge.
        others = [a for a in (_gsm8k_answer(region), _hedge_after_last_box(region)) if a and a != boxed]
        return Extracted(" or ".join([boxed, *others]), "boxed")
    for finder, source in ((_phrase_answer, "phrase"), (_gsm8k_answer, "gsm8k"), (_last_line_answer, "last_line")):
        text = finder(region)
        if text:
            return Extracted(text, source)
    return None


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """Content of the brace group opening at ``text[start]`` and the index after it."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "\\":
            continue
        if ch == "{" and text[i - 1] != "\\":
            depth += 1
        elif ch == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    return None


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """Every box as (start, end, content); ``\\boxed 5`` (no braces) too."""
    found = []
    for m in _BOX_RE.finditer(text):
        group = _braced(text, m.end())
        if group is not None:
            found.append((m.start(), group[1], group[0]))
            continue
        bare = re.match(r"[^\s$]+", text[m.end():])
        if bare:
            found.append((m.start(), m.end() + bare.end(), bare.group(0)))
    return found


def _last_boxed(text: str) -> str | None:
    boxes = _boxes(text)
    if not boxes:
        return None
    answer = [boxes[-1]]
    # Walk back over boxes on the same line joined only by "or"/commas: "\boxed{1} or \boxed{2}".
    for box in reversed(boxes[:-1]):
        between = text[box[1]:answer[0][0]]
        if "\n" in between or not _BOX_JOINER_RE.match(between):
            break
        answer.insert(0, box)
    if len(answer) == 1:
        return answer[0][2].strip()
    joined = [text[a[1]:b[0]].strip(" $") for a, b in zip(answer, answer[1:])]
    # Keep the author's connector so "or" stays a hedge and "," stays a list.
    parts = [answer[0][2].strip()]
    for connector, box in zip(joined, answer[1:]):
        parts.append(" or " if re.search(r"\bor\b", connector, re.I) else ", ")
        parts.append(box[2].strip())
    return "".join(parts)


def _hedge_after_last_box(region: str) -> str | None:
    end = _boxes(region)[-1][1]
    tail = region[end:].split("\n\n", 1)[0]
    if not _HEDGE_RE.search(tail):
        return None
    candidates = [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN_RE.finditer(tail)]
    candidates += _NUMBER_RE.findall(_MATH_SPAN_RE.sub(" ", tail))
    return " or ".join(c.strip() for c in candidates) or None


def _strip_math(text: str) -> str:
    text = text.strip()
    spans = [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN_RE.finditer(text)]
    if len(spans) == 1 and not _WORD_RE.search(_MATH_SPAN_RE.sub("", text)):
        return spans[0].strip()
    return text.strip("$ ").strip()


def _end_of_sentence(text: str) -> str:
    line = text.split("\n", 1)[0]
    # A period ends the sentence unless it is a decimal point or inside math.
    depth, in_math = 0, False
    for i, ch in enumerate(line):
        if ch == "$":
            in_math = not in_math
        elif ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == "." and not in_math and depth <= 0:
            nxt = line[i + 1:i + 2]
            if not nxt.isdigit():
                return line[:i]
    return line


def _phrase_answer(region: str) -> str | None:
    matches = list(_ANSWER_PHRASE_RE.finditer(region))
    if not matches:
        return None
    text = _strip_math(_end_of_sentence(matches[-1].group(1)))
    return text.rstrip(".;: ") or None


def _gsm8k_answer(region: str) -> str | None:
    matches = _GSM8K_RE.findall(region)
    return matches[-1].strip().rstrip(".") if matches else None


def _last_line_answer(region: str) -> str | None:
    lines = [ln.strip() for ln in region.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        answer = _answer_in_line(line)
        if answer:
            return answer
    return None


def _answer_in_line(line: str) -> str | None:
    stripped = line.rstrip(".").strip()
    spans = [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN_RE.finditer(stripped)]
    prose = _MATH_SPAN_RE.sub(" ", stripped)
    if not _WORD_RE.search(prose) and _BARE_ANSWER_RE.match(stripped):
        return _strip_math(stripped)  # a bare answer: "3/4", "x = 2", "$\frac{1}{2}$"
    tail = _TRAILING_VALUES_RE.search(stripped)
    if tail and tail.start() >= max((m.end() for m in _MATH_SPAN_RE.finditer(stripped)), default=0):
        return tail.group(0).strip()  # "... we get x = 1 or x = 2"
    if _HEDGE_RE.search(prose):
        candidates = spans or _NUMBER_RE.findall(prose)
        if len(candidates) > 1:
            return " or ".join(c.strip() for c in candidates)  # a hedge stays a hedge
    formula = spans[-1].strip() if spans else _trailing_formula(stripped)
    if formula:
        return formula.rsplit("=", 1)[-1].strip() if "=" in formula and not _single_symbol_lhs(formula) else formula
    if "=" in prose:
        rhs = prose.rsplit("=", 1)[1]
        numbers = _NUMBER_RE.findall(rhs)
        if numbers:
            return numbers[0]
    numbers = _NUMBER_RE.findall(prose)
    return numbers[-1] if numbers else None


def _trailing_formula(line: str) -> str | None:
    """The maths closing a prose sentence: "... measures 4sqrt(2)", "The line is y = 2x + 1".

    Walks back over whitespace-separated pieces until a prose word (two or more letters and
    nothing else); None when that leaves nothing, or only a plain number with words after it.
    """
    kept: list[str] = []
    for piece in reversed(line.split()):
        if _PROSE_PIECE_RE.fullmatch(piece) and piece.lower().strip(",;:") not in _MATH_WORDS:
            break
        kept.insert(0, piece)
    formula = " ".join(kept).strip(",;: ")
    return formula if formula and re.search(r"[\d\\]|[A-Za-z]\(", formula) else None


def _single_symbol_lhs(equation: str) -> bool:
    return re.fullmatch(r"\s*[A-Za-z](?:_\{?\w+\}?)?\s*", equation.split("=", 1)[0]) is not None
