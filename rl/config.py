"""Experiment configuration: frozen dataclasses, one YAML per experiment, ``key=value`` overrides.

    config = load_config("experiments/arithmetic_tiny.yaml", ["rollout.group_size=8", "run.out_dir=runs/x"])
    save_config(config, run_dir / "config.yaml")   # the resolved config, loadable again

One dataclass per concern (model, data, rollout, algorithm, learner, rewards, sft, run),
all held by ``ExperimentConfig``. Every field has a default, so a YAML file names only
what it changes. Overrides are parsed with YAML scalar rules (``true``, ``1e-5``,
``[a, b]``); a list of reward components is addressed by index or by component name
(``rewards.components.format.weight=0.2``). An unknown key, a wrong type or an invalid
value raises ``ConfigError`` naming the dotted key and where it came from
(``file:line`` or the override), with the closest valid key when one is near.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from rewards.compose import RewardComponent

# Names implemented by registries elsewhere (rl algorithms); checked here so that a
# typo fails at load time rather than after the model has loaded.
ALGORITHMS = ("grpo",)
ADVANTAGE_ESTIMATORS = ("grpo", "dr_grpo", "rloo")
LOSS_AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")


class ConfigError(ValueError):
    """A configuration problem; ``key`` is the offending field, relative to the dataclass that raised it."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _invalid(key: str, problem: str) -> ConfigError:
    return ConfigError(f"{key} {problem}", key=key)


def _at_least(config: Any, minimum: int, *keys: str) -> None:
    for key in keys:
        if getattr(config, key) < minimum:
            raise _invalid(key, f"must be >= {minimum}, got {getattr(config, key)}")


def _positive(config: Any, *keys: str) -> None:
    for key in keys:
        if getattr(config, key) <= 0:
            raise _invalid(key, f"must be > 0, got {getattr(config, key)}")


@dataclass(frozen=True)
class ModelConfig:
    path: str = "tiny"  # "tiny" builds a small Qwen2-style model from the task's own text: no hub, runs on CPU
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"  # CPU kernels are fastest and exact in fp32
    seed: int = 0  # initial weights of the tiny model, so that two runs start from the same point
    tiny_hidden_size: int = 128  # tiny only: big enough to learn 2-digit arithmetic, small enough for 2 CPU cores
    tiny_intermediate_size: int = 256  # tiny only: 2x hidden keeps the MLP cheap
    tiny_layers: int = 2  # tiny only: two layers learn the answer format within a few hundred SFT steps
    tiny_heads: int = 4  # tiny only: head size 32
    tiny_kv_heads: int = 2  # tiny only: grouped-query attention, as in Qwen2
    tiny_vocab_size: int = 512  # tiny only: 256 byte tokens + merges; arithmetic text needs few
    tiny_max_positions: int = 512  # tiny only: prompt + completion of the default task fit in 200 tokens

    def __post_init__(self) -> None:
        if not self.path:
            raise _invalid("path", 'must be "tiny" or a local Hugging Face model directory')
        _at_least(self, 1, "tiny_hidden_size", "tiny_intermediate_size", "tiny_layers", "tiny_heads", "tiny_kv_heads")
        if self.tiny_hidden_size % self.tiny_heads:
            raise _invalid("tiny_heads", f"({self.tiny_heads}) must divide tiny_hidden_size ({self.tiny_hidden_size})")
        if self.tiny_heads % self.tiny_kv_heads:
            raise _invalid("tiny_kv_heads", f"({self.tiny_kv_heads}) must divide tiny_heads ({self.tiny_heads})")
        _at_least(self, 300, "tiny_vocab_size")  # 256 byte tokens + specials + some merges
        _at_least(self, 16, "tiny_max_positions")


