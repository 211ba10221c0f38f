"""Ray plumbing: place rollout and learner actors, fan calls out, sync weights.

Actors are thin: ``ActorHost`` builds one plain object (a ``RolloutWorker`` or a
``Learner``) and forwards calls to it, so everything below Ray is testable without
it. Calls are fired at every actor first and collected with one ``ray.get`` under a
deadline; a dead or stuck actor raises ``ActorFailure`` naming it, never a hang.

Placement is by Ray resources, so one YAML runs on a laptop or a cluster: each
rollout actor asks for ``rollout.num_cpus``/``num_gpus`` plus custom
``rollout.resources``; the learners share a placement group of one bundle each
(``learner.placement`` PACK or SPREAD).
"""
from __future__ import annotations

import socket
from typing import Any, Sequence

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from rl.config import ExperimentConfig
from rl.learner import Learner
from rl.records import Prompt, Rollout, TrainSequence
from rl.rollout import RolloutWorker


class ActorFailure(RuntimeError):
    pass


class ActorHost:
    """Hosts one plain object inside a Ray actor."""

    def setup(self, factory, *args, **kwargs) -> None:
        self.obj = factory(*args, **kwargs)

    def call(self, method: str, *args, **kwargs) -> Any:
        return getattr(self.obj, method)(*args, **kwargs)

    def node_address(self) -> tuple[str, int, str]:
        """(ip, a free port, node id): where rank 0 listens for torch.distributed."""
        with socket.socket() as sock:
            sock.bind(("", 0))
            port = sock.getsockname()[1]
        return ray.util.get_node_ip_address(), port, ray.get_runtime_context().get_node_id()


RemoteHost = ray.remote(ActorHost)


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
            RemoteHost.options(num_cpus=r.num_cpus, num_gpus=r.num_gpus, resources=dict(r.resources) or None,
                               name=None).remote()
            for _ in range(r.num_actors)
        ]
        self.rollout_names = [f"rollout actor {i}" for i in range(r.num_actors)]
        self.version = 0
        self.group, self.learners, self.learner_names = None, [], []
        setups = [a.setup.remote(RolloutWorker, model_path, config.data, r, device=r.device, threads=max(1, int(r.num_cpus)),
                                  dtype=config.model.dtype)
                  for a in self.rollouts]
        if not with_learners:
            gather(setups, self.rollout_names, "starting actors", self.timeout_s)
            return
        bundle = {"CPU": lc.num_cpus, **({"GPU": lc.num_gpus} if lc.num_gpus else {}), **dict(lc.resources)}
        self.group = placement_group([bundle] * lc.num_learners, strategy=lc.placement)
        gather([self.group.ready()], ["learner placement group"], "placing learners", self.timeout_s)
        self.learners = [
            RemoteHost.options(
                num_cpus=lc.num_cpus, num_gpus=lc.num_gpus,
                scheduling_strategy=PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=i),
            ).remote()
            for i in range(lc.num_learners)
        ]
        self.learner_names = [f"learner {i}" for i in range(lc.num_learners)]
        ip, port, _ = gather([self.learners[0].node_address.remote()], self.learner_names[:1], "learner address", self.timeout_s)[0]
        setups += [
            a.setup.remote(Learner, model_path, lc, config.algorithm, temperature=r.temperature, rank=i,
                           world_size=lc.num_learners, master_addr=ip, master_port=port, threads=max(1, int(lc.num_cpus)),
                           compute_dtype=config.model.dtype)
            for i, a in enumerate(self.learners)
        ]
        gather(setups, self.rollout_names + self.learner_names, "starting actors", self.timeout_s)

    def placement(self) -> dict[str, list[str]]:
        """Ray node id of every actor (recorded in summary.json: where did what run)."""
        refs = [a.node_address.remote() for a in self.rollouts + self.learners]
        nodes = [address[2] for address in gather(refs, self.rollout_names + self.learner_names, "placement", self.timeout_s)]
        return {"rollout": nodes[: len(self.rollouts)], "learners": nodes[len(self.rollouts):]}

    # ---------------------------------------------------------------- rollouts
    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None) -> list[Rollout]:
        """Prompts split evenly across rollout actors; results in prompt order."""
        shards = _split(list(prompts), len(self.rollouts))
        refs = [a.call.remote("generate", shard, num_samples, temperature=temperature, seed=seed + i,
                              enable_thinking=enable_thinking)
                for i, (a, shard) in enumerate(zip(self.rollouts, shards)) if shard]
        names = [n for n, s in zip(self.rollout_names, shards) if s]
        return [r for part in gather(refs, names, "generation", self.timeout_s) for r in part]

    def sync_weights(self, version: int) -> None:
        """Learner 0's weights to every rollout actor, through the object store (no driver copy)."""
        weights = self.learners[0].call.remote("get_weights")
        refs = [a.call.remote("set_weights", weights, version) for a in self.rollouts]
        gather(refs, self.rollout_names, f"weight sync to version {version}", self.timeout_s)
        self.version = version

    # ---------------------------------------------------------------- learners
    def train(self, method: str, sequences: Sequence[TrainSequence], **counts) -> dict[str, float]:
        """One update across all learners, each on its shard. Each learner's ``loss`` is its share
        of the whole batch's loss (normalised by global counts), so losses add up; other metrics average."""
        shards = _split(list(sequences), len(self.learners))
        refs = [a.call.remote(method, shard, **counts) for a, shard in zip(self.learners, shards)]
        results = gather(refs, self.learner_names, method, self.timeout_s)
        return {k: sum(r.get(k, 0.0) for r in results) / (1 if k == "loss" else len(results)) for k in results[0]}

    def learners_call(self, method: str, *args, **kwargs) -> list[Any]:
        refs = [a.call.remote(method, *args, **kwargs) for a in self.learners]
        return gather(refs, self.learner_names, method, self.timeout_s)

    def save(self, path: str, extra: dict[str, Any]) -> None:
        gather([self.learners[0].call.remote("save", path, extra)], self.learner_names[:1], "checkpoint", self.timeout_s)

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
