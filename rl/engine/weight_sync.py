"""Weight sync for separate placement: learner 0's new weights to every rollout actor after an update.

    plan = check_plan(learner_endpoint, rollout_endpoints)    # the driver, once: what travels
    # then in each process, all at once (the constructor waits for every member):
    channel = WeightChannel(host, port, rank=0, world_size=1 + n, backend="gloo", plan=plan, timeout_s=120)
    channel.send(learner.weight_tensors(), version)            # learner 0
    channel.receive(version, worker.load_weights)              # rollout actor i, rank i + 1

Two transports, chosen once per cluster (``rollout.weight_sync``; ``rl.engine.actors`` prints which):

* collective (``auto``): learner 0 and the rollout actors form a torch.distributed group of their
  own (rank 0 = learner 0) and learner 0 broadcasts its tensors, cast to the rollout dtype and
  packed into flat buckets of ``BUCKET_BYTES``: NCCL when both sides hold their weights on GPUs,
  gloo otherwise. Nothing is pickled and nothing passes through the driver or Ray's object store;
  the extra memory on either side is one bucket.
* object store (the fallback): learner 0's state dict, copied to CPU, goes through Ray's object
  store to each actor. It pickles and copies the whole model every step: ~6 s of an 8.7 s step
  for a 0.5B model on one H200 (issue 14), which is why it is no longer the default.

The group is not torch.distributed's default group: a process has one of those, and learner 0's
is already the learners' gradient all-reduce group (``rl.engine.learner``). So this one is a
``ProcessGroupGloo``/``ProcessGroupNCCL`` backend object built on its own ``TCPStore`` and called
directly. One GPU cannot hold two NCCL ranks, so learners and rollout actors sharing a GPU cannot
use it (CUDA IPC handles would be the way; not implemented): ``transport`` refuses or falls back,
and points to ``rollout.colocate: true``, where learners sample themselves and nothing is synced.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

# Large enough that per-broadcast latency vanishes (a 0.5B model in bf16 is ~16 buckets), small
# enough that the one extra bucket each side holds is a rounding error next to the model.
BUCKET_BYTES = 64 << 20


class WeightSyncError(RuntimeError):
    pass


@dataclass(frozen=True)
class TensorSpec:
    name: str  # state-dict name in the rollout model
    shape: tuple[int, ...]
    dtype: str  # what travels: the rollout model's dtype, e.g. "bfloat16"

    @property
    def numel(self) -> int:
        n = 1
        for size in self.shape:
            n *= size
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * getattr(torch, self.dtype).itemsize


@dataclass(frozen=True)
class Endpoint:
    """One side of the sync as the driver sees it before connecting: where, on what, holding what."""

    node_id: str
    gpu_ids: tuple[str, ...]  # Ray's GPU ids for the actor: two NCCL ranks cannot share one
    device: str  # "cpu" or "cuda": where the weights live
    tensors: tuple[TensorSpec, ...]  # one per distinct storage, in state-dict order


def endpoint(state: Mapping[str, torch.Tensor]) -> Endpoint:
    """This Ray actor's ``Endpoint`` for the weights in ``state`` (a state dict)."""
    import ray

    context = ray.get_runtime_context()
    devices = {t.device.type for t in state.values()}
    return Endpoint(context.get_node_id(), tuple(context.get_accelerator_ids().get("GPU", ())),
                    "cuda" if devices == {"cuda"} else "cpu", tensor_specs(state))


def tensor_specs(state: Mapping[str, torch.Tensor]) -> tuple[TensorSpec, ...]:
    """One spec per distinct storage, in state-dict order. Tied weights (one storage under two names,
    as Qwen's embedding and output layer) are listed once: the copy into one name is the copy into both."""
    seen: set[tuple[int, tuple[int, ...]]] = set()
    specs = []
    for name, tensor in state.items():
        key = (tensor.data_ptr(), tuple(tensor.shape))
        if key not in seen:
            seen.add(key)
            specs.append(TensorSpec(name, tuple(tensor.shape), str(tensor.dtype).removeprefix("torch.")))
    return tuple(specs)


def transport(mode: str, learner: Endpoint, rollouts: Sequence[Endpoint]) -> tuple[str, str]:
    """(``"nccl"``, ``"gloo"`` or ``"object_store"``, why) for ``rollout.weight_sync`` = ``mode``.

    Where the collective cannot work — learner 0's tensors are not the rollout model's by name and
    shape (the broadcast would pour bytes into the wrong tensors; ``Learner.get_weights``, which the
    object store carries, may still convert them), or two ranks would share a GPU — ``auto`` falls
    back to the object store and says why, and ``collective`` refuses.
    """
    if mode == "object_store":
        return "object_store", "rollout.weight_sync=object_store"
    try:
        plan = check_plan(learner, rollouts)
    except WeightSyncError as exc:
        if mode == "collective":
            raise WeightSyncError(f"rollout.weight_sync=collective: {exc}") from None
        return "object_store", f"learner 0's tensors do not match the rollout model's ({exc})"
    if learner.device == "cuda" and all(r.device == "cuda" for r in rollouts):
        shared = _shared_gpus([learner, *rollouts])
        if not shared:
            return "nccl", f"{len(plan)} tensors, learner 0 and the rollout actors on their own GPUs"
        why = (f"GPU {', '.join(shared)} holds both learner 0 and a rollout actor (or two rollout actors), and one GPU "
               "cannot hold two NCCL ranks (CUDA IPC is not implemented). Set rollout.colocate: true: the learners "
               "then generate from their own weights and nothing is transferred")
        if mode == "collective":
            raise WeightSyncError(f"rollout.weight_sync=collective: {why}")
        return "object_store", why
    return "gloo", f"{len(plan)} tensors"


