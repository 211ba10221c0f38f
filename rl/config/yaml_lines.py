"""YAML that remembers where each key was written, so that a config error names ``file:line``.

    raw = parse_yaml(text, "experiments/x.yaml")     # plain dicts; each mapping knows its keys' lines
    origins = Origins("experiments/x.yaml"); origins.add_yaml(raw, "")
    origins.of("rollout.group_size")                   # "experiments/x.yaml:12", or the override that set it
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from rl.config.schema import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that records each mapping key's line, rejects repeated keys and reads 1e-5 as a float."""


class YamlMapping(dict):
    """A YAML mapping that remembers the line of each key."""

    key_lines: dict[str, int]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> YamlMapping:
    loader.flatten_mapping(node)
    mapping = YamlMapping()
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


def parse_yaml(text: str, name: str) -> Any:
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


class Origins:
    """Maps dotted keys to where they were set: ``file:line`` or a command-line override."""

    def __init__(self, path: str | None):
        self.path = path
        self._by_key: dict[str, str] = {}

    def add_yaml(self, mapping: Any, prefix: str) -> None:
        if isinstance(mapping, YamlMapping):
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
