"""Find the final answer in a model's completion.

The completion ends at its first end-of-turn token (``<|im_end|>``, ``<|endoftext|>``,
``</s>``, ``<|eot_id|>``, ``[INST]``, ``<eos>``, ``<|END_OF_TURN_TOKEN|>``, …), at a line opening
a next turn in plain text (``User:``, ``Human:``), or, once an answer has been given, at a next
exercise in few-shot style (``Question:``, ``### Instruction:``): what a model writes after it,
a hallucinated next turn, is not its answer. LaTeX with every backslash doubled (as JSON hands
it over) is read undoubled. Program code is taken out first (``verifiers.math_code``): code
is no answer, and a completion that ends in code, or is cut off mid-sentence, gets no
last-line answer. Order of precedence, each looked for in the text after the last ``</think>``
(a completion that opens ``<think>`` and never closes it has no answer):

1. the last ``<answer>…</answer>``;
2. the last ``\\boxed{…}`` / ``\\fbox{…}`` — boxes joined only by "or", "and", commas,
   semicolons or display-math breaks are all kept, so a guess list stays a guess list
   and ``\\boxed{-3} \\text{ and } \\boxed{2}`` is the list ``-3, 2``;
3. the last answer phrase, in English or another language (``verifiers.math_prose``), to the
   end of its sentence less a closing clause (", which is what we wanted", " — hope that helps"),
   or the display block that follows "Answer:";
4. GSM8K's ``#### n``;
5. the last line: the whole of it if it is a bare answer, else the maths closing it,
   else the number its last clause states (unless it hedges between several).

In a completion written in a language that uses the decimal comma, ``3,5`` in the
answer becomes ``3.5`` (outside brackets).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from verifiers.answer_region import answer_region
from verifiers.math_code import without_code
from verifiers.math_normalize import ascii_forms, undouble_backslashes
from verifiers.math_prose import (
    HEDGE_RE,
    MATH_SPAN_RE,
    NUMBER_RE,
    answer_phrase_at,
    last_line_answer,
    phrase_answer,
    strip_math,
    uses_decimal_comma,
)

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_GSM8K_RE = re.compile(r"####\s*([^\n]+)")
# Chat-template tokens that end a turn or start the next (ChatML, Llama 3, Phi, Gemma, DeepSeek,
# Mistral). Named one by one: <|begin_of_solution|> and the like are markers inside an answer.
_TURN_TOKENS = (
    r"<\|(?:im_end|im_start|endoftext|end_of_text|eot_id|eom_id|start_header_id|end|user|assistant|system|return"
    r"|eot|EOT|eos|end_of_turn|end_of_sentence|END_OF_TURN_TOKEN|START_OF_TURN_TOKEN)\|>"
    r"|<｜(?:end▁of▁sentence|User|Assistant)｜>|</s>|<(?:end|start)_of_turn>|<eos>|\[/?INST\]"
)
_END_OF_TURN_RE = re.compile(_TURN_TOKENS)
# A hallucinated next turn written as plain text: a line that opens with the user's role ("User:",
# "Human:", "### Human:"), as base models continue a transcript once the answer is given.
_PLAIN_TURN_RE = re.compile(r"\n[ \t]*(?:#+[ \t]*)?(?:user|human)[ \t]*:", re.I)
# A next exercise in few-shot style ("Question:", "### Instruction:"): a next turn only once an
# answer has been given, since a completion may well restate its problem first.
_NEXT_EXERCISE_RE = re.compile(r"\n[ \t]*(?:#+[ \t]*)?(?:question|problem|instruction|exercise|q)[ \t]*\d*[ \t]*[:.]", re.I)
_ROLE_HEADER_RE = re.compile(rf"^\s*(?:{_TURN_TOKENS})\s*(?:assistant|model)?\s*(?:<\|end_header_id\|>)?\s*", re.I)
# What may stand between boxes that together form one (multi-valued) answer.
_BOX_GLUE_RE = re.compile(r"\$|\\[\[\]()]|\\q?quad|\\[,;:! ]|\\text(?:rm|bf)?\s*\{\s*(?:or|and|,)?\s*\}|\s")
_NESTED_BOX_RE = re.compile(r"(?:[\s$]*\\(?:boxed|fbox)\s*\{)+")
_BOX_LABEL_RE = re.compile(r"(?<![\\A-Za-z])([A-Za-z](?:_\{?\w+\}?)?)\s*=\s*(?:\$|\\[(\[])?\s*$")  # "x = \boxed{3}"
_CORRECTION_RE = re.compile(
    r"\b(?:actually|wait|instead|mistake|wrong|incorrect|correct(?:ion|ed|ing)|reconsider|re-?check|recompute"
    r"|on (?:second thought|reflection)|oops|hmm|however|but|not)\b",
    re.I,
)
# A line opening a numbered part: (a), b), (ii), (2), Part 1, **Part (b):**
_PART_MARK_RE = re.compile(r"^[ \t*#]*(?:\(?[a-h]\)|\((?:i{1,3}|iv|v|vi{1,3}|\d{1,2})\)|part\s*\(?\w{1,3}\)?\s*[:.)])", re.I | re.M)
_CUT_OFF_RE = re.compile(
    r"\b(?:the|a|an|of|to|and|or|but|with|for|that|which|whose|is|are|was|were|be|in|on|by|as|than|if|so|because"
    r"|we|it|has|have|need|must|will|can|from|at|into|per)[ \t]*\Z",
    re.I,
)
_LAST_SENTENCE_RE = re.compile(r"(?:^|[.!?。]\s|\n)([^.!?。\n]*)\Z")
_LATER_GUESS_RE = re.compile(r"\b(?:(?:might|may|could)\s+(?:actually\s+)?be|maybe|perhaps|possibly)\s+\$?(-?\d[\d.,/]*\d|-?\d)", re.I)
_BOX_JOINER_RE = re.compile(r"^(?:,|;|or|and|)$", re.I)
_BLANKS_RE = re.compile(r"[ \t]+")
_BLANK_LINES_RE = re.compile(r"\n\s*\n\s*")
# Markdown emphasis around an answer: "**Answer:** 42", "**42**" (not the power 2**3).
_MARKDOWN_BOLD_RE = re.compile(r"(?<![\w*])\*\*(?=\S)|(?<=\S)\*\*(?![\w*])")


@dataclass(frozen=True)
class Extracted:
    text: str     # the answer as written, e.g. "\\frac{3}{4}" or "1 \\text{ or } 2"
    source: str   # which rule found it: answer_tag, boxed, phrase, gsm8k, last_line


def extract_answer(completion: str) -> Extracted | None:
    turn = end_of_turn(completion)
    found = _extract(turn)
    if found is None or not uses_decimal_comma(turn):
        return found
    return Extracted(_decimal_points(found.text), found.source)  # "Réponse : 3,5" is 3.5


def _decimal_points(text: str) -> str:
    """3,5 -> 3.5 outside brackets: "(1,2)" stays a pair in any language."""
    out, depth = [], 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        between_digits = 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        out.append("." if ch == "," and depth == 0 and between_digits else ch)
    return "".join(out)


def _clean_region(completion: str) -> tuple[str, bool] | None:
    """The answer region, code taken out and blanks folded, and whether it ended in code.
    (end_of_turn is idempotent: a completion already cut passes through unchanged.)"""
    region = answer_region(end_of_turn(completion))
    if region is None or not region.strip():
        return None
    region, ends_in_code = without_code(undouble_backslashes(region))
    region = region.replace("\\$", "")  # a currency sign, not a math delimiter
    region = _MARKDOWN_BOLD_RE.sub("", ascii_forms(region))
    # One space for a run of blanks, one blank line for a run of them: no pattern below meets a long run.
    return _BLANK_LINES_RE.sub("\n\n", _BLANKS_RE.sub(" ", region)), ends_in_code


def _cut_off(region: str) -> bool:
    """A completion cut off mid-sentence: it ends on a word such as "is" or "the", or in a sentence
    of four words or more with neither a number nor maths in it ("... and the green balls number")."""
    text = region.rstrip()
    if not text or text[-1] in ".!?。$}])" or text[-1].isdigit():
        return False
    if _CUT_OFF_RE.search(text):
        return True
    last = _LAST_SENTENCE_RE.search(text)
    fragment = last.group(1) if last else ""
    return len(fragment.split()) >= 4 and not re.search(r"[\d$\\]", fragment)


def part_boxes(completion: str) -> tuple[list[str], bool] | None:
    """Each box of the completion, in order, when there are several and nothing between them
    takes one back ("actually", "wait", "instead"...): one box per part of a question; and
    whether the completion numbers its parts ((a), (b) / Part 1, Part 2), which orders them."""
    cleaned = _clean_region(completion)
    boxes = _boxes(cleaned[0]) if cleaned else []
    if len(boxes) < 2:
        return None
    between = [cleaned[0][a[1]:b[0]] for a, b in zip(boxes, boxes[1:])]
    if any(_CORRECTION_RE.search(text) for text in between):
        return None
    return [content.strip() for _, _, content in boxes], len(_PART_MARK_RE.findall(cleaned[0])) >= 2


def sentence_values(completion: str) -> tuple[list[str], bool] | None:
    """The numbers of the last line that states any, in order: "The width is 4 m and the length is 9 m." """
    cleaned = _clean_region(completion)
    lines = [line.replace("$", " ") for line in cleaned[0].splitlines()] if cleaned else []
    for line in reversed(lines):
        numbers = NUMBER_RE.findall(line)
        if numbers:
            return numbers, False
    return None


def _extract(completion: str) -> Extracted | None:
    cleaned = _clean_region(completion)
    if cleaned is None:
        return None
    region, ends_in_code = cleaned
    tags = _ANSWER_TAG_RE.findall(region)
    if tags:
        inner = tags[-1]
        boxed = _last_boxed(inner)
        return Extracted(boxed if boxed is not None else strip_math(inner), "answer_tag")
    boxed = _last_boxed(region)
    if boxed is not None:
        # "\boxed{12} ... #### 13" or "\boxed{7} (or possibly 8)": a second answer makes a hedge.
        others = [a for a in (_gsm8k_answer(region), _hedge_after_last_box(region)) if a and a != boxed]
        return Extracted(" or ".join([boxed, *others]), "boxed")
    finders = ((phrase_answer, "phrase"), (_gsm8k_answer, "gsm8k"), (last_line_answer, "last_line"))
    # Code's last number is no answer, nor is that of a completion cut off mid-sentence ("... whose first digit is").
    for finder, source in finders[:2] if ends_in_code or _cut_off(region) else finders:
        text = finder(region)
        if text:
            return Extracted(text, source)
    return None


def end_of_turn(completion: str) -> str:
    """The completion up to its first end-of-turn token (a leading role header aside)."""
    header = _ROLE_HEADER_RE.match(completion)
    body = completion[header.end():] if header else completion
    end = _END_OF_TURN_RE.search(body)
    body = body[: end.start()] if end else body
    turn = _PLAIN_TURN_RE.search(body)
    body = body[: turn.start()] if turn else body
    if not _NEXT_EXERCISE_RE.search(body):
        return body  # the common case: no marker, no answer search
    starts = [m.start() for m in (_BOX_RE.search(body), answer_phrase_at(body)) if m is not None]
    exercise = _NEXT_EXERCISE_RE.search(body, min(starts)) if starts else None  # one pass: no rescan per marker
    return body[: exercise.start()] if exercise else body


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
    """Every outermost box as (start, end, content); ``\\boxed 5`` (no braces) too.

    A box inside a box is the same answer: ``\\boxed{\\boxed{7}}`` is 7.
    """
    found: list[tuple[int, int, str]] = []
    for m in _BOX_RE.finditer(text):
        if found and m.start() < found[-1][1]:
            continue
        group = _braced(text, m.end())
        if group is not None:
            found.append((m.start(), group[1], _unwrap_boxes(group[0])))
            continue
        bare = re.match(r"[^\s$]+", text[m.end():])
        if bare:
            found.append((m.start(), m.end() + bare.end(), bare.group(0)))
    return found


def _unwrap_boxes(content: str) -> str:
    """'\\boxed{\\boxed{7}}' -> '7' in one pass (a loop of brace matching is quadratic in the depth)."""
    prefix = _NESTED_BOX_RE.match(content)
    if not prefix:
        return content
    depth = prefix.group(0).count("{")
    inner = content[prefix.end():].rstrip(" $")
    closing = len(inner) - len(inner.rstrip("}"))
    if closing < depth:
        return content
    core = inner[: len(inner) - depth]
    level = 0
    for i, ch in enumerate(core):  # the stripped braces must be the boxes' own
        if ch in "{}" and (i == 0 or core[i - 1] != "\\"):
            level += 1 if ch == "{" else -1
            if level < 0:
                return content
    return core if level == 0 else content


def _last_boxed(text: str) -> str | None:
    boxes = _boxes(text)
    if not boxes:
        return None
    answer = [boxes[-1]]
    # Walk back over boxes joined only by "or", "and", commas and math breaks: "\boxed{1} or \boxed{2}".
    for box in reversed(boxes[:-1]):
        if _connector(text[box[1]:answer[0][0]]) is None:
            break
        answer.insert(0, box)
    if len(answer) == 1:
        return answer[0][2].strip()
    # Keep the author's connector so "or" stays a hedge and "," / "and" make a list, and the
    # labels of "x = \boxed{3}, y = \boxed{2}" so that it still names its values.
    parts = [_labelled(text, answer[0])]
    for a, b in zip(answer, answer[1:]):
        parts.append(" or " if _connector(text[a[1]:b[0]]) == "or" else ", ")
        parts.append(_labelled(text, b))
    return "".join(parts)


def _labelled(text: str, box: tuple[int, int, str]) -> str:
    label = _BOX_LABEL_RE.search(text[max(0, box[0] - 40):box[0]])
    return f"{label.group(1)} = {box[2].strip()}" if label else box[2].strip()


def _connector(between: str) -> str | None:
    """The word joining two boxes ("", ",", ";", "or", "and"), or None if prose stands between."""
    glue = _BOX_GLUE_RE.sub("", _BOX_LABEL_RE.sub("", between)).lower()
    return glue if _BOX_JOINER_RE.match(glue) else None


def _hedge_after_last_box(region: str) -> str | None:
    end = _boxes(region)[-1][1]
    tail, _, later = region[end:].partition("\n\n")
    if not HEDGE_RE.search(tail):
        # Further on, only a value offered outright as another answer: "... it might be 13".
        return " or ".join(_LATER_GUESS_RE.findall(later)) or None
    candidates = [next(g for g in m.groups() if g is not None) for m in MATH_SPAN_RE.finditer(tail)]
    candidates += NUMBER_RE.findall(MATH_SPAN_RE.sub(" ", tail))
    return " or ".join(c.strip() for c in candidates) or None


def _gsm8k_answer(region: str) -> str | None:
    matches = _GSM8K_RE.findall(region)
    return matches[-1].strip().rstrip(".") if matches else None