def check_plan(learner: Endpoint, rollouts: Sequence[Endpoint]) -> tuple[TensorSpec, ...]:
    """The rollout actors' tensors, which every rollout actor holds alike and learner 0 holds by the
    same names and shapes (in any dtype: it casts while packing)."""
    plan = rollouts[0].tensors
    for i, other in enumerate(rollouts[1:], start=1):
        if other.tensors != plan:
            raise WeightSyncError(f"rollout actor {i} holds other tensors than rollout actor 0: {_first_difference(plan, other.tensors)}")
    shapes = {spec.name: spec.shape for spec in learner.tensors}
    for spec in plan:
        if spec.name not in shapes:
            raise WeightSyncError(f"learner 0 has no tensor {spec.name!r}, which the rollout model has")
        if shapes[spec.name] != spec.shape:
            raise WeightSyncError(f"{spec.name}: learner 0 holds shape {shapes[spec.name]}, the rollout model {spec.shape}")
    return plan


def _first_difference(a: Sequence[TensorSpec], b: Sequence[TensorSpec]) -> str:
    for x, y in zip(a, b):
        if x != y:
            return f"{x} vs {y}"
    return f"{len(a)} vs {len(b)} tensors"


def _shared_gpus(endpoints: Sequence[Endpoint]) -> list[str]:
    owners: dict[tuple[str, str], int] = {}
    for e in endpoints:
        for gpu in e.gpu_ids:
            owners[(e.node_id, gpu)] = owners.get((e.node_id, gpu), 0) + 1
    return [gpu for (_, gpu), count in owners.items() if count > 1]


def buckets(plan: Sequence[TensorSpec], bucket_bytes: int = BUCKET_BYTES) -> list[tuple[TensorSpec, ...]]:
    """Consecutive tensors of one dtype, up to ``bucket_bytes`` per bucket (a larger tensor gets one of its own).
    Sender and receivers cut the same plan the same way, so a bucket's size is never sent."""
    out: list[tuple[TensorSpec, ...]] = []
    current: list[TensorSpec] = []
    size = 0
    for spec in plan:
        if current and (spec.dtype != current[0].dtype or size + spec.nbytes > bucket_bytes):
            out.append(tuple(current))
            current, size = [], 0
        current.append(spec)
        size += spec.nbytes
    if current:
        out.append(tuple(current))
    return out


class WeightChannel:
    """Learner 0 (rank 0, sends) and the rollout actors (ranks 1..n, receive): a process group apart
    from the default one, and the plan of what travels in which bucket.

    Every member constructs it at the same time (the constructor waits for all ``world_size`` of
    them); rank 0 hosts the ``TCPStore`` at ``host:port``.
    """

    def __init__(self, host: str, port: int, *, rank: int, world_size: int, backend: str, plan: Sequence[TensorSpec],
                 timeout_s: float, bucket_bytes: int = BUCKET_BYTES):
        timeout = timedelta(seconds=timeout_s)  # a dead member fails the sync instead of hanging it
        self.store = dist.TCPStore(host, port, world_size, is_master=rank == 0, timeout=timeout)
        if backend == "nccl":
            options = dist.ProcessGroupNCCL.Options()
            options._timeout = timeout
            self.group = dist.ProcessGroupNCCL(self.store, rank, world_size, options)
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.group = dist.ProcessGroupGloo(self.store, rank, world_size, timeout)
            self.device = torch.device("cpu")  # gloo stages through host memory anyway
        self.rank, self.backend = rank, backend
        self.buckets = buckets(plan, bucket_bytes)  # every member cuts the same plan alike: sizes are never sent

    @torch.no_grad()
    def send(self, tensors: Mapping[str, torch.Tensor], version: int) -> None:
        """Rank 0: ``tensors`` (learner 0's, in any dtype, on any device) to every receiver, bucket by bucket."""
        self._broadcast(torch.tensor([version], dtype=torch.int64, device=self.device))
        for bucket in self.buckets:
            flat = self._empty(bucket)
            offset = 0
            for spec in bucket:  # copy_ casts to the rollout dtype and moves to the group's device
                flat[offset : offset + spec.numel].copy_(tensors[spec.name].detach().reshape(-1))
                offset += spec.numel
            self._broadcast(flat)

    @torch.no_grad()
    def receive(self, version: int, load: Callable[[list[tuple[str, torch.Tensor]]], None]) -> None:
        """Ranks >= 1: each bucket as it arrives, handed to ``load`` (``RolloutWorker.load_weights``) as (name, view) pairs."""
        header = torch.zeros(1, dtype=torch.int64, device=self.device)
        self._broadcast(header)
        if int(header.item()) != version:  # a sync that failed half-way earlier would leave the streams misaligned
            raise WeightSyncError(f"rank {self.rank} expected weights of version {version}; learner 0 sent {int(header.item())}")
        for bucket in self.buckets:
            flat = self._empty(bucket)
            self._broadcast(flat)
            views, offset = [], 0
            for spec in bucket:
                views.append((spec.name, flat[offset : offset + spec.numel].view(spec.shape)))
                offset += spec.numel
            load(views)

    def _empty(self, bucket: Sequence[TensorSpec]) -> torch.Tensor:
        return torch.empty(sum(s.numel for s in bucket), dtype=getattr(torch, bucket[0].dtype), device=self.device)

    def _broadcast(self, tensor: torch.Tensor) -> None:
        """Rank 0's ``tensor`` into everyone's, in place."""
        options = dist.BroadcastOptions()
        options.rootRank = 0
        self.group.broadcast([tensor], options).wait()
