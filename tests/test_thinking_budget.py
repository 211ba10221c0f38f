"""Thinking budgets (rl.engine.thinking_budget): where a thought is cut, what is injected, how it is masked.

The rules are checked twice: on token lists (``budget_cut``, ``thinking_split``), and through
``RolloutWorker.generate`` with a scripted policy (the real tiny tokenizer and template, fixed turns),
single-turn and with tool turns; then with real sampling on the ``hf`` and ``static`` backends.
"""
from __future__ import annotations

import pytest
import torch

from rl.config import AlgorithmConfig, ConfigError, DataConfig, EnvConfig, LearnerConfig, RolloutConfig
from rl.data.records import Prompt, TrainSequence
from rl.engine.learner import Learner
from rl.engine.policy import load_policy
from rl.engine.rollout import RolloutWorker
from rl.engine.static_decode import StaticCacheWorker
from rl.engine.thinking_budget import ThinkingBudget, ThinkingBudgetError, ThinkTags, budget_cut, thinking_split
from rl.modes import QWEN3_EARLY_STOP
from tests.test_multiturn import LOOKUP, Scripted, _copy_with_template, call

OPEN, CLOSE, A, EOS = 1, 2, 7, 9
TAGS = ThinkTags(OPEN, CLOSE)
# The tiny template, except that the generation prompt pre-opens the thought (as Qwen3-Thinking-2507's does).
PRE_OPENED = ("{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor %}"
              "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}")


# ---------------------------------------------------------------- the rule, on token lists


@pytest.mark.parametrize("ids, open_at_start, budget, cut", [
    ([A] * 10, True, 4, 4),                          # pre-opened: counted from the first token
    ([A, OPEN] + [A] * 10, False, 4, 6),             # self-opened: counted after the model's <think>
    ([OPEN, A, A, CLOSE] + [A] * 10, False, 4, None),  # closed early: never fires afterwards
    ([OPEN] + [A] * 4 + [CLOSE, A], False, 4, None),   # closed exactly at the budget
    ([A] * 10, False, 4, None),                      # no thought at all
    ([A] * 10, True, 0, 0),                          # budget 0, pre-opened: nothing kept
    ([OPEN, A, A], False, 0, 1),                     # budget 0, self-opened: the tag kept
    ([OPEN, A, A, EOS], False, 4, None),             # ended inside the budget
])
def test_budget_cut(ids, open_at_start, budget, cut):
    assert budget_cut(ids, open_at_start=open_at_start, budget=budget, tags=TAGS) == cut


def test_open_at_end_sees_a_pre_opened_thought_only():
    assert TAGS.open_at_end([5, OPEN, A])
    assert not TAGS.open_at_end([5, OPEN, A, CLOSE, A])  # Qwen3's no-think prefill: an empty, closed block
    assert not TAGS.open_at_end([5, 6])


def test_thinking_split_counts_sampled_tokens_inside_and_outside_thoughts():
    ids = [OPEN, A, A, A, 3, 3, CLOSE, A, EOS]
    mask = [1, 1, 1, 1, 0, 0, 1, 1, 1]  # two injected tokens inside the thought count as neither
    assert thinking_split([5], ids, mask, TAGS) == (3, 2)
    assert thinking_split([5, OPEN], [A, A, CLOSE, A], (), TAGS) == (2, 1)
    assert thinking_split([5], [A, A], (), None) == (0, 2)


def test_budget_settings_are_checked():
    with pytest.raises(ThinkingBudgetError, match="</think>"):
        ThinkingBudget(8, early_stop="time is up")
    with pytest.raises(ThinkingBudgetError, match="mode"):
        ThinkingBudget(8, mode="cut")
    with pytest.raises(ConfigError, match="thinking_budget"):
        RolloutConfig(thinking_budget=-1)
    with pytest.raises(ConfigError, match="thinking_early_stop"):
        RolloutConfig(thinking_early_stop="stop now.")
    assert RolloutConfig().thinking_early_stop == QWEN3_EARLY_STOP and RolloutConfig().thinking_budget is None