@dataclass(frozen=True)
class DataConfig:
    train_file: str | None = None  # JSONL or parquet of prompts; None: use the generator
    eval_file: str | None = None  # held-out prompts for the same file format; None: no eval unless generated
    generator: str | None = "arithmetic"  # task generator used when train_file is None (see rl.tasks)
    n_train: int = 2000  # generated training problems: many more than the run will see twice
    n_eval: int = 100  # generated held-out problems: enough for a stable accuracy, quick to evaluate
    seed: int = 0  # generator seed; the same seed gives the same problems and the same split
    generator_params: Mapping[str, Any] = field(default_factory=dict)  # task-specific knobs, e.g. {digits: 2}
    id_field: str = "id"  # record key of a prompt's id; missing ids become file:line
    prompt_field: str = "prompt"  # record key of the prompt text (or a list of chat messages)
    messages_field: str = "messages"  # record key of chat messages [{role, content}], used when present
    reference_field: str = "reference"  # record key of the reference answer the verifier checks against
    verifier_field: str = "verifier"  # record key naming a per-sample verifier
    solution_field: str = "solution"  # record key of a worked solution (SFT warm-up)
    default_verifier: str = "math"  # verifier for records that do not name one
    max_prompt_tokens: int = 128  # longer prompts are dropped: they would crowd out the completion
    system_prompt: str | None = None  # prepended as a system message; None: the tiny model is taught the format by SFT
    use_chat_template: bool = True  # render prompts with the tokenizer's chat template, as the model was tuned
    enable_thinking: bool = True  # Qwen3 semantics: False pre-fills an empty <think></think>

    def __post_init__(self) -> None:
        if self.train_file is None and self.generator is None:
            raise _invalid("train_file", "or generator must be set: there are no prompts otherwise")
        _at_least(self, 0, "n_train", "n_eval")
        _at_least(self, 1, "max_prompt_tokens")


@dataclass(frozen=True)
class RolloutConfig:
    num_actors: int = 1  # generation actors; one is enough on CPU
    group_size: int = 8  # completions per prompt (G): GRPO's baseline is the group mean, so >= 2
    prompts_per_step: int = 16  # prompts per step: 16 x 8 = 128 completions per update
    max_new_tokens: int = 64  # the default task's worked solutions take ~30 tokens
    temperature: float = 1.0  # sample from the policy itself, so that the ratio is on-policy
    top_p: float = 1.0  # no truncation: truncated sampling biases the policy-gradient estimate
    eval_temperature: float = 0.0  # 0 = greedy: eval accuracy without sampling noise
    num_cpus: float = 1  # Ray CPUs per rollout actor (also its torch threads)
    num_gpus: float = 0  # Ray GPUs per rollout actor; 0 on CPU machines
    resources: Mapping[str, float] = field(default_factory=dict)  # custom Ray resources, e.g. {rollout_node: 1}, to pin actors to nodes
    device: str = "auto"  # "auto": cuda when the actor was given a GPU

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise _invalid("group_size", f"must be >= 2 (a group baseline needs two samples), got {self.group_size}")
        _at_least(self, 1, "num_actors", "prompts_per_step", "max_new_tokens")
        _positive(self, "temperature", "top_p")
        _at_least(self, 0, "eval_temperature")
        if self.top_p > 1:
            raise _invalid("top_p", f"must be in (0, 1], got {self.top_p}")


