"""DPO: loss values against hand computation, gradient direction, the batch layout, and preference
pairs loaded from JSONL or mined from scored rollout groups. TRL parity is in test_dpo_trl_parity.py."""
from __future__ import annotations

import json
import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from rl.algorithms import DPO_LOSSES, collate_pairs, dpo_batch_loss, get_dpo_loss, sequence_logps
from rl.config import DataConfig
from rl.data.preferences import PreferencePair, load_pairs, mine_pairs, tokenize_pair
from rl.data.prompts import DataError, render_prompt
from rl.data.records import Prompt, Rollout, ScoredGroup, ScoredRollout
from verifiers.verdict import Verdict


def softplus(x: float) -> float:  # -log sigmoid(-x)
    return math.log1p(math.exp(x))


# ---------------------------------------------------------------- loss values

# One pair: policy chosen/rejected, reference chosen/rejected summed log-probs; lengths 2 and 4.
PC, PR, RC, RR = -1.0, -3.0, -2.0, -2.5
N_C, N_R = 2, 4
DELTA = (PC - RC) - (PR - RR)  # 1.0 - (-0.5) = 1.5

LOSS_CASES = [  # (name, beta, label_smoothing, expected loss)
    ("sigmoid", 0.1, 0.0, softplus(-0.1 * DELTA)),
    ("sigmoid", 2.0, 0.0, softplus(-2.0 * DELTA)),
    ("sigmoid", 0.1, 0.2, 0.8 * softplus(-0.1 * DELTA) + 0.2 * softplus(0.1 * DELTA)),
    ("ipo", 0.1, 0.0, ((PC - RC) / N_C - (PR - RR) / N_R - 1 / (2 * 0.1)) ** 2),  # (0.5 + 0.125 - 5)^2
    ("ipo", 1.0, 0.0, (0.625 - 0.5) ** 2),
    ("hinge", 0.1, 0.0, 1 - 0.1 * DELTA),
    ("hinge", 1.0, 0.0, 0.0),  # separated by more than 1 / beta: no loss
    ("robust", 0.1, 0.0, softplus(-0.1 * DELTA)),
    ("robust", 0.5, 0.1, (0.9 * softplus(-0.5 * DELTA) - 0.1 * softplus(0.5 * DELTA)) / 0.8),
]


def _call(name, beta, label_smoothing=0.0, pc=PC, pr=PR):
    as_t = lambda x: x if isinstance(x, torch.Tensor) else torch.tensor([x], dtype=torch.float64)  # noqa: E731
    return get_dpo_loss(name)(
        as_t(pc), as_t(pr), as_t(RC), as_t(RR), beta, label_smoothing,
        chosen_lengths=torch.tensor([N_C]), rejected_lengths=torch.tensor([N_R]),
    )


@pytest.mark.parametrize("name, beta, label_smoothing, expected", LOSS_CASES)
def test_loss_matches_hand_computation(name, beta, label_smoothing, expected):
    losses, metrics = _call(name, beta, label_smoothing)
    assert losses.shape == (1,)
    assert losses.item() == pytest.approx(expected, abs=1e-12)
    # The implicit rewards are on summed log-probs for every loss, IPO included (as TRL logs them).
    assert metrics["rewards/chosen"].item() == pytest.approx(beta * (PC - RC))
    assert metrics["rewards/rejected"].item() == pytest.approx(beta * (PR - RR))
    assert metrics["rewards/margins"].item() == pytest.approx(beta * DELTA)
    assert metrics["rewards/accuracies"].item() == 1.0
    assert metrics["logps/chosen"].item() == PC and metrics["logps/rejected"].item() == PR


def test_losses_are_per_pair_and_metrics_average_over_pairs():
    pc, pr = torch.tensor([-1.0, -3.0]), torch.tensor([-3.0, -1.0])  # the second pair is ranked the wrong way
    ref = torch.zeros(2)
    losses, metrics = get_dpo_loss("sigmoid")(pc, pr, ref, ref, 1.0)
    torch.testing.assert_close(losses, torch.tensor([softplus(-2.0), softplus(2.0)]))
    assert metrics["rewards/accuracies"].item() == 0.5
    assert metrics["rewards/margins"].item() == pytest.approx(0.0)


@pytest.mark.parametrize("name, beta, label_smoothing, match", [
    ("ipo", 0.1, 0.1, "ipo has no label smoothing"),
    ("hinge", 0.1, 0.1, "hinge has no label smoothing"),
    ("sigmoid", 0.1, 0.5, r"label_smoothing must be in \[0, 0.5\)"),
    ("robust", 0.1, 0.5, r"must be in \[0, 0.5\)"),
])
def test_bad_label_smoothing_is_an_error(name, beta, label_smoothing, match):
    with pytest.raises(ValueError, match=match):
        _call(name, beta, label_smoothing)


