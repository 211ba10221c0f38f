"""Ray plumbing: place rollout and learner actors, fan calls out, sync weights.

Actors are thin: ``RolloutActor`` holds the configured rollout backend (``rollout.backend``, a
``RolloutWorker``) and ``LearnerActor`` is the plain ``Learner`` (both of which tests drive
without Ray) made remote, so every call is a real method: ``actor.generate.remote(...)``,
``learner.grpo_step.remote(...)``. ``Cluster`` fires a call at every actor first and collects
with one ``ray.get`` under a deadline; a dead or stuck actor raises ``ActorFailure`` naming it,
never a hang.

A rollout actor whose process is gone (``ActorLost``, ``rl.engine.recovery``) is replaced by a fresh
one, which gets learner 0's current weights (its version checked), and the call that failed runs
again: the same prompts and seed, so a retried generation is the one that would have run. A
collective weight-sync group is formed anew for it (every member joins a new group; the old one
is dropped), so the transport never changes mid-run. A lost learner is ``LearnerLost``: the loop
restarts the whole learner group from the newest checkpoint (``restart_learners``). Both spend
``run.max_actor_restarts``; past it, the loss stops the run as any ``ActorFailure`` does.

Placement is by Ray resources, so one YAML runs on a laptop or a cluster: each
rollout actor asks for ``rollout.num_cpus``/``num_gpus`` plus custom
``rollout.resources``; the learners share a placement group of one bundle each
(``learner.placement`` PACK or SPREAD).

Where rollouts come from (``rollout.colocate``; None: colocated when learners have GPUs):

* colocated: there are no rollout actors; each learner samples its shard of the prompts from
  its own, just-updated module (``Learner.generate``), and ``sync_weights`` only bumps the
  version. What verl and OpenRLHF call the hybrid engine: no weight transfer at all, and one GPU
  can hold it all.
* separate: rollout actors hold their own copy, and after each update learner 0 broadcasts its
  weights to them over a process group of their own (``rl.engine.weight_sync``), or, as a
  fallback (``rollout.weight_sync: object_store``), sends them through Ray's object store.

Evaluation-only clusters (``with_learners=False``) always have rollout actors.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from rl.config import DataConfig, ExperimentConfig, LoRAConfig, RolloutConfig
from rl.data.records import PreferencePair, Prompt, RolloutGroup, TrainSequence
from rl.engine.colocated import ColocatedSampling
from rl.engine.learner import Learner
from rl.engine.lora import trained_state
from rl.engine.recovery import ActorFailure, ActorLost, LearnerLost, RestartBudget, lost_actors
from rl.engine.thinking_budget import ThinkingBudget
from rl.engine.weight_export import WeightExport
from rl.engine.weight_sync import Endpoint, TensorSpec, WeightChannel, endpoint, transport
from rl.registries import ROLLOUT_BACKENDS

__all__ = ["ActorFailure", "ActorLost", "Cluster", "LearnerLost", "gather"]


class _Located:
    def node_id(self) -> str:
        """The Ray node this actor runs on (recorded in summary.json: where did what run)."""
        return ray.get_runtime_context().get_node_id()


class RolloutActor(_Located):
    """The configured rollout backend in its own Ray actor, and its end of the weight sync."""

    def __init__(self, model_path: str, data: DataConfig, rollout: RolloutConfig, *, device: str, threads: int, dtype: str,
                 lora: LoRAConfig | None = None):
        backend = ROLLOUT_BACKENDS.get(rollout.backend)
        adapter = {"lora": lora} if lora is not None and lora.enabled else {}  # model.lora: the rollout holds the adapter too
        self.worker = backend(model_path, data, rollout, device=device, threads=threads, dtype=dtype, **adapter)

    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None, thinking_budget: ThinkingBudget | None = None) -> list[RolloutGroup]:
        return self.worker.generate(prompts, num_samples, temperature=temperature, seed=seed, enable_thinking=enable_thinking,
                                    thinking_budget=thinking_budget)

    def set_weights(self, state_dict: dict[str, Any], version: int) -> int:
        return self.worker.set_weights(state_dict, version)

    def weight_endpoint(self) -> Endpoint:
        return endpoint(trained_state(self.worker.model))  # with LoRA, only the adapter travels

    def join_weight_sync(self, host: str, port: int, *, rank: int, world_size: int, backend: str,
                         plan: tuple[TensorSpec, ...], timeout_s: float) -> None:
        self.weight_channel = WeightChannel(host, port, rank=rank, world_size=world_size, backend=backend, plan=plan,
                                            timeout_s=timeout_s)

    def receive_weights(self, version: int) -> int:
        self.weight_channel.receive(version, self.worker.load_weights)
        self.worker.version = version
        return version

    def ping(self) -> int:
        return self.worker.version


class LearnerActor(Learner, ColocatedSampling, WeightExport, _Located):
    """A ``Learner`` in its own Ray actor: the trainer, plus sampling from its own module (colocated
    placement) and sending its weights to rollout actors (separate placement)."""


RemoteRollout = ray.remote(RolloutActor)
RemoteLearner = ray.remote(LearnerActor)


@ray.remote(num_cpus=0)
def _rendezvous_address() -> tuple[str, int]:
    """(ip, a free port) on the node where it runs: where learner 0 listens for torch.distributed."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        port = sock.getsockname()[1]
    return ray.util.get_node_ip_address(), port


