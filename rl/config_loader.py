"""Load an experiment: one YAML plus ``key=value`` overrides -> ``ExperimentConfig``.

YAML is read with line numbers, so that an unknown key, a wrong type or an invalid value
raises ``ConfigError`` naming the dotted key, the ``file:line`` or the override it came
from, and the closest valid key.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from rl.config import ConfigError, ExperimentConfig, _did_you_mean


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
    config = _build(ExperimentConfig, raw, "", origins)
    for index in range(len(config.stages)):  # a stage's merged sections must be valid too: fail now, not mid-pipeline
        stage_config(config, index, source=origins.in_file(origins.of(f"stages.{index}")))
    return config


def stage_config(config: ExperimentConfig, index: int, *, source: str = "<pipeline>") -> ExperimentConfig:
    """The config stage ``index`` runs with: the experiment's sections with the stage's merged in
    (mappings key by key, lists replaced), its own directory ``OUT/stages/NN_name``, no stages."""
    stage = config.stages[index]
    raw = config_to_dict(config)
    raw.pop("stages")
    for section, changes in stage.sections().items():
        raw[section] = _merged(raw[section], changes)
    raw["name"] = f"{config.name}/{stage.label}"
    raw["run"]["out_dir"] = str(Path(config.run.out_dir) / "stages" / f"{index + 1:02d}_{stage.label}")
    try:
        return config_from_dict(raw, source=f"{source} (stage {stage.label!r})")
    except ConfigError as exc:
        raise ConfigError(f"{exc}".replace(" (stage", f" (stages.{index}, stage", 1), key=exc.key) from None


def _merged(base: Any, changes: Any) -> Any:
    if isinstance(base, dict) and isinstance(changes, Mapping):
        return {**base, **{k: _merged(base.get(k), v) for k, v in changes.items()}}
    return changes


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
    leaf = str(_list_index(node, parts[-1], key, where)) if isinstance(node, list) else parts[-1]
    normalised = ".".join([*_normalised_key(raw, parts[:-1]).split(".")[: len(parts) - 1], leaf])  # before a rename
    if isinstance(node, list):
        node[int(leaf)] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise ConfigError(f"{where}: {'.'.join(parts[:-1])} is a value, not a section; {key} cannot be set")
    origins.set(normalised, where)


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
    """A list element by position (``components.0``) or by its name (``components.format``, ``stages.grpo``)."""
    if part.isdigit():
        if int(part) < len(items):
            return int(part)
        raise ConfigError(f"{where}: {dotted}: index {part} is out of range; the list has {len(items)} items")
    names = [str(_item_name(item)) for item in items if isinstance(item, dict)]
    for index, item in enumerate(items):
        if isinstance(item, dict) and _item_name(item) == part:
            return index
    raise ConfigError(f"{where}: {dotted}: no list item named {part!r}; names: {', '.join(names) or 'none'}")


def _item_name(item: dict) -> Any:
    """A list item's name: its ``name``, or for a pipeline stage without one, its ``kind``."""
    return item.get("name") or item.get("kind")


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
    if not close and section:  # a misspelt section: "rolout.group_size"
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