@dataclass(frozen=True)
class AlgorithmConfig:
    name: str = "grpo"  # the only RL algorithm so far
    advantage_estimator: str = "grpo"  # group-normalised advantage, as in DeepSeekMath
    loss_agg: str = "token-mean"  # DAPO: every token weighs the same, long answers are not diluted
    clip_low: float = 0.2  # PPO's lower clip
    clip_high: float = 0.28  # DAPO clip-higher: room for low-probability tokens to grow, against entropy collapse
    kl_coef: float = 0.0  # verifiable rewards need no KL anchor (DAPO, Dr. GRPO); saves a reference model
    dynamic_sampling: bool = False  # DAPO's resampling of all-same-reward groups; off keeps every step the same size
    ppo_epochs: int = 1  # updates per batch; 1 is strictly on-policy, so the clip never binds

    def __post_init__(self) -> None:
        for key, known in (("name", ALGORITHMS), ("advantage_estimator", ADVANTAGE_ESTIMATORS), ("loss_agg", LOSS_AGGREGATIONS)):
            value = getattr(self, key)
            if value not in known:
                raise _invalid(key, f"must be one of {', '.join(known)}; got {value!r}{_did_you_mean(value, known)}")
        for key in ("clip_low", "clip_high"):
            if not 0 <= getattr(self, key) < 1:
                raise _invalid(key, f"must be in [0, 1), got {getattr(self, key)}")
        _at_least(self, 0, "kl_coef")
        _at_least(self, 1, "ppo_epochs")


@dataclass(frozen=True)
class LearnerConfig:
    num_learners: int = 1  # data-parallel learners; one on CPU
    lr: float = 1e-4  # for the tiny model; real 0.5B+ checkpoints want about 1e-6
    weight_decay: float = 0.0  # short fine-tuning: decay only pulls weights toward zero
    micro_batch_size: int = 16  # sequences per forward/backward; gradients accumulate over the step
    grad_clip: float = 1.0  # max global grad norm; RL gradients spike when a group flips
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when available
    backend: Literal["auto", "gloo", "nccl"] = "auto"  # auto: nccl on cuda, gloo on cpu
    num_cpus: float = 1  # Ray CPUs per learner (also its torch threads)
    num_gpus: float = 0  # Ray GPUs per learner; 0 on CPU machines
    resources: Mapping[str, float] = field(default_factory=dict)  # custom Ray resources per learner bundle
    placement: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"  # PACK keeps gradient all-reduce on one node when it fits

    def __post_init__(self) -> None:
        _at_least(self, 1, "num_learners", "micro_batch_size")
        _at_least(self, 0, "weight_decay")
        _positive(self, "lr", "grad_clip")


def _default_reward_components() -> tuple[RewardComponent, ...]:
    return (
        RewardComponent("correct", "verifier", 1.0),  # the verifiable reward itself
        RewardComponent("format", "format", 0.1),  # small: a nudge toward <think>...</think> \boxed{}, never worth a wrong answer
        RewardComponent("length", "length", 0.0),  # logged only: length is a symptom to watch, not a goal
    )


@dataclass(frozen=True)
class RewardsConfig:
    components: tuple[RewardComponent, ...] = field(default_factory=_default_reward_components)  # summed, weighted

    def __post_init__(self) -> None:
        names = [c.name for c in self.components]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _invalid("components", f"names must be unique; repeated: {', '.join(repeated)}")
        if not any(c.weight for c in self.components):
            raise _invalid("components", "need at least one component with a non-zero weight")


@dataclass(frozen=True)
class SFTConfig:
    steps: int = 300  # cold-start warm-up before RL; the tiny model needs it to produce the format at all; 0 skips
    lr: float = 1e-3  # a randomly initialised tiny model learns fast; use ~1e-5 for real checkpoints
    batch_size: int = 32  # examples per step

    def __post_init__(self) -> None:
        _at_least(self, 0, "steps")
        _at_least(self, 1, "batch_size")
        _positive(self, "lr")