def gather(refs: Sequence[Any], names: Sequence[str], what: str, timeout_s: float) -> list[Any]:
    """``ray.get`` all refs at once under one deadline; failures name the actor and the call."""
    try:
        return ray.get(list(refs), timeout=timeout_s)
    except GetTimeoutError:
        raise ActorFailure(f"{what}: no answer within {timeout_s:g}s from {', '.join(names)}") from None
    except RayActorError as exc:
        raise ActorLost(f"{what}: an actor died ({', '.join(names)}): {exc}") from exc
    except RayTaskError as exc:
        raise ActorFailure(f"{what} failed: {exc}") from exc


def colocated(config: ExperimentConfig) -> bool:
    """Whether learners generate their own rollouts: ``rollout.colocate``, or when unset, whether learners
    have GPUs (there, a second copy of the model and its transfer cost more than they save)."""
    if config.rollout.colocate is not None:
        return config.rollout.colocate
    return config.learner.num_gpus > 0 and config.learner.strategy == "ddp"  # an FSDP shard cannot sample alone


class Cluster:
    """The rollout actors (none when colocated) and learner actors of one run."""

    def __init__(self, config: ExperimentConfig, model_path: str, *, with_learners: bool = True):
        """``with_learners=False``: rollout actors only, for evaluation (no optimizer, no second weight copy)."""
        self.cfg = config
        self.timeout_s = config.run.actor_timeout_s
        self.version = 0
        self.restarts = RestartBudget(config.run.max_actor_restarts)
        self.model_path = model_path  # what a restarted rollout actor loads before it gets the current weights
        self.colocated = with_learners and colocated(config)
        self.rollouts = [] if self.colocated else [self._new_rollout() for _ in range(config.rollout.num_actors)]
        self.rollout_names = [f"rollout actor {i}" for i in range(len(self.rollouts))]
        self.group, self.learners, self.learner_names = None, [], []
        ready = [a.ping.remote() for a in self.rollouts]
        if with_learners:
            ready += self._start_learners(model_path)
        gather(ready, self.rollout_names + self.learner_names, "starting actors", self.timeout_s)
        self.weight_sync = "none"  # how sync_weights moves weights: colocated, nccl, gloo, object_store
        if with_learners:
            self._connect()

    def _new_rollout(self):
        r = self.cfg.rollout
        return RemoteRollout.options(num_cpus=r.num_cpus, num_gpus=r.num_gpus, resources=dict(r.resources) or None).remote(
            self.model_path, self.cfg.data, r, device=r.device, threads=max(1, int(r.num_cpus)), dtype=r.dtype,
            lora=self.cfg.model.lora)

    def _connect(self) -> None:
        """Colocated: each learner's sampler; separate: the weight sync from learner 0 to the rollout actors."""
        if not self.colocated:
            self._connect_weight_sync()
            return
        refs = [a.attach_sampler.remote(self.cfg.data, self.cfg.rollout) for a in self.learners]
        self._learners_answer(refs, "colocated samplers")
        self.weight_sync = "colocated"
        print(f"placement: colocated, {len(self.learners)} learner(s) generate their own rollouts; no weight transfer")

    def _start_learners(self, model_path: str) -> list:
        lc, r = self.cfg.learner, self.cfg.rollout
        bundle = {"CPU": lc.num_cpus, **({"GPU": lc.num_gpus} if lc.num_gpus else {}), **dict(lc.resources)}
        self.group = placement_group([bundle] * lc.num_learners, strategy=lc.placement)
        gather([self.group.ready()], ["learner placement group"], "placing learners", self.timeout_s)
        in_bundle = [PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=i) for i in range(lc.num_learners)]
        ip, port = self._free_address_on_learner_0()
        self.learners = [
            RemoteLearner.options(num_cpus=lc.num_cpus, num_gpus=lc.num_gpus, scheduling_strategy=in_bundle[i]).remote(
                model_path, lc, self.cfg.algorithm, temperature=r.temperature, rank=i, world_size=lc.num_learners,
                master_addr=ip, master_port=port, threads=max(1, int(lc.num_cpus)), lora=self.cfg.model.lora)
            for i in range(lc.num_learners)
        ]
        self.learner_names = [f"learner {i}" for i in range(lc.num_learners)]
        return [a.ping.remote() for a in self.learners]

    def _free_address_on_learner_0(self) -> tuple[str, int]:
        strategy = PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=0)
        return gather([_rendezvous_address.options(scheduling_strategy=strategy).remote()],
                      ["learner 0's node"], "learner address", self.timeout_s)[0]

    def _connect_weight_sync(self) -> None:
        """Choose the transport once, say which, and for a collective one form the group (learner 0 = rank 0)."""
        exporters = self._exporters()
        names = self.learner_names[: len(exporters)] + self.rollout_names
        ends = gather([a.weight_endpoint.remote() for a in exporters] + [a.weight_endpoint.remote() for a in self.rollouts],
                      names, "weight sync endpoints", self.timeout_s)
        self.weight_sync, why = transport(self.cfg.rollout.weight_sync, ends[0], ends[len(exporters):])
        if self.weight_sync == "object_store":
            print(f"weight sync: object store (the fallback; every step pickles the whole model through Ray): {why}")
            return
        plan, ip, port = ends[len(exporters)].tensors, *self._free_address_on_learner_0()
        world = 1 + len(self.rollouts)
        join = dict(world_size=world, backend=self.weight_sync, plan=plan, timeout_s=self.timeout_s)
        refs = [self.learners[0].join_weight_sync.remote(ip, port, **join)]
        refs += [a.join_weight_sync.remote(ip, port, rank=i + 1, **join) for i, a in enumerate(self.rollouts)]
        gather(refs, self.learner_names[:1] + self.rollout_names, "forming the weight-sync group", self.timeout_s)
        print(f"weight sync: collective ({self.weight_sync} broadcast from learner 0 to {len(self.rollouts)} rollout actor(s); {why})")

    def _exporters(self) -> list:
        """The learners that take part when learner 0 exports its weights: under fsdp all of them (gathering
        the shards is a collective every learner must join), else learner 0 alone."""
        return self.learners if self.cfg.learner.strategy == "fsdp" else self.learners[:1]

    def placement(self) -> dict[str, list[str]]:
        """Ray node id of every actor (recorded in summary.json: where did what run). Colocated, the
        rollouts are generated where the learners are."""
        refs = [a.node_id.remote() for a in self.rollouts + self.learners]
        nodes = gather(refs, self.rollout_names + self.learner_names, "placement", self.timeout_s)
        learners = nodes[len(self.rollouts):]
        return {"rollout": learners if self.colocated else nodes[: len(self.rollouts)], "learners": learners}

    # ---------------------------------------------------------------- rollouts
    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None, thinking_budget: ThinkingBudget | None = None) -> list[RolloutGroup]:
        """One group of ``num_samples`` rollouts per prompt, in prompt order; prompts split evenly across the
        samplers (the learners when colocated, else the rollout actors), shard ``i`` seeded ``seed + i``."""
        def attempt() -> list[RolloutGroup]:
            samplers, names = (self.learners, self.learner_names) if self.colocated else (self.rollouts, self.rollout_names)
            # A colocated learner's weights are always the newest; it is told which version that is.
            version = {"version": self.version} if self.colocated else {}
            shards = _split(list(prompts), len(samplers))
            busy = [(a, name, shard) for a, name, shard in zip(samplers, names, shards) if shard]
            refs = [a.generate.remote(shard, num_samples, temperature=temperature, seed=seed + i,
                                      enable_thinking=enable_thinking, thinking_budget=thinking_budget, **version)
                    for i, (a, _, shard) in enumerate(busy)]
            return [group for part in gather(refs, [n for _, n, _ in busy], "generation", self.timeout_s) for group in part]

        return self._mending_rollouts(attempt, resend_weights=True)

    def sync_weights(self, version: int) -> None:
        """Learner 0's weights to every rollout actor, tagged ``version``; colocated, only the version changes."""
        self._mending_rollouts(lambda: self._send_weights(version), resend_weights=False)
        self.version = version

    def _send_weights(self, version: int) -> None:
        exporters = self._exporters()
        names = self.learner_names[: len(exporters)] + self.rollout_names
        if self.weight_sync in ("nccl", "gloo"):
            refs = [a.send_weights.remote(version) for a in exporters] + [a.receive_weights.remote(version) for a in self.rollouts]
            gather(refs, names, f"weight sync to version {version}", self.timeout_s)
        elif self.weight_sync == "object_store":
            weights = self.learners[0].get_weights.remote()  # one copy in the object store, no driver copy
            refs = [a.send_weights.remote(version) for a in exporters[1:]]  # fsdp: the others join the gather, send nothing
            refs += [a.set_weights.remote(weights, version) for a in self.rollouts]
            gather(refs, names[1:], f"weight sync to version {version}", self.timeout_s)

    # ---------------------------------------------------------------- lost actors
    def _mending_rollouts(self, call: Callable[[], Any], *, resend_weights: bool) -> Any:
        """``call()``; while it fails because a rollout actor's process is gone, a fresh actor in its place
        (given the current weights when ``resend_weights``; a retried sync sends them itself) and ``call()``
        again. A lost learner is ``LearnerLost``, for the loop to mend from a checkpoint."""
        while True:
            try:
                return call()
            except ActorLost as exc:
                if self.learners and lost_actors(self.learners, self.timeout_s):
                    raise LearnerLost(str(exc)) from exc
                lost = lost_actors(self.rollouts, self.timeout_s)
                if not lost:
                    raise
                self._restart_rollouts(lost, exc, resend_weights)

    def _restart_rollouts(self, lost: list[int], cause: ActorLost, resend_weights: bool) -> None:
        """Fresh actors for ``lost``; a new weight-sync group for all (a collective group cannot take in a
        new member); then learner 0's current weights, version checked."""
        self.restarts.spend(", ".join(self.rollout_names[i] for i in lost), cause)
        for i in lost:
            ray.kill(self.rollouts[i])  # gone already; this frees its resources at once
            self.rollouts[i] = self._new_rollout()
        gather([a.ping.remote() for a in self.rollouts], self.rollout_names, "restarting rollout actors", self.timeout_s)
        if not self.learners:
            return  # evaluation only: the fresh actor loaded the very weights the others hold
        self._connect_weight_sync()
        if not resend_weights:
            return
        self._send_weights(self.version)
        held = gather([a.ping.remote() for a in self.rollouts], self.rollout_names, "weight versions", self.timeout_s)
        if any(v != self.version for v in held):
            raise ActorFailure(f"after restarting {', '.join(self.rollout_names[i] for i in lost)}: rollout actors hold "
                               f"weight versions {held}, expected {self.version} everywhere")

    def restart_learners(self, checkpoint: str, *, lr: float, version: int, cause: ActorFailure) -> dict[str, Any]:
        """The whole learner group anew from ``checkpoint`` (weights, optimizer, RNG: what --resume loads), its
        weights sent to the rollout actors as ``version``; returns the loop's state saved with the checkpoint."""
        self.restarts.spend(f"learner group ({len(self.learners)}) from {checkpoint}", cause)
        for actor in self.learners:
            ray.kill(actor)  # all of them: the survivors' gradient group has lost a member
        ray.util.remove_placement_group(self.group)
        self._learners_answer(self._start_learners(checkpoint), "restarting learners")
        self._connect()
        self.start_phase(lr)
        state = self.load_trainer_state(checkpoint)
        self.sync_weights(version)
        return state

    def _learners_answer(self, refs: list, what: str) -> list:
        """``gather`` for calls on the learners: a lost one is ``LearnerLost``."""
        try:
            return gather(refs, self.learner_names[: len(refs)], what, self.timeout_s)
        except LearnerLost:
            raise
        except ActorLost as exc:
            raise LearnerLost(str(exc)) from exc

    # ---------------------------------------------------------------- learners
    def sft_step(self, sequences: Sequence[TrainSequence], *, num_tokens: int, packing: bool = False) -> dict[str, float]:
        return self._update("sft step", sequences, lambda a, shard: a.sft_step.remote(shard, num_tokens, packing=packing))

    def grpo_step(self, sequences: Sequence[TrainSequence], *, num_tokens: int, num_seqs: int, max_len: int) -> dict[str, float]:
        return self._update("grpo step", sequences, lambda a, shard: a.grpo_step.remote(shard, num_tokens, num_seqs, max_len))

    def dpo_step(self, pairs: Sequence[PreferencePair], *, num_pairs: int, loss_type: str, beta: float,
                 label_smoothing: float = 0.0) -> dict[str, float]:
        return self._update("dpo step", pairs, lambda a, shard: a.dpo_step.remote(
            shard, num_pairs, loss_type=loss_type, beta=beta, label_smoothing=label_smoothing))

    def _update(self, what: str, items: Sequence, call: Callable[[Any, list], Any]) -> dict[str, float]:
        """One update across all learners, each on its shard. Each learner's ``loss`` is its share
        of the whole batch's loss (normalised by global counts), so losses add up; other metrics average."""
        refs = [call(a, shard) for a, shard in zip(self.learners, _split(list(items), len(self.learners)))]
        results = self._learners_answer(refs, what)
        return {k: sum(r.get(k, 0.0) for r in results) / (1 if k == "loss" else len(results)) for k in results[0]}

    def start_phase(self, lr: float) -> None:
        self._learners_answer([a.start_phase.remote(lr) for a in self.learners], "start_phase")

    def ensure_reference(self) -> None:
        self._learners_answer([a.ensure_reference.remote() for a in self.learners], "ensure_reference")

    def load_trainer_state(self, path: str) -> dict[str, Any]:
        """Optimizer and RNG state on every learner; the loop state saved with it (learner 0's)."""
        refs = [a.load_trainer_state.remote(path) for a in self.learners]
        return self._learners_answer(refs, "load_trainer_state")[0]

    def save(self, path: str, extra: dict[str, Any]) -> None:
        """Learner 0 writes the checkpoint; under fsdp every learner joins (gathering weights and writing its
        optimizer shard are collectives)."""
        savers = self._exporters()
        self._learners_answer([a.save.remote(path, extra) for a in savers], "checkpoint")


    def shutdown(self) -> None:
        for actor in self.rollouts + self.learners:
            ray.kill(actor)
        if self.group is not None:
            ray.util.remove_placement_group(self.group)


def _split(items: list, parts: int) -> list[list]:
    """Contiguous, near-equal shards (order kept, so results concatenate back in order)."""
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out
