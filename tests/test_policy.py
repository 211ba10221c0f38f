"""The tiny policy: built from task text, saved, and loaded back through from_pretrained."""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test that reaches for the hub fails instead of hanging

import pytest
import torch

from rl.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, RunConfig
from rl.data.prompts import drop_long_prompts, render_prompt
from rl.data.tasks import arithmetic, corpus
from rl.engine.policy import PolicyError, build_tiny_model, check_model_dir, ensure_model, load_policy, train_tiny_tokenizer

# Smaller than the defaults: these tests check plumbing, not learning.
SIZES = dict(hidden=32, intermediate=64, layers=1, heads=2, kv_heads=1, vocab_size=320, max_positions=128)


@pytest.fixture(scope="module")
def prompts():
    train, held_out = arithmetic(150, 10, seed=0)
    return train, held_out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, prompts):
    train, held_out = prompts
    path = build_tiny_model(tmp_path_factory.mktemp("tiny"), corpus(train + held_out), seed=0, **SIZES)
    model, tokenizer = load_policy(path)
    return path, model, tokenizer


def test_reloads_through_from_pretrained_as_a_qwen2_model(tiny):
    path, model, tokenizer = tiny
    assert model.config.model_type == "qwen2"
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 1
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    assert not model.training and next(model.parameters()).dtype == torch.float32
    assert {"config.json", "tokenizer.json", "model.safetensors"} <= {p.name for p in path.iterdir()}


def test_special_tokens(tiny):
    _, model, tokenizer = tiny
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert tokenizer.bos_token is not None
    assert model.config.eos_token_id == tokenizer.eos_token_id
    assert tokenizer.eos_token_id in model.generation_config.eos_token_id


def test_think_tags_are_single_tokens_that_survive_decoding(tiny):
    _, _, tokenizer = tiny
    for tag in ("<think>", "</think>"):
        assert len(tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1
    text = "<think>12 + 7 = 19</think> The answer is \\boxed{19}.<|im_end|>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    # the format reward needs the tags in the decoded completion; the end-of-turn marker goes
    assert tokenizer.decode(ids, skip_special_tokens=True) == text.replace("<|im_end|>", "")


def test_digits_are_one_token_each(tiny):
    _, _, tokenizer = tiny
    tokens = tokenizer.tokenize("1234 + 56")
    assert [t for t in tokens if any(c.isdigit() for c in t)] == ["1", "2", "3", "4", "5", "6"]


def test_reloaded_tokenizer_encodes_like_the_one_built(tiny, prompts):
    _, _, loaded = tiny
    train, held_out = prompts
    built = train_tiny_tokenizer(corpus(train + held_out), vocab_size=SIZES["vocab_size"])
    for text in corpus(train[:20]) + ["e\u0301 composed, Ünïcode ∑ 中文 🙂"]:
        assert loaded(text)["input_ids"] == built(text)["input_ids"], text


def test_any_text_round_trips(tiny):
    _, _, tokenizer = tiny
    text = "Ünïcode ∑ text the tokenizer never saw: 中文 🙂\n\ttabs"  # byte-level: nothing is unknown
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


@pytest.mark.parametrize("enable_thinking, ending", [
    (True, "<|im_start|>assistant\n"),
    (False, "<|im_start|>assistant\n<think>\n\n</think>\n\n"),
])
def test_chat_template_follows_qwen3_enable_thinking(tiny, enable_thinking, ending):
    _, _, tokenizer = tiny
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 3?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking)
    assert text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n" + ending


def test_chat_template_thinks_by_default_and_renders_assistant_turns(tiny):
    _, _, tokenizer = tiny
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<think>x</think> Hello"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>x</think> Hello<|im_end|>\n"
    assert tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True).endswith("assistant\n")


def test_generates_a_few_tokens_from_a_left_padded_batch(tiny, prompts):
    _, model, tokenizer = tiny
    texts = [render_prompt(p, tokenizer, DataConfig()) for p in prompts[0][:3]]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert (batch["attention_mask"][:, -1] == 1).all()  # left padding: every prompt ends at the last column
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape == (3, batch["input_ids"].shape[1] + 4)


def test_seed_fixes_the_initial_weights(tmp_path, prompts):
    texts = corpus(prompts[0][:20])
    a = build_tiny_model(tmp_path / "a", texts, seed=1, **SIZES)
    b = build_tiny_model(tmp_path / "b", texts, seed=1, **SIZES)
    c = build_tiny_model(tmp_path / "c", texts, seed=2, **SIZES)
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (c / "model.safetensors").read_bytes()


def test_render_and_drop_long_prompts(tiny, prompts):
    _, _, tokenizer = tiny
    prompt = prompts[0][0]
    with_system = DataConfig(system_prompt="Think, then answer.", enable_thinking=False)
    text = render_prompt(prompt, tokenizer, with_system)
    assert text.startswith("<|im_start|>system\nThink, then answer.<|im_end|>\n<|im_start|>user\n" + prompt.text)
    assert text.endswith("<think>\n\n</think>\n\n")
    assert render_prompt(prompt, tokenizer, DataConfig(use_chat_template=False)) == prompt.text + "\n"
    lengths = [len(tokenizer(render_prompt(p, tokenizer, DataConfig()))["input_ids"]) for p in prompts[0]]
    cut = sorted(lengths)[len(lengths) // 2]
    kept, dropped = drop_long_prompts(prompts[0], tokenizer, DataConfig(max_prompt_tokens=cut))
    assert len(kept) == sum(n <= cut for n in lengths) and len(kept) + len(dropped) == len(prompts[0])


def tiny_experiment(tmp_path, **model) -> ExperimentConfig:
    sizes = dict(tiny_hidden_size=32, tiny_intermediate_size=64, tiny_layers=1, tiny_heads=2, tiny_kv_heads=1, tiny_vocab_size=320)
    return ExperimentConfig(
        model=ModelConfig(**{**sizes, **model}),
        data=DataConfig(n_train=40, n_eval=5),
        run=RunConfig(out_dir=str(tmp_path / "run")),
    )


def test_ensure_model_builds_the_tiny_model_once_in_the_run_directory(tmp_path):
    config = tiny_experiment(tmp_path)
    path = ensure_model(config)
    assert path.parent == tmp_path / "run" / "tiny_models" and (path / "config.json").is_file()
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert ensure_model(config) == path and (path / "model.safetensors").stat().st_mtime_ns == stamp  # reused
    assert ensure_model(tiny_experiment(tmp_path, seed=1)) != path  # another config, another model
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no scratch left behind


def test_a_real_model_path_must_be_a_local_model_directory(tmp_path):
    with pytest.raises(ConfigError, match="no such directory"):
        ensure_model(ExperimentConfig(model=ModelConfig(path=str(tmp_path / "missing"))))
    with pytest.raises(ConfigError, match="not a Hugging Face model directory"):
        ensure_model(ExperimentConfig(model=ModelConfig(path=str(tmp_path))))
    with pytest.raises(PolicyError, match="Qwen/Qwen3-0.6B.*no such directory"):
        load_policy("Qwen/Qwen3-0.6B")  # a hub id is not a path: it is refused, never downloaded


def test_ensure_model_returns_an_existing_model_directory(tiny):
    path, _, _ = tiny
    assert ensure_model(ExperimentConfig(model=ModelConfig(path=str(path)))) == check_model_dir(path)