@dataclass(frozen=True)
class RunConfig:
    out_dir: str = "runs/default"  # checkpoints, metrics, the resolved config and the tiny-model cache
    total_steps: int = 100  # RL steps
    eval_every: int = 10  # steps between held-out evals; 0 = never
    save_every: int = 50  # steps between checkpoints; 0 = only at the end
    log_every: int = 1  # steps between metric lines: steps are slow, every one is worth a line
    seed: int = 0  # sampling and shuffling
    resume: bool = False  # continue from the latest checkpoint in out_dir
    actor_timeout_s: float = 600  # a Ray call slower than this fails the run loudly instead of hanging it
    verifier_timeout_s: float = 5.0  # per completion; a stuck verifier costs its item a timeout, not the step

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise _invalid("out_dir", "must not be empty")
        _at_least(self, 0, "total_steps", "eval_every", "save_every")
        _at_least(self, 1, "log_every")


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "default"  # shown in logs and run directories
    model: ModelConfig = field(default_factory=ModelConfig)  # which policy; the tiny one by default
    data: DataConfig = field(default_factory=DataConfig)  # which prompts; generated arithmetic by default
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # how completions are sampled
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)  # how they become a loss
    learner: LearnerConfig = field(default_factory=LearnerConfig)  # how the loss becomes an update
    rewards: RewardsConfig = field(default_factory=RewardsConfig)  # how verdicts become a scalar reward
    sft: SFTConfig = field(default_factory=SFTConfig)  # the warm-up before RL
    run: RunConfig = field(default_factory=RunConfig)  # where and how long


# ---------------------------------------------------------------- loading


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read one experiment YAML (None: all defaults), apply ``key=value`` overrides, build and validate."""
    origins = _Origins(str(path) if path is not None else None)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
        raw = _parse_yaml(text, str(path))
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: an experiment config is a mapping of sections, got {type(raw).__name__}")
        origins.add_yaml(raw, "")
    for override in overrides:
        _apply_override(raw, override, origins)
    return _build(ExperimentConfig, raw, "", origins)


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> ExperimentConfig:
    """Build an ExperimentConfig from plain nested dicts (e.g. read back from a run directory)."""
    origins = _Origins(source)
    return _build(ExperimentConfig, dict(data), "", origins)


def config_to_dict(config: Any) -> Any:
    """Plain dicts, lists and scalars, ready for YAML or JSON; ``config_from_dict`` inverts it."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {k: config_to_dict(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    return config


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML, so that a run directory says exactly what ran."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")


# ---------------------------------------------------------------- YAML with line numbers


class _Loader(yaml.SafeLoader):
    """SafeLoader that records each mapping key's line, rejects repeated keys and reads 1e-5 as a float."""


class _Mapping(dict):
    """A YAML mapping that remembers the line of each key."""

    key_lines: dict[str, int]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Mapping:
    loader.flatten_mapping(node)
    mapping = _Mapping()
    mapping.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in mapping:
            raise ConfigError(f"{key_node.start_mark.name}:{line}: key {key!r} repeats the one on line {mapping.key_lines[key]}")
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 (PyYAML) wants a dot in a float: without this, 1e-5 would be the string "1e-5".
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _parse_yaml(text: str, name: str) -> Any:
    loader = _Loader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise ConfigError(f"{where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


# ---------------------------------------------------------------- where each key came from


class _Origins:
    """Maps dotted keys to where they were set: ``file:line`` or a command-line override."""

    def __init__(self, path: str | None):
        self.path = path
        self._by_key: dict[str, str] = {}

    def add_yaml(self, mapping: Any, prefix: str) -> None:
        if isinstance(mapping, _Mapping):
            for key, value in mapping.items():
                dotted = f"{prefix}{key}"
                self._by_key[dotted] = f"{self.path}:{mapping.key_lines[key]}"
                self.add_yaml(value, dotted + ".")
        elif isinstance(mapping, list):
            for index, item in enumerate(mapping):
                self.add_yaml(item, f"{prefix}{index}.")

    def set(self, dotted: str, where: str) -> None:
        for key in [k for k in self._by_key if k == dotted or k.startswith(dotted + ".")]:
            del self._by_key[key]
        self._by_key[dotted] = where

    def of(self, dotted: str) -> str:
        """Where ``dotted`` (or its nearest enclosing key) was set; the file, or defaults."""
        parts = dotted.split(".") if dotted else []
        while parts:
            where = self._by_key.get(".".join(parts))
            if where:
                return where
            parts.pop()
        return self.path or "<defaults>"

    def in_file(self, where: str) -> str:
        """``where``, plus the config file when ``where`` is a command-line override."""
        return f"{where} (config {self.path})" if self.path and not where.startswith(self.path) else where


# ---------------------------------------------------------------- overrides


def _apply_override(raw: dict[str, Any], override: str, origins: _Origins) -> None:
    where = f"override {override!r}"
    key, eq, text = override.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError(f"{where}: expected key=value, e.g. rollout.group_size=8")
    parts = key.split(".")
    _check_key(parts, where, origins)
    value = _parse_yaml(text, where) if text.strip() else None
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, parts[: depth + 1], where)
    if isinstance(node, list):
        node[_list_index(node, parts[-1], key, where)] = value
    elif isinstance(node, dict):
        node[parts[-1]] = value
    else:
        raise ConfigError(f"{where}: {'.'.join(parts[:-1])} is a value, not a section; {key} cannot be set")
    origins.set(_normalised_key(raw, parts), where)


