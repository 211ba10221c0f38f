"""Multi-turn rollouts with tools: exact tokens, the loss mask, limits, failures (rl.engine.multiturn, rl.envs).

The policy here is a scripted one: a real tiny model and tokenizer whose ``_sample`` emits fixed turns
(the canonical tokens of a scripted text, then EOS), so that the trajectory can be compared with what
the tokenizer's chat template gives for the final conversation. Environments, tools, glue and
bookkeeping are the real ones.
"""
from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
import torch

from rl.config import DataConfig, EnvConfig, RolloutConfig
from rl.data.records import Prompt
from rl.engine.multiturn import turn_glue
from rl.engine.policy import load_policy
from rl.engine.rollout import RolloutWorker

LOOKUP, LONG, NAP = "tests.helpers.toy_tools:lookup", "tests.helpers.toy_tools:long_text", "tests.helpers.toy_tools:nap"

# Qwen3's handling of turns, in a template of our own words: tools declared as JSON in the system turn,
# tool messages grouped in one user turn of <tool_response> blocks, and each assistant turn after the
# last user query rendered as <think>reasoning</think> + answer only when it is the last turn or has
# reasoning (so an earlier turn without reasoning loses its think block on re-rendering).
QWEN3_STYLE_TEMPLATE = (
    "{%- set ns = namespace(last_query=-1) %}"
    "{%- for m in messages %}{%- if m['role'] == 'user' %}{%- set ns.last_query = loop.index0 %}{%- endif %}{%- endfor %}"
    "{%- if tools %}{{- '<|im_start|>system\\n# Tools\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>\\nReply with <tool_call>\\n{\"name\": ..., \"arguments\": ...}\\n</tool_call> to call one.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m['role'] == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + m['content'] + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- elif m['role'] == 'assistant' %}"
    "{%- set content = m['content'] %}{%- set reasoning = '' %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_query and (loop.last or reasoning) %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}"
    "{%- else %}{{- '<|im_start|>assistant\\n' + content }}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)


def call(name: str, **arguments) -> str:
    import json

    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


class Scripted(RolloutWorker):
    """Each ``_sample`` call returns the next scripted turn for every row (the same script for each row)."""

    script: list[str]

    def _sample(self, batch, num_samples, temperature, max_new_tokens=None):
        text = self.script[self.calls]
        self.calls += 1
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not text.endswith("<|endoftext|>"):  # a turn ends at EOS unless the script ends the document itself
            ids.append(self.tokenizer.eos_token_id)
        limit = max_new_tokens or self.rollout.max_new_tokens
        ids = ids[:limit]
        rows = batch["input_ids"].shape[0] * num_samples
        out = torch.full((rows, max(len(ids), 1)), self.tokenizer.pad_token_id)
        out[:, : len(ids)] = torch.tensor(ids)
        logprobs = torch.full(out.shape, -0.5)  # a recognisable value: injected positions must not carry it
        return out, logprobs


@pytest.fixture(scope="module")
def loaded(model_path):
    return load_policy(model_path)


def scripted(loaded, script, *, template=None, tools=(LOOKUP,), enable_thinking=True, max_new_tokens=512, **env):
    model, tokenizer = loaded
    if template is not None:
        tokenizer = _copy_with_template(tokenizer, template)
    env_cfg = EnvConfig(name="tools", tools=tuple(tools), **env)
    rollout = RolloutConfig(max_new_tokens=max_new_tokens, sampling_logprobs=True, env=env_cfg)
    worker = Scripted.around(model, tokenizer, DataConfig(enable_thinking=enable_thinking), rollout)
    worker.script, worker.calls = list(script), 0
    return worker


def _copy_with_template(tokenizer, template):
    import copy

    other = copy.copy(tokenizer)
    other.chat_template = template
    return other


def run_one(worker, question="Use the tool.", samples=1):
    prompt = Prompt("q", messages=(("user", question),), text=None, reference="blue")
    [group] = worker.generate([prompt], samples, temperature=1.0, seed=0)
    return group.rollouts


def rerendered(worker, rollout) -> list[int]:
    """The ids the tokenizer's template gives for the final conversation, up to the last turn's EOS."""
    chat = rollout.prompt.chat() + [dict(m) for m in rollout.messages]
    enable = rollout.mode != "no_think"
    text = worker.tokenizer.apply_chat_template(chat, tokenize=False, tools=worker.env.tool_schemas, enable_thinking=enable)
    ids = worker.tokenizer(text, add_special_tokens=False)["input_ids"]
    end = len(ids) - 1 - ids[::-1].index(worker.tokenizer.eos_token_id)
    return ids[: end + 1]


FIXTURES = {
    "one call": [call("lookup", key="sky"), "The answer is \\boxed{blue}."],
    "two calls in one turn": [call("lookup", key="sky") + "\n" + call("lookup", key="apple"), "\\boxed{blue}"],
    "consecutive tool turns": [call("lookup", key="apple"), call("lookup", key="sky"), "The sky is \\boxed{blue}."],
    "a think block": ["<think>\nI should look it up.\n</think>\n\n" + call("lookup", key="sky"),
                      "<think>\nThe tool said blue.\n</think>\n\nThe answer is \\boxed{blue}."],
    "an error response": [call("lookup", key="moon"), "<tool_call>\n{not json\n</tool_call>", "\\boxed{blue}"],
}


def thinking(turns: list[str]) -> list[str]:
    """The same turns, each thinking first (as a Qwen3 model in thinking mode writes them)."""
    return [t if t.startswith("<think>") else f"<think>\nStep {i}.\n</think>\n\n{t}" for i, t in enumerate(turns)]


@pytest.mark.parametrize("template", ["tiny", "qwen3_style"])
@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_trajectory_ids_are_the_templates_ids_for_the_final_conversation(loaded, fixture, template):
    """Under the tiny template for every fixture as written; under the Qwen3-style one with every turn thinking,
    which is how Qwen3 writes turns in thinking mode (see the next test for turns that do not think)."""
    script = FIXTURES[fixture] if template == "tiny" else thinking(FIXTURES[fixture])
    worker = scripted(loaded, script, template=None if template == "tiny" else QWEN3_STYLE_TEMPLATE)
    [rollout] = run_one(worker)
    assert rollout.finish_reason == "stop" and rollout.finished
    assert list(rollout.prompt_ids) + list(rollout.completion_ids) == rerendered(worker, rollout)
    assert rollout.env_info["turns"] == len(script)


def test_qwen3_rerenders_a_final_turn_without_thought_with_an_empty_think_block(loaded):
    """In thinking mode Qwen3's template gives the last assistant turn a think block even when the model wrote
    none; re-tokenising would train tokens the model never sampled. The trajectory keeps the sampled ones."""
    worker = scripted(loaded, FIXTURES["one call"], template=QWEN3_STYLE_TEMPLATE)
    [rollout] = run_one(worker)
    ours, theirs = list(rollout.prompt_ids) + list(rollout.completion_ids), rerendered(worker, rollout)
    block = worker.tokenizer("<think>\n\n</think>\n\n", add_special_tokens=False)["input_ids"]
    assert len(theirs) - len(ours) == len(block)
    start = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
    assert theirs[start : start + len(block)] == block and theirs[start + len(block):] == ours[start:]


def test_a_truncated_tool_response_is_the_templates_ids_too(loaded):
    worker = scripted(loaded, [call("long_text", n=400), "\\boxed{blue}"], tools=(LONG,), max_tool_response_tokens=40)
    [rollout] = run_one(worker)
    tool_message = rollout.messages[1]
    assert tool_message["role"] == "tool" and "cut" in tool_message["content"]
    assert "word0 " in tool_message["content"] and "word399" in tool_message["content"]  # head and tail kept
    assert len(worker.tokenizer(tool_message["content"])["input_ids"]) <= 40
    assert list(rollout.prompt_ids) + list(rollout.completion_ids) == rerendered(worker, rollout)


def test_qwen3_no_think_turns_differ_from_a_rerendering_only_by_the_prefilled_think_block(loaded):
    """Qwen3's template drops the empty think block of an earlier no-think turn when it re-renders the
    conversation; the trajectory keeps the tokens the model saw (the pre-filled block) and says so."""
    worker = scripted(loaded, [call("lookup", key="sky"), "\\boxed{blue}"], template=QWEN3_STYLE_TEMPLATE, enable_thinking=False)
    [rollout] = run_one(worker)
    ours = list(rollout.prompt_ids) + list(rollout.completion_ids)
    theirs = rerendered(worker, rollout)
    block = worker.tokenizer("<think>\n\n</think>\n\n", add_special_tokens=False)["input_ids"]
    assert ours != theirs and len(ours) - len(theirs) == len(block)
    assert rollout.messages[0]["content"].startswith("<think>\n\n</think>\n\n")  # the turn as the model saw it
    # the tiny template keeps the block: there the two agree
    tiny = scripted(loaded, [call("lookup", key="sky"), "\\boxed{blue}"], enable_thinking=False)
    [same] = run_one(tiny)
    assert list(same.prompt_ids) + list(same.completion_ids) == rerendered(tiny, same)


def test_loss_mask_marks_sampled_tokens_and_the_logprobs_are_zero_where_injected(loaded):
    worker = scripted(loaded, FIXTURES["consecutive tool turns"])
    [rollout] = run_one(worker)
    tokenizer = worker.tokenizer
    sampled = [tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for t in FIXTURES["consecutive tool turns"]]
    assert rollout.sampled_tokens == sum(len(s) for s in sampled) < len(rollout.completion_ids)
    picked = [i for i, m in zip(rollout.completion_ids, rollout.loss_mask) if m]
    assert picked == [i for turn in sampled for i in turn]  # the sampled turns, in order, and nothing else
    assert all((lp == -0.5) == bool(m) for lp, m in zip(rollout.logprobs, rollout.loss_mask))
    injected = tokenizer.decode([i for i, m in zip(rollout.completion_ids, rollout.loss_mask) if not m])
    assert "<tool_response>" in injected and "red" in injected and "blue" in injected


def test_bad_input_from_the_model_is_an_observation_counted_in_env_info(loaded):
    worker = scripted(loaded, FIXTURES["an error response"])
    [rollout] = run_one(worker)
    raised, malformed = rollout.messages[1]["content"], rollout.messages[3]["content"]
    assert "KeyError" in raised and "moon" in raised
    assert "malformed" in malformed.lower() or "json" in malformed.lower()
    assert rollout.env_info["bad_calls"] >= 1 and rollout.env_info["malformed_calls"] == 1


def test_limits_end_the_trajectory_with_their_finish_reason(loaded):
    looping = [call("lookup", key="sky")] * 5
    [rollout] = run_one(scripted(loaded, looping, max_turns=3))
    assert rollout.finish_reason == "max_turns" and rollout.env_info["turns"] == 3
    [capped] = run_one(scripted(loaded, looping, max_turns=5, max_trajectory_tokens=60))
    assert capped.finish_reason == "token_cap" and len(capped.completion_ids) <= 60
    [refused] = run_one(scripted(loaded, [call("lookup", key="sky") + call("lookup", key="apple"), "\\boxed{blue}"],
                                 max_tool_calls=1))
    assert "not run" in refused.messages[2]["content"] and refused.env_info["tool_calls"] == 1
    [cut] = run_one(scripted(loaded, ["x " * 100], max_new_tokens=16))
    assert cut.finish_reason == "length" and not cut.finished and len(cut.completion_ids) == 16


def test_a_turn_that_ends_the_document_ends_the_trajectory(loaded):
    """<|endoftext|> is a stop id of Qwen checkpoints but not the template's turn end: nothing follows it."""
    worker = scripted(loaded, [call("lookup", key="sky") + "<|endoftext|>", "\\boxed{blue}"])
    [rollout] = run_one(worker)
    assert rollout.finish_reason == "stop" and rollout.env_info["turns"] == 1 and rollout.loss_mask == (1,) * len(rollout.loss_mask)
    assert worker.calls == 1  # no second turn was sampled


def test_an_environment_failure_makes_the_trajectory_unjudged(loaded, tmp_path):
    from rl.config import ExperimentConfig
    from rl.engine.scorer import RolloutScorer
    from rl.envs.tools import EnvironmentFailure  # noqa: F401 - the plug-in below raises it

    worker = scripted(loaded, [call("broken"), "\\boxed{blue}"], tools=("tests.helpers.toy_tools:broken",))
    [rollout] = run_one(worker)
    assert rollout.finish_reason == "env_failure" and "sandbox" in rollout.env_info["failure"]
    scorer = RolloutScorer(ExperimentConfig(), workers=1)
    try:
        [sample] = scorer._score_all([rollout])
    finally:
        scorer.close()
    assert sample.verdict.unjudged and "environment failure" in sample.verdict.reason


def test_tool_calls_of_one_turn_run_concurrently(loaded):
    worker = scripted(loaded, ["".join(call("nap", seconds=0.5) for _ in range(4)), "\\boxed{blue}"], tools=(NAP,))
    started = time.perf_counter()
    rollouts = run_one(worker, samples=4)  # 4 trajectories x 4 calls = 16 calls in one turn
    elapsed = time.perf_counter() - started
    assert all(r.env_info["tool_calls"] == 4 for r in rollouts)
    assert elapsed < 1.5 * 0.5 + 1.0  # one turn of tool time (plus the model), never 16 x 0.5 s


def test_glue_finds_the_turn_end_when_the_template_rerenders_it(loaded):
    _, tokenizer = loaded
    qwen = _copy_with_template(tokenizer, QWEN3_STYLE_TEMPLATE)
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": call("lookup", key="sky")}]
    glue = qwen.decode(turn_glue(qwen, history, [{"role": "tool", "content": "blue"}], end_marker="<|im_end|>",
                                 tools=None, enable_thinking=True))
    assert glue == "\n<|im_start|>user\n<tool_response>\nblue\n</tool_response><|im_end|>\n<|im_start|>assistant\n"


def test_single_turn_rollouts_are_one_sampled_segment(loaded):
    model, tokenizer = loaded
    worker = RolloutWorker.around(model, tokenizer, DataConfig(), RolloutConfig(max_new_tokens=8))
    prompt = Prompt("p", messages=None, text="What is 2 + 3?", reference="5")
    [group] = worker.generate([prompt], 2, temperature=1.0, seed=0)
    for rollout in group.rollouts:
        assert rollout.loss_mask == () and rollout.messages == () and rollout.sampled_tokens == len(rollout.completion_ids)
        assert rollout.finish_reason in ("stop", "length")


def test_config_refuses_tools_env_without_tools_and_unknown_tools():
    from rl.config import ConfigError

    with pytest.raises(ConfigError, match="tools"):
        EnvConfig(name="tools")
    with pytest.raises(ConfigError, match="calculatr.*did you mean 'calculator'"):
        EnvConfig(name="tools", tools=("calculatr",))
    assert replace(EnvConfig(), name="tools", tools=("calculator",)).multi_turn


# ---------------------------------------------------------------- training on trajectories


def test_injected_positions_get_exactly_zero_loss_and_the_normaliser_counts_sampled_tokens(loaded):
    from rl.algorithms import grpo_loss
    from rl.data.records import TrainSequence
    from rl.engine.learner import Learner

    worker = scripted(loaded, FIXTURES["consecutive tool turns"])
    [rollout] = run_one(worker)
    seq = TrainSequence(rollout.prompt_ids, rollout.completion_ids, 1.0, loss_mask=rollout.loss_mask)
    learner = Learner.__new__(Learner)  # only the collate is used: no model needed
    learner.pad_id, learner.device = worker.tokenizer.pad_token_id, torch.device("cpu")
    batch = learner._collate([seq])
    offset = len(rollout.prompt_ids) - 1  # position t predicts token t+1
    assert batch["mask"][0, offset:].tolist() == list(map(float, rollout.loss_mask))
    assert batch["mask"][0, :offset].sum() == 0
    logprobs = torch.randn(batch["mask"].shape, requires_grad=True)
    loss, _ = grpo_loss(logprobs, None, batch["advantages"], batch["mask"], num_tokens=seq.target_tokens)
    loss.backward()
    injected = batch["mask"] == 0
    assert torch.all(logprobs.grad[injected] == 0)  # exactly zero, not small
    assert torch.all(logprobs.grad[~injected] == -1.0 / seq.target_tokens)  # token-mean over sampled tokens only
    assert seq.target_tokens == rollout.sampled_tokens == sum(rollout.loss_mask) < len(rollout.completion_ids)


def test_sft_on_a_tool_transcript_trains_the_assistant_turns_with_the_rollouts_glue(loaded):
    from rl.data.tool_tasks import tool_arithmetic
    from rl.envs import declared_tools
    from rl.loops.sft import sft_sequences

    _, tokenizer = loaded
    env = EnvConfig(name="tools", tools=("calculator",))
    [transcript], _ = tool_arithmetic(1, 1, seed=3, transcripts=True)
    tools = declared_tools(env)
    [seq] = sft_sequences([transcript], tokenizer, DataConfig(), tools=tools)
    chat = transcript.chat() + [{"role": "assistant", "content": transcript.solution}]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False, tools=tools)
    full = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert list(seq.prompt_ids) + list(seq.completion_ids) == full[: len(seq.prompt_ids) + len(seq.completion_ids)]
    targets = tokenizer.decode([t for t, m in zip(seq.completion_ids, seq.loss_mask) if m])
    context = tokenizer.decode([t for t, m in zip(seq.completion_ids, seq.loss_mask) if not m])
    assert "<tool_call>" in targets and transcript.solution in targets and targets.count("<|im_end|>") == 2
    assert "<tool_response>" in context and transcript.reference in context and "<tool_call>" not in context


