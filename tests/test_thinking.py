"""Thinking modes: which mode a sample is rendered in, the chat template, data, and the format reward."""
from __future__ import annotations

import json

import pytest

from rewards.rules import format_reward
from rl.config import DataConfig
from rl.data.prompts import DataError, load_prompts, prompt_mode, render_prompt
from rl.data.records import Prompt
from rl.data.thinking import last_switch, resolve_mode, split_thinking, strip_thinking
from rl.engine.policy import train_tiny_tokenizer
from verifiers.math import verify_math
from verifiers.math_extract import answer_region

NO_THINK_PREFILL = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
THINK_PROMPT_END = "<|im_end|>\n<|im_start|>assistant\n"


def chat(*turns: tuple[str, str], mode: str | None = None) -> Prompt:
    return Prompt("p", tuple(turns), None, "5", mode=mode)


def text(content: str, mode: str | None = None) -> Prompt:
    return Prompt("p", None, content, "5", mode=mode)


@pytest.mark.parametrize("prompt, default, expected", [
    (text("What is 2 + 3?"), True, True),
    (text("What is 2 + 3?"), False, False),
    (text("What is 2 + 3? /no_think"), True, False),
    (text("What is 2 + 3? /think"), True, True),
    (text("/no_think What is 2 + 3?\n/think"), True, True),  # the last switch in a turn wins
    (text("/think What is 2 + 3? /no_think."), True, False),
    (text("What is 2 + 3? /think"), False, False),  # the default is Qwen3's hard switch: off is off
    (text("What is 2 + 3? /think", mode="no_think"), True, False),  # the sample's own mode wins
    (text("What is 2 + 3? /no_think", mode="think"), False, True),
    (text("/thinking a/no_think /no_think_now"), True, True),  # not switches: no word of their own
    (chat(("user", "2 + 3? /no_think"), ("assistant", "5"), ("user", "And 4 + 1?")), True, False),  # it persists
    (chat(("user", "2 + 3? /no_think"), ("assistant", "5"), ("user", "Sure? /think")), True, True),  # the latest wins
    (chat(("user", "2 + 3?"), ("assistant", "/no_think 5"), ("user", "Sure?")), True, True),  # assistants cannot switch
    (chat(("system", "Answer fast. /no_think"), ("user", "2 + 3?")), True, False),
    (chat(("system", "Answer fast. /no_think"), ("user", "2 + 3? /think")), True, True),
])  # fmt: skip
def test_resolve_mode(prompt, default, expected):
    assert resolve_mode(prompt, default) is expected


def test_a_switch_in_the_configured_system_prompt_counts_unless_the_prompt_has_its_own():
    assert resolve_mode(text("2 + 3?"), True, system_prompt="Be brief. /no_think") is False
    own_system = chat(("system", "Be brief."), ("user", "2 + 3?"))
    assert resolve_mode(own_system, True, system_prompt="/no_think") is True  # Prompt.chat keeps the prompt's own
    assert last_switch("a /no_think b /think c") == "think" and last_switch("none here") is None


@pytest.mark.parametrize("completion, thought, answer", [
    ("<think>2 + 3 = 5</think> \\boxed{5}", "2 + 3 = 5", "\\boxed{5}"),
    ("2 + 3 = 5</think>\n\nThe answer is 5", "2 + 3 = 5", "The answer is 5"),  # <think> pre-filled by the prompt
    ("\\boxed{5}", None, "\\boxed{5}"),  # no_think: the empty block was in the prompt
    ("<think>\n\n</think>\n\n\\boxed{5}", "", "\\boxed{5}"),
    ("<think>2 + 3 is \\boxed{5}, or", "2 + 3 is \\boxed{5}, or", ""),  # never closed: no answer
    ("<think>a</think> b </think> \\boxed{6}", "a</think> b", "\\boxed{6}"),  # the last </think> ends thinking
])  # fmt: skip
def test_split_thinking_answers_what_the_verifier_reads(completion, thought, answer):
    assert split_thinking(completion) == (thought, answer)
    region = answer_region(completion)
    assert (region or "").strip() == answer


def test_verifier_scores_only_what_follows_think():
    completion = "<think>maybe \\boxed{4}?</think> \\boxed{5}"
    assert verify_math(completion, "5").score == 1.0
    assert verify_math(completion, "4").score == 0.0


@pytest.mark.parametrize("message, kept", [
    ("<think>2 + 3 = 5</think> \\boxed{5}", "\\boxed{5}"),
    ("<think>\n\n</think>\n\nFive.", "Five."),
    ("Five.", "Five."),
    ("<think>unfinished", "<think>unfinished"),  # as Qwen3: without </think> the message stays whole
])
def test_strip_thinking(message, kept):
    assert strip_thinking(message) == kept


# ---------------------------------------------------------------- the chat template

@pytest.fixture(scope="module")
def tokenizer():
    texts = ["What is 2 + 3? /think /no_think", "<think>2 + 3 = 5</think> The answer is \\boxed{5}."] * 20
    return train_tiny_tokenizer(texts, vocab_size=320)


def render(tokenizer, messages, **kwargs) -> str:
    chat_messages = [{"role": role, "content": content} for role, content in messages]
    return tokenizer.apply_chat_template(chat_messages, tokenize=False, **kwargs)