def _check_key(parts: list[str], where: str, origins: _Origins) -> None:
    """Reject an override whose dotted key is not a config field, before touching anything."""
    cls: Any = ExperimentConfig
    depth = 0
    while depth < len(parts):
        if parts[depth] not in {f.name for f in dataclasses.fields(cls)}:
            dotted = ".".join(parts)
            raise ConfigError(f"{origins.in_file(where)}: unknown key {dotted!r}{_suggest_key(dotted)}")
        hint = typing.get_type_hints(cls)[parts[depth]]
        depth += 1
        if dataclasses.is_dataclass(hint):
            cls = hint
        elif typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            cls = typing.get_args(hint)[0]
            depth += 1  # the next part picks a list item, by index or by name
        elif _is_mapping(hint):
            return  # free-form params: any key below goes
        elif depth < len(parts):
            raise ConfigError(f"{origins.in_file(where)}: {'.'.join(parts[:depth])} is a value, not a section")


def _child(node: Any, part: str, path: list[str], where: str) -> Any:
    """The section at ``path``, created (from the defaults when they have one) if the YAML left it out."""
    if isinstance(node, list):
        return node[_list_index(node, part, ".".join(path), where)]
    if not isinstance(node, dict):
        raise ConfigError(f"{where}: {'.'.join(path[:-1])} is a value, not a section; it has no {part!r}")
    if node.get(part) is None:
        default = _default_at(path)
        node[part] = default if isinstance(default, (dict, list)) else {}
    return node[part]


def _default_at(path: list[str]) -> Any:
    node: Any = config_to_dict(ExperimentConfig())
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _list_index(items: list, part: str, dotted: str, where: str) -> int:
    """A list element by position (``components.0``) or by its ``name`` (``components.format``)."""
    if part.isdigit():
        if int(part) < len(items):
            return int(part)
        raise ConfigError(f"{where}: {dotted}: index {part} is out of range; the list has {len(items)} items")
    names = [str(item.get("name")) for item in items if isinstance(item, dict)]
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    raise ConfigError(f"{where}: {dotted}: no list item named {part!r}; names: {', '.join(names) or 'none'}")


def _normalised_key(raw: dict[str, Any], parts: list[str]) -> str:
    """The dotted key with list items by index, as the YAML origins record them."""
    node: Any = raw
    out = []
    for part in parts:
        if isinstance(node, list):
            index = _list_index(node, part, part, "")
            out.append(str(index))
            node = node[index]
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(out)


# ---------------------------------------------------------------- building dataclasses with type checks


