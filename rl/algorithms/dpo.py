"""DPO: a registered loss on the sequence log-probs of a chosen and a rejected completion, under the
policy and a frozen reference, plus the batch layout and log-prob helpers the learner needs.

    batch = collate_pairs(pairs, pad_id)                  # chosen rows, then rejected rows (TRL's layout)
    loss, metrics = dpo_batch_loss(policy, reference, batch, loss_type="sigmoid", beta=0.1)
    loss.backward()

Shapes: B pairs; the batch holds 2B rows of width L, right-padded; ``completion_mask`` (2B, L) is
1 on completion tokens. A sequence's log-prob is the *sum* over its completion tokens (TRL's
default). Every loss takes the four ``(B,)`` summed log-probs and the two ``(B,)`` completion
lengths and returns ``(B,)`` per-pair losses and detached metrics named as TRL logs them.

TRL 1.16 (``DPOTrainer._compute_loss``, ``f_divergence_type="reverse_kl"``, ``ld_alpha=None``),
with d = (pi_c - ref_c) - (pi_r - ref_r) on summed log-probs:
    sigmoid  -logsigmoid(beta d). TRL 1.16 ignores ``label_smoothing`` here; ours applies the
             conservative-DPO mix (1 - ls) * -logsigmoid(beta d) + ls * -logsigmoid(-beta d), which
             is what TRL's sigmoid did before and equals it at ls = 0.
    ipo      (d_avg - 1 / (2 beta))^2 with d_avg = (pi_c - ref_c) / n_c - (pi_r - ref_r) / n_r: IPO works
             on *average* per-token log-probs, n the completion's token count (TRL's choice, confirmed
             with the IPO authors). The metrics still use the summed log-probs, as TRL's do.
    hinge    relu(1 - beta d) (SLiC).
    robust   ((1 - ls) * -logsigmoid(beta d) - ls * -logsigmoid(-beta d)) / (1 - 2 ls) (rDPO), 0 <= ls < 0.5.
The reported loss is the mean over pairs. ``tests/test_dpo_trl_parity.py`` checks all four against TRL.

    >>> import torch
    >>> zero = torch.zeros(1)
    >>> losses, metrics = get_dpo_loss("sigmoid")(zero, zero, zero, zero, beta=0.1)
    >>> round(losses.item(), 4)  # policy == reference: -log sigmoid(0) = log 2
    0.6931
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rl.registries import DPO_LOSSES

if TYPE_CHECKING:
    from rl.data.records import PreferencePair

# (policy_chosen (B,), policy_rejected (B,), ref_chosen (B,), ref_rejected (B,), beta, label_smoothing,
#  *, chosen_lengths (B,), rejected_lengths (B,)) -> (losses (B,), metrics)
DPOLoss = Callable[..., tuple[Tensor, dict[str, Tensor]]]

register_dpo_loss = DPO_LOSSES.register  # built-ins are declared in rl.registries


def get_dpo_loss(name: str) -> DPOLoss:
    return DPO_LOSSES.get(name)


# ---------------------------------------------------------------- losses


def sigmoid_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
    label_smoothing: float = 0.0,
    *,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The DPO loss: -log sigmoid(beta * d); with ``label_smoothing`` ls, the labels are taken to be flipped
    with probability ls (conservative DPO), so the loss no longer pushes the margin to infinity."""
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"sigmoid: label_smoothing must be in [0, 0.5), got {label_smoothing}")
    logits = beta * _delta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)  # (B,)
    losses = -(1.0 - label_smoothing) * F.logsigmoid(logits) - label_smoothing * F.logsigmoid(-logits)  # (B,)
    return losses, _metrics(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)


def ipo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
    label_smoothing: float = 0.0,
    *,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """IPO (Azar et al. 2023, eq. 17): regress the per-token log-ratio margin onto 1 / (2 beta), beta being tau.

    The squared loss of a summed margin would grow with completion length, so the log-ratios are
    divided by the completion lengths (TRL does the same); hence the lengths are required.
    """
    _no_smoothing("ipo", label_smoothing)
    if chosen_lengths is None or rejected_lengths is None:
        raise ValueError("ipo averages log-probs per token: pass chosen_lengths and rejected_lengths (completion token counts)")
    chosen_logratios = (policy_chosen_logps - ref_chosen_logps) / chosen_lengths.clamp(min=1)  # (B,)
    rejected_logratios = (policy_rejected_logps - ref_rejected_logps) / rejected_lengths.clamp(min=1)  # (B,)
    losses = (chosen_logratios - rejected_logratios - 1.0 / (2.0 * beta)) ** 2  # (B,)
    return losses, _metrics(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)


def hinge_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
    label_smoothing: float = 0.0,
    *,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """SLiC's hinge: relu(1 - beta * d); pairs already separated by 1 / beta give no gradient."""
    _no_smoothing("hinge", label_smoothing)
    logits = beta * _delta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)  # (B,)
    return torch.relu(1.0 - logits), _metrics(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)


