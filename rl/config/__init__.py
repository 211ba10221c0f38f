"""Experiment configuration: frozen dataclasses (``rl.config.schema``), loaded from YAML by
``rl.config.loader``. Importing this package imports no torch: names are checked against
``rl.registries``."""
from rl.config.schema import (
    AlgorithmConfig,
    ConfigError,
    DataConfig,
    DPOConfig,
    EnvConfig,
    ExperimentConfig,
    JudgeConfig,
    LearnerConfig,
    LoRAConfig,
    ModelConfig,
    RewardsConfig,
    RolloutConfig,
    RunConfig,
    SFTConfig,
    StageConfig,
)

__all__ = [
    "AlgorithmConfig",
    "ConfigError",
    "DPOConfig",
    "DataConfig",
    "EnvConfig",
    "ExperimentConfig",
    "JudgeConfig",
    "LearnerConfig",
    "LoRAConfig",
    "ModelConfig",
    "RewardsConfig",
    "RolloutConfig",
    "RunConfig",
    "SFTConfig",
    "StageConfig",
]
