"""Our GRPO loss, gradients and advantages against TRL's GRPOTrainer on the same batch.

TRL runs its own code end to end: a ``rollout_func`` hands it fixed token ids (no generation),
a reward function hands it fixed rewards, and ``_generate_and_score_completions`` computes the
advantages and the reference log-probs as in training; ``_compute_loss`` then computes the loss
from its own forward pass. Our side recomputes every log-prob with a plain forward through the
same weights and uses only ``rl.algorithms``.

Loss types (TRL 1.16) and ours:
    grpo    <-> seq-mean-token-mean
    bnpo    <-> token-mean, counting this micro-batch's tokens
    dapo    <-> token-mean, counting the whole generation batch's tokens (our num_tokens)
    dr_grpo <-> seq-mean-token-sum-norm with max_len = max_completion_length
scale_rewards="group" <-> our "grpo" advantages (eps 1e-4); "none" <-> "dr_grpo".
use_bias_correction_kl (TRL's default True) <-> our kl_importance_weighted (default False).
TRL's defaults that would break an fp32 comparison are overridden: bf16=True autocast.
"""
from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
trl = pytest.importorskip("trl")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
datasets = pytest.importorskip("datasets")

from rl.algorithms import get_advantage_estimator, grpo_loss  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

VOCAB = 100
PAD, EOS = 1, 2
MAX_COMPLETION_LENGTH = 5
GROUP_SIZE = 4
CLIP_LOW, CLIP_HIGH = 0.2, 0.28  # clip-higher: asymmetric on purpose
KL_COEF = 0.04

# Three prompts of different lengths (TRL left-pads them), four ragged completions each.
PROMPTS = {"t5 t6 t7": [5, 6, 7], "t8 t9": [8, 9], "t30": [30]}
COMPLETIONS = [
    [10, 11, 12, EOS], [13, 14], [15, 16, 17, 18, 19], [20],
    [21, 22, EOS], [23, 24, 25, 26, 27], [28], [29, 31],
    [32, 33, 34, 35, 36], [37, EOS], [38, 39, 40], [41],
]
# The last group is all-equal: zero std, so TRL's and our eps handling both show.
REWARDS = [1.0, 0.0, 0.5, 1.0, 0.0, 0.0, 1.0, 0.2, 1.0, 1.0, 1.0, 1.0]