def test_tool_arithmetic_splits_and_wordings():
    from rl.data.tool_tasks import QUESTIONS, tool_arithmetic

    plain, held_out = tool_arithmetic(200, 50, seed=0)
    cold, held_out_again = tool_arithmetic(200, 50, seed=0, transcripts=True, wordings=2)
    assert held_out == held_out_again  # the held-out split does not depend on the train split's form
    assert [p.reference for p in plain] == [p.reference for p in cold]  # the same problems
    numbers = lambda p: frozenset(int(w) for w in re.findall(r"\d+", p.messages[0][1]))  # noqa: E731
    assert not {numbers(p) for p in held_out} & {numbers(p) for p in plain}  # no problem in both splits
    assert {p.messages[0][1].split()[0] for p in held_out} >= {"What", "Compute", "A"}  # every wording held out
    used = {next(i for i, q in enumerate(QUESTIONS) if q.split("{")[0] == p.messages[0][1][: len(q.split("{")[0])])
            for p in cold}
    assert used <= {0, 1}
    assert [role for role, _ in cold[0].messages] == ["user", "assistant", "tool"]
    with pytest.raises(ValueError, match="tool must be one of"):
        tool_arithmetic(1, 1, seed=0, tool="abacus")


# ---------------------------------------------------------------- real models: backends and placements

