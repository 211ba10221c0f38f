"""A learner's checkpoint: what a directory holds, and how the learners write and read it.

    OUT/checkpoints/step_000050/
      config.json, model.safetensors           full fine-tuning: Hugging Face from_pretrained loads it
      adapter_config.json, adapter_model.safetensors   LoRA: peft's adapter, whose config names its base
      tokenizer files
      optimizer/                                fsdp: each learner's shard of Adam's state (torch.distributed.checkpoint)
      trainer_state.pt                          Adam's state (ddp), RNG, the loop's state; written last,
                                                so its presence marks a complete checkpoint

Under fsdp every learner calls ``save_checkpoint``: the weights are gathered to rank 0, one tensor at a
time, and each learner writes its optimizer shard. Under ddp rank 0 alone writes. The directory must be
one that every learner can reach (one machine, or a shared filesystem).
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from rl.engine import lora as adapters
from rl.engine import sharding

TRAINER_STATE = "trainer_state.pt"
OPTIMIZER_SHARDS = "optimizer"
GATHER_BYTES = 64 << 20  # a bucket of whole tensors at a time on their way to rank 0's CPU


def save_checkpoint(learner: Any, path: str | Path, extra: dict[str, Any]) -> None:
    """``learner``'s weights (or adapter), tokenizer, optimizer and RNG state, and ``extra`` (the loop's state)."""
    if learner.rank != 0 and not learner.sharded:
        return
    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    gathered = None  # ddp: the model's own tensors are whole
    if learner.sharded:
        state = adapters.trained_state(learner.model)
        gathered = {k: v.to("cpu", copy=True) for chunk in sharding.full_buckets(state, GATHER_BYTES, learner.device)
                    for k, v in chunk.items() if learner.rank == 0}
        sharding.save_optimizer(learner.policy, learner.optimizer, target / OPTIMIZER_SHARDS)
        dist.barrier()  # every shard is on disk before rank 0 marks the checkpoint complete
        if learner.rank != 0:
            return
    if learner.lora is not None:
        adapters.save_adapter(learner.model, target, base=learner.base_path, state=gathered)
    else:
        learner.model.save_pretrained(target, state_dict=gathered)
    learner.tokenizer.save_pretrained(target)
    state = {
        "optimizer": None if learner.sharded else learner.optimizer.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        "extra": extra,
    }
    torch.save(state, target / f".{TRAINER_STATE}.tmp")
    os.replace(target / f".{TRAINER_STATE}.tmp", target / TRAINER_STATE)


def load_checkpoint_state(learner: Any, path: str | Path) -> dict[str, Any]:
    """Optimizer and RNG state into ``learner`` (whose weights came from ``path`` already); the loop's state."""
    state = torch.load(Path(path) / TRAINER_STATE, weights_only=False)
    if learner.sharded:
        sharding.load_optimizer(learner.policy, learner.optimizer, Path(path) / OPTIMIZER_SHARDS)
    else:
        learner.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    np.random.set_state(state["rng"]["numpy"])
    random.setstate(state["rng"]["python"])
    return state["extra"]
