"""Rule rewards and their weighted composition."""
from __future__ import annotations

import pytest

from rewards import RewardComponent, RewardFunction, format_reward, overlong_penalty
from verifiers import Verdict

FORMAT = [
    ("<think>2+2=4</think> The answer is 4.", True, 1.0),
    ("<think>\n\n</think>\n\nThe answer is 4.", True, 0.0),     # thinking asked, none given
    ("<think>\n\n</think>\n\nThe answer is 4.", False, 1.0),    # /no_think: empty block is right
    ("The answer is 4.", False, 1.0),
    ("The answer is 4.", True, 0.0),
    ("<think>2+2=4</think>", True, 0.0),                        # no answer after thinking
    ("<think>a</think> 4 <think>b</think> 5", True, 0.0),       # a second thought
    ("<think>a <think>b</think> 4", True, 0.0),
    ("<think>a</think> 4", None, 1.0),
    ("<think>a</think> 4", False, 0.0),
]


@pytest.mark.parametrize("completion, thinking, expected", FORMAT)
def test_format_reward(completion, thinking, expected):
    assert format_reward(completion, None, thinking=thinking) == expected


def test_mode_field_overrides_thinking():
    assert format_reward("The answer is 4.", None, mode="no_think") == 1.0
    assert format_reward("The answer is 4.", None, mode="think") == 0.0


@pytest.mark.parametrize("tokens, expected", [(10, 0.0), (48, 0.0), (56, -0.5), (64, -1.0), (80, -1.0)])
def test_overlong_penalty(tokens, expected):
    assert overlong_penalty("", None, num_tokens=tokens, max_tokens=64, buffer_tokens=16) == pytest.approx(expected)


@pytest.mark.parametrize("tokens, expected", [(1000, 0.0), (16_384, 0.0), (18_432, -0.5), (20_480, -1.0), (30_000, -1.0)])
def test_overlong_is_dapos_soft_punishment(tokens, expected):
    assert overlong_penalty("", None, num_tokens=tokens, max_len=20_480, cache=4_096) == pytest.approx(expected)


def test_overlong_names_and_defaults():
    # max_len defaults to the generation limit the scorer passes (max_tokens); the old names still work
    assert overlong_penalty("", None, num_tokens=56, max_tokens=64, cache=16) == pytest.approx(-0.5)
    assert overlong_penalty("", None, num_tokens=56, max_len=64, buffer_tokens=16) == pytest.approx(-0.5)
    assert overlong_penalty("", None, num_tokens=65, max_len=64) == -1.0 and overlong_penalty("", None, num_tokens=64, max_len=64) == 0.0
    with pytest.raises(ValueError, match="not both"):
        overlong_penalty("", None, num_tokens=1, max_len=64, cache=8, buffer_tokens=8)
    with pytest.raises(ValueError, match="cache"):
        overlong_penalty("", None, num_tokens=1, max_len=64, cache=100)
    with pytest.raises(ValueError, match="max_len"):
        overlong_penalty("", None, num_tokens=1)


def test_weighted_components_and_log_only_weight():
    reward = RewardFunction([
        RewardComponent("correct", "verifier", 1.0),
        RewardComponent("format", "format", 0.5),
        RewardComponent("length", "overlong", 0.0, {"max_tokens": 8, "buffer_tokens": 0}),
    ])
    result = reward("<think>x</think> 4", Verdict(1.0, "ok", "4"), num_tokens=20)
    assert result.components == {"correct": 1.0, "format": 1.0, "length": -1.0}
    assert result.total == 1.5  # the length penalty is logged but weighs nothing
    unjudged = reward("<think>x</think> 4", Verdict(0.0, "timeout"), num_tokens=2)
    assert unjudged.components["correct"] == 0.0


def test_failing_component_names_itself():
    reward = RewardFunction([RewardComponent("length", "overlong", 1.0)])
    with pytest.raises(RuntimeError, match="'length'"):
        reward("x", None)  # num_tokens missing


def test_custom_component_by_module_path():
    reward = RewardFunction([RewardComponent("len", "tests.test_rewards:char_count", 0.5)])
    assert reward("abcd", None).total == 2.0


def char_count(completion, verdict, **fields):
    return len(completion)


def test_a_reward_kind_that_cannot_be_imported_names_the_component_not_a_verifier():
    from rewards import RewardNotFound
    from verifiers import VerifierNotFound

    with pytest.raises(RewardNotFound, match=r"reward component 'bonus': kind 'no_such_module_xyz:f': cannot import") as err:
        RewardFunction([RewardComponent("bonus", "no_such_module_xyz:f")])
    assert not isinstance(err.value, VerifierNotFound)
