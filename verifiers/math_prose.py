"""Reading a final answer out of sentences: answer phrases in several languages, last lines.

Part of ``verifiers.math_extract`` (rules 3 and 5 of its precedence):

- an answer phrase: "the answer is …", "Final Answer: …", Minerva's "Final Answer: The
  final answer is $…$. I hope it is correct.", and the same in other languages
  ("答案是 42。", "答案：…", "Réponse : 17 €", "La respuesta es …", "Die Antwort ist …",
  "Ответ: …"); what follows is cut at the end of its sentence, and a sentence such as
  "The total is 96" gives what follows its verb;
- the last line: the whole of it if it is a bare formula, else the maths closing it,
  else what follows its last ``=``, else its last number (in any script: a sentence in
  Arabic or Hindi "ends in" the number it states), unless it hedges between several.
"""
from __future__ import annotations

import re
import unicodedata

_PHRASES = {  # answer phrases by language
    "en": r"(?:final\s+answer|the\s+answer|answer|(?:correct|right)\s+(?:option|choice)|answer\s+choice)"
          r"\s*(?:is|:|=|\bwould\s+be\b|\bshould\s+be\b)\s*:?",
    "zh": r"(?:最终答案|最后答案|答案|答|故选|应选)\s*(?:是|为|為|:|：)\s*[:：]?",
    "ja": r"(?:答え|解答)\s*(?:は|:|：)",
    "ko": r"(?:정답|답)\s*(?:은|는|:)",
    "fr": r"r[ée]ponse\s*(?:finale\s*)?(?:est|:)\s*:?",
    "es": r"respuesta\s*(?:final\s*)?(?:es|:)\s*:?",
    "de": r"(?:endg[üu]ltige\s+)?antwort\s*(?:ist|lautet|:)\s*:?",
    "pt": r"resposta\s*(?:final\s*)?(?:é|:)\s*:?",
    "it": r"risposta\s*(?:finale\s*)?(?:è|:)\s*:?",
    "ru": r"ответ\s*(?:[:—]|это)",
    "ar": r"(?:الإجابة|الجواب)\s*(?:هي|هو|:)",
    "hi": r"उत्तर\s*(?:है|:)",
}
_DECIMAL_COMMA_LANGUAGES = ("fr", "es", "de", "pt", "it", "ru")
_ANSWER_PHRASE_RE = re.compile(rf"(?:{'|'.join(_PHRASES.values())})\s*(.+)", re.I)
# Words between the phrase and its value: "The answer is actually 12", "... is therefore $5$".
_FILLER_RE = re.compile(r"^(?:actually|therefore|thus|then|just|simply|exactly|clearly|indeed|now|definitely)\b[,\s]*", re.I)
# "The total is 96", "The number of handshakes equals 45": the value follows the verb.
_SUBJECT_VERB_RE = re.compile(r"(?:[A-Za-z]+\s+){1,6}?(?:is|are|was|equals)\s+(.+)", re.I)
# A number in prose; SI digit groups too ("1 250 000", or with a no-break space "12 500").
NUMBER_RE = re.compile(r"-?\d{1,3}(?:(?: \d{3}){2,}|(?:[\u00a0\u202f]\d{3})+)(?![\d/])(?:\.\d+)?|-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
HEDGE_RE = re.compile(r"\b(?:or|either|maybe|perhaps|possibly|probably|might|unsure|not sure)\b", re.I)
MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
# A line that is nothing but a short formula: digits, letters, operators, LaTeX (ASCII: other
# scripts are prose).
_BARE_ANSWER_RE = re.compile(r"^[\s$\\{}()\[\]\w.,+\-*/^=<>!|%:;']{1,200}$", re.ASCII)
# Plain-text values closing a sentence: "x = 1 or x = 2", "3, 4 and 5", "y = -2.5".
_VALUE = r"(?:[A-Za-z]\s*=\s*)?-?\d[\d.,/]*"
_TRAILING_VALUES_RE = re.compile(rf"(?<![\w^.]){_VALUE}(?:\s*(?:,|\bor\b|\band\b)\s*{_VALUE})+\s*$")
_PROSE_PIECE_RE = re.compile(r"[A-Za-z]{2,}[,;:]?")
_MATH_WORDS = {"pi", "infinity", "inf"}
_WORD_RE = re.compile(r"(?<![\\A-Za-z])(?!(?:sqrt|frac|infty|infinity|arcsin|arccos|arctan|sinh|cosh|tanh|pmatrix|bmatrix|matrix|begin)\b)[A-Za-z]{4,}")
_EQUALS_RE = re.compile(r"(?<![<>!=])=(?!=)")  # "=", not "<=", ">=", "!=", "=="
_INEQUALITY_RE = re.compile(r"<|>|!=|\\(?:le|ge|leq|geq|lt|gt|ne|neq)\b")
_PERCENT_AFTER_RE = re.compile(r"\s*(?:%|percent\b|per\s*cent\b)", re.I)
_CLAUSE_BREAK_RE = re.compile(r"[,;]\s+(?=\D)|\s+(?:so|thus|hence|therefore)\s+", re.I)
_SENTENCE_END = ".。．!！?？।॥؟"
# After the value, a clause that adds no value: ", which is what we wanted", " — hope that helps".
_CLOSING_CLAUSE_RE = re.compile(
    r"[,;]\s+(?:which|so|as|since|because|but|hence|thus|therefore|this|that|hope|thanks|let|please|we|i|it|not)\b"
    r"|[—–]\s*(?!(?:sin|cos|tan|sqrt|frac|log|ln)\b)[A-Za-z]{3,}",
    re.I,
)
# Words naming one maths span that closes the sentence: "an increase of $20\%$" (not "not $5$", "even $k$").
_NAMED_MATH_RE = re.compile(
    r"(?!(?:not|never|no)\b)(?:[A-Za-z]+\s+){0,5}(?:of|is|be|equals|to|at|about|approximately|exactly|by)\s+\$([^$]+)\$", re.I
)
_CHOICE_LINE_RE = re.compile(r"(?:the\s+)?(?:correct\s+)?(?:option|choice)\s*:?\s*\(?([A-E])\)?", re.I)
_ANSWER_HEADING_RE = re.compile(r"^[ \t#*]*(?:final\s+)?answer[ \t*]*:?[ \t*]*$", re.I | re.M)
_DISPLAY_RE = re.compile(r"\s*(?:\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\begin\{(?:equation|align|displaymath)\*?\}(.+?)\\end\{)", re.S)
_SCRIPT_BOUNDARY_RE = re.compile(r"(?<=[^\x00-\x7f])(?=[\x00-\x7f])|(?<=[\x00-\x7f])(?=[^\x00-\x7f])")


# Common words of languages that write 3,5 for 3.5, against English ones.
_COMMA_LOCALE_WORDS = set(
    "le la les est des du donc une ce qui donne réponse der die das ist und beträgt antwort el los las es por"
    " entre obtiene respuesta tanto il è quindi risposta é então resposta não".split()
)
_COMMA_LOCALE_PHRASE_RE = re.compile("|".join(_PHRASES[lang] for lang in _DECIMAL_COMMA_LANGUAGES), re.I)
_ENGLISH_WORDS = set("the is and so of to we answer are that which gives get".split())
_LETTER_WORD_RE = re.compile(r"[^\W\d_]+")


def uses_decimal_comma(region: str) -> bool:
    """Whether the completion is written in a language whose decimal separator is a comma.

    French, German, Spanish, Italian, Portuguese (by their common words outnumbering
    English ones) and Cyrillic-script text: there "3,5" is 3.5. In English "3,5" stays a
    list and "1,234" digit grouping.
    """
    if re.search(r"[\u0400-\u04ff]", region) or _COMMA_LOCALE_PHRASE_RE.search(region):
        return True
    words = [w.lower() for w in _LETTER_WORD_RE.findall(region)]
    local = sum(w in _COMMA_LOCALE_WORDS for w in words)
    return local >= 2 and local > sum(w in _ENGLISH_WORDS for w in words)


def strip_math(text: str) -> str:
    text = text.strip()
    spans = [next(g for g in m.groups() if g is not None) for m in MATH_SPAN_RE.finditer(text)]
    if len(spans) == 1 and not _WORD_RE.search(MATH_SPAN_RE.sub("", text)):
        return spans[0].strip()
    return text.strip("$ ").strip()


def answer_phrase_at(text: str) -> re.Match | None:
    """The first answer phrase of the text, if any."""
    return _ANSWER_PHRASE_RE.search(text)


def phrase_answer(region: str) -> str | None:
    """What follows the last answer phrase (the first on its line), to the end of its sentence;
    a display block right after it ("Answer:" then ``$$…$$``) is the answer whole."""
    matches = list(_ANSWER_PHRASE_RE.finditer(region))
    headings = list(_ANSWER_HEADING_RE.finditer(region))
    heading = headings[-1] if headings else None
    if heading is not None and (not matches or heading.start() > matches[-1].start()):
        return _display_or_line(region[heading.end():])  # "**Answer**" alone, the answer below it
    if not matches:
        return None
    display = _DISPLAY_RE.match(region, matches[-1].start(1))
    if display:
        return next(g for g in display.groups() if g is not None).strip() or None
    text = matches[-1].group(1)
    # Minerva: "Final Answer: The final answer is $x$." -> the inner phrase's value.
    while (inner := _ANSWER_PHRASE_RE.match(re.sub(r"^(?:the|our|my)\s+", "", text.strip(), flags=re.I))) is not None:
        text = inner.group(1)
    return _sentence_value(text)


def _sentence_value(text: str) -> str | None:
    sentence = _trailing_clause_off(_end_of_sentence(text))
    named = _NAMED_MATH_RE.fullmatch(sentence.strip())
    if named:
        return named.group(1).strip()  # "an increase of $20\%$": the maths the words name
    text = strip_math(_FILLER_RE.sub("", sentence.strip())).rstrip(".;: ")
    subject = _SUBJECT_VERB_RE.fullmatch(text) if "$" not in text and "\\" not in text else None
    if subject and not NUMBER_RE.match(text):
        text = subject.group(1).rstrip(".;: ")
    ends = _SENTENCE_END.replace("!", "") if "$" in sentence else _SENTENCE_END  # $5!$ is a factorial
    return text.rstrip(ends + ";: ") or None


def _display_or_line(text: str) -> str | None:
    display = _DISPLAY_RE.match(text)
    if display:
        return next(g for g in display.groups() if g is not None).strip() or None
    line = text.strip().split("\n", 1)[0]
    return _sentence_value(line) if line else None


def _trailing_clause_off(text: str) -> str:
    """'42, which is what we wanted' -> '42'; '42 — hope that helps' -> '42' (outside math)."""
    in_math = False
    for i, ch in enumerate(text):
        if ch == "$":
            in_math = not in_math
        elif not in_math and ch in ",;—–" and _CLOSING_CLAUSE_RE.match(text, i):
            return text[:i]
    return text
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
        elif ch in _SENTENCE_END and not in_math and depth <= 0:
            nxt = line[i + 1:i + 3]
            if ch in "!?" and not re.match(r"\s[A-Z]", nxt):
                continue  # 5! is a factorial; "42! Hope that helps" ends a sentence
            if not nxt[:1].isdigit():
                return line[:i]
    return line


def last_line_answer(region: str) -> str | None:
    lines = [ln.strip() for ln in region.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        answer = _answer_in_line(line)
        if answer:
            return answer
    return None


def _answer_in_line(line: str) -> str | None:
    stripped = line.rstrip(_SENTENCE_END).strip()
    letter = _CHOICE_LINE_RE.fullmatch(stripped)
    if letter:
        return letter.group(1)  # "Option B"
    spans = [next(g for g in m.groups() if g is not None) for m in MATH_SPAN_RE.finditer(stripped)]
    prose = MATH_SPAN_RE.sub(" ", stripped)
    if not _WORD_RE.search(prose) and _BARE_ANSWER_RE.match(stripped):
        return strip_math(stripped)  # a bare answer: "3/4", "x = 2", "$\frac{1}{2}$"
    tail = _TRAILING_VALUES_RE.search(stripped)
    if tail and tail.start() >= max((m.end() for m in MATH_SPAN_RE.finditer(stripped)), default=0):
        return tail.group(0).strip()  # "... we get x = 1 or x = 2"
    if HEDGE_RE.search(prose):
        candidates = spans or NUMBER_RE.findall(prose)
        if len(candidates) > 1:
            return " or ".join(c.strip() for c in candidates)  # a hedge stays a hedge
    trailing = _trailing_formula(stripped)  # maths after the last $...$ wins: "$x = 1$, so x != 1"
    formula = trailing if trailing and "$" not in trailing else (spans[-1].strip() if spans else trailing)
    if formula:
        if _INEQUALITY_RE.search(formula) or not _EQUALS_RE.search(formula) or _single_symbol_lhs(formula):
            return formula  # "x <= 3", "y = 2x + 1", "4sqrt(2)"
        return _EQUALS_RE.split(formula)[-1].strip()  # "3 + 4 = 7" states 7
    # The number the last clause that has one states: after its last "=", else its last number.
    clauses = [c for c in _CLAUSE_BREAK_RE.split(prose) if NUMBER_RE.search(c)]
    if not clauses:
        return None
    clause = clauses[-1]
    if _EQUALS_RE.search(clause):
        after = _EQUALS_RE.split(clause)[-1]
        numbers = list(NUMBER_RE.finditer(after))
        if numbers:
            return _with_percent(after, numbers[0])
    return _with_percent(clause, list(NUMBER_RE.finditer(clause))[-1])


def _with_percent(text: str, number: re.Match) -> str:
    """'20 percent' keeps its percent: 20% is 0.2, a bare 20 is not."""
    return number.group(0) + ("%" if _PERCENT_AFTER_RE.match(text, number.end()) else "")


def _trailing_formula(line: str) -> str | None:
    """The maths closing a prose sentence: "... measures 4sqrt(2)", "The line is y = 2x + 1".

    Walks back over whitespace-separated pieces until a prose word (two or more letters and
    nothing else, in any script); None when that leaves nothing, or only a plain number with
    words after it.
    """
    kept: list[str] = []
    for piece in reversed(_SCRIPT_BOUNDARY_RE.sub(" ", line).split()):
        if _is_prose(piece):
            break
        kept.insert(0, piece)
    formula = " ".join(kept).strip(",;: ")
    return formula if formula and re.search(r"[\d\\]|[A-Za-z]\(", formula) else None


def _is_prose(piece: str) -> bool:
    if _PROSE_PIECE_RE.fullmatch(piece):
        return piece.lower().strip(",;:") not in _MATH_WORDS
    return not piece.isascii() and all(unicodedata.category(ch)[0] in "LMPZ" for ch in piece)


def _single_symbol_lhs(equation: str) -> bool:
    return re.fullmatch(r"\s*[A-Za-z](?:_\{?\w+\}?)?\s*", _EQUALS_RE.split(equation, 1)[0]) is not None
