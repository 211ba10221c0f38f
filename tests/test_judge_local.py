"""The local judge backend (``verifiers.judge.local``): a transformers model in one shared Ray actor.

Tiny models built here (``tests.helpers.judge_server.build_judge_model``): one trained to always answer
VERDICT: YES, one untrained (no verdict line), one replying "and so on" without end, one answering YES or NO
by its message (to see order).
The plain class runs in this process; the actor tests start a local Ray runtime. Nothing is mocked.

    pytest tests/test_judge_local.py -m "not slow"   # the config checks (seconds)
    pytest tests/test_judge_local.py                 # with the models and the actor (about a minute on a CPU)
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from rl.config import ConfigError, ExperimentConfig, JudgeConfig
from rl.config.build import config_from_dict
from rl.data.records import Prompt, Rollout, RolloutGroup
from rl.engine.scorer import RolloutScorer
from tests.helpers.judge_server import build_judge_model
from verifiers.judge import Judge, JudgeItem
from verifiers.judge.backend import Reply
from verifiers.judge.local import LocalJudgeModel, actor_name

ITEMS = [JudgeItem("What is 2 + 3?", "<think>2 + 3 = 5</think> 5", "5", "a"),
         JudgeItem("Capital of France?", "Paris", "Paris", "b"),
         JudgeItem("Is the sky blue?", "Yes, it is.", "", "c")]
SAY_YES, SAY_NO = "YES " * 16, "NO " * 16  # long enough that a one-layer model tells them apart at once


def local_config(model: str, **changes) -> JudgeConfig:
    return replace(JudgeConfig(backend="local", model=model, max_tokens=8, timeout_s=60.0, batch_size=2), **changes)


# ---------------------------------------------------------------- config


def test_backend_local_needs_a_loadable_model_directory(tmp_path):
    missing = config_from_dict({"judge": {"backend": "local", "model": str(tmp_path / "missing")}}).judge  # loads: checked on use
    with pytest.raises(ConfigError, match="model cannot be loaded by backend local: .*missing.*no such directory"):
        missing.check_usable()
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="half.*no tokenizer_config.json"):
        config_from_dict({"judge": {"backend": "local", "model": str(tmp_path / "half")}}).judge.check_usable()


def test_the_actor_name_follows_the_resolved_directory(tmp_path):
    assert actor_name(tmp_path / "j") == actor_name(tmp_path / "x" / ".." / "j") != actor_name(tmp_path / "k")


# ---------------------------------------------------------------- the plain class, in this process


@pytest.fixture(scope="session")
def yes_model(tmp_path_factory) -> str:
    return str(build_judge_model(tmp_path_factory.mktemp("local_yes"), reply="VERDICT: YES"))


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory) -> str:
    return str(build_judge_model(tmp_path_factory.mktemp("local_untrained")))


@pytest.fixture(scope="session")
def rambling_model(tmp_path_factory) -> str:
    """Replies with "and so on" past any max_tokens: every reply costs its whole budget, on any CPU. (An untrained
    model's greedy reply is not that: its argmax near-ties fall one way here and to an immediate end elsewhere.)"""
    return str(build_judge_model(tmp_path_factory.mktemp("local_rambling"), reply="and so on " * 40))


@pytest.fixture(scope="session")
def yes_no_model(tmp_path_factory) -> str:
    return str(build_judge_model(tmp_path_factory.mktemp("local_yes_no"), {SAY_YES: "VERDICT: YES", SAY_NO: "VERDICT: NO"}))


class InProcess:
    """The plain model as a judge backend: what the actor does, without Ray."""

    def __init__(self, model: LocalJudgeModel, config: JudgeConfig):
        self.model, self.config = model, config

    def complete(self, messages):
        texts = self.model.generate(messages, batch_size=self.config.batch_size, max_tokens=self.config.max_tokens)
        return [Reply(text) for text in texts]

    def ping(self):
        return [self.model.ping()]

    def close(self):
        pass


@pytest.mark.slow
def test_the_plain_model_judges_yes_through_the_judge(yes_model):
    config = local_config(yes_model, max_tokens=16)
    with Judge(config, backend=InProcess(LocalJudgeModel(yes_model), config)) as judge:
        verdicts = judge.judge(ITEMS)
        assert judge.stats()["requests"] == 3
    assert [(v.status, v.score, v.reason) for v in verdicts] == [("ok", 1.0, "judge: VERDICT: YES")] * 3


@pytest.mark.slow
def test_an_untrained_local_model_leaves_items_unjudged(untrained_model):
    config = local_config(untrained_model)
    with Judge(config, backend=InProcess(LocalJudgeModel(untrained_model), config)) as judge:
        verdicts = judge.judge(ITEMS)
        assert judge.stats()["unparsable"] == 3
    assert all(v.unjudged and "item" in v.reason and "no yes_no verdict line" in v.reason for v in verdicts)


@pytest.mark.slow
def test_more_messages_than_a_batch_come_back_in_order(yes_no_model):
    model = LocalJudgeModel(yes_no_model)
    order = [SAY_YES, SAY_NO, SAY_NO, SAY_YES, SAY_NO]  # three generate calls of at most two
    replies = model.generate(order, batch_size=2, max_tokens=8)
    assert replies == ["VERDICT: YES" if m == SAY_YES else "VERDICT: NO" for m in order]


# ---------------------------------------------------------------- the shared Ray actor


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def named_judges(ray) -> list[str]:
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith("rlvr-judge-")]


