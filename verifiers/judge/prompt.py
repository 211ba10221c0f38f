"""What the judge is shown: a template filled with the question, the reference and the response.

    from verifiers.judge.prompt import load_template, fill_template, answer_part
    template = load_template("with_reference")            # a built-in name, or a path to a text file
    message = fill_template(template, question="2+3?", reference="5", response=answer_part("<think>..</think> 5"))

A template is plain text holding the placeholders ``{question}``, ``{reference}`` and ``{response}``; any
other braces (a JSON example, say) stay as written, because the placeholders are replaced as literal
strings, never with ``str.format``. The filled text is sent to the judge as one user message.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

PLACEHOLDERS = ("{question}", "{reference}", "{response}")
BUILTIN_TEMPLATES = ("with_reference", "without_reference")
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# One pass over the template: a response holding the text "{reference}" must reach the judge as
# written, not with the reference pasted into it (a replace-one-after-another would do exactly that).
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


class TemplateError(ValueError):
    """A template that cannot be used; the message names it."""


def load_template(spec: str) -> str:
    """The text of a built-in template (``with_reference``, ``without_reference``) or of the file at ``spec``."""
    if spec in BUILTIN_TEMPLATES:
        return resources.files("verifiers.judge").joinpath("templates", f"{spec}.txt").read_text(encoding="utf-8")
    path = Path(spec)
    if not path.is_file():
        raise TemplateError(f"judge template {spec!r}: neither a built-in ({', '.join(BUILTIN_TEMPLATES)}) nor a file")
    text = path.read_text(encoding="utf-8")
    if "{response}" not in text:
        raise TemplateError(f"judge template {spec!r} has no {{response}} placeholder: the judge would never see the answer")
    return text


def fill_template(template: str, *, question: str, reference: str, response: str) -> str:
    values = {"{question}": question, "{reference}": reference, "{response}": response}
    return _PLACEHOLDER.sub(lambda m: values[m.group(0)], template)


def answer_part(completion: str, strip_thinking: bool = True) -> str | None:
    """The part of ``completion`` the judge sees: what follows its ``</think>`` (the whole text when it has no
    think block, or when ``strip_thinking`` is off). None when a think block is opened and never closed: the
    completion ran out while thinking and gave no answer. Surrounding whitespace is dropped."""
    if not strip_thinking:
        return completion.strip()
    close = completion.rfind(THINK_CLOSE)
    if close >= 0:  # also a completion whose <think> came with the prompt (Qwen3's template prefills it)
        return completion[close + len(THINK_CLOSE):].strip()
    if THINK_OPEN in completion:
        return None
    return completion.strip()
