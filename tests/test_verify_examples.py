"""Every example in ``rlvr verify --help``, run as written (issue 18's papercut: a plain
solution.py given with --file is judged as the program). The code examples use the local
sandbox; the files they name are made here."""
from __future__ import annotations

import io
import json
import shlex
import warnings

import pytest

from rl.cli.main import VERIFY_EXAMPLES, main

FILES = {
    "completion.txt": "Half of it: $\\boxed{\\frac{1}{2}}$",
    "solution.py": "def square(x):\n    return x * x\n",  # a plain program file, no fence
    "task.json": json.dumps({"tests": ["assert square(3) == 9", "assert square(-2) == 4"], "entry_point": "square"}),
}


def examples() -> list[str]:
    """The example command lines of the help text, continuation lines joined."""
    text = VERIFY_EXAMPLES.split("\n\n")[0].replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if "rlvr verify" in line]


def test_the_help_has_the_examples_run_here():
    assert len(examples()) == 5 and sum("--verifier code" in e for e in examples()) == 2


@pytest.mark.parametrize("example", examples())
def test_help_example_runs_and_judges_correct(example, tmp_path, monkeypatch, capsys):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RLVR_CODE_SANDBOX", "local")
    stdin, _, command = example.rpartition("|")
    if stdin:  # echo "..." | rlvr verify ...
        monkeypatch.setattr("sys.stdin", io.StringIO(shlex.split(stdin)[1]))
    argv = shlex.split(command, comments=True)
    assert argv[:2] == ["rlvr", "verify"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        code = main(argv[1:])
    out = capsys.readouterr().out
    assert code == 0, out


def test_a_program_file_with_a_syntax_error_is_not_an_answer_and_says_why(tmp_path, capsys):
    (tmp_path / "solution.py").write_text("def square(x)\n    return x * x\n")
    code = main(["verify", "--verifier", "code", "--file", str(tmp_path / "solution.py"), "--json",
                 "--field", "tests=[\"assert square(3) == 9\"]"])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 2 and verdict["status"] == "no_answer" and "SyntaxError" in verdict["reason"]
