"""LoRA learners (model.lora): what trains, the reference, checkpoints, weight sync, and the config checks."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rl.config import AlgorithmConfig, ConfigError, DataConfig, LearnerConfig, LoRAConfig, RolloutConfig
from rl.config.build import config_from_dict
from rl.engine.learner import Learner
from rl.engine.lora import LORA_KEY, adapter_base, check_lora_settings, is_adapter_dir, merge_adapter
from rl.engine.policy import load_policy
from rl.engine.rollout import RolloutWorker
from tests.helpers.learner_batches import counts, pairs
from tests.helpers.learner_batches import sequences as batch

LORA = LoRAConfig(r=4, alpha=8)
LEARNER = LearnerConfig(lr=1e-2, micro_batch_size=3, device="cpu")
ALGO = AlgorithmConfig()


def scored(learner: Learner, scorer=None) -> torch.Tensor:
    """The learner's log-probs of a fixed batch's completions (through ``scorer``, default the policy)."""
    return learner._logprobs(learner.model if scorer is None else scorer, learner._collate(batch()), grad=False)


def lora_learner(model_path, algo=ALGO, **learner) -> Learner:
    return Learner(model_path, replace(LEARNER, **learner), algo, lora=LORA)


def test_only_the_adapter_requires_grad_and_is_optimised(model_path):
    learner = lora_learner(model_path)
    trainable = [n for n, p in learner.model.named_parameters() if p.requires_grad]
    assert trainable and all(LORA_KEY in n for n in trainable)
    assert len(trainable) == 2 * 7  # A and B for each of the 7 linear layers of the one-layer model
    optimised = {id(p) for group in learner.optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in learner.model.parameters() if p.requires_grad}


def test_a_step_changes_the_adapter_and_nothing_else(model_path):
    learner = lora_learner(model_path)
    before = {k: v.clone() for k, v in learner.model.state_dict().items()}
    learner.grpo_step(batch(), **counts(batch()))
    changed = {k for k, v in learner.model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(LORA_KEY in k for k in changed)
    assert any("lora_B" in k for k in changed)  # B leaves zero: the policy moved


def test_the_reference_is_the_base_with_the_adapter_off_exactly(model_path):
    base = Learner(model_path, LEARNER, ALGO)
    learner = lora_learner(model_path, AlgorithmConfig(kl_coef=0.1))
    assert learner.reference is None  # no second copy of the model
    torch.testing.assert_close(scored(learner), scored(base), rtol=0, atol=0)  # B = 0: the policy starts at the base
    for _ in range(2):
        metrics = learner.grpo_step(batch(), **counts(batch()))
    assert metrics["kl"] > 0
    assert not torch.allclose(scored(learner), scored(base))
    torch.testing.assert_close(scored(learner, learner.ref_policy), scored(base), rtol=0, atol=0)


def test_sft_with_an_adapter_lowers_the_loss(model_path):
    learner = lora_learner(model_path, lr=3e-2)
    sequences = batch()
    first = learner.sft_step(sequences, counts(sequences)["num_tokens"])["loss"]
    for _ in range(4):
        last = learner.sft_step(sequences, counts(sequences)["num_tokens"])["loss"]
    assert last < first


def test_dpo_against_the_adapter_off_starts_at_log_2_and_refuses_a_trained_adapter(model_path):
    learner = lora_learner(model_path)
    learner.ensure_reference()
    first = learner.dpo_step(pairs(4), 4, loss_type="sigmoid", beta=0.5)
    second = learner.dpo_step(pairs(4), 4, loss_type="sigmoid", beta=0.5)
    assert first["loss"] == pytest.approx(0.6931472, rel=1e-5)  # policy == reference at the start
    assert second["rewards/margins"] > first["rewards/margins"]
    with pytest.raises(RuntimeError, match="merged model"):
        learner.ensure_reference()  # adapter off is no longer where a new stage would start


def test_checkpoint_is_a_peft_adapter_that_loads_as_base_plus_adapter(model_path, tmp_path):
    learner = lora_learner(model_path)
    learner.grpo_step(batch(), **counts(batch()))
    learner.save(str(tmp_path / "ckpt"), {"step": 1})
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "trainer_state.pt"} <= files
    assert "model.safetensors" not in files  # only the adapter is saved
    assert is_adapter_dir(tmp_path / "ckpt") and adapter_base(tmp_path / "ckpt") == Path(model_path).resolve()
    merged, _ = load_policy(tmp_path / "ckpt")  # rlvr eval's way in: base + adapter, merged into a plain model
    assert not hasattr(merged, "peft_config")
    ids = torch.tensor([[5, 17, 42, 9, 33]])
    torch.testing.assert_close(merged(input_ids=ids).logits, learner.model.eval()(input_ids=ids).logits, rtol=0, atol=1e-5)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(json.loads((tmp_path / "ckpt" / "adapter_config.json").read_text())["base_model_name_or_path"])
    assert isinstance(PeftModel.from_pretrained(base, str(tmp_path / "ckpt")), PeftModel)  # peft's own loader reads it too


def test_resume_continues_the_adapter_and_its_optimizer(model_path, tmp_path):
    learner = lora_learner(model_path)
    learner.grpo_step(batch(), **counts(batch()))
    learner.save(str(tmp_path / "ckpt"), {"step": 1})
    learner.grpo_step(batch(seed=1), **counts(batch(seed=1)))
    expected = learner.get_weights()
    resumed = Learner(str(tmp_path / "ckpt"), LEARNER, ALGO, lora=LORA)
    assert resumed.load_trainer_state(str(tmp_path / "ckpt")) == {"step": 1}
    resumed.grpo_step(batch(seed=1), **counts(batch(seed=1)))
    got = resumed.get_weights()
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=1e-6)


def test_weight_sync_sends_only_the_adapter_and_the_rollout_follows(model_path):
    learner = lora_learner(model_path)
    learner.grpo_step(batch(), **counts(batch()))
    weights = learner.get_weights()
    assert weights and all(LORA_KEY in k for k in weights)
    assert sum(v.numel() for v in weights.values()) < sum(v.numel() for v in learner.model.parameters()) / 5
    rollout = RolloutWorker(model_path, DataConfig(), RolloutConfig(), device="cpu", dtype="float32", lora=LORA)
    ids = torch.tensor([[5, 17, 42, 9, 33]])
    before = rollout.model(input_ids=ids).logits
    rollout.set_weights(weights, version=1)
    after = rollout.model(input_ids=ids).logits
    learner.model.eval()
    torch.testing.assert_close(after, learner.model(input_ids=ids).logits, rtol=0, atol=1e-6)
    assert not torch.allclose(before, after)
    rollout.load_weights(weights.items())  # the collective sync's in-place path, by the same names
    with pytest.raises(ValueError, match="same model.lora"):
        rollout.set_weights({**weights, "base_model.model.lm_head.weight": torch.zeros(1)}, version=2)


def test_a_merged_adapter_is_a_plain_model_with_the_same_outputs(model_path, tmp_path):
    learner = lora_learner(model_path)
    learner.sft_step(batch(), counts(batch())["num_tokens"])
    learner.save(str(tmp_path / "ckpt"), {})
    merged_dir = merge_adapter(tmp_path / "ckpt")
    assert merged_dir == tmp_path / "ckpt" / "merged" and (merged_dir / "config.json").is_file()
    assert merge_adapter(tmp_path / "ckpt") == merged_dir  # written once
    merged, _ = load_policy(merged_dir)
    ids = torch.tensor([[5, 17, 42, 9, 33]])
    learner.model.eval()
    torch.testing.assert_close(merged(input_ids=ids).logits, learner.model(input_ids=ids).logits, rtol=0, atol=1e-5)


# ---------------------------------------------------------------- config checks


def test_a_target_module_the_architecture_lacks_is_a_config_error(model_path):
    with pytest.raises(ConfigError, match=r"model.lora.target_modules: 'c_attn' is not a linear layer of Qwen2ForCausalLM; "
                                          r"its linear layers are .*q_proj"):
        Learner(model_path, LEARNER, ALGO, lora=LoRAConfig(r=4, target_modules=("q_proj", "c_attn")))


def test_lora_settings_are_checked_against_the_architecture_at_load(model_path):
    good = config_from_dict({"model": {"path": model_path, "lora": {"r": 8, "target_modules": ["q_proj", "v_proj"]}}})
    check_lora_settings(good)
    tiny_bad = config_from_dict({"model": {"lora": {"r": 8, "target_modules": ["query_key_value"]}}})
    with pytest.raises(ConfigError, match="model.lora.target_modules: 'query_key_value'"):
        check_lora_settings(tiny_bad)
    stage_bad = config_from_dict({"stages": [{"kind": "sft"}, {"kind": "grpo", "model": {"lora": {"r": 8, "target_modules": ["wq"]}}}]})
    with pytest.raises(ConfigError, match="stages.1.model.lora.target_modules: 'wq'"):
        check_lora_settings(stage_bad)
    check_lora_settings(config_from_dict({"model": {"path": "/nowhere/model", "lora": {"r": 8, "target_modules": ["wq"]}}}))  # not here: not checked


@pytest.mark.parametrize("learner, message", [
    ({"strategy": "fsdp", "device": "cpu"}, "fsdp with one learner on CPU shards nothing"),
    ({"strategy": "fsdp", "num_gpus": 0}, "fsdp with one learner on CPU shards nothing"),  # auto without a GPU is CPU
    ({"strategy": "fsdp", "num_learners": 2, "device": "cpu", "offload_optimizer": True}, "on CPU the optimizer state is in CPU memory"),
    ({"offload_optimizer": True, "device": "cuda"}, "needs strategy fsdp"),
])
def test_impossible_learner_combinations_fail_at_load(learner, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"learner": learner})


def test_sensible_sharding_combinations_load():
    config_from_dict({"learner": {"strategy": "fsdp", "num_learners": 2, "device": "cpu", "gradient_checkpointing": True}})
    config_from_dict({"learner": {"strategy": "fsdp", "device": "cuda", "offload_optimizer": True}})  # one GPU: offload pays
    config_from_dict({"learner": {"strategy": "fsdp", "num_gpus": 1}})


def test_a_stage_may_set_its_lora_and_nothing_else_of_the_model():
    config = config_from_dict({"stages": [{"kind": "sft"}, {"kind": "grpo", "model": {"lora": {"r": 16}}}]})
    from rl.config.stages import stage_config

    assert stage_config(config, 0).model.lora.r == 0 and stage_config(config, 1).model.lora.r == 16
    with pytest.raises(ConfigError, match=r"unknown key 'stages\.0\.model\.path'"):  # the weights are the previous stage's
        config_from_dict({"stages": [{"kind": "sft", "model": {"path": "other"}}]})
    bad = config_from_dict({"stages": [{"kind": "sft"}, {"kind": "grpo", "model": {"lora": {"r": -1}}}]})
    with pytest.raises(ConfigError, match=r"stages\.1, stage 'grpo'.*model\.lora\.r must be >= 0"):
        stage_config(bad, 1)  # as load_config does for every stage


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_frozen_base_is_bf16_and_the_adapter_fp32(model_path):
    gpu = replace(LEARNER, device="cuda", mixed_precision="bf16")
    learner = Learner(model_path, gpu, AlgorithmConfig(kl_coef=0.1), lora=LORA)
    dtypes = {("adapter" if LORA_KEY in n else "base"): p.dtype for n, p in learner.model.named_parameters()}
    assert dtypes == {"adapter": torch.float32, "base": torch.bfloat16}  # half the base's memory; Adam on fp32 adapters
    metrics = learner.grpo_step(batch(), **counts(batch()))
    assert torch.isfinite(torch.tensor(metrics["loss"])) and metrics["kl"] >= 0
    assert all(LORA_KEY in k and v.dtype == torch.float32 for k, v in learner.get_weights().items())


def test_rlvr_train_names_a_missing_target_module_before_anything_starts(tmp_path, capsys):
    from rl import cli

    config = Path(__file__).resolve().parent.parent / "experiments" / "tiny_lora.yaml"
    code = cli.main(["train", str(config), "--dry-run", "--out", str(tmp_path), "stages.1.model.lora.target_modules=[q_proj,c_attn]"])
    assert code == 2
    assert "stages.1.model.lora.target_modules: 'c_attn' is not a linear layer of Qwen2ForCausalLM" in capsys.readouterr().err


@pytest.mark.ray
@pytest.mark.slow
def test_two_lora_grpo_steps_on_ray_then_resume(tmp_path):
    """The whole loop: rollout actors wrap the base with the same adapter and receive only it; the
    checkpoint is the adapter; --resume continues it."""
    import ray

    from rl.config.loader import load_config
    from rl.loops.grpo import train

    root = Path(__file__).resolve().parent.parent
    tiny = ["model.tiny_hidden_size=32", "model.tiny_intermediate_size=64", "model.tiny_layers=1", "model.tiny_heads=2",
            "model.tiny_kv_heads=1", "model.tiny_vocab_size=320", "model.tiny_max_positions=128", "data.n_train=60",
            "data.n_eval=6", "rollout.max_new_tokens=12", "rollout.group_size=4", "rollout.prompts_per_step=4",
            "sft.steps=2", "sft.batch_size=8", "run.eval_every=0", "run.save_every=1", "model.lora.r=4",
            f"run.out_dir={tmp_path}"]
    try:
        summary = train(load_config(root / "experiments/tiny_arith.yaml", tiny + ["run.total_steps=2"]))
        assert summary["weight_sync"] in ("gloo", "object_store")
        checkpoint = tmp_path / "checkpoints" / "step_000002"
        assert is_adapter_dir(checkpoint) and not (checkpoint / "model.safetensors").exists()
        resumed = train(load_config(root / "experiments/tiny_arith.yaml", tiny + ["run.total_steps=3", "run.resume=true"]))
        assert resumed["rl_steps"] == 3 and is_adapter_dir(tmp_path / "checkpoints" / "step_000003")
        steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
        assert steps.count(3) == 1 and steps.count(2) == 1  # step 3 ran once, from step 2's adapter
    finally:
        ray.shutdown()


@pytest.mark.ray
@pytest.mark.slow
def test_a_lora_stage_after_a_lora_stage_starts_a_fresh_adapter_on_the_merged_result(tmp_path):
    import ray

    from rl.config.loader import load_config
    from rl.loops.pipeline import run_pipeline

    root = Path(__file__).resolve().parent.parent
    overrides = ["model.tiny_hidden_size=32", "model.tiny_intermediate_size=64", "model.tiny_layers=1", "model.tiny_heads=2",
                 "model.tiny_kv_heads=1", "model.tiny_vocab_size=320", "data.n_train=40", "data.n_eval=4",
                 "rollout.max_new_tokens=8", "model.lora.r=4", f"run.out_dir={tmp_path}",
                 "stages=[{name: one, kind: sft, sft: {steps: 2, batch_size: 8}}, {name: two, kind: sft, sft: {steps: 2, batch_size: 8}}]"]
    try:
        summary = run_pipeline(load_config(root / "experiments/tiny_lora.yaml", overrides))
    finally:
        ray.shutdown()
    one, two = summary["stages"]
    assert is_adapter_dir(one["checkpoint"]) and is_adapter_dir(two["checkpoint"])
    assert two["init"] == str(Path(one["checkpoint"]) / "merged")  # a plain model: one's adapter merged into its base
    assert adapter_base(two["checkpoint"]) == Path(two["init"]).resolve()