def test_ipo_needs_lengths():
    zero = torch.zeros(1)
    with pytest.raises(ValueError, match="chosen_lengths and rejected_lengths"):
        get_dpo_loss("ipo")(zero, zero, zero, zero, 0.1)


def test_unknown_loss_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown DPO loss 'dpo'; known: hinge, ipo, robust, sigmoid"):
        get_dpo_loss("dpo")
    assert {"sigmoid", "ipo", "hinge", "robust"} <= set(DPO_LOSSES.names())


@pytest.mark.parametrize("name, beta, label_smoothing", [
    ("sigmoid", 0.1, 0.0), ("sigmoid", 0.1, 0.2), ("ipo", 0.1, 0.0), ("hinge", 0.1, 0.0), ("robust", 0.1, 0.2),
])
def test_gradient_raises_chosen_and_lowers_rejected(name, beta, label_smoothing):
    pc = torch.tensor([PC], dtype=torch.float64, requires_grad=True)
    pr = torch.tensor([PR], dtype=torch.float64, requires_grad=True)
    losses, _ = _call(name, beta, label_smoothing, pc=pc, pr=pr)
    losses.sum().backward()
    assert pc.grad.item() < 0, "a descent step must raise log pi(chosen)"
    assert pr.grad.item() > 0, "a descent step must lower log pi(rejected)"


# ---------------------------------------------------------------- batches on a tiny model

VOCAB, PAD, EOS = 64, 1, 2


def tiny_model(seed: int):
    import transformers

    config = transformers.Qwen2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=64, vocab_size=VOCAB,
    )
    torch.manual_seed(seed)
    return transformers.Qwen2ForCausalLM(config).eval()


def id_pair(pair_id, prompt, chosen, rejected) -> PreferencePair:
    return PreferencePair(
        prompt=f"prompt {pair_id}", chosen="c", rejected="r", id=pair_id,
        prompt_ids=tuple(prompt), chosen_ids=tuple(chosen), rejected_ids=tuple(rejected),
    )


PAIRS = [
    id_pair("a", [5, 6, 7], [10, 11, EOS], [12, EOS]),
    id_pair("b", [8], [13, 14, 15, 16, EOS], [17, 18, 19]),
    id_pair("c", [20, 21], [22], [23, 24, 25, EOS]),
]


def test_collate_pairs_puts_chosen_rows_first_and_marks_completions():
    batch = collate_pairs(PAIRS[:2], pad_id=PAD)
    assert batch["input_ids"].tolist() == [
        [5, 6, 7, 10, 11, EOS], [8, 13, 14, 15, 16, EOS], [5, 6, 7, 12, EOS, PAD], [8, 17, 18, 19, PAD, PAD],
    ]
    assert batch["attention_mask"].tolist() == [[1] * 6, [1] * 6, [1] * 5 + [0], [1] * 4 + [0, 0]]
    assert batch["completion_mask"].tolist() == [
        [0, 0, 0, 1, 1, 1], [0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 1, 1, 1, 0, 0],
    ]


@pytest.mark.parametrize("pair, match", [
    (PreferencePair(prompt="p", chosen="c", rejected="r", id="t"), "pair 't' has no token ids"),
    (id_pair("e", [], [3], [4]), "pair 'e' has an empty prompt"),
])
def test_collate_pairs_rejects_pairs_it_cannot_score(pair, match):
    with pytest.raises(ValueError, match=match):
        collate_pairs([pair], pad_id=PAD)


def test_sequence_logps_sum_and_average_ignore_padding():
    model = tiny_model(0)
    batch = collate_pairs(PAIRS, pad_id=PAD)
    with torch.no_grad():
        total = sequence_logps(model, **batch)  # (2B,)
        average = sequence_logps(model, **batch, average=True)  # (2B,)
        for row in range(total.size(0)):  # each row alone, unpadded
            keep = batch["attention_mask"][row].bool()
            ids = batch["input_ids"][row][keep]
            logps = torch.log_softmax(model(input_ids=ids[None]).logits[0, :-1], dim=-1)  # (L-1, V)
            targets = batch["completion_mask"][row][keep][1:].bool()
            expected = logps.gather(-1, ids[1:, None]).squeeze(-1)[targets]
            assert total[row].item() == pytest.approx(expected.sum().item(), abs=1e-5)
            assert average[row].item() == pytest.approx(expected.mean().item(), abs=1e-5)


def test_a_few_steps_widen_the_margin_and_leave_the_reference_frozen():
    policy, reference = tiny_model(0), tiny_model(1)
    reference.requires_grad_(False)
    frozen = {k: v.clone() for k, v in reference.state_dict().items()}
    batch = collate_pairs(PAIRS, pad_id=PAD)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    margins = []
    for _ in range(3):
        optimizer.zero_grad()
        loss, metrics = dpo_batch_loss(policy, reference, batch, loss_type="sigmoid", beta=0.5)
        loss.backward()
        optimizer.step()
        margins.append(metrics["rewards/margins"].item())
    assert margins[0] < margins[1] < margins[2]
    assert all(torch.equal(v, frozen[k]) for k, v in reference.state_dict().items())


