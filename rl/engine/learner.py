"""Learners: the policy's trainable copy, its optimizer, and one update per call.

``Learner`` is a plain class; ``rl.engine.actors`` makes it a Ray actor. N learners train
data-parallel: each gets a shard of the batch, losses are normalised by the *whole*
batch's token/sequence counts, and summed gradients are all-reduced through
torch.distributed (gloo on CPU, nccl on GPU), so N learners make exactly the update
one learner would make on the whole batch.
"""
from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from rl.algorithms import collate_pairs, dpo_batch_loss, grpo_loss
from rl.config import AlgorithmConfig, LearnerConfig
from rl.data.records import PreferencePair, TrainSequence
from rl.engine.packing import check_attention, collate_packed, pack_sequences, padding_saved
from rl.engine.policy import load_policy, resolve_device, resolve_dtype

TRAINER_STATE = "trainer_state.pt"


class Learner:
    def __init__(
        self,
        model_path: str,
        learner: LearnerConfig,
        algorithm: AlgorithmConfig,
        *,
        temperature: float = 1.0,
        rank: int = 0,
        world_size: int = 1,
        master_addr: str | None = None,
        master_port: int | None = None,
        threads: int | None = None,
    ):
        if threads:
            torch.set_num_threads(threads)
        self.cfg, self.algo = learner, algorithm
        self.rank, self.world_size = rank, world_size
        self.temperature = temperature
        self.device = torch.device(resolve_device(learner.device))
        if world_size > 1:
            backend = learner.backend if learner.backend != "auto" else ("nccl" if self.device.type == "cuda" else "gloo")
            dist.init_process_group(
                backend, init_method=f"tcp://{master_addr}:{master_port}", rank=rank, world_size=world_size,
                timeout=timedelta(seconds=120),  # a dead peer fails the step loudly instead of hanging it
            )
        self.model, self.tokenizer = load_policy(model_path, device=str(self.device))  # fp32 master weights for Adam
        # Forward passes under autocast in half precision on GPUs (fp32 master weights for Adam); none on CPU,
        # where fp32 is both faster and exact. "auto" means what rollout.dtype's "auto" means: bf16 on a GPU.
        precision = {"bf16": "bfloat16", "fp16": "float16", "no": "float32", "auto": "auto"}[learner.mixed_precision]
        compute = resolve_dtype(precision, str(self.device))
        self.autocast_dtype = None if compute == "float32" else getattr(torch, compute)
        self.model.train()
        self.pad_id = self.tokenizer.pad_token_id
        self.reference = None
        if algorithm.kl_coef > 0:
            self.reference, _ = load_policy(model_path, device=str(self.device))
            self.reference.requires_grad_(False)
        self.optimizer = self._optimizer(learner.lr)

    def _optimizer(self, lr: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=self.cfg.weight_decay)

    def start_phase(self, lr: float) -> None:
        """A fresh optimizer for a new stage (SFT -> RL): Adam moments of one objective mislead the next."""
        self.optimizer = self._optimizer(lr)

    def ensure_reference(self) -> None:
        """Freeze a copy of the *current* policy as the reference model (replacing any earlier one).

        DPO's reference is the model its stage starts from (e.g. the SFT result), not the original
        base; call this at the start of the stage, on every learner, before ``dpo_step``.
        """
        if self.reference is None:
            self.reference = copy.deepcopy(self.model)
        else:
            self.reference.load_state_dict(self.model.state_dict())
        self.reference.eval().requires_grad_(False)

    # ---------------------------------------------------------------- updates
    def sft_step(self, sequences: Sequence[TrainSequence], num_tokens: int, packing: bool = False) -> dict[str, float]:
        """Cross-entropy on completion tokens only (the prompt is context, not a target).

        ``packing``: several sequences share a row, with attention kept inside each sequence
        (``rl.engine.packing``): fewer forward passes, the same loss and gradients. Adds the metric
        ``pad_tokens_saved``, padding positions avoided on this learner.
        """

        def loss_fn(batch) -> tuple[torch.Tensor, dict]:
            logprobs = self._logprobs(self.model, batch)  # (B, T)
            loss = -(logprobs * batch["mask"]).sum() / num_tokens
            return loss, {}

        if not packing:
            return self._update(sequences, loss_fn)
        check_attention(self.model.config)
        rows = pack_sequences(sequences)
        collate = partial(collate_packed, pad_id=self.pad_id, dtype=self.model.dtype, device=self.device)
        metrics = self._update(rows, loss_fn, collate=collate)  # micro_batch_size rows per micro-batch
        metrics["pad_tokens_saved"] = float(padding_saved(sequences, rows, self.cfg.micro_batch_size))
        return metrics

    def grpo_step(self, sequences: Sequence[TrainSequence], num_tokens: int, num_seqs: int, max_len: int) -> dict[str, float]:
        """One policy-gradient update on this learner's shard; the counts are the whole batch's."""
        old = self._old_logprobs(sequences) if self.algo.ppo_epochs > 1 else None
        metrics: dict[str, float] = {}
        for _ in range(self.algo.ppo_epochs):

            def loss_fn(batch, start) -> tuple[torch.Tensor, dict]:
                logprobs = self._logprobs(self.model, batch, temperature=self.temperature)  # (B, T)
                ref = self._logprobs(self.reference, batch, grad=False, temperature=self.temperature) if self.reference is not None else None
                old_lp = old[start : start + len(logprobs)][:, : logprobs.shape[1]] if old is not None else None
                return grpo_loss(
                    logprobs, old_lp, batch["advantages"], batch["mask"],
                    clip_low=self.algo.clip_low, clip_high=self.algo.clip_high, kl_coef=self.algo.kl_coef,
                    ref_logprobs=ref, loss_agg=self.algo.loss_agg,
                    num_tokens=num_tokens, num_seqs=num_seqs, max_len=max_len,
                )

            metrics = self._update(sequences, loss_fn, with_offset=True)
        return metrics

    def dpo_step(
        self, pairs: Sequence[PreferencePair], num_pairs: int, *, loss_type: str, beta: float, label_smoothing: float = 0.0,
    ) -> dict[str, float]:
        """One DPO update on this learner's shard of tokenised pairs; ``num_pairs`` is the whole batch's.

        A pair is two sequences in one forward pass, so a micro-batch holds ``micro_batch_size // 2``
        pairs (at least one): the same activation memory per pass as SFT and GRPO.
        """
        if self.reference is None:
            raise RuntimeError("dpo_step needs a frozen reference model: call ensure_reference() when the DPO stage starts")

        def loss_fn(batch) -> tuple[torch.Tensor, dict]:
            return dpo_batch_loss(self.model, self.reference, batch, loss_type=loss_type, beta=beta,
                                  label_smoothing=label_smoothing, num_pairs=num_pairs)

        collate = partial(collate_pairs, pad_id=self.pad_id, device=self.device)  # (2b, L): chosen rows, then rejected
        return self._update(pairs, loss_fn, collate=collate, micro_batch_size=max(1, self.cfg.micro_batch_size // 2))

    def _update(self, items: Sequence, loss_fn, with_offset: bool = False, *, collate=None,
                micro_batch_size: int | None = None) -> dict[str, float]:
        """zero_grad, backward per micro-batch, all-reduce, clip, step; metrics are means over ``items``."""
        started = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        total, sums = 0.0, {}
        collate = collate or self._collate
        mb = micro_batch_size or self.cfg.micro_batch_size
        for start in range(0, len(items), mb):
            chunk = items[start : start + mb]
            batch = collate(chunk)
            loss, metrics = loss_fn(batch, start) if with_offset else loss_fn(batch)
            loss.backward()  # each micro-batch loss is already normalised by the global counts
            total += loss.item()
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + float(value) * len(chunk)
        self._all_reduce_grads()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        out = {key: value / max(1, len(items)) for key, value in sums.items()}
        out.update(loss=total, grad_norm=float(grad_norm), step_s=time.perf_counter() - started)
        return out

    def _all_reduce_grads(self) -> None:
        """Sum gradients over learners in one flat buffer: one collective per step, not one per tensor."""
        if self.world_size == 1:
            return
        params = list(self.model.parameters())
        for param in params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)  # every rank must contribute to every slot
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for param in params:
            param.grad.copy_(flat[offset : offset + param.numel()].view_as(param.grad))
            offset += param.numel()

    @torch.no_grad()
    def _old_logprobs(self, sequences: Sequence[TrainSequence]) -> torch.Tensor:
        width = max(len(s.prompt_ids) + len(s.completion_ids) for s in sequences) - 1
        rows = []
        for start in range(0, len(sequences), self.cfg.micro_batch_size):
            batch = self._collate(sequences[start : start + self.cfg.micro_batch_size])
            lp = self._logprobs(self.model, batch, grad=False, temperature=self.temperature)  # (b, t)
            rows.append(F.pad(lp, (0, width - lp.shape[1])))
        return torch.cat(rows)  # (B, T)

    def _logprobs(self, model, batch, grad: bool = True, temperature: float = 1.0) -> torch.Tensor:
        """Log-probs of the target tokens, (B, L-1), filled only where ``batch["mask"]`` is set.

        The output layer and softmax run on completion positions only: prompt and padding
        positions are context, and skipping them saves a large share of the vocabulary work.
        ``temperature``: RL scores tokens under the distribution they were sampled from; SFT
        learns the plain (temperature 1) distribution.
        """
        autocast = torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)
        with torch.set_grad_enabled(grad), autocast:
            hidden = model.get_decoder()(  # position_ids: packed rows restart them at each sequence
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=batch.get("position_ids"),
            ).last_hidden_state
            where = batch["mask"].bool()  # (B, L-1): position t predicts token t+1
            logits = model.get_output_embeddings()(hidden[:, :-1][where]).float() / temperature  # (N, V)
            targets = batch["input_ids"][:, 1:][where]  # (N,)
            picked = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N,)
            out = torch.zeros(where.shape, dtype=picked.dtype, device=picked.device)  # (B, L-1)
            return out.masked_scatter(where, picked)

    def _collate(self, sequences: Sequence[TrainSequence]) -> dict[str, torch.Tensor]:
        """Right-padded ids, attention mask, and a (B, L-1) mask of completion-token targets."""
        width = max(len(s.prompt_ids) + len(s.completion_ids) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        mask = torch.zeros((len(sequences), width - 1))
        for row, seq in enumerate(sequences):
            tokens = list(seq.prompt_ids) + list(seq.completion_ids)
            ids[row, : len(tokens)] = torch.tensor(tokens)
            attention[row, : len(tokens)] = 1
            mask[row, len(seq.prompt_ids) - 1 : len(tokens) - 1] = 1.0  # targets are the completion tokens
        advantages = torch.tensor([s.advantage for s in sequences], dtype=torch.float32)
        return {k: v.to(self.device) for k, v in
                {"input_ids": ids, "attention_mask": attention, "mask": mask, "advantages": advantages}.items()}

    # ---------------------------------------------------------------- weights and checkpoints
    def get_weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def save(self, path: str, extra: dict[str, Any]) -> None:
        """HF-format model + tokenizer, and optimizer/RNG/loop state beside them (rank 0 writes)."""
        if self.rank != 0:
            return
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(target)
        self.tokenizer.save_pretrained(target)
        state = {
            "optimizer": self.optimizer.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
            "extra": extra,
        }
        torch.save(state, target / f".{TRAINER_STATE}.tmp")
        os.replace(target / f".{TRAINER_STATE}.tmp", target / TRAINER_STATE)  # the marker of a complete checkpoint

    def load_trainer_state(self, path: str) -> dict[str, Any]:
        state = torch.load(Path(path) / TRAINER_STATE, weights_only=False)
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        return state["extra"]

    def ping(self) -> int:
        return self.rank
