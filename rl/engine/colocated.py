"""Colocated sampling: a learner that generates its own rollouts from its own training module.

``rollout.colocate`` (``rl.engine.actors.Cluster`` chooses): between two updates, each learner samples
its shard of the prompts with the configured rollout backend wrapped ``around`` its module, so nothing
is transferred and one GPU holds everything. A mixin of ``rl.engine.actors.LearnerActor``: the
``Learner`` itself stays a trainer. It reads the module as it stands between two updates, and none of
it may change what the next update computes.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from rl.config import DataConfig, RolloutConfig
from rl.data.records import Prompt, RolloutGroup
from rl.engine.policy import resolve_dtype
from rl.engine.thinking_budget import ThinkingBudget
from rl.registries import ROLLOUT_BACKENDS


class ColocatedSampling:
    """Needs the host's ``model``, ``tokenizer`` and ``device`` (a ``Learner``'s)."""

    def attach_sampler(self, data: DataConfig, rollout: RolloutConfig) -> None:
        """Colocated placement: sample with the configured rollout backend, around this learner's own module."""
        self.sampler = ROLLOUT_BACKENDS.get(rollout.backend).around(self.model, self.tokenizer, data, rollout)
        # The module keeps its fp32 master weights; half-precision sampling (rollout.dtype, bf16 by
        # default on a GPU) is autocast around generate, so there is no second copy to keep fresh.
        compute = resolve_dtype(rollout.dtype, str(self.device))
        self.sample_dtype = None if compute == "float32" else getattr(torch, compute)

    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None, thinking_budget: ThinkingBudget | None = None,
                 version: int = 0) -> list[RolloutGroup]:
        """``RolloutWorker.generate`` on this learner's current weights, which are policy ``version``.

        Training afterwards is exactly what it would have been: eval mode only for the call (no
        dropout; the previous mode comes back), no autograd (generate runs under no_grad), the RNG
        stream forked (the sampler reseeds it), and the KV cache's memory returned before the update.
        """
        was_training = self.model.training
        self.model.eval()
        autocast = torch.autocast(self.device.type, dtype=self.sample_dtype, enabled=self.sample_dtype is not None)
        try:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []), autocast:
                self.sampler.version = version
                return self.sampler.generate(prompts, num_samples, temperature=temperature, seed=seed,
                                             enable_thinking=enable_thinking, thinking_budget=thinking_budget)
        finally:
            self.model.train(was_training)
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
