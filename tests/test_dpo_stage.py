"""The DPO stage without Ray: Learner.dpo_step, its frozen reference, run_dpo and on-policy mining.

A ``FakeCluster`` forwards the learner calls and ``generate`` to in-process objects, the way
``rl.engine.actors.Cluster`` forwards them to actors.
"""
from __future__ import annotations

import json
import math
import os
import threading

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from rl.algorithms import collate_pairs, dpo_batch_loss
from rl.config import AlgorithmConfig, ConfigError, DataConfig, DPOConfig, ExperimentConfig, LearnerConfig
from rl.data.preferences import PreferencePair, load_pairs, tokenize_pair
from rl.data.prompts import shuffled_batches
from rl.data.records import Prompt, Rollout, RolloutGroup, TrainSequence
from rl.engine.learner import Learner
from rl.engine.policy import load_tokenizer
from rl.engine.scorer import RolloutScorer
from rl.loops.dpo import mine_onpolicy_pairs, run_dpo

LEARNER = LearnerConfig(lr=1e-2, micro_batch_size=4, device="cpu")  # 2 pairs per micro-batch
ALGO = AlgorithmConfig()
TOL = LEARNER.lr * 1e-2  # as in test_learner: Adam's first step moves an element by about lr * sign(grad)


def pairs(n: int = 8) -> list[PreferencePair]:
    """Random token-id pairs of uneven lengths (ids clear of the tiny tokenizer's special tokens)."""
    gen = torch.Generator().manual_seed(0)
    ids = lambda length: tuple(torch.randint(5, 200, (length,), generator=gen).tolist())  # noqa: E731
    return [
        PreferencePair(prompt=f"p{i}", chosen="c", rejected="r", id=f"p{i}",
                       prompt_ids=ids(3 + i % 3), chosen_ids=ids(2 + (i * 5) % 7), rejected_ids=ids(2 + (i * 3) % 5))
        for i in range(n)
    ]


def dpo_learner(model_path: str, learner: LearnerConfig = LEARNER) -> Learner:
    out = Learner(model_path, learner, ALGO)
    out.ensure_reference()
    return out


class FakeCluster:
    """``rl.engine.actors.Cluster``'s learner and rollout calls, forwarded to one in-process Learner."""

    def __init__(self, learner: Learner, rollouts=None):
        self.learner, self.rollouts, self.generate_calls = learner, rollouts, []

    def dpo_step(self, pairs, **kwargs):
        return self._update("dpo_step", pairs, **kwargs)

    def _update(self, method, items, **kwargs):
        return getattr(self.learner, method)(items, **kwargs)

    def start_phase(self, lr):
        self.learner.start_phase(lr)

    def ensure_reference(self):
        self.learner.ensure_reference()

    def generate(self, prompts, num_samples, *, temperature, seed, enable_thinking=None):
        self.generate_calls.append(dict(n=len(prompts), num_samples=num_samples, temperature=temperature, seed=seed))
        return [RolloutGroup(p, tuple(self.rollouts(p, num_samples))) for p in prompts]


# ---------------------------------------------------------------- Learner.dpo_step


def test_dpo_step_widens_the_margin_on_its_batch(model_path):
    learner, batch = dpo_learner(model_path), pairs()
    history = [learner.dpo_step(batch, len(batch), loss_type="sigmoid", beta=0.5) for _ in range(4)]
    margins = [m["rewards/margins"] for m in history]  # each measured before its own update
    assert margins[0] == pytest.approx(0.0, abs=1e-6)  # policy == reference at the start
    assert margins == sorted(margins) and margins[-1] > margins[0]
    assert history[-1]["rewards/accuracies"] > 0.5
    assert {"loss", "grad_norm", "logps/chosen", "logps/rejected"} <= set(history[-1])


def test_reference_is_the_policy_as_the_stage_starts_and_stays_frozen(model_path):
    learner = Learner(model_path, LEARNER, ALGO)
    base = learner.get_weights()
    sft = [TrainSequence(p.prompt_ids, p.chosen_ids) for p in pairs(4)]
    learner.sft_step(sft, num_tokens=sum(len(s.completion_ids) for s in sft))  # an earlier stage moved the policy
    start = learner.get_weights()
    learner.ensure_reference()
    for _ in range(3):
        learner.dpo_step(pairs(), 8, loss_type="sigmoid", beta=0.5)
    reference = {k: v.detach().cpu() for k, v in learner.reference.state_dict().items()}
    assert all(torch.equal(reference[k], start[k]) for k in start)  # the stage's start, unchanged by 3 steps
    assert any(not torch.equal(reference[k], base[k]) for k in base)  # not the original base model
    assert any(not torch.equal(v, start[k]) for k, v in learner.get_weights().items())  # while the policy moved
    assert not any(p.requires_grad for p in learner.reference.parameters())