# ---------------------------------------------------------------- through the rollout, scripted


@pytest.fixture(scope="module")
def loaded(model_path):
    return load_policy(model_path)


def single_turn(loaded, script, *, template=None, **rollout):
    model, tokenizer = loaded
    if template is not None:
        tokenizer = _copy_with_template(tokenizer, template)
    config = RolloutConfig(max_new_tokens=64, sampling_logprobs=True, **rollout)
    worker = Scripted.around(model, tokenizer, DataConfig(), config)
    worker.script, worker.calls = list(script), 0
    return worker


def one(worker, samples=1):
    prompt = Prompt("q", messages=(("user", "What is 2 + 2?"),), text=None, reference="4")
    [group] = worker.generate([prompt], samples, temperature=1.0, seed=0)
    return group.rollouts


THOUGHT = " 2 plus 2 is 4, and 4 is the sum of 2 and 2, so it is 4 again"  # far more than 6 tokens
ANSWER = " The answer is \\boxed{4}."


def parts(worker, rollout):
    """(sampled text before the injection, injected text, sampled text after it)."""
    ids, mask = rollout.completion_ids, rollout.loss_mask
    first = mask.index(0)
    last = len(mask) - mask[::-1].index(0)
    assert all(mask[first:last]) is False and not any(mask[first:last]), "one contiguous injected run"
    decode = lambda part: worker.tokenizer.decode(part, skip_special_tokens=False)  # noqa: E731
    return decode(ids[:first]), decode(ids[first:last]), decode(ids[last:])


def test_inject_appends_the_early_stop_as_injected_tokens_then_the_model_answers(loaded):
    worker = single_turn(loaded, ["<think>" + THOUGHT + "</think>" + ANSWER, ANSWER], thinking_budget=6)
    [rollout] = one(worker)
    before, injected, after = parts(worker, rollout)
    assert injected == QWEN3_EARLY_STOP
    assert before.startswith("<think>") and rollout.thinking_tokens == 6  # the budget, exactly
    assert after.startswith(ANSWER) and rollout.finished and rollout.finish_reason == "stop" and rollout.budget_hit
    assert worker.calls == 2  # the turn, then its answer
    injected_at = [i for i, m in enumerate(rollout.loss_mask) if not m]
    assert all(rollout.logprobs[i] == 0.0 for i in injected_at)  # never counted as sampled
    assert all(lp == -0.5 for lp, m in zip(rollout.logprobs, rollout.loss_mask) if m)
    assert rollout.sampled_tokens == len(rollout.completion_ids) - len(injected_at)
    assert "The answer is" in rollout.text


def test_the_budget_counts_from_a_template_pre_opened_think(loaded):
    worker = single_turn(loaded, [THOUGHT + "</think>" + ANSWER, ANSWER], template=PRE_OPENED, thinking_budget=5)
    [rollout] = one(worker)
    before, injected, _ = parts(worker, rollout)
    assert "<think>" not in before and len(worker.tokenizer(before, add_special_tokens=False)["input_ids"]) == 5
    assert rollout.thinking_tokens == 5 and injected == QWEN3_EARLY_STOP


def test_a_thought_closed_within_the_budget_is_left_alone(loaded):
    worker = single_turn(loaded, ["<think>2+2=4</think>" + ANSWER], thinking_budget=16)
    [rollout] = one(worker)
    assert rollout.loss_mask == () and not rollout.budget_hit and worker.calls == 1 and rollout.finish_reason == "stop"


def test_the_budget_fires_at_most_once_per_turn(loaded):
    # The answer after the early stop opens another long thought: it is not cut again.
    worker = single_turn(loaded, ["<think>" + THOUGHT, "<think>" + THOUGHT + "</think>" + ANSWER], thinking_budget=4,
                         answer_budget=64)
    [rollout] = one(worker)
    assert rollout.loss_mask.count(0) == len(worker.tokenizer(QWEN3_EARLY_STOP, add_special_tokens=False)["input_ids"])
    assert worker.calls == 2 and rollout.finished