def robust_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    beta: float,
    label_smoothing: float = 0.0,
    *,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Robust DPO (Chowdhury et al. 2024): an unbiased loss under labels flipped with probability ls.

    Unlike conservative DPO, the flipped term is subtracted, so the loss can be negative.
    """
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"robust: label_smoothing (the flip probability) must be in [0, 0.5), got {label_smoothing}")
    logits = beta * _delta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps)  # (B,)
    clean = -(1.0 - label_smoothing) * F.logsigmoid(logits)  # (B,)
    flipped = -label_smoothing * F.logsigmoid(-logits)  # (B,)
    losses = (clean - flipped) / (1.0 - 2.0 * label_smoothing)  # (B,)
    return losses, _metrics(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)


def _delta(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor) -> Tensor:
    return (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)  # (B,)


def _no_smoothing(name: str, label_smoothing: float) -> None:
    # TRL silently ignores it for these losses; a value set in config and ignored would mislead.
    if label_smoothing:
        raise ValueError(f"{name} has no label smoothing; got label_smoothing={label_smoothing} (use sigmoid or robust)")


@torch.no_grad()
def _metrics(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor, beta: float) -> dict[str, Tensor]:
    """TRL's logged DPO metrics: the implicit rewards beta * (log pi - log ref), their margin, and how
    often the chosen completion's reward is the higher one. Means over the pairs."""
    chosen_rewards = beta * (policy_chosen - ref_chosen)  # (B,)
    rejected_rewards = beta * (policy_rejected - ref_rejected)  # (B,)
    return {
        "rewards/chosen": chosen_rewards.mean(),
        "rewards/rejected": rejected_rewards.mean(),
        "rewards/accuracies": (chosen_rewards > rejected_rewards).float().mean(),
        "rewards/margins": (chosen_rewards - rejected_rewards).mean(),
        "logps/chosen": policy_chosen.detach().mean(),
        "logps/rejected": policy_rejected.detach().mean(),
    }


# ---------------------------------------------------------------- batches and log-probs


def collate_pairs(pairs: Sequence[PreferencePair], pad_id: int, device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Tokenised pairs as one right-padded batch: rows 0..B-1 are prompt + chosen, rows B..2B-1 prompt + rejected.

    One forward pass scores both sides. ``completion_mask`` marks the completion tokens.
    """
    if not pairs:
        raise ValueError("collate_pairs: no pairs")
    rows, marks = [], []
    for side in ("chosen_ids", "rejected_ids"):
        for pair in pairs:
            if pair.prompt_ids is None:
                raise ValueError(f"pair {pair.id!r} has no token ids; tokenise it first (rl.data.preferences.tokenize_pair)")
            if not pair.prompt_ids:
                raise ValueError(f"pair {pair.id!r} has an empty prompt: the first completion token would have no context")
            completion = getattr(pair, side)
            rows.append(list(pair.prompt_ids) + list(completion))
            marks.append([0] * len(pair.prompt_ids) + [1] * len(completion))
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (2B, L)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (2B, L)
    completion_mask = torch.zeros((len(rows), width), dtype=torch.long)  # (2B, L)
    for i, (row, mark) in enumerate(zip(rows, marks)):
        input_ids[i, : len(row)] = torch.tensor(row)
        attention_mask[i, : len(row)] = 1
        completion_mask[i, : len(row)] = torch.tensor(mark)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}
    return {k: v.to(device) for k, v in batch.items()}


def sequence_logps(model: Any, input_ids: Tensor, attention_mask: Tensor, completion_mask: Tensor, average: bool = False) -> Tensor:
    """log pi(completion | prompt) per row, (N,): the sum over completion tokens, or their mean with ``average``."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits  # (N, L, V)
    logits = logits[:, :-1].float()  # (N, L-1, V): position t predicts token t + 1
    targets = input_ids[:, 1:]  # (N, L-1)
    mask = completion_mask[:, 1:].to(logits.dtype)  # (N, L-1)
    per_token = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N, L-1)
    total = (per_token * mask).sum(dim=1)  # (N,)
    return total / mask.sum(dim=1).clamp(min=1) if average else total


def dpo_batch_loss(
    model: Any,
    reference: Any,
    batch: dict[str, Tensor],
    *,
    loss_type: str,
    beta: float,
    label_smoothing: float = 0.0,
    num_pairs: int | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Scalar loss of one ``collate_pairs`` batch: the registered loss, summed over pairs / ``num_pairs``.

    ``reference`` is the frozen model: it runs under ``no_grad``, so it gets no gradient even if its
    parameters require one. ``num_pairs`` is the full batch's pair count when this batch is one
    micro-batch of several (summing ``.backward()`` then gives the full-batch gradient); left at
    None it is this batch's own, i.e. the mean over pairs.
    """
    loss_fn = get_dpo_loss(loss_type)
    ids, attention, completion = batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
    policy_chosen, policy_rejected = sequence_logps(model, ids, attention, completion).chunk(2)  # (B,), (B,)
    with torch.no_grad():
        ref_chosen, ref_rejected = sequence_logps(reference, ids, attention, completion).chunk(2)  # (B,), (B,)
    chosen_lengths, rejected_lengths = completion[:, 1:].sum(dim=1).chunk(2)  # (B,), (B,)
    losses, metrics = loss_fn(
        policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta, label_smoothing,
        chosen_lengths=chosen_lengths, rejected_lengths=rejected_lengths,
    )  # (B,)
    loss = losses.sum() / (losses.size(0) if num_pairs is None else num_pairs)
    return loss, metrics
