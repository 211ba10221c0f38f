"""The two thinking modes (Qwen3's ``enable_thinking``), named once, below everything that uses them:
records, config, rollouts, rewards and evaluation import these rather than spelling the strings."""
from __future__ import annotations

THINK, NO_THINK = "think", "no_think"
MODES = (THINK, NO_THINK)
