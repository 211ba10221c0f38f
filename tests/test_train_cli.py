"""`rlvr train` argument handling (the training itself is tested in test_grpo.py)."""
from __future__ import annotations

from pathlib import Path

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


def test_options_and_overrides_mix_and_the_configured_algorithm_runs(monkeypatch, tmp_path):
    from rl.registries import ALGORITHMS

    seen = {}  # a registered algorithm is dispatched to, never GRPO in its place
    monkeypatch.setitem(ALGORITHMS._targets, "recorder", lambda config: seen.setdefault("config", config) and {})
    config = tmp_path / "x.yaml"
    config.write_text("name: x\nalgorithm: {name: recorder}\n")
    assert cli.main(["train", str(config), "--out", str(tmp_path / "run"), "rollout.group_size=4", "--resume"]) == 0
    cfg = seen["config"]
    assert (cfg.rollout.group_size, cfg.run.out_dir, cfg.run.resume) == (4, str(tmp_path / "run"), True)


def test_stray_arguments_are_still_errors():
    with pytest.raises(SystemExit):
        cli.main(["train", "x.yaml", "--bogus"])


def test_dry_run_validates_without_loading(tmp_path, capsys):
    config = Path(__file__).resolve().parent.parent / "experiments" / "tiny_arith.yaml"
    assert cli.main(["train", str(config), "--dry-run", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "math x2100" in out and "dry run OK" in out
    assert not (tmp_path / "run").exists()  # nothing built, nothing written


def test_dry_run_reports_a_bad_verifier_and_data(tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "prompt": "1+1?", "reference": "2", "verifier": "no_such"}\n')
    config = tmp_path / "x.yaml"
    config.write_text(f"data:\n  train_file: {prompts}\n  generator: null\n")
    assert cli.main(["train", str(config), "--dry-run"]) == 2
    assert "no_such" in capsys.readouterr().err
    prompts.write_text('{"id": "a", "prompt": "1+1?"}\n')
    assert cli.main(["train", str(config), "--dry-run"]) == 2
    assert "p.jsonl:1" in capsys.readouterr().err


EXPERIMENTS = sorted((Path(__file__).resolve().parent.parent / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("config", EXPERIMENTS, ids=lambda p: p.name)
def test_every_experiment_passes_dry_run(config, tmp_path, capsys):
    assert cli.main(["train", str(config), "--dry-run", "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
