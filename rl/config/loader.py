"""Load an experiment: one YAML plus ``key=value`` overrides -> ``ExperimentConfig``.

YAML is read with line numbers, so that an unknown key, a wrong type or an invalid value
raises ``ConfigError`` naming the dotted key, the ``file:line`` or the override it came
from, and the closest valid key.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml

from rl.config.build import build, config_to_dict, is_mapping, suggest_key
from rl.config.schema import ConfigError, ExperimentConfig
from rl.config.stages import stage_config
from rl.config.yaml_lines import Origins, parse_yaml

# ---------------------------------------------------------------- loading


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read one experiment YAML (None: all defaults), apply ``key=value`` overrides, build and validate."""
    origins = Origins(str(path) if path is not None else None)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
        raw = parse_yaml(text, str(path))
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: an experiment config is a mapping of sections, got {type(raw).__name__}")
        origins.add_yaml(raw, "")
    for override in overrides:
        _apply_override(raw, override, origins)
    config = build(ExperimentConfig, raw, "", origins)
    for index in range(len(config.stages)):  # a stage's merged sections must be valid too: fail now, not mid-pipeline
        stage_config(config, index, source=origins.in_file(origins.of(f"stages.{index}")))
    return config


def save_config(config: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config as YAML, so that a run directory says exactly what ran."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")




# ---------------------------------------------------------------- overrides


def _apply_override(raw: dict[str, Any], override: str, origins: Origins) -> None:
    where = f"override {override!r}"
    key, eq, text = override.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ConfigError(f"{where}: expected key=value, e.g. rollout.group_size=8")
    parts = key.split(".")
    _check_key(parts, where, origins)
    value = parse_yaml(text, where) if text.strip() else None
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


def _check_key(parts: list[str], where: str, origins: Origins) -> None:
    """Reject an override whose dotted key is not a config field, before touching anything."""
    cls: Any = ExperimentConfig
    depth = 0
    while depth < len(parts):
        if parts[depth] not in {f.name for f in dataclasses.fields(cls)}:
            dotted = ".".join(parts)
            raise ConfigError(f"{origins.in_file(where)}: unknown key {dotted!r}{suggest_key(dotted)}")
        hint = typing.get_type_hints(cls)[parts[depth]]
        depth += 1
        if dataclasses.is_dataclass(hint):
            cls = hint
        elif typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            cls = typing.get_args(hint)[0]
            depth += 1  # the next part picks a list item, by index or by name
        elif is_mapping(hint):
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