@pytest.mark.ray
@pytest.mark.slow
def test_two_judges_share_one_actor_and_batches_keep_their_order(ray_local, yes_no_model):
    ray = ray_local
    first, second = Judge(local_config(yes_no_model)), Judge(local_config(yes_no_model, batch_size=3))
    assert first.ping() == [yes_no_model]
    order = [SAY_NO, SAY_YES, SAY_YES, SAY_NO, SAY_YES]
    replies = second.backend.complete(order)
    assert [r.text for r in replies] == ["VERDICT: YES" if m == SAY_YES else "VERDICT: NO" for m in order]
    assert first.backend._handle()._actor_id == second.backend._handle()._actor_id
    assert named_judges(ray) == [actor_name(yes_no_model)]


@pytest.mark.ray
@pytest.mark.slow
def test_a_killed_actor_leaves_its_batch_unjudged_and_the_next_call_starts_a_new_one(ray_local, rambling_model):
    ray = ray_local
    judge = Judge(local_config(rambling_model, max_tokens=256, batch_size=1))
    assert judge.ping() == [rambling_model]
    actor = judge.backend._handle()
    results = []
    distinct = [replace(ITEMS[i % 3], response=f"{ITEMS[i % 3].response} ({i})", item_id=f"i{i}") for i in range(240)]  # no twins
    call = threading.Thread(target=lambda: results.append(judge.judge(distinct)))
    call.start()
    time.sleep(1.0)  # the batch is in the actor: 240 replies of 256 tokens each, a minute's work or more on any CPU
    ray.kill(actor, no_restart=True)
    call.join(timeout=120)
    assert all(v.status == "error" and v.unjudged and "died" in v.reason and "next batch starts a new one" in v.reason
               for v in results[0])
    assert judge.stats()["errors"] == len(distinct)
    again = judge.backend.complete(["Is 1 + 1 = 2?"])
    assert again[0].status == "ok" and judge.backend._handle()._actor_id != actor._actor_id


@pytest.mark.ray
@pytest.mark.slow
def test_a_missed_deadline_is_a_timeout_for_every_item(ray_local, yes_model):
    judge = Judge(local_config(yes_model, timeout_s=0.001, load_timeout_s=0.001, max_tokens=64))
    verdicts = judge.judge(ITEMS)
    assert all(v.status == "timeout" and "gave no reply to a batch of 3" in v.reason for v in verdicts)
    assert judge.stats()["timeouts"] == 3


@pytest.mark.ray
@pytest.mark.slow
def test_the_scorer_routes_judge_prompts_to_the_local_actor(ray_local, yes_model, tmp_path):
    config = ExperimentConfig()
    config = replace(config, run=replace(config.run, out_dir=str(tmp_path)), judge=local_config(yes_model, max_tokens=16))
    prompts = [Prompt("j", None, "What is 1 + 1?", "2", verifier="judge"), Prompt("m", None, "What is 1 + 2?", "3", verifier="math")]
    groups = [RolloutGroup(p, (Rollout(p, (1, 2), (3,), "<think>x</think> It is 2.", (), True, 0),)) for p in prompts]
    scorer = RolloutScorer(config, workers=1)
    try:
        judged, ruled = [group.samples[0].verdict for group in scorer.score(groups)]
        metrics = scorer.judge_metrics()
        assert actor_name(yes_model) in named_judges(ray_local)
    finally:
        scorer.close()
    assert (judged.score, judged.reason) == (1.0, "judge: VERDICT: YES") and ruled.reason != judged.reason
    assert metrics["judge/requests"] == 1
    assert actor_name(yes_model) not in named_judges(ray_local)  # the last caller gone, the model's memory is freed
