"""Figures from scored samples: pass@k, maj@k, bootstrap intervals, and a file's summary.

pass@k is the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language
Models Trained on Code"): from n samples of which c are correct, the chance that a
k-subset drawn without replacement holds at least one correct sample. maj@k is the
chance that a majority vote over such a k-subset lands on a correct answer.
Intervals come from a percentile bootstrap over problems (ids), not samples: the
samples of one problem are not independent draws.

    >>> round(pass_at_k(n=4, c=1, k=2), 3)
    0.5
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations

import numpy as np

from verifiers.verdict import STATUSES


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), as a product so that large n neither overflows nor loses precision."""
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    if n - c < k:  # every k-subset must contain a correct sample
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def maj_at_k(
    answers: Sequence[str | None],
    correct: Sequence[bool],
    k: int,
    *,
    exact_limit: int = 5000,
    draws: int = 2000,
    seed: int = 0,
) -> float:
    """Expected correctness of a majority vote among k of the samples, drawn without replacement.

    answers[i]: sample i's extracted answer; None means it does not vote.
    correct[i]: whether sample i scored 1.0. An answer is correct if any sample giving it was.
    Answers are grouped after removing whitespace. Ties go to the answer whose first vote
    comes earliest in sample order; a subset where nobody answered counts as wrong.
    Exact over all k-subsets when there are at most ``exact_limit`` of them, else a seeded
    Monte Carlo estimate from ``draws`` random subsets.
    """
    n = len(answers)
    if len(correct) != n:
        raise ValueError(f"{n} answers but {len(correct)} correctness flags")
    if not 1 <= k <= n:
        raise ValueError(f"maj@k needs 1 <= k <= n; got n={n}, k={k}")
    labels, answer_correct = _vote_labels(answers, correct)
    return _majority_correct(tuple(labels), tuple(answer_correct), k, exact_limit, draws, seed)


@lru_cache(maxsize=4096)  # labels are numbered in order of first appearance, so vote patterns repeat across problems
def _majority_correct(labels: tuple[int, ...], answer_correct: tuple[bool, ...], k: int, exact_limit: int, draws: int, seed: int) -> float:
    if not answer_correct:
        return 0.0
    subsets = _k_subsets(len(labels), k, exact_limit, draws, seed)  # (S, k), ascending sample indices
    votes = np.asarray(labels)[subsets][..., None] == np.arange(len(answer_correct))  # (S, k, G)
    counts = votes.sum(axis=1)  # (S, G)
    first_vote = np.where(votes.any(axis=1), votes.argmax(axis=1), k)  # (S, G)
    winner = (counts * (k + 1) - first_vote).argmax(axis=1)  # most votes, then earliest
    someone_voted = counts.max(axis=1) > 0
    return float(np.mean(someone_voted & np.asarray(answer_correct)[winner]))


def _vote_labels(answers: Sequence[str | None], correct: Sequence[bool]) -> tuple[list[int], list[bool]]:
    """Label each sample with its answer group (-1: no answer) and say which groups are correct."""
    group_of: dict[str, int] = {}
    answer_correct: list[bool] = []
    labels = [-1] * len(answers)
    for i, (answer, ok) in enumerate(zip(answers, correct)):
        if answer is None:
            continue
        key = "".join(str(answer).split())
        if key not in group_of:
            group_of[key] = len(answer_correct)
            answer_correct.append(False)
        labels[i] = group_of[key]
        answer_correct[labels[i]] |= bool(ok)
    return labels, answer_correct


def _k_subsets(n: int, k: int, exact_limit: int, draws: int, seed: int) -> np.ndarray:
    if math.comb(n, k) <= exact_limit:
        return np.array(list(combinations(range(n), k)), dtype=np.intp).reshape(-1, k)
    rng = np.random.default_rng(seed)
    return np.sort(rng.random((draws, n)).argsort(axis=1)[:, :k], axis=1)


