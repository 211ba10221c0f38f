"""Verifiers: plain callables that judge one completion against a reference.

    >>> from verifiers import get_verifier
    >>> get_verifier("math")("so the answer is \\\\boxed{\\\\frac{3}{4}}", "0.75").score
    1.0
"""
from verifiers.pool import VerifierPool, VerifyRequest, score_batch
from verifiers.registry import VerifierNotFound, get_verifier, list_verifiers, register_verifier
from verifiers.verdict import STATUSES, Verdict

__all__ = [
    "STATUSES",
    "Verdict",
    "VerifierNotFound",
    "VerifierPool",
    "VerifyRequest",
    "get_verifier",
    "list_verifiers",
    "register_verifier",
    "score_batch",
]
