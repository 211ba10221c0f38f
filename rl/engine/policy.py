"""The policy: any local Hugging Face causal LM, or a tiny Qwen2-style one built from the task's text.

    path = ensure_model(config)                     # model.path, or the tiny model (built once, cached)
    model, tokenizer = load_policy(path, device="cpu")

``build_tiny_model`` trains a byte-level BPE tokenizer on the given texts (digits split
one per token, as Qwen2 does; ``<think>``/``</think>`` single tokens) with a Qwen3-like
chat template, makes a randomly initialised ``Qwen2ForCausalLM`` and saves both with
``save_pretrained``. ``load_policy`` then loads it exactly as it would load a real
checkpoint. Nothing is ever fetched from a hub: loading passes ``local_files_only=True``.
A peft adapter directory (a LoRA run's checkpoint, ``rl.engine.lora``) loads as its base plus the
adapter, wherever a model directory is expected.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rl.config import ConfigError, ExperimentConfig, LoRAConfig
from rl.config.build import config_to_dict

# Bump when the builder changes what it writes, so that cached tiny models are rebuilt.
TINY_BUILDER_VERSION = 3  # 2: earlier assistant turns lose their thinking; 3: tools and tool messages

PAD_TOKEN = "<|endoftext|>"  # also bos: a document boundary, as in GPT-2
IM_START, IM_END = "<|im_start|>", "<|im_end|>"  # chat turn markers; <|im_end|> ends generation
THINK_TOKENS = ("<think>", "</think>")  # single tokens, but not "special": decoding keeps them for the format reward
SPECIAL_TOKENS = (PAD_TOKEN, IM_START, IM_END)

# Qwen2's pre-tokenizer pattern: single digits, words with their leading space, punctuation runs.
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen3's template: with enable_thinking=False the assistant turn starts with an empty think block,
# so the model answers directly. Assistant turns before the last user turn keep only what follows
# their "</think>" (rl.data.thinking.strip_thinking), as Qwen3 drops earlier reasoning from the
# context; turns after it (the one being trained on, and a tool-using trajectory's turns) are kept as
# written. /think and /no_think stay in the text: the model learns to read them.
# Tools (``tools=``, rl.envs): a system line lists each tool as name(arguments), no more: the tiny model
# cannot read a description, and every prompt token costs CPU; calls are the assistant's own <tool_call> text; tool
# messages are one user turn of <tool_response> blocks, consecutive ones merged, as in Qwen2.5/Qwen3.
CHAT_TEMPLATE = (
    "{%- set ns = namespace(last_user=-1) %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}"
    "{%- endfor %}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}"
    "{{- 'Tools:' }}"
    "{%- for tool in tools %}{%- set f = tool['function'] if tool['function'] is defined else tool %}"
    "{{- ' ' + f['name'] + '(' + (f['parameters']['properties'] | list | join(', ')) + ')' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- set content = message['content'] %}"
    "{%- if message['role'] == 'system' and tools %}"
    "{%- elif message['role'] == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{%- if message['role'] == 'assistant' and loop.index0 < ns.last_user and '</think>' in content %}"
    "{%- set content = content.split('</think>')[-1].lstrip() %}"
    "{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)
# Text between the special tokens of the template, so that the tokenizer learns "assistant\n" etc.
CHAT_MARKUP = ("system\n", "user\n", "assistant\n", "\n", "\n\n")


class PolicyError(ValueError):
    pass


def build_tiny_model(
    out_dir: str | Path,
    corpus_texts: Sequence[str],
    *,
    hidden: int = 128,
    intermediate: int = 256,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    vocab_size: int = 512,
    max_positions: int = 512,
    seed: int = 0,
) -> Path:
    """Train a tokenizer on ``corpus_texts``, build a random Qwen2 model, save both to ``out_dir``."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    _quiet_progress_bars()
    out_dir = Path(out_dir)
    tokenizer = train_tiny_tokenizer(corpus_texts, vocab_size=vocab_size, max_length=max_positions)
    pad_id, eos_id = tokenizer.convert_tokens_to_ids([PAD_TOKEN, IM_END])
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,  # at this size the embedding is a large share of the weights
        bos_token_id=pad_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=pad_id, eos_token_id=[eos_id, pad_id], pad_token_id=pad_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def train_tiny_tokenizer(corpus_texts: Sequence[str], *, vocab_size: int = 512, max_length: int = 512) -> Any:
    """A byte-level BPE tokenizer trained on ``corpus_texts`` plus the chat markup, as a transformers tokenizer."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()  # as Qwen2's; AutoTokenizer loads a qwen2 model's tokenizer as Qwen2Tokenizer
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: any text can be encoded
        show_progress=False,
    )
    # Tokens added below are matched whole, so the merges need not learn them.
    texts = [_strip(text, SPECIAL_TOKENS + THINK_TOKENS) for text in corpus_texts]
    tokenizer.train_from_iterator(texts + list(CHAT_MARKUP) * max(1, len(texts)), trainer=trainer)
    tokenizer.add_tokens([AddedToken(token, special=False, normalized=False) for token in THINK_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=PAD_TOKEN,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        chat_template=CHAT_TEMPLATE,
        model_max_length=max_length,
        padding_side="left",  # batched generation continues every prompt from its last token
    )


def _strip(text: str, tokens: Sequence[str]) -> str:
    for token in tokens:
        text = text.replace(token, " ")
    return text


def load_policy(path: str | Path, device: str = "cpu", dtype: str = "float32", *, lora: LoRAConfig | None = None,
                trainable: bool = False) -> tuple[Any, Any]:
    """(model, tokenizer) from a local Hugging Face model directory: the model on ``device`` in eval
    mode, the tokenizer padding on the left. ``dtype``: a torch dtype name, or "auto" (``resolve_dtype``:
    bfloat16 on a GPU, float32 on CPU; never the checkpoint's own dtype, which would differ by model).

    ``lora`` enabled: a peft model whose adapter is ``path``'s own when ``path`` is an adapter directory
    (``rl.engine.lora``; its adapter trainable if ``trainable``), else a fresh one. Without ``lora``, an
    adapter directory loads as its base with the adapter merged in: a plain model, as any other."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rl.engine import lora as adapters

    _quiet_progress_bars()
    path = check_model_dir(path)
    torch_dtype = getattr(torch, resolve_dtype(dtype, device))
    adapter = adapters.is_adapter_dir(path)
    weights = check_model_dir(adapters.adapter_base(path)) if adapter else path
    model = AutoModelForCausalLM.from_pretrained(weights, dtype=torch_dtype, local_files_only=True)
    if adapter:
        model = adapters.load_adapter(path, model, lora, trainable=trainable)
    elif lora is not None and lora.enabled:
        model = adapters.add_adapter(model, lora)
    tokenizer = AutoTokenizer.from_pretrained(_tokenizer_dir(path), local_files_only=True)
    if tokenizer.pad_token is None:  # many base checkpoints ship without one; batching needs it
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # as the tiny tokenizer: batched generation continues from the last column
    return model.to(resolve_device(device)).eval(), tokenizer


def _tokenizer_dir(path: Path) -> Path:
    """``path``, or for an adapter directory saved without a tokenizer (peft's own), its base."""
    from rl.engine.lora import adapter_base, is_adapter_dir

    return adapter_base(path) if is_adapter_dir(path) and not (path / "tokenizer_config.json").is_file() else path


def _quiet_progress_bars() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per weight load/save would bury the training progress bars


def load_tokenizer(path: str | Path) -> Any:
    """The tokenizer alone (the driver tokenizes SFT data; the model stays in the actors)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(_tokenizer_dir(check_model_dir(path)), local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def resolve_dtype(dtype: str, device: str) -> str:
    """A torch dtype name for weights on ``device``: "auto" is bfloat16 on a GPU and float32 on CPU, for the
    sampler and the learner's autocast alike. Half precision on CPU is refused: slower there, and not exact."""
    device_type = resolve_device(device).split(":")[0]
    if dtype == "auto":
        return "bfloat16" if device_type == "cuda" else "float32"
    if device_type == "cpu" and dtype in ("bfloat16", "float16"):
        raise PolicyError(f"{dtype} on CPU: slower than float32 there and not what the learner computes; "
                          "set rollout.dtype / learner.mixed_precision to auto or float32 on CPU machines")
    return dtype


def resolve_device(device: str) -> str:
    """"auto" → "cuda" when a GPU is visible, else "cpu"; other names pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_model_dir(path: str | Path) -> Path:
    """``path`` if it is a local Hugging Face model directory (or a peft adapter directory, which loads as
    its base plus the adapter); a clear error otherwise (never a download)."""
    path = Path(path)
    if not path.exists():
        raise PolicyError(f"model.path {str(path)!r}: no such directory (only local models are loaded; use \"tiny\" to build one)")
    if not path.is_dir() or not ((path / "config.json").is_file() or (path / "adapter_config.json").is_file()):
        raise PolicyError(f"model.path {str(path)!r}: not a Hugging Face model directory (no config.json, nor a peft "
                          "adapter's adapter_config.json)")
    return path


def ensure_model(config: ExperimentConfig) -> Path:
    """The model directory to load: ``model.path``, or for "tiny" a model built from the experiment's
    prompts and cached under ``<run.out_dir>/tiny_models/<hash>`` (reused while config and data match)."""
    if config.model.path != "tiny":
        try:
            return check_model_dir(config.model.path)
        except PolicyError as exc:
            raise ConfigError(str(exc), key="model.path") from None
    from rl.data.prompts import load_splits
    from rl.data.tasks import corpus

    train, held_out = load_splits(config.data)
    texts = corpus(train + held_out, config.data.system_prompt)  # held-out text too: its numbers must tokenize the same way
    sizes = {k: v for k, v in config_to_dict(config.model).items() if k.startswith("tiny_") or k == "seed"}
    key = hashlib.sha256(json.dumps([TINY_BUILDER_VERSION, CHAT_TEMPLATE, sizes, texts]).encode()).hexdigest()[:16]
    target = Path(config.run.out_dir) / "tiny_models" / key
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: a killed build never leaves a half-written model to reuse.
    scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
    try:
        m = config.model
        build_tiny_model(
            scratch, texts, hidden=m.tiny_hidden_size, intermediate=m.tiny_intermediate_size, layers=m.tiny_layers,
            heads=m.tiny_heads, kv_heads=m.tiny_kv_heads, vocab_size=m.tiny_vocab_size, max_positions=m.tiny_max_positions,
            seed=m.seed,
        )
        os.replace(scratch, target)
    except OSError:
        if not (target / "config.json").is_file():  # not a concurrent builder that won the race
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
