"""Experiment config: YAML + overrides → frozen dataclasses, with errors that name key and place."""
from __future__ import annotations

import dataclasses
import inspect
import pickle
import subprocess
import sys

import pytest
import yaml

from rl import registries
from rl.config import ConfigError, ExperimentConfig
from rl.config import schema as config_module
from rl.config.build import config_from_dict, config_to_dict
from rl.config.loader import load_config, save_config

EXPERIMENT = """\
name: unit
rollout:
  group_size: 4
  temperature: 0.7
learner:
  lr: 3.0e-4
rewards:
  components:
    - {name: correct, kind: verifier, weight: 1.0}
    - name: format
      kind: format
      weight: 0.1
      params: {tags: [think]}
"""


@pytest.fixture
def experiment(tmp_path):
    path = tmp_path / "unit.yaml"
    path.write_text(EXPERIMENT)
    return path


def error_of(path, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides))
    return str(info.value)


def test_defaults_need_no_file():
    assert load_config(None) == ExperimentConfig()


def test_yaml_sets_only_what_it_names(experiment):
    cfg = load_config(experiment)
    assert cfg.name == "unit"
    assert cfg.rollout.group_size == 4 and cfg.rollout.temperature == 0.7
    assert cfg.rollout.max_new_tokens == ExperimentConfig().rollout.max_new_tokens
    assert [c.name for c in cfg.rewards.components] == ["correct", "format"]
    assert cfg.rewards.components[1].params == {"tags": ["think"]}


def test_resolved_config_round_trips_through_yaml(experiment, tmp_path):
    cfg = load_config(experiment, ["algorithm.kl_coef=0.01"])
    saved = tmp_path / "run" / "config.yaml"
    save_config(cfg, saved)
    assert load_config(saved) == cfg
    assert config_from_dict(yaml.safe_load(saved.read_text())) == cfg
    assert isinstance(config_to_dict(cfg)["rewards"]["components"], list)


def test_overrides_follow_yaml_scalar_rules(experiment):
    cfg = load_config(experiment, [
        "rollout.group_size=8",
        "algorithm.kl_coef=0.01",
        "learner.lr=1e-5",  # PyYAML alone would read this as a string
        "run.out_dir=runs/x",
        "run.resume=true",
        "data.generator_params={digits: 1, operations: [+]}",
        "sft.steps=0",
    ])
    assert cfg.rollout.group_size == 8
    assert cfg.algorithm.kl_coef == 0.01
    assert cfg.learner.lr == 1e-5
    assert cfg.run.out_dir == "runs/x" and cfg.run.resume is True
    assert cfg.data.generator_params == {"digits": 1, "operations": ["+"]}
    assert cfg.sft.steps == 0


def test_list_items_are_addressed_by_name_or_index(experiment):
    cfg = load_config(experiment, ["rewards.components.format.weight=0.5", "rewards.components.0.weight=2"])
    assert [c.weight for c in cfg.rewards.components] == [2.0, 0.5]
    # also when the YAML leaves the list to its defaults
    defaults = load_config(None, ["rewards.components.length.weight=0.05"])
    assert {c.name: c.weight for c in defaults.rewards.components}["length"] == 0.05


def test_unknown_key_in_yaml_names_file_line_key_and_suggestion(experiment):
    experiment.write_text(EXPERIMENT.replace("temperature: 0.7", "temprature: 0.7"))
    message = error_of(experiment)
    assert f"{experiment}:4:" in message
    assert "'rollout.temprature'" in message
    assert "did you mean 'rollout.temperature'?" in message


def test_unknown_key_inside_a_list_item(experiment):
    experiment.write_text(EXPERIMENT.replace("weight: 0.1", "wieght: 0.1"))
    message = error_of(experiment)
    assert f"{experiment}:12:" in message
    assert "'rewards.components.1.wieght'" in message and "'rewards.components.1.weight'" in message


@pytest.mark.parametrize("override, key, suggestion", [
    ("rollout.group_sz=8", "rollout.group_sz", "rollout.group_size"),
    ("rolout.group_size=8", "rolout.group_size", "rollout.group_size"),
    ("group_size=8", "group_size", "rollout.group_size"),  # right leaf, missing section
    ("algorithm.kl=0.1", "algorithm.kl", "algorithm.kl_coef"),  # a prefix of the real name
    ("algorithm.zzz=0.1", "algorithm.zzz", None),
])
def test_unknown_override_key_names_key_file_and_suggestion(experiment, override, key, suggestion):
    message = error_of(experiment, [override])
    assert f"override {override!r}" in message and str(experiment) in message
    assert f"unknown key {key!r}" in message
    if suggestion:
        assert f"did you mean {suggestion!r}?" in message
    else:
        assert "did you mean" not in message


@pytest.mark.parametrize("override, expected", [
    ("rollout.group_size=eight", "rollout.group_size must be an integer, got str 'eight'"),
    ("rollout.group_size=8.5", "rollout.group_size must be an integer"),
    ("rollout.group_size=true", "rollout.group_size must be an integer, got bool"),
    ("run.resume=1", "run.resume must be true or false"),
    ("learner.lr=fast", "learner.lr must be a number"),
    ("run.out_dir=7", "run.out_dir must be a string"),
    ("learner.device=cdua", "learner.device must be one of auto, cpu, cuda, got str 'cdua'; did you mean 'cuda'?"),
    ("rewards.components=oops", "rewards.components must be a list"),
    ("data.generator_params=3", "data.generator_params must be a mapping"),
])
def test_type_mismatch_names_the_key(experiment, override, expected):
    assert expected in error_of(experiment, [override])


