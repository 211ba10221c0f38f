"""The policy-gradient loss: PPO's clipped surrogate per token, an optional k3 KL to a frozen
reference, and a registered aggregation from ``(B, T)`` per-token values to one scalar.

Shapes: B completions, T completion positions (right-padded); ``mask`` is 1 on real tokens.

Micro-batching. Each aggregation returns the micro-batch's *share* of the full-batch loss
when told the full batch's size (``num_tokens`` for token-mean, ``num_seqs`` for the
per-sequence ones). Summing ``.backward()`` over micro-batches then gives exactly the
full-batch gradient; left at ``None`` the counts are the micro-batch's own, which is right
only when the whole batch is one micro-batch.

    >>> import torch
    >>> lp = torch.zeros(2, 3)                                  # (B, T)
    >>> mask = torch.tensor([[1, 1, 1], [1, 0, 0]])             # (B, T)
    >>> loss, _ = grpo_loss(lp, lp, torch.tensor([1.0, -1.0]), mask, loss_agg="seq-mean-token-mean")
    >>> loss.item()  # ratio 1 everywhere: -mean over sequences of A
    0.0
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rl.registries import LOSS_AGGREGATIONS

LossAgg = Callable[..., Tensor]  # (values (B, T), mask (B, T), *, num_tokens, num_seqs, max_len) -> ()

register_loss_agg = LOSS_AGGREGATIONS.register  # built-ins are declared in rl.registries


def get_loss_agg(name: str) -> LossAgg:
    return LOSS_AGGREGATIONS.get(name)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the positions where ``mask`` is 1; 0 for an empty mask."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped surrogate, per token: -min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A).

    ``clip_high > clip_low`` is DAPO's clip-higher: a low-probability token with A > 0 may grow
    further before its gradient is cut, which keeps entropy from collapsing. Returns the
    unmasked ``(B, T)`` loss (the aggregation masks it) and detached metrics over masked tokens.
    """
    ratio = torch.exp(logprobs - old_logprobs)  # (B, T)
    adv = advantages.unsqueeze(1)  # (B, 1)
    clipped_ratio = ratio.clamp(1.0 - clip_low, 1.0 + clip_high)  # (B, T)
    per_token = -torch.min(ratio * adv, clipped_ratio * adv)  # (B, T)

    with torch.no_grad():
        # Clipped "where it matters": the clipped branch is the min, so the token gets no gradient.
        low = ((ratio < 1.0 - clip_low) & (adv < 0)).float()  # (B, T)
        high = ((ratio > 1.0 + clip_high) & (adv > 0)).float()  # (B, T)
        metrics = {
            "clip_frac": masked_mean(low + high, mask),
            "clip_frac_low": masked_mean(low, mask),
            "clip_frac_high": masked_mean(high, mask),
            "ratio_mean": masked_mean(ratio, mask),
            "ratio_max": (ratio * mask).max(),
        }
    return per_token, metrics


def kl_k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Schulman's k3 estimator of KL(pi || ref), per token: exp(d) - d - 1 with d = ref - pi.

    Non-negative for every sample, zero where the two agree, and unbiased under samples from pi.
    """
    delta = ref_logprobs - logprobs  # (B, T)
    return torch.exp(delta) - delta - 1.0  # (B, T)


def token_mean(values: Tensor, mask: Tensor, *, num_tokens=None, num_seqs=None, max_len=None) -> Tensor:
    """Sum over every token of the batch / number of tokens (DAPO): long answers weigh per token, not per answer."""
    denom = mask.sum() if num_tokens is None else torch.as_tensor(num_tokens)
    return (values * mask).sum() / denom.clamp(min=1)


def seq_mean_token_mean(values: Tensor, mask: Tensor, *, num_tokens=None, num_seqs=None, max_len=None) -> Tensor:
    """Mean over each sequence's tokens, then mean over sequences (the original GRPO)."""
    per_seq = (values * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)  # (B,)
    return per_seq.sum() / (values.size(0) if num_seqs is None else num_seqs)


def seq_mean_token_sum_norm(values: Tensor, mask: Tensor, *, num_tokens=None, num_seqs=None, max_len=None) -> Tensor:
    """Sum over each sequence's tokens / a constant ``max_len``, then mean over sequences (Dr. GRPO).

    The constant (the generation length limit) replaces the per-sequence length, which would
    otherwise favour long wrong answers. It must not be the padded width of the micro-batch.
    """
    if max_len is None:
        raise ValueError("seq-mean-token-sum-norm needs max_len, the constant length normaliser (e.g. max new tokens)")
    per_seq = (values * mask).sum(dim=1) / max_len  # (B,)
    return per_seq.sum() / (values.size(0) if num_seqs is None else num_seqs)


def grpo_loss(
    logprobs: Tensor,
    old_logprobs: Tensor | None,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    kl_coef: float = 0.0,
    ref_logprobs: Tensor | None = None,
    kl_importance_weighted: bool = False,
    loss_agg: str = "token-mean",
    num_tokens: int | Tensor | None = None,
    num_seqs: int | None = None,
    max_len: int | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Scalar loss for one (micro-)batch: aggregate(policy_loss + kl_coef * k3).

    ``old_logprobs=None`` means on-policy (the ratio is 1, its gradient is still that of
    log pi). ``num_tokens``/``num_seqs`` are the full batch's counts when this is one
    micro-batch of several (see the module docstring).

    ``kl_importance_weighted`` multiplies k3 by the (differentiable) ratio pi / pi_old: the tokens
    were sampled from pi_old, and the weight makes the KL gradient the unbiased one for KL(pi || ref)
    (DeepSeek-V3.2). It changes the gradient even on-policy. TRL 1.16 turns it on by default
    (``use_bias_correction_kl``); plain k3, as in the GRPO paper and verl, is ours.
    """
    aggregate = get_loss_agg(loss_agg)
    if old_logprobs is None:
        old_logprobs = logprobs.detach()
    mask = mask.to(logprobs.dtype)  # (B, T)
    per_token, metrics = policy_loss(logprobs, old_logprobs, advantages, mask, clip_low, clip_high)  # (B, T)
    if kl_coef != 0.0:
        if ref_logprobs is None:
            raise ValueError(f"kl_coef={kl_coef} needs ref_logprobs from the frozen reference model")
        kl = kl_k3(logprobs, ref_logprobs)  # (B, T)
        metrics["kl"] = masked_mean(kl.detach(), mask)
        if kl_importance_weighted:
            kl = kl * torch.exp(logprobs - old_logprobs)  # (B, T)
        per_token = per_token + kl_coef * kl  # (B, T)
    loss = aggregate(per_token, mask, num_tokens=num_tokens, num_seqs=num_seqs, max_len=max_len)
    metrics["loss"] = loss.detach()
    return loss, metrics
