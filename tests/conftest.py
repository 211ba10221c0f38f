"""Fixtures shared across test files."""
from __future__ import annotations

import os
from pathlib import Path

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


@pytest.fixture(scope="session")
def tiny_judge_build(tmp_path_factory) -> Path:
    """The quick build of experiments/tiny_judge.yaml (``rl.loops.judge_build``), trained once per session on
    Ray (about 2 minutes on 2 cores) and shared by the judge tests and tiny_general: the build's directory."""
    import ray

    from rl.loops.judge_build import QUICK_OVERRIDES, build_tiny_judge

    out = tmp_path_factory.mktemp("tiny_judge")
    try:
        build_tiny_judge(out, QUICK_OVERRIDES)
    finally:
        ray.shutdown()
    return out
