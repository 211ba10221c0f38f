"""Advantages, the clipped policy loss, aggregations, k3 and dynamic sampling against hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch

from rl.algorithms import (
    ADVANTAGE_ESTIMATORS,
    LOSS_AGGREGATIONS,
    DynamicSampler,
    filter_groups,
    get_advantage_estimator,
    get_loss_agg,
    grpo_loss,
    kl_k3,
    policy_loss,
)

SQRT_THIRD = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]

ADVANTAGE_CASES = [  # (estimator, rewards (N, G), eps, expected (N, G))
    ("grpo", [[1.0, 0.0, 0.0, 1.0]], 0.0, [[0.5 / SQRT_THIRD, -0.5 / SQRT_THIRD, -0.5 / SQRT_THIRD, 0.5 / SQRT_THIRD]]),
    ("grpo", [[3.0, 1.0]], 0.0, [[1 / math.sqrt(2), -1 / math.sqrt(2)]]),  # std of [3, 1] is sqrt(2)
    ("grpo", [[2.0, 2.0, 2.0]], 1e-4, [[0.0, 0.0, 0.0]]),  # zero variance: zeros, not NaN
    ("grpo", [[3.0]], 1e-4, [[0.0]]),  # one sample: no std, no signal
    ("grpo", [[1.0, 0.0], [5.0, 5.0]], 1e-4, [[0.5 / (math.sqrt(0.5) + 1e-4), -0.5 / (math.sqrt(0.5) + 1e-4)], [0.0, 0.0]]),
    ("dr_grpo", [[1.0, 0.0, 0.0, 1.0]], 1e-4, [[0.5, -0.5, -0.5, 0.5]]),
    ("dr_grpo", [[3.0, 1.0], [0.0, 0.0]], 1e-4, [[1.0, -1.0], [0.0, 0.0]]),
    ("rloo", [[1.0, 0.0, 0.0]], 1e-4, [[1.0, -0.5, -0.5]]),
    ("rloo", [[4.0, 2.0]], 1e-4, [[2.0, -2.0]]),
    ("rloo", [[1.0, 2.0, 3.0, 6.0]], 1e-4, [[1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3]]),
]


@pytest.mark.parametrize("name, rewards, eps, expected", ADVANTAGE_CASES)
def test_advantages_match_hand_computed(name, rewards, eps, expected):
    got = get_advantage_estimator(name)(torch.tensor(rewards), eps=eps)
    torch.testing.assert_close(got, torch.tensor(expected), rtol=1e-5, atol=1e-6)


def test_rloo_is_leave_one_out_mean():
    rewards = torch.rand(3, 5, generator=torch.Generator().manual_seed(0))  # (N, G)
    others = (rewards.sum(dim=1, keepdim=True) - rewards) / 4  # (N, G)
    torch.testing.assert_close(get_advantage_estimator("rloo")(rewards), rewards - others)


def test_rloo_needs_two_samples():
    with pytest.raises(ValueError, match="G=1"):
        get_advantage_estimator("rloo")(torch.tensor([[1.0]]))


def test_unknown_names_list_the_known_ones():
    assert ADVANTAGE_ESTIMATORS.names() == ["dr_grpo", "grpo", "rloo"]
    with pytest.raises(ValueError, match="unknown advantage estimator 'ppo'; known: dr_grpo, grpo, rloo"):
        get_advantage_estimator("ppo")
    with pytest.raises(ValueError, match="known: seq-mean-token-mean, seq-mean-token-sum-norm, token-mean"):
        get_loss_agg("sum")


# ratio = exp(logprobs - old) per column; clip_low 0.2, clip_high 0.28 -> the ratio lives in [0.8, 1.28]
RATIOS = [0.5, 0.9, 1.0, 1.25, 1.5]


@pytest.mark.parametrize(
    "advantage, clip_high, clipped",
    [
        (1.0, 0.28, [False, False, False, False, True]),  # A > 0: only the top is cut
        (-1.0, 0.28, [True, False, False, False, False]),  # A < 0: only the bottom is cut
        (1.0, 0.2, [False, False, False, True, True]),  # symmetric clip also cuts 1.25: clip-higher is what frees it
    ],
)
def test_clipping_cuts_the_gradient_exactly_where_expected(advantage, clip_high, clipped):
    ratios = torch.tensor([RATIOS])  # (1, T)
    old = torch.full_like(ratios, -2.0)  # (1, T)
    logprobs = (old + ratios.log()).requires_grad_()  # (1, T)
    mask = torch.ones_like(ratios)  # (1, T)
    per_token, metrics = policy_loss(logprobs, old, torch.tensor([advantage]), mask, clip_low=0.2, clip_high=clip_high)

    bounded = ratios.clamp(0.8, 1 + clip_high)  # (1, T)
    expected = -torch.minimum(ratios * advantage, bounded * advantage)  # (1, T)
    torch.testing.assert_close(per_token, expected)
    per_token.sum().backward()
    assert (logprobs.grad[0] == 0).tolist() == clipped
    side = "clip_frac_high" if advantage > 0 else "clip_frac_low"
    assert metrics[side].item() == pytest.approx(sum(clipped) / len(RATIOS))
    assert metrics["clip_frac"].item() == pytest.approx(sum(clipped) / len(RATIOS))
    assert metrics["ratio_mean"].item() == pytest.approx(sum(RATIOS) / len(RATIOS))


VALUES = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 100.0, 100.0, 100.0]])  # (B, T); 100 sits on padding
RAGGED = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])  # (B, T)


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("token-mean", {}, (1 + 2 + 3 + 4) / 4),
        ("token-mean", {"num_tokens": 8}, (1 + 2 + 3 + 4) / 8),  # this is one micro-batch of a larger batch
        ("seq-mean-token-mean", {}, ((1 + 2 + 3) / 3 + 4) / 2),
        ("seq-mean-token-mean", {"num_seqs": 4}, ((1 + 2 + 3) / 3 + 4) / 4),
        ("seq-mean-token-sum-norm", {"max_len": 4}, ((1 + 2 + 3) / 4 + 4 / 4) / 2),
        ("seq-mean-token-sum-norm", {"max_len": 10}, ((1 + 2 + 3) / 10 + 4 / 10) / 2),
    ],
)
def test_aggregations_on_a_ragged_mask(name, kwargs, expected):
    assert get_loss_agg(name)(VALUES, RAGGED, **kwargs).item() == pytest.approx(expected)


def test_sum_norm_needs_its_constant():
    with pytest.raises(ValueError, match="max_len"):
        get_loss_agg("seq-mean-token-sum-norm")(VALUES, RAGGED)


def test_empty_sequence_contributes_zero_not_nan():
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])  # (B, T)
    assert get_loss_agg("seq-mean-token-mean")(VALUES, mask).item() == pytest.approx(1.5 / 2)


def _toy_batch(batch_size=6, length=5, dim=3):
    """A shared-parameter 'policy': log-probs -softplus(features @ w), so every sequence's loss reaches w."""
    g = torch.Generator().manual_seed(0)
    features = torch.randn(batch_size, length, dim, generator=g)  # (B, T, D)
    lengths = torch.tensor([5, 1, 3, 2, 4, 5])  # (B,): ragged, and unequal token counts per micro-batch
    mask = (torch.arange(length) < lengths.unsqueeze(1)).float()  # (B, T)
    old = -torch.nn.functional.softplus(features @ torch.randn(dim, generator=g))  # (B, T)
    ref = -torch.nn.functional.softplus(features @ torch.randn(dim, generator=g))  # (B, T)
    advantages = torch.randn(batch_size, generator=g)  # (B,)
    return features, mask, old, ref, advantages