def bootstrap_ci(
    per_problem_values: Sequence[float],
    n_resamples: int = 1000,
    seed: int = 0,
    *,
    weights: Sequence[float] | None = None,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the (weighted) mean, resampling problems with replacement.

    weights: e.g. samples per problem, so that the interval is about the mean over
    samples while whole problems are resampled together.
    """
    values = np.asarray(per_problem_values, dtype=float)
    if values.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    w = None if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    batch = max(1, 4_000_000 // values.size)  # bounds memory to a few million indices at a time
    for start in range(0, n_resamples, batch):
        idx = rng.integers(0, values.size, size=(min(batch, n_resamples - start), values.size))
        if w is None:
            means[start : start + len(idx)] = values[idx].mean(axis=1)
        else:
            means[start : start + len(idx)] = (values[idx] * w[idx]).sum(axis=1) / w[idx].sum(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def powers_of_two_up_to(n: int) -> list[int]:
    """The k values to report: 1, 2, 4, ... not above n."""
    return [2**i for i in range(n.bit_length())] if n >= 1 else []


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def to_dict(self) -> dict:
        return {"value": self.value, "ci95": [self.low, self.high]}


@dataclass(frozen=True)
class ScoredSample:
    """What the figures need from one scored line."""

    problem: str  # samples with the same problem key share an id
    score: float
    status: str
    extracted: str | None
    domain: str = ""  # the record's data.mixture domain, if it names one: accuracy is also reported per domain


@dataclass(frozen=True)
class Summary:
    lines: int
    problems: int
    min_samples: int  # per problem
    max_samples: int
    malformed: int
    accuracy: Estimate  # mean score over all lines; unjudged lines score 0
    status_counts: dict[str, int]
    pass_at: dict[int, Estimate]  # empty unless ids repeat
    maj_at: dict[int, Estimate]
    n_resamples: int
    seed: int
    by_domain: dict[str, Estimate] = field(default_factory=dict)  # accuracy per domain, when records name domains

    def to_dict(self) -> dict:
        return {
            "lines": self.lines,
            "problems": self.problems,
            "samples_per_problem": {"min": self.min_samples, "max": self.max_samples},
            "malformed": self.malformed,
            "accuracy": self.accuracy.to_dict(),
            "status": dict(self.status_counts),
            "pass@k": {str(k): e.to_dict() for k, e in self.pass_at.items()},
            "maj@k": {str(k): e.to_dict() for k, e in self.maj_at.items()},
            "bootstrap": {"resamples": self.n_resamples, "seed": self.seed},
            **({"accuracy_by_domain": {d: e.to_dict() for d, e in self.by_domain.items()}} if self.by_domain else {}),
        }


def problem_key(record_id: object, source_line: int) -> str:
    """Group key for an id of any JSON type; a line without an id is a problem of its own."""
    if record_id is None:
        return f"line:{source_line}"
    return "id:" + json.dumps(record_id, sort_keys=True)


def summarize(samples: Sequence[ScoredSample], *, malformed: int = 0, n_resamples: int = 1000, seed: int = 0) -> Summary:
    """Accuracy, status counts, and (when ids repeat) pass@k and maj@k, each with a 95% bootstrap interval."""
    if not samples:
        raise ValueError("nothing to summarize: no scored samples")
    by_problem: dict[str, list[ScoredSample]] = defaultdict(list)
    for sample in samples:
        by_problem[sample.problem].append(sample)
    groups = list(by_problem.values())
    sizes = [len(g) for g in groups]

    def estimate(per_problem: list[float], weights: list[int] | None = None) -> Estimate:
        value = float(np.average(per_problem, weights=weights))
        return Estimate(value, *bootstrap_ci(per_problem, n_resamples, seed, weights=weights))

    accuracy = estimate([float(np.mean([s.score for s in g])) for g in groups], weights=sizes)
    statuses = Counter(s.status for s in samples)
    status_counts = {status: statuses.get(status, 0) for status in STATUSES}
    status_counts.update({s: c for s, c in statuses.items() if s not in status_counts})

    pass_at: dict[int, Estimate] = {}
    maj_at: dict[int, Estimate] = {}
    if max(sizes) > 1:
        for k in powers_of_two_up_to(min(sizes)):
            pass_at[k] = estimate([pass_at_k(len(g), sum(s.score >= 1.0 for s in g), k) for g in groups])
            maj_at[k] = estimate(
                [maj_at_k([s.extracted for s in g], [s.score >= 1.0 for s in g], k, seed=seed) for g in groups]
            )
    by_domain = {}
    for domain in sorted({s.domain for s in samples if s.domain}):
        own = [g for g in groups if g[0].domain == domain]
        by_domain[domain] = estimate([float(np.mean([s.score for s in g])) for g in own], weights=[len(g) for g in own])
    return Summary(
        lines=len(samples),
        problems=len(groups),
        min_samples=min(sizes),
        max_samples=max(sizes),
        malformed=malformed,
        accuracy=accuracy,
        status_counts=status_counts,
        pass_at=pass_at,
        maj_at=maj_at,
        n_resamples=n_resamples,
        seed=seed,
        by_domain=by_domain,
    )