def _build(cls: type, raw: Any, prefix: str, origins: _Origins) -> Any:
    """Turn nested plain data into dataclass ``cls``, naming the dotted key of any problem."""
    section = prefix.rstrip(".") or "the experiment config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{origins.in_file(origins.of(prefix.rstrip('.')))}: {section} must be a mapping, got {_describe(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            dotted = f"{prefix}{key}"
            raise ConfigError(f"{origins.in_file(origins.of(dotted))}: unknown key {dotted!r}{_suggest_key(dotted)}")
    kwargs = {}
    for name, value in raw.items():
        kwargs[name] = _convert(value, hints[name], f"{prefix}{name}", origins)
    missing = [n for n, f in fields.items() if n not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{origins.in_file(origins.of(prefix.rstrip('.')))}: {section} needs {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        dotted = f"{prefix}{exc.key}" if exc.key else section
        raise ConfigError(f"{origins.in_file(origins.of(dotted))}: {prefix}{exc}", key=dotted) from None


def _convert(value: Any, hint: Any, dotted: str, origins: _Origins) -> Any:
    def wrong(expected: str, suggestion: str = "") -> ConfigError:
        where = origins.in_file(origins.of(dotted))
        return ConfigError(f"{where}: {dotted} must be {expected}, got {_describe(value)}{suggestion}", key=dotted)

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, {} if value is None else value, dotted + ".", origins)  # "rollout:" alone = defaults
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, dotted, origins)
    if origin is Literal:
        if value not in args:
            raise wrong(f"one of {', '.join(map(str, args))}", _did_you_mean(str(value), [str(a) for a in args]))
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise wrong("a list")
        return tuple(_convert(item, args[0], f"{dotted}.{i}", origins) for i, item in enumerate(value))
    if _is_mapping(hint):
        if not isinstance(value, dict):
            raise wrong("a mapping")
        return _plain(value)
    if hint is Any:
        return _plain(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string (quote it)")
        return value
    raise TypeError(f"{dotted}: config field type {hint!r} is not supported by rl.config")


def _is_mapping(hint: Any) -> bool:
    return hint is dict or typing.get_origin(hint) in (dict, collections.abc.Mapping)


def _plain(value: Any) -> Any:
    """Drop the line-tracking mapping type, so that configs pickle and compare as plain data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _describe(value: Any) -> str:
    return "nothing (null)" if value is None else f"{type(value).__name__} {value!r}"


# ---------------------------------------------------------------- suggestions


def _did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _all_keys(cls: type = ExperimentConfig, prefix: str = "") -> list[str]:
    """Every valid dotted key; list fields of dataclasses contribute ``<list>.<n>.<field>`` as ``<list>.<field>``."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}{f.name}"
        keys.append(dotted)
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            keys += _all_keys(hint, dotted + ".")
        elif typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            keys += _all_keys(typing.get_args(hint)[0], dotted + ".")
    return keys


def _suggest_key(dotted: str) -> str:
    """'; did you mean 'rollout.group_size'?' for the valid key nearest to ``dotted``, or ''."""
    generic = re.sub(r"\.\d+\.", ".", dotted)  # rewards.components.0.wieght -> rewards.components.wieght
    section, _, leaf = generic.rpartition(".")
    keys = [k for k in _all_keys() if not generic.startswith(k + ".")]  # not the section the key is in
    siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0] == section}
    close = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)
    close = [siblings[close[0]]] if close else [k for n, k in siblings.items() if len(leaf) > 1 and leaf in n][:1]
    if not close:  # a misspelt section: "rolout.group_size"
        close = difflib.get_close_matches(generic, keys, n=1, cutoff=0.75)
    if not close:  # the right leaf in the wrong section: "group_size" -> "rollout.group_size"
        by_leaf = {k.rpartition(".")[2]: k for k in reversed(keys)}
        leaves = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.75)
        close = [by_leaf[leaves[0]]] if leaves else []
    if not close:
        return ""
    suggestion = close[0]
    if generic != dotted and suggestion.startswith("rewards.components."):  # put the index back
        index = dotted.split(".")[2]
        suggestion = suggestion.replace("rewards.components.", f"rewards.components.{index}.", 1)
    return f"; did you mean {suggestion!r}?"