@pytest.mark.parametrize("override, expected", [
    ("rollout.group_size=1", "rollout.group_size must be >= 2"),
    ("algorithm.clip_high=1.5", "algorithm.clip_high must be in [0, 1)"),
    ("algorithm.advantage_estimator=rlo", "did you mean 'rloo'?"),
    ("algorithm.loss_agg=seq-mean", "algorithm.loss_agg must be a registered loss aggregation"),
    ("model.tiny_heads=3", "model.tiny_heads (3) must divide tiny_hidden_size (128)"),
    ("rewards.components=[{name: a, kind: verifier, weight: 0}]", "at least one component with a non-zero weight"),
    ("rewards.components=[{name: a}]", "rewards.components.0 needs kind"),
])
def test_invalid_values_name_key_and_override(experiment, override, expected):
    message = error_of(experiment, [override])
    assert expected in message
    assert f"override {override!r}" in message


def test_an_empty_section_means_its_defaults(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("rollout:\nrun:\n  seed: 3\n")
    assert load_config(path).rollout == ExperimentConfig().rollout


def test_invalid_value_in_yaml_names_its_line(experiment):
    experiment.write_text(EXPERIMENT.replace("group_size: 4", "group_size: 1"))
    assert f"{experiment}:3: rollout.group_size must be >= 2" in error_of(experiment)


@pytest.mark.parametrize("text, expected", [
    ("rollout:\n  group_size: 4\nrollout:\n  top_p: 0.9\n", ":3: key 'rollout' repeats the one on line 1"),
    ("rollout:\n  group_size: [4\n", "invalid YAML"),
    ("- just\n- a list\n", "a mapping of sections"),
    ("rollout: 4\n", ":1: rollout must be a mapping"),
])
def test_malformed_files(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    message = error_of(path)
    assert str(path) in message and expected in message


def test_malformed_overrides(experiment):
    assert "expected key=value" in error_of(experiment, ["rollout.group_size"])
    assert "run.seed is a value, not a section" in error_of(experiment, ["run.seed.x=1"])
    assert "no list item named 'fmt'; names: correct, format" in error_of(experiment, ["rewards.components.fmt.weight=1"])


def test_missing_file_is_named(tmp_path):
    assert f"{tmp_path / 'nope.yaml'}: cannot read config" in error_of(tmp_path / "nope.yaml")


def test_configs_are_frozen_and_pickle(experiment):
    cfg = load_config(experiment)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rollout.group_size = 2
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # Ray ships configs to actors


def test_direct_construction_validates_too():
    with pytest.raises(ConfigError, match="group_size must be >= 2"):
        config_module.RolloutConfig(group_size=1)


CONFIG_CLASSES = [
    obj for obj in vars(config_module).values()
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == config_module.__name__
]


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=lambda c: c.__name__)
def test_every_field_says_why_its_default_is_what_it_is(cls):
    source = inspect.getsource(cls)
    for f in dataclasses.fields(cls):
        line = next(text for text in source.splitlines() if text.strip().startswith(f"{f.name}:"))
        assert "#" in line, f"{cls.__name__}.{f.name} has no comment"


# ---------------------------------------------------------------- one source of names

REGISTERED_FIELDS = [  # (registry, config class, field)
    (registries.ALGORITHMS, config_module.AlgorithmConfig, "name"),
    (registries.ADVANTAGE_ESTIMATORS, config_module.AlgorithmConfig, "advantage_estimator"),
    (registries.LOSS_AGGREGATIONS, config_module.AlgorithmConfig, "loss_agg"),
    (registries.DPO_LOSSES, config_module.DPOConfig, "loss_type"),
    (registries.STAGE_KINDS, config_module.StageConfig, "kind"),
]


@pytest.mark.parametrize("registry, cls, key", REGISTERED_FIELDS, ids=lambda x: getattr(x, "kind", getattr(x, "__name__", x)))
def test_config_accepts_exactly_the_registered_names(registry, cls, key):
    base = {"kind": "eval"} if cls is config_module.StageConfig else {}
    assert registry.names(), "a registry without entries"
    for name in registry.names():
        assert getattr(cls(**{**base, key: name}), key) == name  # every registered name is accepted ...
        assert callable(registry.get(name)) or hasattr(registry.get(name), "run")  # ... and resolves to its entry
    with pytest.raises(ConfigError) as err:
        cls(**{**base, key: "not-registered"})  # ... and nothing else is
    assert err.value.key == key


def test_a_newly_registered_estimator_is_accepted_without_editing_config():
    name = "test_only_mean"
    registries.ADVANTAGE_ESTIMATORS.register(name)(lambda rewards, eps=1e-4: rewards - rewards.mean(1, keepdim=True))
    try:
        assert config_module.AlgorithmConfig(advantage_estimator=name).advantage_estimator == name
    finally:
        registries.ADVANTAGE_ESTIMATORS._targets.pop(name)


def test_dpo_label_smoothing_is_checked_from_registry_info_as_the_losses_check_it():
    import torch

    zero, one = torch.zeros(1), torch.ones(1)
    for name in registries.DPO_LOSSES.names():
        takes = registries.DPO_LOSSES.info(name)["label_smoothing"]
        loss = registries.DPO_LOSSES.get(name)
        try:  # what the loss itself accepts ...
            loss(zero, zero, zero, zero, 0.1, 0.1, chosen_lengths=one, rejected_lengths=one)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == takes, name  # ... is what the config allows
        if not takes:
            with pytest.raises(ConfigError):
                config_module.DPOConfig(loss_type=name, label_smoothing=0.1)


def test_importing_the_config_imports_no_torch():
    code = "import sys, rl.config, rl.config.loader; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
