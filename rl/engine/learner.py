"""Learners: the policy's trainable copy, its optimizer, and one update per call.

``Learner`` is a plain class; ``rl.engine.actors`` makes it a Ray actor. N learners train
data-parallel: each gets a shard of the batch, losses are normalised by the *whole*
batch's token/sequence counts, and summed gradients are all-reduced through
torch.distributed (gloo on CPU, nccl on GPU), so N learners make exactly the update
one learner would make on the whole batch.

``learner.strategy`` says how: ``ddp`` (each learner a full replica; summed gradients in one flat
all-reduce) or ``fsdp`` (parameters, gradients and Adam state sharded, ``rl.engine.sharding``).
``model.lora`` (``rl.engine.lora``) trains low-rank adapters only, on a frozen base that is also
the KL/DPO reference (the adapter switched off: no second copy). Either way the forward pass that
scores tokens is ``TokenLogprobs``: one module, so that FSDP's root sees every call.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from rl.algorithms import collate_pairs, dpo_batch_loss, grpo_loss
from rl.config import AlgorithmConfig, LearnerConfig, LoRAConfig
from rl.data.records import PreferencePair, TrainSequence
from rl.engine import lora as adapters
from rl.engine import sharding
from rl.engine.checkpoint import load_checkpoint_state, save_checkpoint
from rl.engine.packing import check_attention, collate_packed, pack_sequences, padding_saved
from rl.engine.policy import load_policy, resolve_device, resolve_dtype
from rl.engine.token_logprobs import TokenLogprobs


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
        lora: LoRAConfig | None = None,
    ):
        """``lora``: the experiment's ``model.lora``; enabled (r > 0), only an adapter trains (``rl.engine.lora``)."""
        if threads:
            torch.set_num_threads(threads)
        self.cfg, self.algo = learner, algorithm
        self.rank, self.world_size = rank, world_size
        self.temperature = temperature
        self.device = torch.device(resolve_device(learner.device))
        self.sharded = learner.strategy == "fsdp"
        if world_size > 1 or self.sharded:
            sharding.join_group(learner, self.device, rank, world_size, master_addr, master_port)
        # Half precision on GPUs, fp32 master weights for Adam; none on CPU, where fp32 is both faster and
        # exact. "auto" means what rollout.dtype's "auto" means: bf16 on a GPU. ddp computes under autocast;
        # fsdp casts its gathered parameters itself (MixedPrecisionPolicy), so there is no autocast there.
        precision = {"bf16": "bfloat16", "fp16": "float16", "no": "float32", "auto": "auto"}[learner.mixed_precision]
        compute = resolve_dtype(precision, str(self.device))
        self.compute_dtype = None if compute == "float32" else getattr(torch, compute)
        self.autocast_dtype = None if self.sharded else self.compute_dtype
        self.lora = lora if lora is not None and lora.enabled else None
        self.model_path = model_path
        self.base_path = adapters.adapter_base(model_path) if adapters.is_adapter_dir(model_path) else Path(model_path)  # what an adapter is trained on
        self.model, self.tokenizer = self._load_model(model_path)
        self.policy = self._prepare(self.model)
        self.trainable = [p for p in self.policy.parameters() if p.requires_grad]  # FSDP: the shards, as Adam sees them
        self.model.train()
        self.pad_id = self.tokenizer.pad_token_id
        self.reference, self.ref_policy = None, None  # the frozen full copy (full fine-tuning), and what scores with it
        self.adapter_fresh = self.lora is not None and not adapters.is_adapter_dir(model_path)
        if algorithm.kl_coef > 0:
            self._set_reference(current=False)
        self.optimizer = self._optimizer(learner.lr)

    def _load_model(self, path: str) -> tuple[Any, Any]:
        """(model, tokenizer) from ``path``: fp32 weights, where Adam updates them. With LoRA the frozen base
        is held at the compute dtype (bf16 on a GPU: half the memory; the adapter stays fp32). fsdp loads on
        CPU and moves each learner's shard to its device."""
        base_dtype = str(self.compute_dtype).removeprefix("torch.") if self.lora and self.compute_dtype and not self.sharded else "float32"
        return load_policy(path, device="cpu" if self.sharded else str(self.device), dtype=base_dtype, lora=self.lora, trainable=True)

    def _prepare(self, model: Any) -> TokenLogprobs:
        """The module the learner calls: activation checkpointing on, and under fsdp sharded."""
        if self.cfg.gradient_checkpointing:  # non-reentrant: works with a frozen base (LoRA) and under FSDP's hooks
            enable = getattr(model, "activation_checkpointing_enable", None)  # transformers >= 5.2x's name
            if enable is not None:
                enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        policy = TokenLogprobs(model)
        if self.sharded:
            sharding.shard(policy, model, self.cfg, self.device, self.compute_dtype)
        return policy

    def _set_reference(self, current: bool) -> None:
        """The frozen reference: with LoRA the policy with its adapter off; else a full copy, of the current
        policy (``current``) or of the starting weights (sharded like the policy under fsdp)."""
        if self.lora is not None:
            self.ref_policy = adapters.AdapterOff(self.policy)
            return
        fresh = self.reference is None
        if fresh and current and not self.sharded:
            self.reference = copy.deepcopy(self.model)
        elif fresh:  # the starting weights; a sharded module cannot be deep-copied, so another is loaded and sharded
            self.reference, _ = load_policy(self.model_path, device="cpu" if self.sharded else str(self.device))
        if fresh:
            self.ref_policy = TokenLogprobs(self.reference)
            if self.sharded:
                sharding.shard(self.ref_policy, self.reference, self.cfg, self.device, self.compute_dtype)
        if current and not (fresh and not self.sharded):  # (a deep copy is the current policy already)
            self.reference.load_state_dict(self.model.state_dict())  # fsdp: shard by shard, the layouts are the same
        self.reference.eval().requires_grad_(False)

    def _optimizer(self, lr: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.trainable, lr=lr, weight_decay=self.cfg.weight_decay)

    def start_phase(self, lr: float) -> None:
        """A fresh optimizer for a new stage (SFT -> RL): Adam moments of one objective mislead the next."""
        self.optimizer = self._optimizer(lr)

    def ensure_reference(self) -> None:
        """Freeze a copy of the *current* policy as the reference model (replacing any earlier one).

        DPO's reference is the model its stage starts from (e.g. the SFT result), not the original
        base; call this at the start of the stage, on every learner, before ``dpo_step``. With LoRA it
        is the base with the adapter off, which is the stage's start only while the adapter is fresh.
        """
        if self.lora is not None and not self.adapter_fresh:
            raise RuntimeError("with LoRA the reference is the base with the adapter switched off, and this adapter is "
                               "trained already, so that is not the policy as the stage starts: start the stage from the "
                               "merged model (rl.engine.lora.merge_adapter; pipelines do this), or train in full")
        self._set_reference(current=True)

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
        mask_dtype = self.compute_dtype if self.sharded and self.compute_dtype else self.model.dtype  # fsdp casts it so
        collate = partial(collate_packed, pad_id=self.pad_id, dtype=mask_dtype, device=self.device)
        metrics = self._update(rows, loss_fn, collate=collate)  # micro_batch_size rows per micro-batch
        metrics["pad_tokens_saved"] = float(padding_saved(sequences, rows, self.cfg.micro_batch_size))
        return metrics

    def grpo_step(self, sequences: Sequence[TrainSequence], num_tokens: int, num_seqs: int, max_len: int) -> dict[str, float]:
        """One policy-gradient update on this learner's shard; the counts are the whole batch's."""
        weight = 1.0
        if not sequences and self.sharded:  # an empty shard still takes part in every pass, at weight 0
            sequences, weight = [TrainSequence((self.pad_id,), (self.pad_id,))], 0.0
        old = self._old_logprobs(sequences) if self.algo.ppo_epochs > 1 else None
        metrics: dict[str, float] = {}
        for _ in range(self.algo.ppo_epochs):

            def loss_fn(batch, start) -> tuple[torch.Tensor, dict]:
                logprobs = self._logprobs(self.model, batch, temperature=self.temperature)  # (B, T)
                ref = self._logprobs(self.ref_policy, batch, grad=False, temperature=self.temperature) if self.ref_policy is not None else None
                old_lp = old[start : start + len(logprobs)][:, : logprobs.shape[1]] if old is not None else None
                return grpo_loss(
                    logprobs, old_lp, batch["advantages"], batch["mask"],
                    clip_low=self.algo.clip_low, clip_high=self.algo.clip_high, kl_coef=self.algo.kl_coef,
                    ref_logprobs=ref, loss_agg=self.algo.loss_agg,
                    num_tokens=num_tokens, num_seqs=num_seqs, max_len=max_len,
                )

            metrics = self._update(sequences, loss_fn, with_offset=True, weight=weight)
        return metrics

    def dpo_step(
        self, pairs: Sequence[PreferencePair], num_pairs: int, *, loss_type: str, beta: float, label_smoothing: float = 0.0,
    ) -> dict[str, float]:
        """One DPO update on this learner's shard of tokenised pairs; ``num_pairs`` is the whole batch's.

        A pair is two sequences in one forward pass, so a micro-batch holds ``micro_batch_size // 2``
        pairs (at least one): the same activation memory per pass as SFT and GRPO.
        """
        if self.ref_policy is None:
            raise RuntimeError("dpo_step needs a frozen reference model: call ensure_reference() when the DPO stage starts")

        def loss_fn(batch) -> tuple[torch.Tensor, dict]:
            return dpo_batch_loss(self.policy, self.ref_policy, batch, loss_type=loss_type, beta=beta,
                                  label_smoothing=label_smoothing, num_pairs=num_pairs)

        collate = partial(collate_pairs, pad_id=self.pad_id, device=self.device)  # (2b, L): chosen rows, then rejected
        return self._update(pairs, loss_fn, collate=collate, micro_batch_size=max(1, self.cfg.micro_batch_size // 2))

    def _update(self, items: Sequence, loss_fn, with_offset: bool = False, *, collate=None,
                micro_batch_size: int | None = None, weight: float = 1.0) -> dict[str, float]:
        """zero_grad, backward per micro-batch, all-reduce, clip, step; metrics are means over ``items``.

        fsdp: every learner makes as many passes as the one with the most micro-batches (each pass is
        collective); the extra ones repeat a micro-batch at weight 0, as does ``weight`` 0 (an empty shard)."""
        started = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        total, sums = 0.0, {}
        collate = collate or self._collate
        mb = micro_batch_size or self.cfg.micro_batch_size
        starts = range(0, len(items), mb)
        for index in self._passes(len(starts)):
            start = starts[min(index, len(starts) - 1)]
            chunk = items[start : start + mb]
            batch = collate(chunk)
            loss, metrics = loss_fn(batch, start) if with_offset else loss_fn(batch)
            counted = weight if index < len(starts) else 0.0
            (loss * counted if counted != 1.0 else loss).backward()  # each micro-batch loss is already normalised by the global counts
            if counted:
                total += loss.item()
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(chunk)
        self._all_reduce_grads()
        if self.sharded:
            grad_norm = sharding.clip_grad_norm(self.trainable, self.cfg.grad_clip, self.device)
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.trainable, self.cfg.grad_clip)
        self.optimizer.step()
        self.adapter_fresh = False
        out = {key: value / max(1, len(items)) for key, value in sums.items()}
        out.update(loss=total, grad_norm=float(grad_norm), step_s=time.perf_counter() - started)
        return out

    def _passes(self, count: int) -> range:
        """Indices of this step's forward/backward passes: ``count``, or under fsdp the most any learner has."""
        return range(sharding.passes(count, self.device) if self.sharded else count)

    def _all_reduce_grads(self) -> None:
        """Sum gradients over learners in one flat buffer: one collective per step, not one per tensor.
        (fsdp reduce-scatters them in the backward pass itself.)"""
        if self.world_size == 1 or self.sharded:
            return
        params = self.trainable  # with LoRA, the adapter's: the frozen base has no gradients to sum
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
        starts = range(0, len(sequences), self.cfg.micro_batch_size)
        for index in self._passes(len(starts)):  # fsdp: extra passes only keep the learners' collectives in step
            start = starts[min(index, len(starts) - 1)]
            batch = self._collate(sequences[start : start + self.cfg.micro_batch_size])
            lp = self._logprobs(self.model, batch, grad=False, temperature=self.temperature)  # (b, t)
            if index < len(starts):
                rows.append(F.pad(lp, (0, width - lp.shape[1])))
        return torch.cat(rows)  # (B, T)

    def _logprobs(self, model, batch, grad: bool = True, temperature: float = 1.0) -> torch.Tensor:
        """Log-probs of the target tokens, (B, L-1), filled only where ``batch["mask"]`` is set (``TokenLogprobs``).

        ``model``: the policy (``self.model``, scored through ``self.policy``) or a reference scorer.
        ``temperature``: RL scores tokens under the distribution they were sampled from; SFT
        learns the plain (temperature 1) distribution.
        """
        scorer = self.policy if model is self.model else model
        autocast = torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None)
        with torch.set_grad_enabled(grad), autocast:
            return scorer(batch["input_ids"], batch["attention_mask"], position_ids=batch.get("position_ids"),
                          where=batch["mask"].bool(), temperature=temperature)  # (B, L-1): position t predicts token t+1

    def _collate(self, sequences: Sequence[TrainSequence]) -> dict[str, torch.Tensor]:
        """Right-padded ids, attention mask, and a (B, L-1) mask of target tokens (``TrainSequence.target_mask``)."""
        width = max(len(s.prompt_ids) + len(s.completion_ids) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        mask = torch.zeros((len(sequences), width - 1))
        for row, seq in enumerate(sequences):
            tokens = list(seq.prompt_ids) + list(seq.completion_ids)
            ids[row, : len(tokens)] = torch.tensor(tokens)
            attention[row, : len(tokens)] = 1
            # Targets are the completion's sampled tokens; injected ones (tool output, glue) are context only.
            mask[row, len(seq.prompt_ids) - 1 : len(tokens) - 1] = torch.tensor(seq.target_mask(), dtype=mask.dtype)
        advantages = torch.tensor([s.advantage for s in sequences], dtype=torch.float32)
        return {k: v.to(self.device) for k, v in
                {"input_ids": ids, "attention_mask": attention, "mask": mask, "advantages": advantages}.items()}

    # ---------------------------------------------------------------- weights and checkpoints
    # Under fsdp, weight_chunks, get_weights, weight_tensors and save gather shards: collectives, which
    # every learner must call at the same time (each gets the full tensors; rank 0 writes checkpoints).
    def weight_chunks(self, bucket_bytes: int = 64 << 20) -> Iterator[dict[str, torch.Tensor]]:
        """What a rollout must load (``rl.engine.lora.trained_state``: the whole model, or with LoRA the
        adapter only), whole, by the rollout model's state-dict names, about ``bucket_bytes`` at a time:
        ddp yields the tensors themselves (no copy); fsdp gathers them one by one, never the model twice."""
        yield from sharding.full_buckets(adapters.trained_state(self.model), bucket_bytes, self.device)

    def get_weights(self) -> dict[str, torch.Tensor]:
        """``weight_chunks`` copied to CPU, as one name -> tensor dict (the object-store weight sync)."""
        return {k: v.to("cpu", copy=True) for chunk in self.weight_chunks() for k, v in chunk.items()}

    def save(self, path: str, extra: dict[str, Any]) -> None:
        """A checkpoint in ``path`` (``rl.engine.checkpoint``: HF model or peft adapter, tokenizer, optimizer,
        RNG, ``extra``). Rank 0 writes; under fsdp every learner must call it."""
        save_checkpoint(self, path, extra)

    def load_trainer_state(self, path: str) -> dict[str, Any]:
        """Optimizer and RNG state from a checkpoint (the weights came with the constructor's path)."""
        return load_checkpoint_state(self, path)

    def ping(self) -> int:
        return self.rank
