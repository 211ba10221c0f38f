"""The two thinking modes (Qwen3's ``enable_thinking``), named once, below everything that uses them:
records, config, rollouts, rewards and evaluation import these rather than spelling the strings."""
from __future__ import annotations

THINK, NO_THINK = "think", "no_think"
MODES = (THINK, NO_THINK)

# Qwen3 technical report, section 4.3: what its hybrid models were fused with to stop thinking at a budget
# (rollout.thinking_early_stop's default; rl.engine.thinking_budget injects it).
QWEN3_EARLY_STOP = ("Considering the limited time by the user, I have to give the solution based on the thinking "
                    "directly now.\n</think>.\n\n")
