"""``rlvr sandbox``: the parser teaches, ``run`` reports through exit codes, ``doctor`` checks;
plus the image recipe's tag, which decides when CI rebuilds."""
from __future__ import annotations

import argparse
import json
import warnings

import pytest

from sandbox import image
from sandbox.cli import add_sandbox_commands
from tests.sandbox_support import docker_sandbox_or_skip


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rlvr")
    add_sandbox_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    assert args.run is args.func
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return args.run(args)


@pytest.mark.parametrize("action", ["run", "build-image", "doctor"])
def test_help_has_examples(action, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["sandbox", action, "--help"])
    assert exit_.value.code == 0
    assert f"rlvr sandbox {action}" in capsys.readouterr().out.split("examples:")[1]


def test_wired_into_rlvr():
    from rl.cli.main import build_parser

    args = build_parser().parse_args(["sandbox", "run", "x.py", "--timeout", "2"])
    assert args.timeout == 2.0 and callable(args.run)


@pytest.mark.parametrize("program, code", [("assert 1 + 1 == 2\nprint('fine')", 0), ("assert 1 + 1 == 3", 1)])
def test_run_local_exit_codes(tmp_path, capsys, program, code):
    path = tmp_path / "prog.py"
    path.write_text(program)
    assert cli(["sandbox", "run", str(path), "--local"]) == code
    assert ("passed" if code == 0 else "failed") in capsys.readouterr().err


@pytest.mark.parametrize("program, tests, extra, code", [
    ("def f():\n    return 1\n", "assert f() == 1", [], 0),
    ("import builtins\nbuiltins.abs = lambda v: 0\ndef f():\n    return 5\n", "assert abs(f() - 1) < 1e-9", [], 1),
    ("class P:\n    pass\n", "assert P() is not None", [], 1),
    ("class P:\n    pass\n", "assert P() is not None", ["--allow-objects"], 0),
])
def test_run_local_with_tests_apart(tmp_path, capsys, program, tests, extra, code):
    (tmp_path / "prog.py").write_text(program)
    (tmp_path / "tests.py").write_text(tests)
    args = ["sandbox", "run", str(tmp_path / "prog.py"), "--tests", str(tmp_path / "tests.py"), "--local", *extra]
    assert cli(args) == code, capsys.readouterr().err


def test_run_missing_file_is_exit_2(tmp_path):
    assert cli(["sandbox", "run", str(tmp_path / "absent.py"), "--local"]) == 2


def test_image_tag_follows_the_recipe(monkeypatch):
    monkeypatch.delenv("RLVR_SANDBOX_IMAGE", raising=False)
    tag = image.image_tag()
    assert tag == image.image_tag() and tag.startswith(image.IMAGE_REPO + ":")
    monkeypatch.setattr(image, "PACKAGES", image.PACKAGES + ("python3-numpy",))
    assert image.image_tag() != tag


@pytest.mark.docker
def test_run_and_doctor_in_docker(tmp_path, capsys):
    docker_sandbox_or_skip(size=1).close()  # skip, or fail under RLVR_REQUIRE_DOCKER, like the others
    prog, stdin = tmp_path / "prog.py", tmp_path / "in.txt"
    prog.write_text("import sys\nprint(sys.stdin.read().upper(), end='')")
    stdin.write_text("shout")
    assert cli(["sandbox", "run", str(prog), "--stdin", str(stdin), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["status"], result["stdout"]) == ("passed", "SHOUT")
    assert cli(["sandbox", "doctor"]) == 0
    assert "BAD" not in capsys.readouterr().out


def test_doctor_tells_a_missing_image_from_an_engine_that_cannot_answer(monkeypatch):
    import docker.errors

    import sandbox.docker_sandbox as docker_sandbox
    from sandbox.doctor import diagnose

    class Images:
        def __init__(self, error):
            self.error = error

        def get(self, tag):
            raise self.error

    class Client:
        def __init__(self, error):
            self.images = Images(error)

        def version(self):
            return {"Version": "test", "ApiVersion": "1", "Os": "linux", "Arch": "amd64"}

    for error, expected in ((docker.errors.ImageNotFound("no such image"), "not found: run `rlvr sandbox build-image"),
                            (docker.errors.APIError("500 Server Error: storage driver failed"), "could not inspect")):
        monkeypatch.setattr(docker_sandbox, "connect", lambda error=error: Client(error))
        image_row = diagnose()["checks"][1]
        assert image_row["name"] == "image" and not image_row["ok"] and expected in image_row["detail"]


def test_an_unreadable_oom_counter_is_unknown_not_zero(monkeypatch):
    import builtins

    from sandbox import supervisor

    def no_cgroup(path, *args, **kwargs):
        raise OSError("no memory cgroup here")

    monkeypatch.setattr(builtins, "open", no_cgroup)
    assert supervisor.cgroup_oom_kills() is None
