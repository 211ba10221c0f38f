"""A pipeline stage's own config: the experiment's sections with the stage's changes merged in.

    cfg = stage_config(config, 1)     # what stage 2 runs with; its run directory is OUT/stages/02_<name>
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rl.config.build import config_from_dict, config_to_dict
from rl.config.schema import ConfigError, ExperimentConfig


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
