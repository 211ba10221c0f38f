"""Weight export: what a learner sends to separate rollout actors after each update.

Separate placement (``rollout.colocate: false``): learner 0 broadcasts its weights to the rollout actors
over a torch.distributed group of their own (``rl.engine.weight_sync``), in the rollout model's
state-dict names (with LoRA, the adapter only). ``Learner.get_weights`` is the object-store fallback.
A mixin of ``rl.engine.actors.LearnerActor``: the ``Learner`` itself stays a trainer.
"""
from __future__ import annotations

import torch

from rl.engine.weight_sync import Endpoint, TensorSpec, WeightChannel, endpoint


class WeightExport:
    """Needs the host's ``weight_chunks`` and ``rank`` (a ``Learner``'s)."""

    def weight_tensors(self) -> dict[str, torch.Tensor]:
        """What weight sync sends, by the rollout model's state-dict names, where they live (no copy; with
        LoRA only the adapter; fsdp: gathered, a collective)."""
        return {k: v for chunk in self.weight_chunks() for k, v in chunk.items()}

    def weight_endpoint(self) -> Endpoint:
        return endpoint(self.weight_tensors())

    def join_weight_sync(self, host: str, port: int, *, world_size: int, backend: str, plan: tuple[TensorSpec, ...],
                         timeout_s: float) -> None:
        """Learner 0: rank 0 of the weight-sync group (returns once every rollout actor has joined)."""
        self.weight_channel = WeightChannel(host, port, rank=0, world_size=world_size, backend=backend, plan=plan,
                                            timeout_s=timeout_s)

    def send_weights(self, version: int) -> int:
        """Learner 0 broadcasts; under fsdp every learner calls this, to gather the shards with it."""
        tensors = self.weight_tensors()
        if self.rank == 0:
            self.weight_channel.send(tensors, version)
        return version
