"""`rlvr train` argument handling (the training itself is tested in test_grpo.py)."""
from __future__ import annotations

import pytest

from rl import cli


def test_missing_config_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_unknown_override_names_the_key(tmp_path, capsys):
    config = tmp_path / "x.yaml"
    config.write_text("rollout:\n  group_size: 4\n")
    assert cli.main(["train", str(config), "--out", str(tmp_path / "run"), "rollout.temprature=0.5"]) == 2
    err = capsys.readouterr().err
    assert "rollout.temprature" in err and "rollout.temperature" in err


def test_options_and_overrides_mix(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("rl.grpo.train", lambda config: seen.setdefault("config", config) and {})
    config = tmp_path / "x.yaml"
    config.write_text("name: x\n")
    assert cli.main(["train", str(config), "--out", str(tmp_path / "run"), "rollout.group_size=4", "--resume"]) == 0
    cfg = seen["config"]
    assert (cfg.rollout.group_size, cfg.run.out_dir, cfg.run.resume) == (4, str(tmp_path / "run"), True)


def test_stray_arguments_are_still_errors():
    with pytest.raises(SystemExit):
        cli.main(["train", "x.yaml", "--bogus"])