def test_dpo_step_without_a_reference_says_what_to_call(model_path):
    learner = Learner(model_path, LEARNER, ALGO)
    with pytest.raises(RuntimeError, match="ensure_reference"):
        learner.dpo_step(pairs(2), 2, loss_type="sigmoid", beta=0.1)


def test_micro_batch_size_does_not_change_the_update(model_path):
    results = []
    for micro in (2, 16):  # one pair per micro-batch, then all eight in one
        learner = dpo_learner(model_path, LearnerConfig(lr=1e-2, micro_batch_size=micro, device="cpu"))
        learner.dpo_step(pairs(), 8, loss_type="sigmoid", beta=0.5)
        results.append(learner.get_weights())
    for key in results[0]:
        torch.testing.assert_close(results[0][key], results[1][key], rtol=0, atol=TOL)


@pytest.mark.parametrize("loss_type, label_smoothing, start_loss", [
    ("sigmoid", 0.0, math.log(2)),          # -log sigmoid(0)
    ("sigmoid", 0.2, math.log(2)),          # both label terms are log 2 at a zero margin
    ("ipo", 0.0, (1 / (2 * 0.5)) ** 2),     # (0 - 1 / (2 beta))^2
])
def test_losses_start_where_policy_equals_reference_and_move_the_weights(model_path, loss_type, label_smoothing, start_loss):
    learner = dpo_learner(model_path)
    before = learner.get_weights()
    metrics = learner.dpo_step(pairs(), 8, loss_type=loss_type, beta=0.5, label_smoothing=label_smoothing)
    assert metrics["loss"] == pytest.approx(start_loss, rel=1e-5)  # micro-batch parts add up to the full-batch mean
    assert metrics["grad_norm"] > 0
    assert any(not torch.equal(before[k], v) for k, v in learner.get_weights().items())


def _share_gradients(learners: list[Learner]) -> None:
    """Stand in for torch.distributed: each learner's all-reduce waits for the others and sums all their
    gradients, so in-process learners on threads behave as data-parallel ranks."""
    barrier = threading.Barrier(len(learners))

    def all_reduce(me: Learner) -> None:
        barrier.wait()  # every shard's backward is done
        total = [sum(p.grad for p in params) for params in zip(*(other.model.parameters() for other in learners))]
        barrier.wait()  # every learner has read every gradient
        for param, grad in zip(me.model.parameters(), total):
            param.grad = grad

    for learner in learners:
        learner._all_reduce_grads = lambda me=learner: all_reduce(me)


class ShardingCluster(FakeCluster):
    """``Cluster.train`` over two in-process learners: contiguous shards, one thread each, metrics averaged."""

    def __init__(self, learners: list[Learner]):
        super().__init__(learner=None)
        self.learners = learners
        _share_gradients(learners)

    def _update(self, method, items, **counts):
        cut = (len(items) + 1) // 2
        shards, results = [items[:cut], items[cut:]], [None, None]

        def run(i):
            results[i] = getattr(self.learners[i], method)(shards[i], **counts)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {k: sum(r[k] for r in results) / 2 for k in results[0]}


def test_two_learners_make_the_same_update_as_one(model_path):
    single = dpo_learner(model_path)
    single.dpo_step(pairs(7), 7, loss_type="ipo", beta=0.5)
    expected = single.get_weights()
    learners = [dpo_learner(model_path) for _ in range(2)]
    ShardingCluster(learners).dpo_step(pairs(7), num_pairs=7, loss_type="ipo", beta=0.5)  # shards of 4 and 3
    for learner in learners:
        got = learner.get_weights()
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=0, atol=TOL)
    # The check can fail: one learner on its shard alone (no shared gradient) is far outside TOL.
    alone = dpo_learner(model_path)
    alone.dpo_step(pairs(7)[:4], 7, loss_type="ipo", beta=0.5)
    wrong = alone.get_weights()
    assert max((wrong[k] - expected[k]).abs().max().item() for k in expected) > 10 * TOL


# ---------------------------------------------------------------- run_dpo