def _loss_and_grad(w, features, mask, old, ref, advantages, rows, **kwargs):
    logprobs = -torch.nn.functional.softplus(features[rows] @ w)  # (b, T)
    loss, _ = grpo_loss(logprobs, old[rows], advantages[rows], mask[rows], ref_logprobs=ref[rows], **kwargs)
    (grad,) = torch.autograd.grad(loss, w)
    return loss.detach(), grad


@pytest.mark.parametrize("loss_agg", LOSS_AGGREGATIONS.names())
def test_micro_batch_accumulation_equals_full_batch(loss_agg):
    features, mask, old, ref, advantages = _toy_batch()
    w = torch.zeros(3, requires_grad=True)
    common = dict(clip_low=0.2, clip_high=0.28, kl_coef=0.1, loss_agg=loss_agg, max_len=5)
    full_loss, full_grad = _loss_and_grad(w, features, mask, old, ref, advantages, slice(None), **common)

    totals = dict(num_tokens=mask.sum(), num_seqs=mask.size(0))  # the full batch's counts
    parts = [_loss_and_grad(w, features, mask, old, ref, advantages, rows, **common, **totals)
             for rows in (slice(0, 1), slice(1, 4), slice(4, 6))]
    torch.testing.assert_close(sum(loss for loss, _ in parts), full_loss)
    torch.testing.assert_close(sum(grad for _, grad in parts), full_grad)


def test_micro_batches_without_global_token_count_get_a_different_gradient():
    features, mask, old, ref, advantages = _toy_batch()
    w = torch.zeros(3, requires_grad=True)
    _, full_grad = _loss_and_grad(w, features, mask, old, ref, advantages, slice(None))
    halves = [_loss_and_grad(w, features, mask, old, ref, advantages, rows)[1] / 2 for rows in (slice(0, 3), slice(3, 6))]
    assert not torch.allclose(sum(halves), full_grad, atol=1e-4)


