"""Program code in a completion is never read as its answer.

A completion that ends in a program (``print(6 * 7)``, ``return 42``, ``answer = 42``) has
stated no answer: the number closing its code is an argument, a loop bound or a return value,
and the program was never run. So code comes out before the answer is looked for: fenced
blocks that hold code (a language tag or a line that can only be code), and such lines
outside fences; an assignment (``total = 42``) counts as code when a line that can only be code
is near. What remains is searched as usual, except that a completion whose last content was
code gets no last-line answer (``verifiers.math_extract``): only a box, an answer tag or an
answer phrase outside the code can give its answer. A fence around a bare result
(```` ```\\n42\\n``` ````) is not code: its content stays.
"""
from __future__ import annotations

import re

_FENCE_RE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n?(.*?)(?:```|\Z)", re.S)
_LANGUAGES = {
    "python", "py", "python3", "c", "cpp", "c++", "java", "javascript", "js", "typescript", "ts", "go", "rust",
    "ruby", "bash", "sh", "shell", "r", "julia", "matlab", "octave", "sql", "haskell", "kotlin", "swift",
    "csharp", "cs", "c#", "php", "perl", "scala", "lua", "pascal", "fortran",
    "output", "stdout", "console",  # a program's output, written by the model itself: nothing ran
}
# Lines that can only be code: no maths or prose line reads like these (and ends in ";", below).
_CODE_LINE_RE = re.compile(
    r"^[ \t]*(?:def\s+\w+\s*\([^\n]*:"
    r"|(?:import|from)\s+[\w.]+(?:\s+import\s+[\w*., ]+)?(?:\s+as\s+\w+)?"
    r"|return(?:\s+[^$\\\n]*)?|print\s*\(.*\)|for\s+\w+(?:\s*,\s*\w+)*\s+in\s+[^$\\\n:]+:"
    r"|#include\s*<.*>|(?:int|void|long|double)\s+main\s*\(.*|(?:let|const|var)\s+\w+\s*=.*"
    r"|(?:console\.log|System\.out\.print\w*|printf|puts)\s*\(.*|(?:std::)?cout\s*<<.*)[ \t]*$",
    re.M,
)
# Near a line that can only be code, these are code too: an assignment (answer = 42, total += x),
# a bare call with a comment (solve()  # returns 45).
_NEAR_CODE_RE = re.compile(r"^\s*(?:[A-Za-z_]\w+(?:\[[^\]]*\])?\s*[-+*/]?=\s*[^=\s]|[A-Za-z_][\w.]*\(.*\)\s*(?:#.*)?$)")
_NEAR = 3  # lines


def without_code(region: str) -> tuple[str, bool]:
    """The region with its code taken out, and whether its last content was code."""
    if "```" not in region and not _CODE_LINE_RE.search(region) and ";\n" not in region + "\n":
        return region, False  # the common case: a pass or two over the text, no split
    pieces, ends_in_code, end = [], False, 0
    for fence in _FENCE_RE.finditer(region):
        pieces.append(region[end:fence.start()])
        language, body = fence.group(1).lower(), fence.group(2)
        code = language in _LANGUAGES or any(is_code_line(line) for line in body.splitlines())
        pieces.append("\n" if code else f"\n{body}\n")
        end = fence.end()
        ends_in_code = code and not region[end:].strip()
    pieces.append(region[end:])
    lines = "".join(pieces).split("\n")
    code_lines = [i for i, line in enumerate(lines) if is_code_line(line)]
    if not code_lines:
        return "\n".join(lines), ends_in_code
    drop = set(code_lines)
    near = {j + d for j in code_lines for d in range(-_NEAR, _NEAR + 1)}
    drop |= {i for i in near if 0 <= i < len(lines) and _NEAR_CODE_RE.match(lines[i])}
    drop |= _indented_blocks(lines, drop)
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return "\n".join(kept), ends_in_code or last in drop


def _indented_blocks(lines: list[str], code: set[int]) -> set[int]:
    """The lines of a Markdown code block (indented four spaces or more) that holds code."""
    out: set[int] = set()
    block: list[int] = []
    for i, line in enumerate([*lines, ""]):
        if line.startswith(("    ", "\t")) and line.strip():
            block.append(i)
            continue
        if block and code & set(block):
            out |= set(block)
        block = []
    return out


def is_code_line(line: str) -> bool:
    if _CODE_LINE_RE.match(line):
        return True
    # x = 42;  f(x);  (checked in code: a regex for it backtracks quadratically on long lines)
    stripped = line.split("//")[0].rstrip()
    return stripped.endswith(";") and ("=" in stripped or "(" in stripped) and "$" not in stripped and "\\" not in stripped
