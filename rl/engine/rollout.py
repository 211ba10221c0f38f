"""Rollout workers: sample completions from the current policy with transformers' ``generate``.

``RolloutWorker`` is a plain class (tests drive it without Ray); ``rl.engine.actors`` wraps it
as a Ray actor. It holds a copy of the policy and receives new weights, tagged with a
version number, from the learners after every update.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch

from rl.config import DataConfig, RolloutConfig
from rl.data.prompts import prompt_mode, render_prompt
from rl.data.records import Prompt, Rollout, RolloutGroup
from rl.engine.policy import load_policy


class RolloutWorker:
    def __init__(self, model_path: str, data: DataConfig, rollout: RolloutConfig, *, device: str = "cpu", threads: int | None = None,
                 dtype: str = "auto"):
        if threads:
            torch.set_num_threads(threads)
        self.model, self.tokenizer = load_policy(model_path, device=device, dtype=dtype)
        self.data, self.rollout = data, rollout
        self.device = self.model.device
        self.version = 0
        # Stop at the tokenizer's EOS and at every end id the checkpoint's generation config lists
        # (Qwen instruct models end turns with <|im_end|> but also list <|endoftext|>).
        configured = self.model.generation_config.eos_token_id
        configured = configured if isinstance(configured, list) else [configured] if configured is not None else []
        self.stop_ids = [self.tokenizer.eos_token_id, *[i for i in configured if i != self.tokenizer.eos_token_id]]

    def set_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> int:
        self.model.load_state_dict(state_dict)
        self.version = version
        return version

    @torch.no_grad()
    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None) -> list[RolloutGroup]:
        """One group of ``num_samples`` completions for each prompt, in prompt order."""
        torch.manual_seed(seed)  # a step's samples depend on (seed, weights) only: resumable, reproducible
        data = self.data if enable_thinking is None else replace(self.data, enable_thinking=enable_thinking)
        texts = [render_prompt(p, self.tokenizer, data) for p in prompts for _ in range(num_samples)]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sampling: dict[str, Any] = {"do_sample": True, "temperature": temperature, "top_p": self.rollout.top_p} if temperature > 0 else {"do_sample": False}
        out = self.model.generate(
            **batch,
            max_new_tokens=self.rollout.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.stop_ids,
            return_dict_in_generate=True,
            output_logits=self.rollout.sampling_logprobs,
            top_k=None,
            **sampling,
        )
        width = batch["input_ids"].shape[1]
        completions = out.sequences[:, width:]  # (B, T)
        logprobs = _sampling_logprobs(out.logits, completions, temperature) if out.logits else torch.zeros(completions.shape)
        modes = [prompt_mode(p, data) for p in prompts]  # what each prompt was rendered in, for the format reward
        rows = iter(range(len(texts)))  # the batch holds each prompt's samples side by side, prompt by prompt
        return [RolloutGroup(prompt, tuple(self._rollout(prompt, batch, row, completions[row], logprobs[row], mode)
                                           for row in itertools.islice(rows, num_samples)))
                for prompt, mode in zip(prompts, modes)]

    def _rollout(self, prompt: Prompt, batch, row: int, completion: torch.Tensor, logprobs: torch.Tensor, mode: str) -> Rollout:
        prompt_ids = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
        ids = completion.tolist()
        stop = next((i for i, token in enumerate(ids) if token in self.stop_ids), None)
        finished = stop is not None
        length = stop + 1 if finished else len(ids)
        ids = ids[:length]
        return Rollout(
            prompt=prompt,
            prompt_ids=tuple(prompt_ids),
            completion_ids=tuple(ids),
            text=self.tokenizer.decode(ids, skip_special_tokens=True),
            logprobs=tuple(logprobs[:length].tolist()) if self.rollout.sampling_logprobs else (),
            finished=finished,
            policy_version=self.version,
            mode=mode,
        )

    def ping(self) -> int:
        return self.version


def _sampling_logprobs(step_logits: Sequence[torch.Tensor], completions: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = torch.stack(list(step_logits), dim=1).float()  # (B, T, V)
    if temperature > 0:
        logits = logits / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)  # (B, T)
