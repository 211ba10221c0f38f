"""Which language a response is in, for ``language:response_language`` (the only check needing a model).

Uses ``langdetect`` (the detector IFEval's reference uses, so verdicts agree with it), an optional
dependency: ``pip install rlvr[ifeval]``. Without it the check cannot judge, and the verifier says so
(status ``error``), never "wrong". langdetect samples at random: the seed is fixed so that one text
always gets one answer, in every worker.
"""
from __future__ import annotations


class LanguageUnavailable(RuntimeError):
    """langdetect is not installed."""


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language ("en", "de"; langdetect's "zh-cn"/"zh-tw" for Chinese), or None
    when nothing in it shows a language (digits, punctuation)."""
    try:
        import langdetect
    except ImportError as exc:
        raise LanguageUnavailable("language:response_language needs langdetect (pip install rlvr[ifeval])") from exc
    langdetect.DetectorFactory.seed = 0
    try:
        return langdetect.detect(text)
    except langdetect.LangDetectException:
        return None
