"""Where a completion's answer is: the text after its think block.

Shared by every verifier that judges an answer (math, instruction following), so that they agree
on one rule: only what follows the last ``</think>`` is judged, and a completion that opens
``<think>`` and never closes it has no answer at all. Kept apart from ``verifiers.math_extract``
so that verifiers without sympy need not import it.
"""
from __future__ import annotations


def answer_region(completion: str) -> str | None:
    """The part of the completion that may hold the answer; None if thinking never ended."""
    end = completion.rfind("</think>")
    if end != -1:
        return completion[end + len("</think>"):]
    if "<think>" in completion:
        return None
    return completion
