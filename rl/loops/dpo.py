"""DPO stage: preference pairs -> the same learner actors as SFT and GRPO, against a frozen reference.

    pairs = [tokenize_pair(p, tokenizer, config.data) for p in load_pairs(cfg.pairs_file)]      # offline
    pairs += mine_onpolicy_pairs(cluster, scorer, prompts, group_size=8, temperature=1.0, seed=0)  # on-policy
    history = run_dpo(cluster, pairs, cfg, seed=0)
    cluster.sync_weights(version=...)   # the rollout actors still hold the pre-DPO weights

The reference is the policy as the stage starts (``Learner.ensure_reference``); ``run_dpo`` freezes
it before its first step. On-policy pairs are mined from verifier-scored groups: within a group of
completions of one prompt, the highest reward (a correct answer, say, with the format bonus) against
the lowest (``rl.data.preferences.mine_pairs``). They keep the rollouts' own token ids, so the learner
scores exactly what was sampled.
"""
from __future__ import annotations

from collections.abc import Sequence

from tqdm.auto import tqdm

from rl.config import DPOConfig
from rl.data.preferences import mine_pairs
from rl.data.prompts import shuffled_batches
from rl.data.records import PreferencePair, Prompt, flatten
from rl.engine.scorer import check_unjudged


def run_dpo(cluster, pairs: Sequence[PreferencePair], cfg: DPOConfig, *, seed: int, log=None) -> list[dict[str, float]]:
    """``cfg.steps`` DPO updates on shuffled batches of ``cfg.batch_size`` tokenised pairs; each step's metrics.

    A fresh optimizer and a reference frozen at the current weights on every learner, then epochs
    of reshuffled pairs, as ``rl.loops.sft.run_sft`` walks its sequences.
    """
    if not pairs:
        raise ValueError("DPO stage: no preference pairs (the pairs file is empty, or no sampled group had a reward gap)")
    untokenised = [p.id for p in pairs if p.prompt_ids is None]
    if untokenised:
        raise ValueError(f"DPO stage: {len(untokenised)} pairs have no token ids (first: {untokenised[0]!r}); "
                         "tokenise them with rl.data.preferences.tokenize_pair")
    cluster.start_phase(cfg.lr)
    cluster.ensure_reference()
    history = []
    batches = shuffled_batches(pairs, cfg.batch_size, seed=seed)
    for step in tqdm(range(cfg.steps), desc="DPO", unit="step", dynamic_ncols=True):
        batch = next(batches)
        metrics = cluster.dpo_step(batch, num_pairs=len(batch), loss_type=cfg.loss_type, beta=cfg.beta,
                                   label_smoothing=cfg.label_smoothing)
        history.append(metrics)
        if log is not None:
            log(step, metrics)
    return history


def mine_onpolicy_pairs(
    cluster,
    scorer,
    prompts: Sequence[Prompt],
    *,
    group_size: int,
    temperature: float,
    seed: int,
    max_pairs_per_group: int = 1,
    min_margin: float = 0.0,
    enable_thinking: bool | None = None,
    max_unjudged_fraction: float = 1.0,
) -> list[PreferencePair]:
    """Sample ``group_size`` completions per prompt with the rollout actors, score them, and pair the
    best against the worst of each group. The rollout actors must hold the policy to be trained
    (sync weights first); groups whose rewards are all equal give no pair."""
    if group_size < 2:
        raise ValueError(f"group_size must be at least 2 to pair completions, got {group_size}")
    groups = scorer.score(cluster.generate(prompts, group_size, temperature=temperature, seed=seed, enable_thinking=enable_thinking))
    check_unjudged(flatten(groups), max_unjudged_fraction, "mining DPO pairs")  # unjudged samples are never paired
    return mine_pairs(groups, max_pairs_per_group=max_pairs_per_group, min_margin=min_margin)
