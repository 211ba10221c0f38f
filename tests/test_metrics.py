"""pass@k, maj@k and bootstrap intervals against brute force and known cases."""
from __future__ import annotations

import random
from collections import Counter
from itertools import combinations
from statistics import mean

import pytest

from rl.offline.metrics import ScoredSample, bootstrap_ci, maj_at_k, pass_at_k, powers_of_two_up_to, summarize


def brute_pass_at_k(flags: list[bool], k: int) -> float:
    return mean(any(flags[i] for i in subset) for subset in combinations(range(len(flags)), k))


def brute_maj_at_k(answers: list[str | None], flags: list[bool], k: int) -> float:
    norm = [None if a is None else "".join(a.split()) for a in answers]
    right = {a for a, ok in zip(norm, flags) if a is not None and ok}

    def vote(subset: tuple[int, ...]) -> bool:
        ballots = [norm[i] for i in subset if norm[i] is not None]
        if not ballots:
            return False
        counts = Counter(ballots)
        top = max(counts.values())
        winner = next(a for a in ballots if counts[a] == top)  # earliest in sample order wins a tie
        return winner in right

    return mean(vote(s) for s in combinations(range(len(answers)), k))


@pytest.mark.parametrize("n", range(1, 8))
def test_pass_at_k_matches_enumeration_of_all_k_subsets(n):
    for c in range(n + 1):
        flags = [True] * c + [False] * (n - c)
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(flags, k), abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_for_large_n():
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)
    assert pass_at_k(10_000, 0, 100) == 0.0
    assert pass_at_k(10_000, 10_000, 100) == 1.0
    assert 0.0 < pass_at_k(5000, 3, 50) < 1.0


@pytest.mark.parametrize("n, c, k", [(3, 4, 1), (3, 1, 0), (3, 1, 4), (0, 0, 1)])
def test_pass_at_k_rejects_impossible_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_maj_at_k_matches_enumeration_on_random_cases():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 7)
        answers = [rng.choice([None, "1", "2", " 2", "3"]) for _ in range(n)]
        flags = [a is not None and a.strip() == "2" for a in answers]
        for k in range(1, n + 1):
            assert maj_at_k(answers, flags, k) == pytest.approx(brute_maj_at_k(answers, flags, k)), (answers, k)


def test_maj_at_k_monte_carlo_estimate_is_close_to_exact():
    answers = ["7"] * 6 + ["5"] * 5 + ["9"] * 3 + [None] * 2
    flags = [a == "7" for a in answers]
    exact = maj_at_k(answers, flags, 6)
    estimate = maj_at_k(answers, flags, 6, exact_limit=0, draws=4000)
    assert estimate == pytest.approx(exact, abs=0.03)
    assert estimate == maj_at_k(answers, flags, 6, exact_limit=0, draws=4000)  # seeded


def test_maj_at_k_ties_go_to_the_earliest_answer():
    assert maj_at_k(["a", "b"], [True, False], 2) == 1.0
    assert maj_at_k(["b", "a"], [False, True], 2) == 0.0


def test_maj_at_k_groups_answers_ignoring_spaces_and_skips_non_answers():
    # "1/2" and "1 / 2" are one answer with two votes; the None samples do not vote.
    assert maj_at_k(["1 / 2", None, "3", "1/2", None], [True, False, False, True, False], 5) == 1.0
    assert maj_at_k([None, None], [False, False], 2) == 0.0


def test_bootstrap_ci_of_a_constant_is_that_constant():
    assert bootstrap_ci([0.5] * 20) == (0.5, 0.5)


def test_bootstrap_ci_of_a_fair_coin_matches_the_normal_approximation():
    low, high = bootstrap_ci([0.0, 1.0] * 50, n_resamples=2000, seed=1)
    # mean 0.5, standard error 0.05: the 95% interval is about 0.5 +- 0.098
    assert low == pytest.approx(0.402, abs=0.02)
    assert high == pytest.approx(0.598, abs=0.02)


def test_bootstrap_ci_is_reproducible_and_weights_of_one_change_nothing():
    rng = random.Random(3)
    values = [rng.random() for _ in range(30)]
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7) == pytest.approx(bootstrap_ci(values, seed=7, weights=[1.0] * 30))
    assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)


def test_powers_of_two_up_to():
    assert powers_of_two_up_to(1) == [1]
    assert powers_of_two_up_to(6) == [1, 2, 4]
    assert powers_of_two_up_to(8) == [1, 2, 4, 8]


def sample(problem: str, score: float, extracted: str | None = "x", status: str = "ok") -> ScoredSample:
    return ScoredSample(problem, score, status, extracted)


def test_summarize_reports_pass_and_maj_up_to_the_smallest_group():
    samples = [sample("a", 1.0, "3"), sample("a", 0.0, "4"), sample("a", 0.0, "4"), sample("a", 0.0, None, "timeout")]
    samples += [sample("b", 1.0, "7"), sample("b", 1.0, "7")]
    summary = summarize(samples, malformed=2)
    assert summary.accuracy.value == pytest.approx(3 / 6)
    assert sorted(summary.pass_at) == [1, 2] and sorted(summary.maj_at) == [1, 2]
    assert summary.pass_at[2].value == pytest.approx((pass_at_k(4, 1, 2) + 1.0) / 2)
    assert summary.status_counts["timeout"] == 1 and summary.status_counts["ok"] == 5
    assert summary.to_dict()["malformed"] == 2


def test_summarize_without_repeated_ids_has_no_pass_or_maj():
    summary = summarize([sample("a", 1.0), sample("b", 0.0)])
    assert summary.pass_at == {} and summary.maj_at == {}
    assert summary.accuracy.value == 0.5