CASES = [  # (TRL loss_type, TRL scale_rewards, our advantage estimator, our loss aggregation)
    ("grpo", "group", "grpo", "seq-mean-token-mean"),
    ("bnpo", "group", "grpo", "token-mean"),
    ("dapo", "group", "grpo", "token-mean"),
    ("dr_grpo", "none", "dr_grpo", "seq-mean-token-sum-norm"),
]


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A random tiny Qwen2 and a word-level tokenizer saved to disk: TRL builds its reference model from a path."""
    path = tmp_path_factory.mktemp("tiny-qwen2")
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        intermediate_size=64, vocab_size=VOCAB,
    )
    transformers.Qwen2ForCausalLM(config).save_pretrained(path)
    _tokenizer().save_pretrained(path)
    return path


def _tokenizer():
    vocab = {f"t{i}": i for i in range(VOCAB)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="t0"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="t0", pad_token="t1", eos_token="t2")


def _rollout(prompts, trainer):
    return {"prompt_ids": [PROMPTS[p] for p in prompts], "completion_ids": COMPLETIONS, "logprobs": None}


def _fixed_rewards(prompts, completions, **kwargs):
    return REWARDS


def _trainer(model_dir, tmp_path, loss_type, scale_rewards, beta, kl_weighted=False):
    args = trl.GRPOConfig(
        output_dir=str(tmp_path), report_to=[], use_cpu=True, seed=0, bf16=False,  # TRL defaults to bf16 autocast
        num_generations=GROUP_SIZE, per_device_train_batch_size=len(COMPLETIONS),
        max_completion_length=MAX_COMPLETION_LENGTH, loss_type=loss_type, scale_rewards=scale_rewards,
        beta=beta, use_bias_correction_kl=kl_weighted, epsilon=CLIP_LOW, epsilon_high=CLIP_HIGH,
    )
    prompts = list(PROMPTS)
    return trl.GRPOTrainer(
        model=str(model_dir), reward_funcs=_fixed_rewards, args=args,
        train_dataset=datasets.Dataset.from_dict({"prompt": prompts}),
        processing_class=_tokenizer(), rollout_func=_rollout,
    )


def completion_logprobs(model, prompt_ids, prompt_mask, completion_ids, completion_mask):
    """log pi(completion token | prefix) from a plain forward pass, (B, T)."""
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1)  # (B, P + T)
    attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)  # (B, P + T)
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, P + T, V)
    logits = logits[:, prompt_ids.size(1) - 1 : -1].float()  # (B, T, V): position t predicts token t + 1
    return torch.log_softmax(logits, dim=-1).gather(-1, completion_ids.unsqueeze(-1)).squeeze(-1)  # (B, T)


def _grads(model):
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def _trl_batch(trainer):
    """TRL's own generation-and-scoring step, then policy weights moved away from the reference and stale
    old log-probs, so that both the KL and the clipping are active."""
    inputs = [{"prompt": p} for p in PROMPTS for _ in range(GROUP_SIZE)]
    batch = trainer._generate_and_score_completions(inputs)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
        current = completion_logprobs(trainer.model, *_ids(batch))  # (B, T)
    # log-ratios cycling along the diagonals: ratios of exp(+-0.5) fall outside [1 - 0.2, 1 + 0.28] on both sides
    steps = torch.tensor([0.5, -0.5, 0.1, -0.1, 0.3])
    rows, cols = torch.meshgrid(torch.arange(current.size(0)), torch.arange(current.size(1)), indexing="ij")
    batch["old_per_token_logps"] = current - steps[(rows + cols) % len(steps)]  # (B, T)
    return batch


def _ids(batch):
    return batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"], batch["completion_mask"]


KL_SETTINGS = {  # id: (beta, TRL use_bias_correction_kl = our kl_importance_weighted)
    "no-kl": (0.0, False),
    "kl": (KL_COEF, False),
    "kl-weighted": (KL_COEF, True),
}


@pytest.mark.parametrize("kl_setting", KL_SETTINGS)
@pytest.mark.parametrize("loss_type, scale_rewards, estimator, loss_agg", CASES, ids=[c[0] for c in CASES])
def test_loss_and_gradients_match_trl(tiny_model_dir, tmp_path, loss_type, scale_rewards, estimator, loss_agg, kl_setting):
    beta, kl_weighted = KL_SETTINGS[kl_setting]
    trainer = _trainer(tiny_model_dir, tmp_path, loss_type, scale_rewards, beta, kl_weighted)
    batch = _trl_batch(trainer)
    model, mask = trainer.model, batch["completion_mask"]  # mask: (B, T)

    rewards = torch.tensor(REWARDS).view(-1, GROUP_SIZE)  # (N, G)
    advantages = get_advantage_estimator(estimator)(rewards).flatten()  # (B,)
    torch.testing.assert_close(advantages, batch["advantages"], rtol=0, atol=1e-6)

    ref_logprobs = None
    if beta:
        with torch.no_grad():
            ref_logprobs = completion_logprobs(trainer.ref_model, *_ids(batch))  # (B, T)
        torch.testing.assert_close(ref_logprobs * mask, batch["ref_per_token_logps"] * mask, rtol=0, atol=1e-6)

    # TRL's mode is "eval" here (the model is not in train mode), so no accumulation rescaling.
    model.zero_grad()
    trl_loss = trainer._compute_loss(model, batch)
    trl_loss.backward()
    trl_grads = _grads(model)

    model.zero_grad()
    logprobs = completion_logprobs(model, *_ids(batch))  # (B, T)
    loss, metrics = grpo_loss(
        logprobs, batch["old_per_token_logps"], advantages, mask,
        clip_low=CLIP_LOW, clip_high=CLIP_HIGH, kl_coef=beta, ref_logprobs=ref_logprobs,
        kl_importance_weighted=kl_weighted, loss_agg=loss_agg,
        num_tokens=batch["num_items_in_batch"] if loss_type == "dapo" else None,
        max_len=MAX_COMPLETION_LENGTH,
    )
    loss.backward()
    grads = _grads(model)

    assert metrics["clip_frac_low"] > 0 and metrics["clip_frac_high"] > 0, "both clip sides must be exercised"
    trl_metrics = trainer._metrics["eval"]
    assert metrics["clip_frac_low"].item() == pytest.approx(trl_metrics["clip_ratio/low_mean"][-1], abs=1e-6)
    assert metrics["clip_frac_high"].item() == pytest.approx(trl_metrics["clip_ratio/high_mean"][-1], abs=1e-6)
    torch.testing.assert_close(loss, trl_loss, rtol=0, atol=1e-6)
    assert grads.keys() == trl_grads.keys() and len(grads) > 0
    assert max(g.abs().max() for g in grads.values()) > 1e-3, "a vanishing gradient would match anything"
    for name, grad in grads.items():
        torch.testing.assert_close(grad, trl_grads[name], rtol=1e-4, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_parity_detects_a_different_setting(tiny_model_dir, tmp_path):
    """The comparison above can fail: with clipping active, clip 0.1 instead of 0.2, or another
    aggregation, moves the loss well beyond the tolerance."""
    trainer = _trainer(tiny_model_dir, tmp_path, "grpo", "group", 0.0)
    batch = _trl_batch(trainer)
    with torch.no_grad():
        trl_loss = trainer._compute_loss(trainer.model, batch)
        logprobs = completion_logprobs(trainer.model, *_ids(batch))  # (B, T)
    common = dict(advantages=batch["advantages"], mask=batch["completion_mask"], clip_high=CLIP_HIGH)
    same, _ = grpo_loss(logprobs, batch["old_per_token_logps"], clip_low=CLIP_LOW, loss_agg="seq-mean-token-mean", **common)
    tighter, _ = grpo_loss(logprobs, batch["old_per_token_logps"], clip_low=0.1, loss_agg="seq-mean-token-mean", **common)
    other_agg, _ = grpo_loss(logprobs, batch["old_per_token_logps"], clip_low=CLIP_LOW, loss_agg="token-mean", **common)
    assert abs(same - trl_loss) < 1e-6
    assert abs(tighter - trl_loss) > 1e-4
    assert abs(other_agg - trl_loss) > 1e-4
