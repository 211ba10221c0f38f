"""LoRA through peft: adapters on the policy, what trains and syncs, adapter checkpoints, and loading them.

    model = add_adapter(model, lora)         # a fresh adapter (B = 0: the policy is still the base)
    with model.disable_adapter(): ...        # the base itself: the frozen KL/DPO reference, no second copy
    trained_state(model)                     # what trains, syncs and saves: the adapter's tensors only
    save_adapter(model, path, base=...)      # peft's format: adapter_config.json + adapter_model.safetensors
    load_adapter(path, base_model, lora)     # base + adapter: kept for more training, or merged
    check_lora_settings(config)              # target modules the architecture lacks: a ConfigError at load

A checkpoint of a LoRA run is an *adapter directory*: peft's two files, the tokenizer and
``trainer_state.pt``; ``base_model_name_or_path`` in adapter_config.json points at the base model
directory (an absolute path). ``rl.engine.policy.load_policy`` loads such a directory wherever a
model directory is expected (``rlvr eval``, rollouts, the next stage).

Names: ``trained_state`` keys are the peft model's own state-dict names
(``base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight``), so a rollout
that wraps its copy of the base with the same ``model.lora`` (``load_policy(..., lora=...)``)
loads them by name, in place. Nothing here imports peft until it is used.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rl.config import ConfigError, ExperimentConfig, LoRAConfig, ModelConfig

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
LORA_KEY = ".lora_"  # in every adapter tensor's name (lora_A, lora_B), in no base weight's
ADAPTER_SEED = 0  # A's random init; B starts at zero, so any seed starts at the base, but all processes must agree


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def adapter_base(path: str | Path) -> Path:
    """The base model directory an adapter directory was trained on (relative paths: from the adapter's)."""
    base = json.loads((Path(path) / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{path}: {ADAPTER_CONFIG} names no base_model_name_or_path")
    return (Path(path) / base).resolve() if not Path(base).is_absolute() else Path(base)


def is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "disable_adapter")


def peft_config(lora: LoRAConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules),
                      bias="none", task_type="CAUSAL_LM")


def check_targets(model: Any, lora: LoRAConfig, key: str = "model.lora") -> None:
    """Every ``target_modules`` entry must name a linear layer of ``model``: peft silently skips a name
    that matches nothing as long as another one matches, which would train fewer weights than asked."""
    import torch

    linear = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    missing = [target for target in lora.target_modules if target not in linear]
    if missing:
        raise ConfigError(f"{key}.target_modules: {', '.join(map(repr, missing))} is not a linear layer of {type(model).__name__}; "
                          f"its linear layers are {', '.join(sorted(linear))}", key="target_modules")


def check_lora_settings(config: ExperimentConfig) -> None:
    """Every LoRA setting of ``config`` (its own and each pipeline stage's) against the model's architecture,
    built on the meta device from config.json (or the tiny model's sizes): no weights are read, so this
    runs right after the config loads. A model directory that is not here is not checked (dry runs of
    recipes for checkpoints held elsewhere)."""
    from rl.config.stages import stage_config

    settings = [("model.lora", config.model.lora)]
    settings += [(f"stages.{i}.model.lora", stage_config(config, i).model.lora) for i in range(len(config.stages))]
    settings = [(key, lora) for key, lora in settings if lora.enabled]
    skeleton = _skeleton(config.model) if settings else None
    for key, lora in settings:
        if skeleton is not None:
            check_targets(skeleton, lora, key)


def _skeleton(model: ModelConfig) -> Any:
    """The policy's architecture without weights (meta device), or None when its directory is not here."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, Qwen2Config

    if model.path == "tiny":  # rl.engine.policy.build_tiny_model's architecture; the vocabulary size does not matter here
        config = Qwen2Config(hidden_size=model.tiny_hidden_size, intermediate_size=model.tiny_intermediate_size,
                             num_hidden_layers=model.tiny_layers, num_attention_heads=model.tiny_heads,
                             num_key_value_heads=model.tiny_kv_heads, vocab_size=model.tiny_vocab_size)
    else:
        path = Path(model.path)
        path = adapter_base(path) if is_adapter_dir(path) else path
        if not (path / "config.json").is_file():
            return None
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def add_adapter(model: Any, lora: LoRAConfig) -> Any:
    """``model`` as a peft model with a fresh adapter: only the adapter requires grad; B starts at zero,
    so the policy starts exactly at the base."""
    import torch
    from peft import get_peft_model

    check_targets(model, lora)
    with torch.random.fork_rng(devices=[]), _quiet():  # every learner and rollout builds the same adapter: replicas start equal
        torch.manual_seed(ADAPTER_SEED)
        return get_peft_model(model, peft_config(lora))


def trained_state(model: Any) -> dict[str, Any]:
    """The state-dict entries that training changes, by the model's own names, as they live (no copy):
    a plain model's whole state dict, or only the adapter's tensors of a peft model."""
    state = model.state_dict()
    return {k: v for k, v in state.items() if LORA_KEY in k} if is_peft(model) else state


def load_trained_state(model: Any, weights: dict[str, Any]) -> None:
    """Load what ``trained_state`` sent: strictly for a plain model; for a peft model, every adapter
    tensor and nothing else (the base is frozen on both sides, so it never travels)."""
    if not is_peft(model):
        model.load_state_dict(weights)
        return
    stray = [k for k in weights if LORA_KEY not in k]
    missing = [k for k in trained_state(model) if k not in weights]
    if stray or missing:
        raise ValueError(f"adapter weights do not fit this model: not adapter tensors {stray[:3]}, missing {missing[:3]} "
                         "(do the learner and the rollout use the same model.lora?)")
    model.load_state_dict(weights, strict=False)


def save_adapter(model: Any, path: str | Path, *, base: str | Path, state: dict[str, Any] | None = None) -> None:
    """peft's adapter format in ``path``: adapter_config.json (pointing at ``base``) and adapter_model.safetensors.
    ``state``: the adapter's full tensors when the model's own are shards (FSDP gathers them first)."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    path = Path(path)
    config = model.peft_config["default"]
    config.base_model_name_or_path = str(Path(base).resolve())
    config.save_pretrained(path)
    tensors = get_peft_model_state_dict(model, state_dict=state if state is not None else model.state_dict())
    save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, path / ADAPTER_WEIGHTS)