def test_on_policy_loss_is_the_policy_gradient():
    logprobs = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)  # (B, T)
    advantages = torch.tensor([2.0, -1.0])  # (B,)
    loss, metrics = grpo_loss(logprobs, None, advantages, torch.ones(2, 2), loss_agg="token-mean")
    loss.backward()
    assert loss.item() == pytest.approx(-(2 * 2 - 1 * 2) / 4)  # ratio 1: -mean of A over tokens
    torch.testing.assert_close(logprobs.grad, -advantages.unsqueeze(1).expand(2, 2) / 4)
    assert metrics["clip_frac"].item() == 0.0


def test_kl_needs_reference_logprobs():
    lp = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="ref_logprobs"):
        grpo_loss(lp, lp, torch.ones(1), torch.ones(1, 2), kl_coef=0.1)


def test_kl_importance_weighting_changes_the_gradient_not_the_on_policy_value():
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)  # (B, T)
    ref = torch.tensor([[-1.5, -1.0]])  # (B, T)
    results = []
    for weighted in (False, True):
        loss, metrics = grpo_loss(logprobs, None, torch.zeros(1), torch.ones(1, 2), kl_coef=1.0, ref_logprobs=ref,
                                  kl_importance_weighted=weighted)
        (grad,) = torch.autograd.grad(loss, logprobs)
        results.append((loss.detach(), grad, metrics["kl"]))
    torch.testing.assert_close(results[0][0], results[1][0])
    assert not torch.allclose(results[0][1], results[1][1])


def test_k3_is_nonnegative_and_zero_on_agreement():
    g = torch.Generator().manual_seed(0)
    lp, ref = -torch.rand(4, 7, generator=g) * 5, -torch.rand(4, 7, generator=g) * 5  # (B, T)
    assert (kl_k3(lp, ref) >= 0).all()
    assert (kl_k3(lp, ref) > 0).all()  # continuous draws never coincide
    assert torch.equal(kl_k3(lp, lp), torch.zeros_like(lp))


def test_k3_expectation_under_the_policy_is_the_exact_kl():
    g = torch.Generator().manual_seed(1)
    log_pi = torch.log_softmax(torch.randn(10, generator=g), dim=0)  # (V,)
    log_ref = torch.log_softmax(torch.randn(10, generator=g), dim=0)  # (V,)
    exact = (log_pi.exp() * (log_pi - log_ref)).sum()
    expected_k3 = (log_pi.exp() * kl_k3(log_pi, log_ref)).sum()
    torch.testing.assert_close(expected_k3, exact)


@pytest.mark.parametrize(
    "rewards, keep",
    [
        ([[1.0, 0.0, 1.0]], [True]),
        ([[1.0, 1.0, 1.0]], [False]),
        ([[0.0, 0.0], [0.5, 0.5], [0.2, 0.7]], [False, False, True]),
        ([[3.0]], [False]),  # a single sample has no spread
    ],
)
def test_filter_groups(rewards, keep):
    assert filter_groups(torch.tensor(rewards)).tolist() == keep


def test_filter_groups_tolerance():
    assert filter_groups(torch.tensor([[1.0, 1.0 + 1e-9]]), atol=1e-6).tolist() == [False]


def test_dynamic_sampler_refills_until_target():
    sampler = DynamicSampler(target_groups=3, max_rounds=5)
    assert not sampler.add(["a", "b", "c"], torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))  # keeps a
    assert not sampler.add(["d"], torch.tensor([[0.0, 0.0]]))  # keeps nothing
    assert sampler.add(["e", "f", "g"], torch.tensor([[0.0, 1.0], [0.0, 0.5], [1.0, 0.0]]))  # keeps e, f, g
    assert (sampler.rounds, sampler.dropped) == (3, 3)
    assert sampler.take() == ["a", "e", "f"]  # the extra kept group is discarded
    assert (sampler.rounds, sampler.dropped, sampler.done) == (0, 0, False)


def test_dynamic_sampler_stops_at_the_round_cap():
    sampler = DynamicSampler(target_groups=4, max_rounds=2)
    assert not sampler.add(["a", "b"], torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    assert sampler.add(["c"], torch.tensor([[1.0, 1.0]]))
    assert sampler.take() == ["a"]  # short batch: the loop decides whether to train on it


def test_dynamic_sampler_checks_shapes():
    with pytest.raises(ValueError, match="2 groups but rewards for 3"):
        DynamicSampler(target_groups=1).add(["a", "b"], torch.zeros(3, 4))
    with pytest.raises(ValueError):
        DynamicSampler(target_groups=0)
