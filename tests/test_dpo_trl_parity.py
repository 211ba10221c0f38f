"""Our DPO losses, gradients and logged metrics against TRL's DPOTrainer on the same batch.

TRL runs its own code path: ``DPOTrainer`` tokenises a tiny in-memory text dataset, its
``DataCollatorForPreference`` (``trainer.data_collator``) builds the batch, and
``trainer.compute_loss`` (Trainer's public hook; in TRL 1.16 it calls ``_compute_loss``) runs the
policy through TRL's fused LM head and the reference model under ``no_grad``. The policy and the
reference are tiny Qwen2 models with *different* random weights, so the reference terms matter.
Our side uses only ``rl.data.records.PreferencePair`` token ids and ``rl.algorithms``
(``collate_pairs``, ``dpo_batch_loss``). The one private TRL name read is ``trainer._metrics``, to
compare the logged implicit rewards.

TRL 1.16 loss_type <-> ours: sigmoid, ipo, hinge, robust <-> the same names. TRL's sigmoid ignores
``label_smoothing``, so smoothing is compared through ``robust``; IPO divides each log-ratio by its
completion length in both. Sequence log-probs are sums over completion tokens in both.
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

from rl.algorithms import collate_pairs, dpo_batch_loss  # noqa: E402
from rl.data.records import PreferencePair  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

VOCAB = 100
PAD, EOS = 1, 2

# (prompt ids, chosen ids, rejected ids): ragged prompts and completions; every completion ends at EOS
# because TRL appends EOS to standard-format completions.
TRIPLES = [
    ([5, 6, 7], [10, 11, 12, EOS], [13, EOS]),
    ([8, 9], [14, EOS], [15, 16, 17, 18, 19, EOS]),
    ([30], [20, 21, 22, EOS], [23, 24, EOS]),
]

CASES = [  # (TRL loss_type = ours, beta, label_smoothing)
    ("sigmoid", 0.1, 0.0),
    ("sigmoid", 0.5, 0.0),
    ("ipo", 0.1, 0.0),
    ("hinge", 0.1, 0.0),
    ("robust", 0.5, 0.1),
]


def _word(i):
    # Fixed width: the special tokens (t00 unk, t01 pad, t02 eos) are matched inside words, so "t1" would split "t10".
    return f"t{i:02d}"


def _text(ids):
    return " ".join(_word(i) for i in ids)


def _tokenizer():
    vocab = {_word(i): i for i in range(VOCAB)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token=_word(0)))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token=_word(0), pad_token=_word(PAD), eos_token=_word(EOS),
    )


def _model(seed):
    config = transformers.Qwen2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
        intermediate_size=64, vocab_size=VOCAB, pad_token_id=PAD, eos_token_id=EOS,
    )
    torch.manual_seed(seed)
    return transformers.Qwen2ForCausalLM(config)


def _trainer(tmp_path, loss_type, beta, label_smoothing):
    args = trl.DPOConfig(
        output_dir=str(tmp_path), report_to=[], use_cpu=True, bf16=False, seed=0,  # bf16 autocast would break fp32 parity
        beta=beta, loss_type=loss_type, label_smoothing=label_smoothing, per_device_train_batch_size=len(TRIPLES),
    )
    dataset = datasets.Dataset.from_dict({  # standard format; the leading space keeps words apart when TRL concatenates
        "prompt": [_text(p) for p, _, _ in TRIPLES],
        "chosen": [" " + _text(c) for _, c, _ in TRIPLES],
        "rejected": [" " + _text(r) for _, _, r in TRIPLES],
    })
    policy, reference = _model(0), _model(1)
    return trl.DPOTrainer(model=policy, ref_model=reference, args=args, train_dataset=dataset, processing_class=_tokenizer())


def _our_pairs():
    return [
        PreferencePair(prompt=_text(p), chosen=_text(c), rejected=_text(r), id=f"pair{i}",
                       prompt_ids=tuple(p), chosen_ids=tuple(c), rejected_ids=tuple(r))
        for i, (p, c, r) in enumerate(TRIPLES)
    ]


def _trl_batch(trainer):
    """TRL's tokenised rows, collated by TRL's own collator; checked against our ids and our layout."""
    rows = [trainer.train_dataset[i] for i in range(len(TRIPLES))]
    assert [(r["prompt_ids"], r["chosen_ids"], r["rejected_ids"]) for r in rows] == TRIPLES
    batch = trainer.data_collator([{k: r[k] for k in ("prompt_ids", "chosen_ids", "rejected_ids")} for r in rows])
    ours = collate_pairs(_our_pairs(), pad_id=PAD)
    for key in ("input_ids", "attention_mask", "completion_mask"):
        assert torch.equal(ours[key], batch[key]), key
    return batch


def _grads(model):
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("loss_type, beta, label_smoothing", CASES, ids=[f"{c[0]}-beta{c[1]}" for c in CASES])
def test_loss_gradients_and_metrics_match_trl(tmp_path, loss_type, beta, label_smoothing):
    trainer = _trainer(tmp_path, loss_type, beta, label_smoothing)
    batch = _trl_batch(trainer)
    model, reference = trainer.model, trainer.ref_model

    model.zero_grad()
    trl_loss = trainer.compute_loss(model, batch)
    trl_loss.backward()
    trl_grads = _grads(model)
    trl_metrics = trainer._metrics["train" if model.training else "eval"]

    model.zero_grad()
    loss, metrics = dpo_batch_loss(
        model, reference, collate_pairs(_our_pairs(), pad_id=PAD),
        loss_type=loss_type, beta=beta, label_smoothing=label_smoothing,
    )
    loss.backward()
    grads = _grads(model)

    # float32 rounding differs between TRL's tiled log-softmax and ours: an IPO loss near 26 is ~2 ulp apart.
    torch.testing.assert_close(loss, trl_loss, rtol=1e-6, atol=1e-6)
    for name in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"):
        assert metrics[name].item() == pytest.approx(trl_metrics[name][-1], abs=1e-5), name
    assert abs(metrics["rewards/chosen"].item()) > 1e-3, "the reference must differ from the policy"
    assert all(p.grad is None for p in reference.parameters()), "the reference is frozen"
    assert grads.keys() == trl_grads.keys() and len(grads) > 0
    assert max(g.abs().max() for g in grads.values()) > 1e-3, "a vanishing gradient would match anything"
    for name, grad in grads.items():
        torch.testing.assert_close(grad, trl_grads[name], rtol=1e-4, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_parity_detects_a_different_setting(tmp_path):
    """The comparison above can fail: another beta, or another loss, moves the loss well beyond the tolerance."""
    trainer = _trainer(tmp_path, "sigmoid", 0.1, 0.0)
    batch = _trl_batch(trainer)
    ours = collate_pairs(_our_pairs(), pad_id=PAD)
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, batch)
        same = dpo_batch_loss(trainer.model, trainer.ref_model, ours, loss_type="sigmoid", beta=0.1)[0]
        other_beta = dpo_batch_loss(trainer.model, trainer.ref_model, ours, loss_type="sigmoid", beta=0.2)[0]
        other_loss = dpo_batch_loss(trainer.model, trainer.ref_model, ours, loss_type="hinge", beta=0.1)[0]
    assert abs(same - trl_loss) < 1e-6
    assert abs(other_beta - trl_loss) > 1e-3
    assert abs(other_loss - trl_loss) > 1e-3
