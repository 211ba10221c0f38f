"""Rollout workers: sample completions from the current policy with transformers' ``generate``.

``RolloutWorker`` is a plain class (tests drive it without Ray); ``rl.engine.actors`` wraps it
as a Ray actor. It holds a copy of the policy and receives new weights, tagged with a
version number, from the learners after every update. ``RolloutWorker.around`` builds one
around a model that already exists instead: a colocated learner (``rollout.colocate``)
samples from its own training module that way, with no copy and no weight transfer.

``generate`` renders and tokenizes the prompts, asks ``_sample`` for the tokens, and builds the
groups. ``_sample`` is all a rollout backend (``rollout.backend``, ``rl.registries.ROLLOUT_BACKENDS``)
replaces: this class's is transformers' ``generate``; ``rl.engine.static_decode`` has a static KV
cache whose decode step is replayed as a CUDA graph.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch

from rl.config import DataConfig, LoRAConfig, RolloutConfig
from rl.data.prompts import prompt_mode, render_prompt
from rl.data.records import Prompt, Rollout, RolloutGroup
from rl.engine.lora import load_trained_state
from rl.engine.multiturn import multi_turn_groups, thinking_prefill, turn_end_ids
from rl.engine.policy import load_policy
from rl.engine.thinking_budget import ThinkingBudget, ThinkTags, apply_thinking_budget, require_tags, thinking_split
from rl.engine.turns import Turn, sampled_turn
from rl.envs import make_environment


class RolloutWorker:
    def __init__(self, model_path: str, data: DataConfig, rollout: RolloutConfig, *, device: str = "cpu", threads: int | None = None,
                 dtype: str = "auto", lora: LoRAConfig | None = None):
        """``lora``: the run's ``model.lora``; enabled, the model carries the adapter that weight sync updates."""
        if threads:
            torch.set_num_threads(threads)
        model, tokenizer = load_policy(model_path, device=device, dtype=dtype, lora=lora)
        self._adopt(model, tokenizer, data, rollout)

    @classmethod
    def around(cls, model, tokenizer, data: DataConfig, rollout: RolloutConfig) -> RolloutWorker:
        """A worker that samples from ``model`` itself (no copy, no load): a colocated learner's own
        training module. The caller owns the model's mode (eval for sampling) and its precision."""
        worker = cls.__new__(cls)
        worker._adopt(model, tokenizer, data, rollout)
        return worker

    def _adopt(self, model, tokenizer, data: DataConfig, rollout: RolloutConfig) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.data, self.rollout = data, rollout
        self.device = self.model.device
        self.version = 0
        # Stop at the tokenizer's EOS and at every end id the checkpoint's generation config lists
        # (Qwen instruct models end turns with <|im_end|> but also list <|endoftext|>).
        configured = self.model.generation_config.eos_token_id
        configured = configured if isinstance(configured, list) else [configured] if configured is not None else []
        self.stop_ids = [self.tokenizer.eos_token_id, *[i for i in configured if i != self.tokenizer.eos_token_id]]
        self.env = make_environment(rollout.env, self.tokenizer)  # what answers each turn (rl.envs); single_turn: nothing
        if rollout.env.multi_turn:  # template facts the turns need, rendered once here rather than at every generate
            self.turn_ends = turn_end_ids(self.tokenizer, self.stop_ids)
            self.no_think_prefill = thinking_prefill(self.tokenizer)
        self.budget = ThinkingBudget.of(rollout)  # rollout.thinking_budget; a call may pass another (eval over budgets)
        self.think_tags = ThinkTags.of(tokenizer)  # None: the tokenizer splits the tags; lengths are not split, budgets refused
        if self.budget.active:
            require_tags(tokenizer)  # a configured budget this tokenizer cannot count fails at start, naming the model

    def set_weights(self, state_dict: Mapping[str, torch.Tensor], version: int) -> int:
        load_trained_state(self.model, state_dict)  # the whole model, or with LoRA its adapter
        self.version = version
        return version

    @torch.no_grad()
    def load_weights(self, tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Copy some of the model's tensors in place, by state-dict name (one bucket of the collective
        weight sync, ``rl.engine.weight_sync``). In place: the model's tensors keep their storage, so
        anything that captured it (a compiled graph, a tied weight) sees the new values."""
        own = self.model.state_dict()
        for name, tensor in tensors:
            own[name].copy_(tensor)

    @torch.no_grad()
    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None, thinking_budget: ThinkingBudget | None = None) -> list[RolloutGroup]:
        """One group of ``num_samples`` completions for each prompt, in prompt order. ``thinking_budget``:
        this call's (``ThinkingBudget()`` for none); None: ``rollout.thinking_budget``'s."""
        budget = self.budget if thinking_budget is None else thinking_budget
        torch.manual_seed(seed)  # a step's samples depend on (seed, weights) only: resumable, reproducible
        data = self.data if enable_thinking is None else replace(self.data, enable_thinking=enable_thinking)
        texts = [render_prompt(p, self.tokenizer, data, tools=self.env.tool_schemas) for p in prompts]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)  # (P, W), left-padded
        completions, logprobs = self._sample(batch, num_samples, temperature)  # (P*G, T) each, prompt by prompt
        prompt_ids = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
        modes = [prompt_mode(p, data) for p in prompts]  # what each prompt was rendered in, for the format reward
        if self.rollout.env.multi_turn:  # the first turns go on in the environment (rl.engine.multiturn)
            return multi_turn_groups(self, prompts, prompt_ids, modes, completions, logprobs, num_samples,
                                     temperature=temperature, data=data, budget=budget)
        contexts = [ids for ids in prompt_ids for _ in range(num_samples)]  # row by row: each sample's prompt
        turns = [sampled_turn(row, lps, self.stop_ids, len(row)) for row, lps in zip(completions.tolist(), logprobs.tolist())]
        turns = iter(apply_thinking_budget(self, contexts, turns, budget, temperature))  # unchanged without a budget
        return [RolloutGroup(prompt, tuple(self._rollout(prompt, ids, turn, mode) for turn in itertools.islice(turns, num_samples)))
                for prompt, ids, mode in zip(prompts, prompt_ids, modes)]

    def _sample(self, batch: Mapping[str, torch.Tensor], num_samples: int, temperature: float,
                max_new_tokens: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The token-generation part, which a rollout backend overrides: ``num_samples`` completions of
        each row of ``batch`` (left-padded prompts, (P, W)), as token ids (P*G, T) with each prompt's G
        samples side by side, and their per-token log-probs under the sampling distribution (P*G, T;
        zeros unless ``rollout.sampling_logprobs``). Anything after a stop id is ignored. Temperature 0
        is greedy; otherwise temperature and ``rollout.top_p`` as configured, never a top-k. At most
        ``max_new_tokens`` (default ``rollout.max_new_tokens``) per row."""
        rows = {k: v.repeat_interleave(num_samples, dim=0) for k, v in batch.items()}  # (P*G, W)
        sampling: dict[str, Any] = {"do_sample": True, "temperature": temperature, "top_p": self.rollout.top_p} if temperature > 0 else {"do_sample": False}
        out = self.model.generate(
            **rows,
            max_new_tokens=max_new_tokens or self.rollout.max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.stop_ids,
            return_dict_in_generate=True,
            output_logits=self.rollout.sampling_logprobs,
            top_k=None,
            **sampling,
        )
        completions = out.sequences[:, rows["input_ids"].shape[1]:]  # (P*G, T)
        logprobs = _sampling_logprobs(out.logits, completions, temperature) if out.logits else torch.zeros(completions.shape)
        return completions, logprobs

    def _rollout(self, prompt: Prompt, prompt_ids: list[int], turn: Turn, mode: str) -> Rollout:
        mask = () if turn.all_sampled else turn.mask  # empty = every token sampled, as before budgets
        thinking, answer = thinking_split(prompt_ids, turn.ids, mask, self.think_tags)
        return Rollout(
            prompt=prompt,
            prompt_ids=tuple(prompt_ids),
            completion_ids=turn.ids,
            text=self.tokenizer.decode(turn.ids, skip_special_tokens=True),
            logprobs=turn.logprobs if self.rollout.sampling_logprobs else (),
            finished=turn.stopped,
            policy_version=self.version,
            mode=mode,
            loss_mask=mask,
            finish_reason="stop" if turn.stopped else "thinking_budget" if turn.budget == "truncate" else "length",
            thinking_tokens=thinking,
            answer_tokens=answer,
            budget_hit=bool(turn.budget),
        )

    def ping(self) -> int:
        return self.version


def _sampling_logprobs(step_logits: Sequence[torch.Tensor], completions: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = torch.stack(list(step_logits), dim=1).float()  # (B, T, V)
    if temperature > 0:
        logits = logits / temperature
    return torch.log_softmax(logits, dim=-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)  # (B, T)
