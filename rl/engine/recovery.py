"""What a lost actor costs a run: which actors are gone, and how many more restarts the run may spend.

A Ray actor whose process is gone (killed, out of memory, its node lost) fails every call with
``RayActorError``; ``rl.engine.actors.gather`` turns that into ``ActorLost``, which ``Cluster``
mends with a fresh actor (rollout actors) or the loop mends from the newest checkpoint (learners,
``LearnerLost``). A timeout or an exception inside an actor is not a loss: it stays an
``ActorFailure`` and stops the run, as a bug should. ``RestartBudget`` bounds the mending
(``run.max_actor_restarts`` for the whole run): a node that keeps killing actors stops the run.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError


class ActorFailure(RuntimeError):
    pass


class ActorLost(ActorFailure):
    """An actor's process is gone: what a restart can mend, unlike a timeout or a bug."""


class LearnerLost(ActorLost):
    """A learner's process is gone: the learner group restarts from the newest checkpoint."""


class RestartBudget:
    """``limit`` restarts for the whole run; each one printed with what it replaced and why."""

    def __init__(self, limit: int):
        self.limit, self.spent = limit, 0

    def spend(self, what: str, cause: ActorFailure) -> None:
        """Count one restart of ``what``, or, past the limit, raise ``cause`` as the clean stop it was before."""
        if self.spent >= self.limit:
            raise ActorFailure(f"{cause} (run.max_actor_restarts={self.limit} restarts spent: not restarting {what})") from cause
        self.spent += 1
        why = str(cause).splitlines()[0]  # Ray's own account of a death runs to a dozen lines
        print(f"restart {self.spent}/{self.limit}: {what} ({why})", flush=True)


def lost_actors(actors: Sequence[Any], timeout_s: float) -> list[int]:
    """Indices of ``actors`` whose process is gone. A ping answers at once from a dead actor (with
    ``RayActorError``); one still busy with a call answers later or not within ``timeout_s``, and is alive."""
    refs = [actor.ping.remote() for actor in actors]
    ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    lost = []
    for index, ref in enumerate(refs):
        try:
            ray.get(ref, timeout=0)  # ready or not, no waiting: the wait above was the one deadline
        except RayActorError:
            lost.append(index)
        except GetTimeoutError:
            pass
    return lost