NUDGE = EnvConfig(name="tests.helpers.toy_envs:Nudge", max_turns=3, max_trajectory_tokens=200)


@pytest.fixture(scope="module")
def short_answers(model_path, tmp_path_factory):
    """The tiny model after a few SFT steps on one-token answers: it ends its turns early, so that
    trajectories go on past their first turn (an untrained model rarely samples EOS)."""
    from rl.config import AlgorithmConfig, LearnerConfig
    from rl.data.records import TrainSequence
    from rl.engine.learner import Learner

    learner = Learner(model_path, LearnerConfig(lr=1e-2, device="cpu"), AlgorithmConfig())
    tokenizer = learner.tokenizer
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 1 + 3?"}], tokenize=False, add_generation_prompt=True)
    ids = tuple(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    batch = [TrainSequence(ids, (tokenizer.convert_tokens_to_ids(str(d)), tokenizer.eos_token_id)) for d in range(10)]
    for _ in range(30):
        learner.sft_step(batch, num_tokens=2 * len(batch))
    out = tmp_path_factory.mktemp("short_answers")
    learner.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def _trajectories(worker):
    prompts = [Prompt(f"p{i}", messages=(("user", f"What is {i} + 3?"),), text=None, reference=str(i + 3)) for i in range(3)]
    groups = worker.generate(prompts, 2, temperature=0.0, seed=0)
    return [(r.completion_ids, r.loss_mask, r.finish_reason, r.env_info["turns"]) for g in groups for r in g.rollouts]


def test_static_backend_samples_the_same_multi_turn_trajectories_as_hf(short_answers):
    from rl.engine.static_decode import StaticCacheWorker

    rollout = RolloutConfig(max_new_tokens=6, env=NUDGE)
    hf = _trajectories(RolloutWorker(short_answers, DataConfig(), rollout))
    static = _trajectories(StaticCacheWorker(short_answers, DataConfig(), replace(rollout, backend="static")))
    assert hf == static
    assert any(turns > 1 for *_, turns in hf)  # the trajectories did go on past the first turn


def test_a_colocated_learner_samples_the_multi_turn_trajectories_a_rollout_worker_samples(short_answers):
    model_path = short_answers
    from rl.config import AlgorithmConfig, LearnerConfig
    from rl.engine.colocated import ColocatedSampling
    from rl.engine.learner import Learner

    class ColocatedLearner(Learner, ColocatedSampling):
        pass

    rollout = RolloutConfig(max_new_tokens=6, env=NUDGE)
    learner = ColocatedLearner(model_path, LearnerConfig(device="cpu"), AlgorithmConfig())
    learner.attach_sampler(DataConfig(), rollout)
    prompts = [Prompt("p", messages=(("user", "What is 1 + 3?"),), text=None, reference="4")]
    ours = learner.generate(prompts, 2, temperature=1.0, seed=5, version=3)
    theirs = RolloutWorker(model_path, DataConfig(), rollout).generate(prompts, 2, temperature=1.0, seed=5)
    assert [r.completion_ids for r in ours[0].rollouts] == [r.completion_ids for r in theirs[0].rollouts]
    assert [r.loss_mask for r in ours[0].rollouts] == [r.loss_mask for r in theirs[0].rollouts]
    assert all(r.policy_version == 3 for r in ours[0].rollouts)
    assert any(r.env_info["turns"] > 1 for r in ours[0].rollouts)
