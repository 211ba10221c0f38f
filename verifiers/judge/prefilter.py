"""Answers a judge must never be asked about: empty ones and the "master keys" of LLM judges.

Zhao et al., "One Token to Fool LLM-as-a-Judge" (2025, arXiv:2507.08794) show that generative reward
models answer YES surprisingly often to a response that is only a punctuation mark (":", ".") or a
reasoning opener ("Thought process:", "Let's solve this problem step by step.", "Solution"), in
several languages; a policy trained against such a judge learns to emit them. Those responses are
judged wrong here, without a judge call: they contain no answer. ``MASTER_KEYS`` is the one list of them;
a response is compared after case, punctuation and whitespace are dropped, so "solution:" and
"SOLUTION" match "Solution", and a response of punctuation alone matches the empty key.
"""
from __future__ import annotations

import unicodedata

from verifiers.verdict import Verdict, wrong

# The paper's master keys (its Table 1: non-word symbols and reasoning openers, English and others),
# plus close variants of the openers. Compared normalised (``_normalise``).
MASTER_KEYS: tuple[str, ...] = (
    " ", ".", ",", ":", ";", "-", "*",
    "Thought process:",
    "Let's solve this problem step by step.",
    "Let's think step by step.",
    "Let me solve this step by step.",
    "Solution",
    "Solution:",
    "Answer:",
    "Final answer:",
    "Step 1:",
    "解",        # Chinese: "solution"
    "解答",      # Chinese: "answer"
    "かいせつ",  # Japanese: "explanation"
    "Respuesta",  # Spanish: "answer"
    "Solución",  # Spanish: "solution"
)


def _normalise(text: str) -> str:
    """Case-folded, with every punctuation mark, symbol and space removed."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold()
                   if unicodedata.category(ch)[0] not in "PSZ" and not ch.isspace())


_KEYS = frozenset(_normalise(key) for key in MASTER_KEYS)


def prefilter(answer: str | None) -> Verdict | None:
    """A judged-wrong verdict for ``answer`` (the response after its think block; None: it has none) when no
    judge should see it, else None."""
    if answer is None:
        return wrong(None, "pre-filter: no answer after the think block (unclosed <think>)")
    if not answer.strip():
        return wrong("", "pre-filter: empty response")
    normalised = _normalise(answer)
    if not normalised:
        return wrong(answer[:40], "pre-filter: punctuation only, no answer")
    if normalised in _KEYS:
        return wrong(answer[:40], f"pre-filter: a generic opener with no answer ({answer.strip()[:40]!r})")
    return None
