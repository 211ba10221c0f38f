"""Plain nested data <-> config dataclasses, with a type check and the origin of every key.

    config = config_from_dict({"rollout": {"group_size": 4}})   # ConfigError naming the key on bad input
    data = config_to_dict(config)                                 # YAML/JSON-ready; config_from_dict inverts it
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from rl.config.schema import ConfigError, ExperimentConfig, _did_you_mean
from rl.config.yaml_lines import Origins

# Keys that existed once, and where their meaning went: an old YAML gets an answer, not a guess.
MOVED_KEYS = {
    "model.dtype": "it was split into rollout.dtype (the weights the sampler holds) and "
                   "learner.mixed_precision (the learner's autocast; its master weights stay fp32)",
}


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> ExperimentConfig:
    """Build an ExperimentConfig from plain nested dicts (e.g. read back from a run directory)."""
    origins = Origins(source)
    return build(ExperimentConfig, dict(data), "", origins)


def config_to_dict(config: Any) -> Any:
    """Plain dicts, lists and scalars, ready for YAML or JSON; ``config_from_dict`` inverts it."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {k: config_to_dict(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    return config


def build(cls: type, raw: Any, prefix: str, origins: Origins) -> Any:
    """Turn nested plain data into dataclass ``cls``, naming the dotted key of any problem."""
    section = prefix.rstrip(".") or "the experiment config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{origins.in_file(origins.of(prefix.rstrip('.')))}: {section} must be a mapping, got {_describe(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            dotted = f"{prefix}{key}"
            hint = f"; {MOVED_KEYS[dotted]}" if dotted in MOVED_KEYS else suggest_key(dotted)
            raise ConfigError(f"{origins.in_file(origins.of(dotted))}: unknown key {dotted!r}{hint}")
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


def _convert(value: Any, hint: Any, dotted: str, origins: Origins) -> Any:
    def wrong(expected: str, suggestion: str = "") -> ConfigError:
        where = origins.in_file(origins.of(dotted))
        return ConfigError(f"{where}: {dotted} must be {expected}, got {_describe(value)}{suggestion}", key=dotted)

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, {} if value is None else value, dotted + ".", origins)  # "rollout:" alone = defaults
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
    if is_mapping(hint):
        if not isinstance(value, dict):
            raise wrong("a mapping")
        item = args[1] if len(args) == 2 else Any
        if dataclasses.is_dataclass(item):  # name -> section, e.g. data.mixture.<domain>
            return {str(k): _convert(v, item, f"{dotted}.{k}", origins) for k, v in value.items()}
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


def is_mapping(hint: Any) -> bool:
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
        elif is_mapping(hint) and len(typing.get_args(hint)) == 2 and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            keys += _all_keys(typing.get_args(hint)[1], dotted + ".")  # data.mixture.<name>.weight -> data.mixture.weight
    return keys


def suggest_key(dotted: str) -> str:
    """'; did you mean 'rollout.group_size'?' for the valid key nearest to ``dotted``, or ''."""
    generic = re.sub(r"\.\d+\.", ".", dotted)  # rewards.components.0.wieght -> rewards.components.wieght
    named = re.match(r"^(data\.mixture)\.([^.]+)\.(.+)$", generic)  # data.mixture.math.wieght -> data.mixture.wieght
    if named:
        generic = f"{named.group(1)}.{named.group(3)}"
    section, _, leaf = generic.rpartition(".")
    keys = [k for k in _all_keys() if not generic.startswith(k + ".")]  # not the section the key is in
    siblings = {k.rpartition(".")[2]: k for k in keys if k.rpartition(".")[0] == section}
    close = difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.6)
    close = [siblings[close[0]]] if close else [k for n, k in siblings.items() if len(leaf) > 1 and leaf in n][:1]
    if not close and section:  # a misspelt section: "rolout.group_size"
        close = difflib.get_close_matches(generic, keys, n=1, cutoff=0.75)
    if not close:  # the right leaf in the wrong section: "group_size" -> "rollout.group_size"
        by_leaf = {k.rpartition(".")[2]: k for k in reversed(keys)}
        leaves = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.75)
        close = [by_leaf[leaves[0]]] if leaves else []
    if not close:
        return ""
    suggestion = close[0]
    if named and suggestion.startswith("data.mixture."):  # put the domain's name back
        suggestion = suggestion.replace("data.mixture.", f"data.mixture.{named.group(2)}.", 1)
    if generic != dotted and suggestion.startswith("rewards.components."):  # put the index back
        index = dotted.split(".")[2]
        suggestion = suggestion.replace("rewards.components.", f"rewards.components.{index}.", 1)
    return f"; did you mean {suggestion!r}?"
