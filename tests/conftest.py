"""Fixtures shared across test files."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test that reaches for the hub fails instead of hanging

import pytest

# Smaller than the defaults: these fixtures check plumbing, not learning.
TINY_SIZES = dict(hidden=32, intermediate=64, layers=1, heads=2, kv_heads=1, vocab_size=320, max_positions=128)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> str:
    """A tiny Qwen2 model and tokenizer built from arithmetic text, once per test session."""
    from rl.data.tasks import arithmetic, corpus
    from rl.engine.policy import build_tiny_model

    train, held_out = arithmetic(60, 5, seed=0)
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny"), corpus(train + held_out), seed=0, **TINY_SIZES))
