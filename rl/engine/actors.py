"""Ray plumbing: place rollout and learner actors, fan calls out, sync weights.

Actors are thin: ``RolloutActor`` and ``LearnerActor`` are the plain ``RolloutWorker`` and
``Learner`` (which tests drive without Ray) made remote, so every call is a real method:
``actor.generate.remote(...)``, ``learner.grpo_step.remote(...)``. ``Cluster`` fires a call
at every actor first and collects with one ``ray.get`` under a deadline; a dead or stuck
actor raises ``ActorFailure`` naming it, never a hang.

Placement is by Ray resources, so one YAML runs on a laptop or a cluster: each
rollout actor asks for ``rollout.num_cpus``/``num_gpus`` plus custom
``rollout.resources``; the learners share a placement group of one bundle each
(``learner.placement`` PACK or SPREAD).
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from rl.config import ExperimentConfig
from rl.data.records import PreferencePair, Prompt, RolloutGroup, TrainSequence
from rl.engine.learner import Learner
from rl.engine.rollout import RolloutWorker


class ActorFailure(RuntimeError):
    pass


class _Located:
    def node_id(self) -> str:
        """The Ray node this actor runs on (recorded in summary.json: where did what run)."""
        return ray.get_runtime_context().get_node_id()


class RolloutActor(RolloutWorker, _Located):
    """A ``RolloutWorker`` in its own Ray actor."""


class LearnerActor(Learner, _Located):
    """A ``Learner`` in its own Ray actor."""


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
        raise ActorFailure(f"{what}: an actor died ({', '.join(names)}): {exc}") from exc
    except RayTaskError as exc:
        raise ActorFailure(f"{what} failed: {exc}") from exc


class Cluster:
    """The rollout actors and learner actors of one run."""

    def __init__(self, config: ExperimentConfig, model_path: str, *, with_learners: bool = True):
        """``with_learners=False``: rollout actors only, for evaluation (no optimizer, no second weight copy)."""
        self.cfg = config
        self.timeout_s = config.run.actor_timeout_s
        r, lc = config.rollout, config.learner
        self.rollouts = [
            RemoteRollout.options(num_cpus=r.num_cpus, num_gpus=r.num_gpus, resources=dict(r.resources) or None).remote(
                model_path, config.data, r, device=r.device, threads=max(1, int(r.num_cpus)), dtype=r.dtype)
            for _ in range(r.num_actors)
        ]
        self.rollout_names = [f"rollout actor {i}" for i in range(r.num_actors)]
        self.version = 0
        self.group, self.learners, self.learner_names = None, [], []
        ready = [a.ping.remote() for a in self.rollouts]
        if with_learners:
            bundle = {"CPU": lc.num_cpus, **({"GPU": lc.num_gpus} if lc.num_gpus else {}), **dict(lc.resources)}
            self.group = placement_group([bundle] * lc.num_learners, strategy=lc.placement)
            gather([self.group.ready()], ["learner placement group"], "placing learners", self.timeout_s)
            in_bundle = [PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=i) for i in range(lc.num_learners)]
            ip, port = gather([_rendezvous_address.options(scheduling_strategy=in_bundle[0]).remote()],
                              ["learner 0's node"], "learner address", self.timeout_s)[0]
            self.learners = [
                RemoteLearner.options(num_cpus=lc.num_cpus, num_gpus=lc.num_gpus, scheduling_strategy=in_bundle[i]).remote(
                    model_path, lc, config.algorithm, temperature=r.temperature, rank=i, world_size=lc.num_learners,
                    master_addr=ip, master_port=port, threads=max(1, int(lc.num_cpus)))
                for i in range(lc.num_learners)
            ]
            self.learner_names = [f"learner {i}" for i in range(lc.num_learners)]
            ready += [a.ping.remote() for a in self.learners]
        gather(ready, self.rollout_names + self.learner_names, "starting actors", self.timeout_s)

    def placement(self) -> dict[str, list[str]]:
        """Ray node id of every actor (recorded in summary.json: where did what run)."""
        refs = [a.node_id.remote() for a in self.rollouts + self.learners]
        nodes = gather(refs, self.rollout_names + self.learner_names, "placement", self.timeout_s)
        return {"rollout": nodes[: len(self.rollouts)], "learners": nodes[len(self.rollouts):]}

    # ---------------------------------------------------------------- rollouts
    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None) -> list[RolloutGroup]:
        """One group of ``num_samples`` rollouts per prompt, in prompt order; prompts split evenly across actors."""
        shards = _split(list(prompts), len(self.rollouts))
        busy = [(a, name, shard) for a, name, shard in zip(self.rollouts, self.rollout_names, shards) if shard]
        refs = [a.generate.remote(shard, num_samples, temperature=temperature, seed=seed + i, enable_thinking=enable_thinking)
                for i, (a, _, shard) in enumerate(busy)]
        return [group for part in gather(refs, [n for _, n, _ in busy], "generation", self.timeout_s) for group in part]

    def sync_weights(self, version: int) -> None:
        """Learner 0's weights to every rollout actor, through the object store (no driver copy)."""
        weights = self.learners[0].get_weights.remote()
        refs = [a.set_weights.remote(weights, version) for a in self.rollouts]
        gather(refs, self.rollout_names, f"weight sync to version {version}", self.timeout_s)
        self.version = version

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
        results = gather(refs, self.learner_names, what, self.timeout_s)
        return {k: sum(r.get(k, 0.0) for r in results) / (1 if k == "loss" else len(results)) for k in results[0]}

    def start_phase(self, lr: float) -> None:
        gather([a.start_phase.remote(lr) for a in self.learners], self.learner_names, "start_phase", self.timeout_s)

    def ensure_reference(self) -> None:
        gather([a.ensure_reference.remote() for a in self.learners], self.learner_names, "ensure_reference", self.timeout_s)

    def load_trainer_state(self, path: str) -> dict[str, Any]:
        """Optimizer and RNG state on every learner; the loop state saved with it (learner 0's)."""
        refs = [a.load_trainer_state.remote(path) for a in self.learners]
        return gather(refs, self.learner_names, "load_trainer_state", self.timeout_s)[0]

    def save(self, path: str, extra: dict[str, Any]) -> None:
        gather([self.learners[0].save.remote(path, extra)], self.learner_names[:1], "checkpoint", self.timeout_s)

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