def test_the_answer_is_held_to_the_answer_budget(loaded):
    worker = single_turn(loaded, ["<think>" + THOUGHT, THOUGHT], thinking_budget=4, answer_budget=5)
    [rollout] = one(worker)
    assert rollout.loss_mask[-5:] == (1,) * 5 and rollout.loss_mask[-6] == 0
    assert not rollout.finished and rollout.finish_reason == "length"


def test_truncate_stops_the_sample_and_marks_it(loaded):
    worker = single_turn(loaded, ["<think>" + THOUGHT + "</think>" + ANSWER], thinking_budget=6, thinking_budget_mode="truncate")
    [rollout] = one(worker)
    assert rollout.finish_reason == "thinking_budget" and not rollout.finished and rollout.budget_hit
    assert rollout.loss_mask == () and rollout.thinking_tokens == 6 and len(rollout.completion_ids) == 7  # <think> + 6
    assert worker.calls == 1


def test_a_call_may_pass_its_own_budget_over_the_configured_one(loaded):
    worker = single_turn(loaded, ["<think>" + THOUGHT + "</think>" + ANSWER] * 2, thinking_budget=6)
    prompt = Prompt("q", messages=(("user", "What is 2 + 2?"),), text=None, reference="4")
    [group] = worker.generate([prompt], 1, temperature=1.0, seed=0, thinking_budget=ThinkingBudget())
    assert not group.rollouts[0].budget_hit and group.rollouts[0].loss_mask == ()


def test_tool_turns_count_thinking_per_turn(loaded):
    model, tokenizer = loaded
    thought = "<think> 2 plus 2 is 4 and so on</think>"  # about 10 thinking tokens per turn
    per_turn = len(tokenizer(" 2 plus 2 is 4 and so on", add_special_tokens=False)["input_ids"])
    env = EnvConfig(name="tools", tools=(LOOKUP,))

    def run(budget, script):
        rollout_cfg = RolloutConfig(max_new_tokens=256, sampling_logprobs=True, env=env, thinking_budget=budget, answer_budget=200)
        worker = Scripted.around(model, tokenizer, DataConfig(), rollout_cfg)
        worker.script, worker.calls = script, 0
        [rollout] = one(worker)
        return worker, rollout

    # Each turn thinks `per_turn` tokens: within a per-turn budget of that size, though 2 x per_turn over the trajectory.
    worker, rollout = run(per_turn, [thought + call("lookup", key="sky"), thought + ANSWER])
    assert not rollout.budget_hit and rollout.loss_mask.count(0) > 0  # only glue is injected
    assert rollout.thinking_tokens == 2 * per_turn and worker.calls == 2
    # One token less: it fires in each turn, once each; each turn's answer phase is one more call.
    worker, rollout = run(per_turn - 1, [thought + call("lookup", key="sky"), call("lookup", key="sky"),  # turn 1, its answer
                                         thought + ANSWER, ANSWER])  # turn 2, its answer
    assert rollout.budget_hit and rollout.env_info["turns"] == 2 and worker.calls == 4
    assert rollout.thinking_tokens == 2 * (per_turn - 1)
    injected = tokenizer.decode([i for i, m in zip(rollout.completion_ids, rollout.loss_mask) if not m])
    assert injected.count("Considering the limited time") == 2


# ---------------------------------------------------------------- real sampling, both backends


@pytest.mark.parametrize("backend", [RolloutWorker, StaticCacheWorker])
def test_real_sampling_keeps_the_budget_on_each_backend(loaded, backend):
    model, tokenizer = loaded
    tokenizer = _copy_with_template(tokenizer, PRE_OPENED)  # an untrained model rarely closes a thought: it fires
    worker = backend.around(model, tokenizer, DataConfig(), RolloutConfig(max_new_tokens=24, thinking_budget=3, answer_budget=4))
    stop_ids = tokenizer(QWEN3_EARLY_STOP, add_special_tokens=False)["input_ids"]
    for rollout in one(worker, samples=6):
        if not rollout.budget_hit:
            continue
        ids, mask = rollout.completion_ids, rollout.loss_mask
        first = mask.index(0)
        assert first == 3 and list(ids[first:first + len(stop_ids)]) == stop_ids and mask.count(0) == len(stop_ids)
        assert len(ids) <= 3 + len(stop_ids) + 4