def test_pairs_file_to_run_dpo_end_to_end(model_path, tmp_path):
    records = [
        {"prompt": f"What is {a} + {b}?", "chosen": f"<think>{a} + {b} = {a + b}</think> \\boxed{{{a + b}}}",
         "rejected": f"\\boxed{{{a + b + 1}}}"}
        for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (9, 1)]
    ]
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    tokenizer = load_tokenizer(model_path)
    tokenised = [tokenize_pair(p, tokenizer, DataConfig()) for p in load_pairs(path)]
    learner = Learner(model_path, LEARNER, ALGO)
    logged = []
    history = run_dpo(FakeCluster(learner), tokenised, DPOConfig(steps=4, lr=1e-2, batch_size=2, beta=0.5, pairs_file=str(path)), seed=0,
                      log=lambda step, metrics: logged.append(step))
    assert len(history) == 4 and logged == [0, 1, 2, 3]
    assert all(math.isfinite(m["loss"]) for m in history)
    with torch.no_grad():  # against the frozen start, the policy now prefers the chosen answers
        _, metrics = dpo_batch_loss(learner.model, learner.reference, collate_pairs(tokenised, learner.pad_id),
                                    loss_type="sigmoid", beta=0.5)
    assert metrics["rewards/margins"] > 0


def test_shuffled_batches_see_every_item_once_per_epoch():
    batches = shuffled_batches("abcde", 2, seed=3)
    stream = [x for _ in range(5) for x in next(batches)]  # two epochs of five, in batches of two
    assert sorted(stream[:5]) == sorted(stream[5:]) == list("abcde")
    assert stream != list("abcdeabcde")  # shuffled
    again = shuffled_batches("abcde", 2, seed=3)
    assert [x for _ in range(5) for x in next(again)] == stream  # a function of the seed alone


def test_run_dpo_rejects_pairs_it_cannot_train_on(model_path):
    cluster = FakeCluster(learner=None)
    with pytest.raises(ValueError, match="no preference pairs"):
        run_dpo(cluster, [], DPOConfig(steps=1, pairs_file="x.jsonl"), seed=0)
    text_only = [PreferencePair(prompt="p", chosen="c", rejected="r", id="q7")]
    with pytest.raises(ValueError, match="first: 'q7'.*tokenize_pair"):
        run_dpo(cluster, text_only, DPOConfig(steps=1, pairs_file="x.jsonl"), seed=0)


@pytest.mark.parametrize("fields, key", [
    (dict(loss_type="sigmod"), "loss_type"),
    (dict(loss_type="ipo", label_smoothing=0.1), "label_smoothing"),
    (dict(label_smoothing=0.5), "label_smoothing"),
    (dict(beta=0.0), "beta"),
    (dict(group_size=1), "group_size"),
    (dict(steps=10), "steps"),  # ... with no source of pairs
])
def test_dpo_config_rejects_bad_settings(fields, key):
    with pytest.raises(ConfigError) as err:
        DPOConfig(**fields)
    assert err.value.key == key


# ---------------------------------------------------------------- on-policy pairs


def arithmetic_rollouts(prompt: Prompt, num_samples: int) -> list[Rollout]:
    """A group of one prompt: right with the format, wrong with it, right without it, then repeats."""
    right, wrong = prompt.reference, str(int(prompt.reference) + 1)
    texts = [f"<think>adding</think> \\boxed{{{right}}}", f"<think>adding</think> \\boxed{{{wrong}}}", f"\\boxed{{{right}}}"]
    return [
        Rollout(prompt, (5, 6, 7), (20 + i % 3, 2), texts[i % 3], (-0.5, -0.1), True, 0)
        for i in range(num_samples)
    ]


def test_mine_onpolicy_pairs_puts_a_correct_formatted_answer_against_a_wrong_one():
    prompts = [Prompt(id=f"q{i}", messages=None, text=f"{i} + 2?", reference=str(i + 2)) for i in range(3)]
    cluster = FakeCluster(learner=None, rollouts=arithmetic_rollouts)
    scorer = RolloutScorer(ExperimentConfig(), workers=1)  # the real verifiers and reward components
    try:
        mined = mine_onpolicy_pairs(cluster, scorer, prompts, group_size=3, temperature=0.7, seed=11)
    finally:
        scorer.close()
    assert cluster.generate_calls == [dict(n=3, num_samples=3, temperature=0.7, seed=11)]
    assert [p.id for p in mined] == ["q0/pair0", "q1/pair0", "q2/pair0"]
    for pair in mined:
        assert pair.chosen.startswith("<think>") and pair.chosen.endswith(f"{{{pair.prompt.reference}}}")
        assert pair.rejected.endswith(f"{{{int(pair.prompt.reference) + 1}}}")
        assert (pair.prompt_ids, pair.chosen_ids, pair.rejected_ids) == ((5, 6, 7), (20, 2), (21, 2))
        assert pair.chosen_reward > pair.rejected_reward


def test_mine_onpolicy_pairs_checks_the_group_size():
    with pytest.raises(ValueError, match="group_size must be at least 2"):
        mine_onpolicy_pairs(FakeCluster(None), None, [], group_size=1, temperature=1.0, seed=0)
