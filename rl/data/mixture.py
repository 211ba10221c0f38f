"""Several datasets in one stage (``data.mixture``): Qwen3's general RL trains over many domains at once.

    train, heldout = load_mixture(config.data)        # every domain's prompts, tagged with Prompt.domain
    schedule = MixtureSchedule(train, config.data.mixture, per_step=16, seed=0)
    schedule.batch(step)                              # 16 prompts, each domain drawn by its weight

A domain's prompts keep their own verifier unless the domain names one, and take the domain's
thinking mode where they set none. Their ids become ``<domain>/<id>``, so two domains may reuse ids.
"""
from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from rl.config import DataConfig
from rl.config.schema import DomainConfig
from rl.data.records import Prompt

Splits = tuple[list[Prompt], list[Prompt]]


def load_mixture(cfg: DataConfig, load_one: Callable[[DataConfig], Splits]) -> Splits:
    """(train, held-out) over every domain of ``cfg.mixture``, in the mixture's order; ``load_one`` reads one
    dataset (``rl.data.prompts.load_splits`` passes itself: a file or a generator) from a domain's settings."""
    train: list[Prompt] = []
    heldout: list[Prompt] = []
    for name, domain in cfg.mixture.items():
        own = replace(cfg, mixture={}, train_file=domain.train_file, eval_file=domain.eval_file,
                      generator=domain.generator, generator_params=domain.generator_params,
                      n_train=domain.n_train, n_eval=domain.n_eval,
                      seed=cfg.seed if domain.seed is None else domain.seed)
        domain_train, domain_heldout = load_one(own)
        train += [_tagged(p, name, domain) for p in domain_train]
        heldout += [_tagged(p, name, domain) for p in domain_heldout]
    return train, heldout


def _tagged(prompt: Prompt, name: str, domain: DomainConfig) -> Prompt:
    return replace(prompt, id=f"{name}/{prompt.id}", domain=name, verifier=domain.verifier or prompt.verifier,
                   mode=prompt.mode or domain.mode)


class MixtureSchedule:
    """Which prompts step ``s`` trains on: each of the step's slots draws a domain by weight, then takes
    that domain's next prompt in a per-epoch shuffle. A function of (seed, s) alone, like
    ``rl.loops.grpo.PromptSchedule``, so resuming needs no data state."""

    def __init__(self, prompts: Sequence[Prompt], mixture: Mapping[str, DomainConfig], per_step: int, seed: int):
        self.per_step, self.seed = per_step, seed
        self.pools = {name: [p for p in prompts if p.domain == name] for name in mixture}
        empty = [name for name, pool in self.pools.items() if not pool]
        if empty:
            raise ValueError(f"data.mixture: no training prompts in domain(s) {', '.join(empty)} "
                             f"(all dropped as too long, or an empty file?)")
        self.names = list(self.pools)
        self.weights = [mixture[name].weight for name in self.names]

    def batch(self, index: int) -> list[Prompt]:
        rng = random.Random(self.seed * 1_000_033 + index)
        out = []
        for slot, name in enumerate(rng.choices(self.names, weights=self.weights, k=self.per_step)):
            pool = self.pools[name]
            # Each domain's stream is indexed by the global slot: steps never share a position, so an
            # epoch of a domain repeats no prompt, whatever the draws of other steps were.
            epoch, offset = divmod(index * self.per_step + slot, len(pool))
            out.append(pool[self._order(name, epoch)[offset]])
        return out

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one schedule per run; it lives as long as the run
    def _order(self, name: str, epoch: int) -> list[int]:
        order = list(range(len(self.pools[name])))
        random.Random(f"{self.seed}-{name}-{epoch}").shuffle(order)
        return order