def test_greedy_budgets_give_the_same_tokens_on_hf_and_static(loaded):
    model, tokenizer = loaded
    tokenizer = _copy_with_template(tokenizer, PRE_OPENED)
    config = RolloutConfig(max_new_tokens=24, thinking_budget=3, answer_budget=6)
    prompt = Prompt("q", messages=(("user", "What is 2 + 2?"),), text=None, reference="4")
    runs = [b.around(model, tokenizer, DataConfig(), config).generate([prompt], 2, temperature=0.0, seed=0)[0].rollouts
            for b in (RolloutWorker, StaticCacheWorker)]
    assert [r.completion_ids for r in runs[0]] == [r.completion_ids for r in runs[1]]
    assert [r.loss_mask for r in runs[0]] == [r.loss_mask for r in runs[1]]


# ---------------------------------------------------------------- injected tokens are never trained


def test_per_token_loss_is_exactly_zero_at_injected_positions(model_path):
    from rl.algorithms.losses import policy_loss

    learner = Learner(model_path, LearnerConfig(device="cpu"), AlgorithmConfig())
    mask = (1, 1, 0, 0, 0, 1, 1)
    seq = TrainSequence((5, 6, 7), (10, 11, 12, 13, 14, 15, 16), advantage=1.0, loss_mask=mask)
    batch = learner._collate([seq])
    logprobs = learner._logprobs(learner.model, batch, temperature=1.0)  # (1, L-1)
    logprobs.retain_grad()
    per_token, _ = policy_loss(logprobs, logprobs.detach(), batch["advantages"], batch["mask"])
    masked = per_token * batch["mask"]  # (1, L-1): what every aggregation sums
    masked.sum().backward()
    targets = slice(len(seq.prompt_ids) - 1, len(seq.prompt_ids) - 1 + len(mask))
    where = torch.tensor(mask, dtype=torch.bool)
    assert torch.all(masked[0, targets][~where] == 0) and torch.all(logprobs.grad[0, targets][~where] == 0)
    assert torch.all(logprobs.grad[0, targets][where] != 0)
    assert seq.target_tokens == 4  # the normaliser counts the sampled tokens only


def test_a_colocated_learner_samples_the_budgeted_rollouts_a_rollout_worker_samples(model_path):
    from tests.test_colocate import PROMPTS, ColocatedLearner

    config = RolloutConfig(max_new_tokens=12, group_size=2, thinking_budget=0, answer_budget=3)
    learner = ColocatedLearner(model_path, LearnerConfig(device="cpu"), AlgorithmConfig())
    learner.tokenizer = _copy_with_template(learner.tokenizer, PRE_OPENED)  # thoughts start at once: the budget fires
    learner.attach_sampler(DataConfig(), config)
    worker = RolloutWorker(model_path, DataConfig(), config, device="cpu")
    worker.tokenizer = learner.tokenizer
    budget = ThinkingBudget(1, answer_tokens=2)  # a call's own budget travels too
    for kwargs in ({}, {"thinking_budget": budget}):
        mine = learner.generate(PROMPTS, 2, temperature=1.0, seed=7, **kwargs)
        theirs = worker.generate(PROMPTS, 2, temperature=1.0, seed=7, **kwargs)
        rollouts = [(r.completion_ids, r.loss_mask, r.budget_hit) for g in mine for r in g.rollouts]
        assert rollouts == [(r.completion_ids, r.loss_mask, r.budget_hit) for g in theirs for r in g.rollouts]
        assert any(hit for _, _, hit in rollouts)
