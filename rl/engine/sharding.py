"""FSDP2 for learners (``learner.strategy: fsdp``): parameters, gradients and Adam state sharded over learners.

    join_group(cfg, device, rank, world_size, addr, port)     # the learners' process group (also for one learner)
    shard(policy, lm, cfg, device, compute_dtype)              # each decoder layer one unit, the rest the root
    clip_grad_norm(params, max_norm, device)                   # the global norm, from the shards
    for bucket in full_buckets(state, bucket_bytes, device):   # full tensors, a bucket at a time
    save_optimizer(policy, optimizer, dir) / load_optimizer(...)  # torch.distributed.checkpoint: a file per rank

Everything here that gathers or reduces is a collective: every learner calls it, in the same order,
or all of them wait (and fail after the group's timeout). A learner's forward all-gathers each layer
and its backward reduce-scatters the gradients, so every learner must also make the same number of
forward and backward passes per step (``passes``).

Why the layout: each decoder layer is its own unit, so one layer's full weights exist at a time
(the others are shards); the root unit holds embeddings, final norm and LM head (tied weights stay
together). Gradients are summed, not averaged, over learners: each learner's loss is already
normalised by the whole batch's counts (``rl.engine.learner``), exactly as in the ddp all-reduce.
Mixed precision is FSDP's own (``MixedPrecisionPolicy``): bf16 copies of the parameters for compute,
fp32 gradient reduction and fp32 sharded master weights for Adam, so no autocast around it.
``offload_optimizer`` is FSDP's ``CPUOffloadPolicy``: the sharded fp32 parameters, their gradients and
Adam's moments (16 bytes per parameter, over the learners) live in CPU memory and Adam steps there;
the GPU holds the layers being computed, in bf16, and the activations.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor

from rl.config import LearnerConfig

GROUP_TIMEOUT = timedelta(seconds=120)  # a dead peer fails the step loudly instead of hanging it


def join_group(cfg: LearnerConfig, device: torch.device, rank: int, world_size: int, addr: str | None, port: int | None) -> None:
    """The default process group of the learners: over TCP at ``addr:port``, or, for one learner alone
    (FSDP still needs a group), an in-process store. A process that already has one keeps it."""
    if dist.is_initialized():
        if dist.get_world_size() != world_size:
            raise RuntimeError(f"this process is already in a group of {dist.get_world_size()}, not {world_size}")
        return
    backend = cfg.backend if cfg.backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
    if world_size == 1 and addr is None:
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1, timeout=GROUP_TIMEOUT)
        return
    dist.init_process_group(backend, init_method=f"tcp://{addr}:{port}", rank=rank, world_size=world_size, timeout=GROUP_TIMEOUT)


def decoder_layers(lm: Any) -> Sequence[torch.nn.Module]:
    layers = getattr(lm.get_decoder(), "layers", None)
    if layers is None:
        raise ValueError(f"{type(lm).__name__}: no decoder.layers to shard one by one (FSDP needs them)")
    return layers


def shard(policy: torch.nn.Module, lm: Any, cfg: LearnerConfig, device: torch.device, compute_dtype: torch.dtype | None) -> None:
    """``fully_shard`` each decoder layer of ``lm`` and then ``policy`` (the root: the module whose forward
    the learner calls, which holds ``lm``), in place, over all learners."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    options = dict(
        mesh=mesh,
        mp_policy=MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=torch.float32),
        offload_policy=CPUOffloadPolicy(pin_memory=device.type == "cuda") if cfg.offload_optimizer else OffloadPolicy(),
    )
    for layer in decoder_layers(lm):
        fully_shard(layer, **options)
    fully_shard(policy, **options)
    for module in policy.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)  # sum over learners: the losses are already normalised globally
            module.set_force_sum_reduction_for_comms(True)  # a plain SUM: gloo has no pre-multiplied sum


def passes(count: int, device: torch.device) -> int:
    """The most micro-batches any learner has this step: each must make that many passes."""
    most = torch.tensor([count], device=device)
    dist.all_reduce(most, op=dist.ReduceOp.MAX)
    return int(most.item())


def clip_grad_norm(params: Sequence[torch.Tensor], max_norm: float, device: torch.device) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` over sharded gradients: the shards are disjoint, so their squared
    sums add up over learners to the full gradient's. Computed on the local shards (wherever they live,
    offloaded ones too) with one all-reduce."""
    local = [p.grad.to_local() if isinstance(p.grad, DTensor) else p.grad for p in params if p.grad is not None]
    squares = torch.zeros((), device=device, dtype=torch.float32)
    for grad in local:
        squares += grad.detach().float().pow(2).sum().to(device)
    dist.all_reduce(squares)
    norm = squares.sqrt()
    scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)  # the same coefficient as torch's
    for grad in local:
        grad.mul_(scale.to(grad.device, grad.dtype))
    return norm


def full_tensor(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The whole tensor: an all-gather of the shards on ``device`` (offloaded shards travel through it); for
    one learner the local tensor, whole already and left where it lives (no copy)."""
    if not isinstance(tensor, DTensor):
        return tensor
    if tensor.device_mesh.size() == 1:
        return tensor.to_local()
    if tensor.device.type != device.type:
        tensor = DTensor.from_local(tensor.to_local().to(device), tensor.device_mesh, tensor.placements,
                                    shape=tensor.shape, stride=tensor.stride())
    return tensor.full_tensor()


def full_buckets(state: Mapping[str, torch.Tensor], bucket_bytes: int, device: torch.device) -> Iterator[dict[str, torch.Tensor]]:
    """``state``'s tensors whole, in buckets of about ``bucket_bytes``, gathered one tensor at a time:
    the extra memory is one bucket, never a second model. A collective: every learner iterates it."""
    bucket: dict[str, torch.Tensor] = {}
    size = 0
    for name, tensor in state.items():
        whole = full_tensor(tensor.detach(), device)
        bucket[name] = whole
        size += whole.numel() * whole.element_size()
        if size >= bucket_bytes:
            yield bucket
            bucket, size = {}, 0
    if bucket:
        yield bucket


def save_optimizer(policy: torch.nn.Module, optimizer: torch.optim.Optimizer, path: Path) -> None:
    """Each learner writes its shard of the optimizer state (torch.distributed.checkpoint; loadable on
    another number of learners)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    dcp.save({"optimizer": get_optimizer_state_dict(policy, optimizer)}, checkpoint_id=str(path))


def load_optimizer(policy: torch.nn.Module, optimizer: torch.optim.Optimizer, path: Path) -> None:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

    state = {"optimizer": get_optimizer_state_dict(policy, optimizer)}
    dcp.load(state, checkpoint_id=str(path))
    set_optimizer_state_dict(policy, optimizer, state["optimizer"])