def test_micro_batches_sum_to_the_full_batch_loss():
    policy, reference = tiny_model(0), tiny_model(1)
    with torch.no_grad():
        full, _ = dpo_batch_loss(policy, reference, collate_pairs(PAIRS, PAD), loss_type="ipo", beta=0.1)
        parts = [
            dpo_batch_loss(policy, reference, collate_pairs(chunk, PAD), loss_type="ipo", beta=0.1, num_pairs=len(PAIRS))[0]
            for chunk in (PAIRS[:1], PAIRS[1:])
        ]
    assert sum(parts).item() == pytest.approx(full.item(), rel=1e-5)


# ---------------------------------------------------------------- loading pairs


def write_jsonl(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_load_pairs_reads_standard_conversational_and_implicit_prompts(tmp_path):
    user = {"role": "user", "content": "2+2?"}
    path = write_jsonl(tmp_path / "prefs.jsonl", [
        {"prompt": "1+1=", "chosen": "2", "rejected": "3", "source": "hand"},
        "",
        {"id": 7, "prompt": [user], "chosen": [{"role": "assistant", "content": "4"}],
         "rejected": [{"role": "assistant", "content": "5"}]},
        {"chosen": [user, {"role": "assistant", "content": "4"}], "rejected": [user, {"role": "assistant", "content": "22"}]},
    ])
    first, second, third = load_pairs(path)
    assert (first.id, first.prompt.text, first.chosen, first.rejected) == ("prefs.jsonl:1", "1+1=", "2", "3")
    assert first.metadata == {"source": "hand"} and first.prompt_ids is None
    assert (second.id, second.prompt.messages, second.chosen, second.rejected) == ("7", (("user", "2+2?"),), "4", "5")
    assert (third.id, third.prompt.messages, third.chosen, third.rejected) == ("prefs.jsonl:4", (("user", "2+2?"),), "4", "22")


MALFORMED = [  # (line, message fragment)
    ('{"prompt": "p", "chosen": "c"', "invalid JSON"),
    ('["p", "c", "r"]', "expected a JSON object"),
    ({"prompt": "p", "rejected": "r"}, "missing required key 'chosen'"),
    ({"prompt": "p", "chosen": "c", "rejected": None}, "missing required key 'rejected'"),
    ({"chosen": "c", "rejected": "r"}, "missing required key 'prompt'"),
    ({"prompt": [{"role": "user"}], "chosen": "c", "rejected": "r"}, "prompt[0] must be"),
    ({"prompt": "p", "chosen": [{"role": "user", "content": "c"}], "rejected": "r"}, "'chosen' must be text or one assistant message"),
    ({"prompt": "p", "chosen": "c", "rejected": [{"role": "assistant", "content": "a"}] * 2}, "'rejected' must be text or one assistant"),
    ({"chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}, "share no leading message"),
    ({"id": [1], "prompt": "p", "chosen": "c", "rejected": "r"}, "'id' must be a string or an integer"),
]


@pytest.mark.parametrize("line, fragment", MALFORMED)
def test_a_malformed_line_is_an_error_naming_its_place(tmp_path, line, fragment):
    good = {"prompt": "p", "chosen": "c", "rejected": "r"}
    path = write_jsonl(tmp_path / "prefs.jsonl", [good, line])
    with pytest.raises(DataError) as err:
        load_pairs(path)
    assert str(err.value).startswith(f"{path}:2: ") and fragment in str(err.value)


def test_tokenize_pair_lays_the_pair_out_like_a_rollout():
    from rl.engine.policy import train_tiny_tokenizer

    tokenizer = train_tiny_tokenizer(["What is 2+2? The answer is 4.", "5 22 7"], vocab_size=300)
    cfg = DataConfig()
    pair = tokenize_pair(PreferencePair(prompt="What is 2+2?", chosen="4", rejected="5"), tokenizer, cfg)
    rendered = render_prompt(pair.prompt, tokenizer, cfg)
    assert list(pair.prompt_ids) == tokenizer(rendered, add_special_tokens=False)["input_ids"]
    assert pair.chosen_ids[-1] == pair.rejected_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(pair.chosen_ids[:-1]) == "4" and tokenizer.decode(pair.rejected_ids[:-1]) == "5"


def test_pair_ids_come_all_or_none():
    with pytest.raises(ValueError, match="set all of prompt_ids, chosen_ids and rejected_ids"):
        PreferencePair(prompt="p", chosen="c", rejected="r", prompt_ids=(1,), chosen_ids=(2,))


# ---------------------------------------------------------------- mining pairs

OK, WRONG, TIMEOUT = Verdict(1.0), Verdict(0.0), Verdict(0.0, status="timeout")


def group(prompt_id: str, rewards, verdicts=None):
    """Scored rollouts of one prompt; completion i is token 100 + i and text 'c{i}'."""
    prompt = Prompt(id=prompt_id, messages=None, text=f"question {prompt_id}", reference="4")
    verdicts = verdicts or [OK if r >= 1 else WRONG for r in rewards]
    samples = [
        ScoredRollout(
            Rollout(prompt, (5, 6), (100 + i, EOS), f"c{i}", (-0.1, -0.2), True, 0),
            verdict, reward, {"accuracy": verdict.score, "format": reward - verdict.score},
        )
        for i, (reward, verdict) in enumerate(zip(rewards, verdicts))
    ]
    return ScoredGroup(samples[0].rollout.prompt if samples else Prompt(prompt_id, None, prompt_id, "1"), tuple(samples))


def chosen_rejected(pairs):
    return [(p.chosen, p.rejected) for p in pairs]


MINING_CASES = [  # (id, rewards, max_pairs_per_group, min_margin, expected (chosen, rejected) texts)
    ("best-vs-worst", [0.2, 1.1, 0.0, 1.0], 1, 0.0, [("c1", "c2")]),
    ("ties-first-sampled-wins", [0.0, 1.0, 0.0, 1.0], 1, 0.0, [("c1", "c0")]),
    ("all-equal", [1.0, 1.0, 1.0, 1.0], 1, 0.0, []),
    ("all-wrong", [0.0, 0.0], 1, 0.0, []),
    ("single", [1.0], 1, 0.0, []),
    ("empty", [], 1, 0.0, []),
    ("two-pairs", [1.0, 0.0, 1.0, 0.0], 2, 0.0, [("c0", "c1"), ("c2", "c3")]),
    ("second-pair-tied", [1.0, 0.5, 0.5, 0.0], 2, 0.0, [("c0", "c3")]),
    ("no-reuse-odd-group", [1.0, 0.5, 0.0], 3, 0.0, [("c0", "c2")]),
    ("format-only-margin-below-min", [1.1, 1.0], 1, 0.5, []),
    ("margin-above-min", [1.1, 0.0], 1, 0.5, [("c0", "c1")]),
]


@pytest.mark.parametrize("rewards, max_pairs, min_margin, expected", [c[1:] for c in MINING_CASES], ids=[c[0] for c in MINING_CASES])
def test_mine_pairs(rewards, max_pairs, min_margin, expected):
    assert chosen_rejected(mine_pairs([group("q", rewards)], max_pairs_per_group=max_pairs, min_margin=min_margin)) == expected


def test_mined_pairs_keep_token_ids_rewards_and_never_tie():
    groups = [group("q1", [0.0, 1.0, 0.1]), group("q2", [0.5, 0.5]), group("q3", [0.0, 1.1])]
    pairs = mine_pairs(groups)
    assert [p.id for p in pairs] == ["q1/pair0", "q3/pair0"]
    first = pairs[0]
    assert first.prompt.id == "q1" and first.prompt_ids == (5, 6)
    assert first.chosen_ids == (101, EOS) and first.rejected_ids == (100, EOS)
    assert (first.chosen_reward, first.rejected_reward) == (1.0, 0.0)
    assert first.metadata["chosen_components"] == {"accuracy": 1.0, "format": 0.0}
    assert all(p.chosen_reward > p.rejected_reward for p in pairs)
    assert mine_pairs(groups) == pairs  # deterministic


def test_unjudged_rollouts_are_not_mined():
    """A timeout scores 0 but says nothing about the answer: it must not become the rejected side."""
    assert mine_pairs([group("q", [1.0, 0.0], [OK, TIMEOUT])]) == []
    assert chosen_rejected(mine_pairs([group("q", [1.0, 0.0, 0.0], [OK, TIMEOUT, WRONG])])) == [("c0", "c2")]


def test_mine_pairs_rejects_bad_groups_and_settings():
    mixed = ScoredGroup(group("q1", [1.0]).prompt, group("q1", [1.0]).samples + group("q2", [0.0]).samples)
    with pytest.raises(ValueError, match="mixes prompts 'q1' and 'q2'"):
        mine_pairs([mixed])
    with pytest.raises(ValueError, match="not finite"):
        mine_pairs([group("q", [1.0, float("nan")])])
    with pytest.raises(ValueError, match="min_margin must be >= 0"):
        mine_pairs([], min_margin=-0.1)
    with pytest.raises(ValueError, match="max_pairs_per_group must be at least 1"):
        mine_pairs([], max_pairs_per_group=0)