def test_template_with_and_without_thinking(tokenizer):
    messages = [("user", "What is 2 + 3? /no_think")]
    on = render(tokenizer, messages, add_generation_prompt=True, enable_thinking=True)
    off = render(tokenizer, messages, add_generation_prompt=True, enable_thinking=False)
    assert on == "<|im_start|>user\nWhat is 2 + 3? /no_think" + THINK_PROMPT_END  # the switch stays as written
    assert off == "<|im_start|>user\nWhat is 2 + 3? /no_think<|im_end|>\n" + NO_THINK_PREFILL


def test_earlier_assistant_turns_lose_their_thinking(tokenizer):
    messages = [
        ("user", "What is 2 + 3?"),
        ("assistant", "<think>secret sum</think> \\boxed{5}"),
        ("user", "And 4 + 1? /think"),
        ("assistant", "<think>4 + 1 = 5</think> \\boxed{5}"),  # after the last user turn: kept, it is the target
    ]
    rendered = render(tokenizer, messages)
    assert "secret" not in rendered
    assert "<|im_start|>assistant\n\\boxed{5}<|im_end|>\n<|im_start|>user\nAnd 4 + 1? /think<|im_end|>" in rendered
    assert rendered.endswith("<|im_start|>assistant\n<think>4 + 1 = 5</think> \\boxed{5}<|im_end|>\n")
    # the template and strip_thinking agree on what an earlier turn keeps
    by_hand = [(r, strip_thinking(c) if r == "assistant" and i < 2 else c) for i, (r, c) in enumerate(messages)]
    assert render(tokenizer, by_hand) == rendered


@pytest.mark.parametrize("prompt, enable_thinking, thinks", [
    (text("What is 2 + 3?"), True, True),
    (text("What is 2 + 3?"), False, False),
    (text("What is 2 + 3? /no_think"), True, False),
    (text("What is 2 + 3?", mode="no_think"), True, False),
    (text("What is 2 + 3?", mode="think"), False, True),
])
def test_render_prompt_uses_the_samples_mode(tokenizer, prompt, enable_thinking, thinks):
    cfg = DataConfig(enable_thinking=enable_thinking)
    rendered = render_prompt(prompt, tokenizer, cfg)
    assert rendered.endswith(THINK_PROMPT_END if thinks else NO_THINK_PREFILL)
    assert prompt_mode(prompt, cfg) == ("think" if thinks else "no_think")


# ---------------------------------------------------------------- data

def test_per_sample_mode_in_data(tmp_path):
    records = [
        {"id": "a", "prompt": "2 + 3?", "reference": "5", "mode": "think"},
        {"id": "b", "prompt": "2 + 3?", "reference": "5", "mode": "no_think"},
        {"id": "c", "prompt": "2 + 3?", "reference": "5", "mode": None},
        {"id": "d", "prompt": "2 + 3?", "reference": "5"},
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    prompts = load_prompts(path, DataConfig())
    assert [p.mode for p in prompts] == ["think", "no_think", None, None]
    assert all("mode" not in p.fields for p in prompts)  # a Prompt attribute, not a verifier field


@pytest.mark.parametrize("bad, problem", [
    ("thinking", "'mode' must be one of 'think', 'no_think'"),
    (1, "'mode' must be a string"),
])
def test_bad_mode_in_data_names_file_and_line(tmp_path, bad, problem):
    path = tmp_path / "train.jsonl"
    good = {"prompt": "2 + 3?", "reference": "5"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "mode": bad}) + "\n")
    with pytest.raises(DataError, match=rf"train\.jsonl:2: {problem}"):
        load_prompts(path, DataConfig())


def test_prompt_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be"):
        text("2 + 3?", mode="fast")


# ---------------------------------------------------------------- the format reward

THOUGHTFUL = "<think>2 + 3 = 5</think> The answer is \\boxed{5}."
DIRECT = "The answer is \\boxed{5}."  # what follows the pre-filled empty block


@pytest.mark.parametrize("prompt, completion, reward", [
    (text("2 + 3?"), THOUGHTFUL, 1.0),
    (text("2 + 3?"), DIRECT, 0.0),  # thinking mode without a thought
    (text("2 + 3? /no_think"), DIRECT, 1.0),
    (text("2 + 3? /no_think"), THOUGHTFUL, 0.0),  # thought when told not to
    (text("2 + 3?", mode="no_think"), "<think>\n\n</think>\n\n" + DIRECT, 1.0),  # an empty block is also no thought
    (text("2 + 3? /think", mode="no_think"), THOUGHTFUL, 0.0),
])
def test_format_reward_follows_the_rendered_mode(tokenizer, prompt, completion, reward):
    cfg = DataConfig()
    mode = prompt_mode(prompt, cfg)  # the field the scorer must pass to the reward
    assert format_reward(completion, None, mode=mode, **prompt.fields) == reward
    # the mode the reward checks is the one the prompt was rendered in
    assert render_prompt(prompt, tokenizer, cfg).endswith(NO_THINK_PREFILL if mode == "no_think" else THINK_PROMPT_END)
