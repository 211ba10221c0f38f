"""`rlvr score --verifier judge|cascade` and `rlvr train --dry-run` with a judge, against a stdlib judge
server on loopback (tests.helpers.judge_server): batched judging, unjudged accounting, the endpoint check."""
from __future__ import annotations

import json

from rl.cli.main import main
from tests.helpers.judge_server import StubJudgeServer, free_port

RECORDS = [{"id": "a", "prompt": "What is 2 + 3?", "completion": "<think>2+3</think> \\boxed{5}", "reference": "5"},
           {"id": "b", "prompt": "What is 6 * 7?", "completion": "It is forty-two.", "reference": "42"},
           {"id": "c", "prompt": "What is 1 + 1?", "completion": ":", "reference": "2"}]


def _preds(tmp_path):
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return path


def _verdicts(path):
    return [json.loads(line)["verdict"] for line in path.read_text().splitlines()]


def test_score_with_the_judge_batches_and_prefilters(tmp_path, capsys):
    preds = _preds(tmp_path)
    with StubJudgeServer() as stub:
        code = main(["score", str(preds), "--verifier", "judge", "--judge-base-url", stub.base_url, "--judge-model", "stub-judge",
                     "--judge-cache", str(tmp_path / "cache.sqlite")])
        assert code == 0 and stub.requests == 2  # ":" never reaches the judge
    verdicts = _verdicts(tmp_path / "preds.scored.jsonl")
    assert [v["score"] for v in verdicts] == [1.0, 1.0, 0.0] and verdicts[2]["reason"].startswith("pre-filter")
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and "judge: requests 2" in captured.err


def test_score_with_the_cascade_asks_only_about_rule_rejects(tmp_path, capsys):
    preds = _preds(tmp_path)
    with StubJudgeServer() as stub:
        assert main(["score", str(preds), "--verifier", "cascade", "--judge-base-url", stub.base_url,
                     "--judge-model", "stub-judge", "--workers", "1"]) == 0
        assert stub.requests == 1  # a is right by the rule; c is a master key; only b is asked
    assert [v["score"] for v in _verdicts(tmp_path / "preds.scored.jsonl")] == [1.0, 1.0, 0.0]


def test_an_unreachable_judge_leaves_items_unjudged_in_the_summary(tmp_path, capsys):
    preds = _preds(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["score", str(preds), "--verifier", "judge", "--judge-base-url", url, "--judge-model", "m", "--judge-timeout", "2"]) == 0
    statuses = [v["status"] for v in _verdicts(tmp_path / "preds.scored.jsonl")]
    assert statuses == ["error", "error", "ok"] and "status error" in capsys.readouterr().out


def test_score_without_a_server_setting_says_what_is_missing(tmp_path, capsys):
    assert main(["score", str(_preds(tmp_path)), "--verifier", "judge"]) == 2
    assert "judge.base_url must be set" in capsys.readouterr().err


def _experiment(tmp_path, base_url: str) -> str:
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": f"{r['id']}{i}", "prompt": r["prompt"], "reference": r["reference"]}) + "\n"
                            for i in range(4) for r in RECORDS))
    path = tmp_path / "exp.yaml"
    path.write_text(f"name: judged\ndata: {{train_file: {data}, default_verifier: judge}}\n"
                    f"judge: {{base_url: '{base_url}', model: stub-judge}}\n")
    return str(path)


def test_dry_run_checks_the_judge_endpoint(tmp_path, capsys):
    with StubJudgeServer() as stub:
        assert main(["train", _experiment(tmp_path, stub.base_url), "--dry-run"]) == 0
    assert f"judge: {stub.base_url} answers and serves 'stub-judge'" in capsys.readouterr().out


def test_dry_run_fails_clearly_when_the_judge_does_not_answer(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    assert main(["train", _experiment(tmp_path, url), "--dry-run"]) == 2
    assert f"judge endpoint {url}/models does not answer" in capsys.readouterr().err