def load_adapter(path: str | Path, base_model: Any, lora: LoRAConfig | None, *, trainable: bool) -> Any:
    """``base_model`` (already loaded from ``adapter_base(path)``) with the adapter in ``path``: kept as a
    peft model when ``lora`` is enabled (more training, or a rollout that receives adapter updates),
    else merged into the base weights (a plain model, e.g. for evaluation)."""
    from peft import PeftModel

    if lora is None or not lora.enabled:
        with _quiet():
            return PeftModel.from_pretrained(base_model, str(path), local_files_only=True).merge_and_unload()
    saved = json.loads((Path(path) / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    ours = {"r": lora.r, "lora_alpha": lora.alpha, "target_modules": set(lora.target_modules)}
    theirs = {"r": saved.get("r"), "lora_alpha": saved.get("lora_alpha"), "target_modules": set(saved.get("target_modules") or ())}
    if ours != theirs:
        raise ConfigError(f"{path} holds an adapter with {theirs}, and model.lora asks for {ours}: continue it with the "
                          "same settings, or start from a merged model (rl.engine.lora.merge_adapter)", key="lora")
    with _quiet():
        return PeftModel.from_pretrained(base_model, str(path), is_trainable=trainable, local_files_only=True)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """peft asks transformers a question that transformers 5 deprecates (is_gradient_checkpointing): not ours to fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def merge_adapter(path: str | Path, out: str | Path | None = None) -> Path:
    """A plain model directory with the adapter in ``path`` merged into its base's weights (in the base's
    own dtype), plus the tokenizer; ``out`` defaults to ``<path>/merged``. Written once: reused when present.

    A pipeline stage that trains a fresh adapter starts from this (``rl.loops.pipeline``), so that its
    base with the adapter off, its reference, is the previous stage's result."""
    import os
    import shutil
    import tempfile

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    out = Path(out) if out is not None else path / "merged"
    if (out / "config.json").is_file():
        return out
    base = AutoModelForCausalLM.from_pretrained(adapter_base(path), dtype="auto", local_files_only=True)
    with _quiet():
        merged = PeftModel.from_pretrained(base, str(path), local_files_only=True).merge_and_unload()
    scratch = Path(tempfile.mkdtemp(prefix=".merging-", dir=out.parent))
    try:
        merged.save_pretrained(scratch)
        AutoTokenizer.from_pretrained(path, local_files_only=True).save_pretrained(scratch)
        os.replace(scratch, out)  # a killed merge never leaves a half-written model to reuse
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


class AdapterOff:
    """The policy with its LoRA adapter switched off, i.e. the frozen base: the reference, without a copy."""

    def __init__(self, policy: Any):
        self.policy = policy

    def __call__(self, *args, **kwargs):
        with self.policy.lm.disable_adapter():
            return self.policy(*args, **kwargs)
