"""Supervised warm-up (cold start): teach the policy the answer format from worked solutions.

Assistant-only loss: the rendered prompt (system, user and earlier assistant turns, which the
chat template strips of their thinking) is context; the final assistant turn plus EOS is the
target. Runs on the same learner actors as RL, so N learners shard it the same way;
``sft.packing`` packs several examples per row without changing the loss.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from rl.config import DataConfig, SFTConfig
from rl.data.prompts import prompt_mode, render_prompt, shuffled_batches
from rl.data.records import Prompt, TrainSequence
from rl.data.thinking import NO_THINK

EMPTY_THINK = re.compile(r"^\s*<think>\s*</think>\s*")  # a no-think answer as Qwen3 transcripts write it


def sft_sequences(prompts: Sequence[Prompt], tokenizer: Any, data: DataConfig) -> list[TrainSequence]:
    """(prompt ids, solution ids + EOS) for every prompt that has a worked solution."""
    out = []
    for prompt in prompts:
        if not prompt.solution:
            continue
        rendered = render_prompt(prompt, tokenizer, data)
        target = prompt.solution
        if prompt_mode(prompt, data) == NO_THINK:  # the template pre-filled the empty think block: not a target again
            target = EMPTY_THINK.sub("", target, count=1)
        prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        solution_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        out.append(TrainSequence(tuple(prompt_ids), tuple(solution_ids)))
    if not out:
        raise ValueError("SFT warm-up needs prompts with worked solutions (data.solution_field); none have one")
    return out


def run_sft(cluster, sequences: Sequence[TrainSequence], cfg: SFTConfig, *, seed: int, log=None,
            desc: str = "SFT warm-up") -> list[dict[str, float]]:
    """``cfg.steps`` updates on shuffled batches of ``cfg.batch_size``; returns each step's metrics."""
    cluster.start_phase(cfg.lr)
    batches = shuffled_batches(sequences, cfg.batch_size, seed=seed)
    history = []
    for step in tqdm(range(cfg.steps), desc=desc, unit="step", dynamic_ncols=True):
        batch = next(batches)
        num_tokens = sum(len(s.completion_ids) for s in batch)
        metrics = cluster.sft_step(batch, num_tokens=num_tokens, packing=cfg.packing)
        history.append(metrics)
        if log is not None:
            log(step, metrics)
    return history
