"""Evaluation metrics with honest error bars: accuracy, macro-F1, bootstrap intervals, sample sizes,
and checks of an LLM judge (agreement between raters, position bias).

A score on a test set of a few hundred examples is an estimate; this module puts an interval on it
(``bootstrap_ci``, or ``cluster_bootstrap_ci`` when examples come in correlated groups such as the
picks of one draft; ``proportion_ci`` for a share of successes, exact or Wilson), says how many
examples a difference of a few points needs
(``examples_needed``, ``min_detectable_difference``) and measures how far an LLM judge can be
trusted (``judge_mean_ci``, ``cohens_kappa``, ``position_flip_rate``, ``first_position_rate``,
``consistent_verdicts``).

Example:
    >>> from utils.evaluation.metrics import accuracy, bootstrap_ci
    >>> y_true, y_pred = ["a", "b", "b", "a"], ["a", "b", "a", "a"]
    >>> accuracy(y_true, y_pred)
    0.75
    >>> bootstrap_ci(accuracy, y_true, y_pred, n_resamples=1000).low <= 0.75
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import optimize, stats

from utils.core.checks import as_1d, check_confidence, check_positive_int, check_same_length

VERDICTS = ("A", "B", "tie")  # what a pairwise judge may answer: the first shown, the second, or a tie


class ConfidenceInterval(NamedTuple):
    """A point estimate with the bounds of its confidence interval (unpacks as a 3-tuple)."""

    estimate: float
    low: float
    high: float


def _labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    check_same_length([y_true, y_pred], ["y_true", "y_pred"])
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """The fraction of examples where the prediction equals the label.

    Example:
        >>> accuracy([1, 0, 1, 1], [1, 1, 1, 0])
        0.5
    """
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def f1_per_class(y_true, y_pred, labels: Sequence | None = None) -> dict:
    """F1 = 2 TP / (2 TP + FP + FN) of each class, 0.0 for a class never predicted nor present.

    ``labels`` defaults to every class seen in ``y_true`` or ``y_pred``, sorted.

    Example:
        >>> f1_per_class(["a", "a", "b"], ["a", "b", "b"])
        {'a': 0.6666666666666666, 'b': 0.6666666666666666}
    """
    y_true, y_pred = _labels(y_true, y_pred)
    classes = np.unique(np.concatenate([y_true, y_pred])) if labels is None else list(labels)
    scores = {}
    for label in classes:
        true_pos = np.sum((y_pred == label) & (y_true == label))
        false_pos = np.sum((y_pred == label) & (y_true != label))
        false_neg = np.sum((y_pred != label) & (y_true == label))
        denominator = 2 * true_pos + false_pos + false_neg
        key = label.item() if isinstance(label, np.generic) else label
        scores[key] = float(2 * true_pos / denominator) if denominator else 0.0
    return scores


def macro_f1(y_true, y_pred, labels: Sequence | None = None) -> float:
    """The unweighted mean of the per-class F1 scores: every class counts the same, rare or common.

    Same definition as scikit-learn's ``f1_score(average="macro")`` (classes from both arrays).

    Example:
        >>> macro_f1(["a", "a", "a", "b"], ["a", "a", "a", "a"])  # F1(a) = 6/7, F1(b) = 0
        0.42857142857142855
    """
    return float(np.mean(list(f1_per_class(y_true, y_pred, labels).values())))


def _percentile_interval(estimate: float, replicates: np.ndarray, confidence: float) -> ConfidenceInterval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return ConfidenceInterval(float(estimate), float(low), float(high))


def _bootstrap_samples(samples: tuple, confidence: float, n_resamples: int, usage: str) -> list[np.ndarray]:
    """The samples as 1-D arrays of one length, after checking the bootstrap's settings; ``usage``
    is the call the error for no sample suggests, e.g. ``"bootstrap_ci(accuracy, y_true, y_pred)"``."""
    check_confidence(confidence)
    check_positive_int(n_resamples, "n_resamples")
    if not samples:
        raise ValueError(f"{usage.split('(')[0]} needs at least one sample after the statistic, "
                         f"e.g. {usage}.")
    arrays = [as_1d(s, f"sample {i}") for i, s in enumerate(samples)]
    check_same_length(arrays, [f"sample {i}" for i in range(len(arrays))])
    return arrays


def bootstrap_ci(statistic: Callable[..., float], *samples, n_resamples: int = 2000,
                 confidence: float = 0.95, seed: int = 0) -> ConfidenceInterval:
    """Percentile bootstrap interval of ``statistic(*samples)``, resampling examples with replacement.

    The samples are paired (row i of each belongs to example i), so ``bootstrap_ci(accuracy, y_true,
    y_pred)`` resamples examples, not labels and predictions separately. Runs on
    ``scipy.stats.bootstrap`` (Efron & Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13);
    a ``statistic`` with an ``axis`` argument (like ``np.mean``) is evaluated vectorised.

    Example:
        >>> estimate, low, high = bootstrap_ci(np.mean, [0, 1, 1, 1, 0, 1, 1, 0], seed=0)
        >>> estimate, low < estimate < high
        (0.625, True)
    """
    arrays = _bootstrap_samples(samples, confidence, n_resamples, "bootstrap_ci(accuracy, y_true, y_pred)")
    estimate = statistic(*arrays)
    if len(arrays[0]) == 1:  # a single example: every resample is the example itself
        return ConfidenceInterval(float(estimate), float(estimate), float(estimate))
    result = stats.bootstrap(arrays, statistic, n_resamples=n_resamples, confidence_level=confidence,
                             method="percentile", paired=True, rng=np.random.default_rng(seed))
    return ConfidenceInterval(float(estimate), float(result.confidence_interval.low),
                              float(result.confidence_interval.high))


def cluster_bootstrap_ci(statistic: Callable[..., float], *samples, groups, n_resamples: int = 2000,
                         confidence: float = 0.95, seed: int = 0) -> ConfidenceInterval:
    """Percentile bootstrap interval that resamples whole groups (e.g. drafts), not single examples.

    Picks from the same draft share a player and a card pool, so they are not independent; resampling
    them one by one makes the interval too narrow. Here each resample draws as many groups as there
    are, with replacement, and keeps every example of each drawn group (Davison & Hinkley, Bootstrap
    Methods and their Application, 1997, on hierarchical data).

    Example:
        >>> correct = [1, 1, 1, 0, 0, 0]
        >>> cluster_bootstrap_ci(np.mean, correct, groups=["d1", "d1", "d1", "d2", "d2", "d2"]).estimate
        0.5
    """
    arrays = _bootstrap_samples(samples, confidence, n_resamples,
                                "cluster_bootstrap_ci(accuracy, y_true, y_pred, groups=draft_ids)")
    groups = as_1d(groups, "groups")
    check_same_length(arrays + [groups], [f"sample {i}" for i in range(len(arrays))] + ["groups"])
    _, group_index = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(group_index == g) for g in range(group_index.max() + 1)]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(members), size=(n_resamples, len(members)))
    replicates = np.empty(n_resamples)
    for r, drawn in enumerate(draws):
        rows = np.concatenate([members[g] for g in drawn])
        replicates[r] = statistic(*(a[rows] for a in arrays))
    return _percentile_interval(statistic(*arrays), replicates, confidence)


def proportion_ci(successes: int, n: int, confidence: float = 0.95,
                  method: str = "wilson") -> ConfidenceInterval:
    """Interval for a share of successes out of ``n`` independent trials, without resampling:
    ``"wilson"`` (Wilson, 1927: good coverage even near 0 or 1 and for small n) or ``"exact"``
    (Clopper-Pearson, 1934: never under-covers, a little wide). Runs on ``scipy.stats.binomtest``.

    Example:
        >>> [round(x, 3) for x in proportion_ci(1, 30)]  # one valid list in thirty
        [0.033, 0.006, 0.167]
    """
    check_confidence(confidence)
    check_positive_int(n, "n")
    if not (isinstance(successes, (int, np.integer)) and 0 <= successes <= n):
        raise ValueError(f"successes must be a whole number from 0 to n={n}, got {successes!r}.")
    if method not in {"wilson", "exact"}:
        raise ValueError(f"method must be 'wilson' or 'exact', got {method!r}.")
    interval = stats.binomtest(int(successes), int(n)).proportion_ci(confidence, method=method)
    return ConfidenceInterval(successes / n, float(interval.low), float(interval.high))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of ``k`` answers drawn without replacement from ``n`` sampled
    answers, ``c`` of them correct, is correct: the unbiased pass@k estimator of Chen et al. 2021
    (arXiv 2107.03374), ``1 - C(n - c, k) / C(n, k)``, in their numerically stable product form.

    Example:
        >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 4), round(pass_at_k(10, 3, 2), 4)
        (0.25, 1.0, 0.5333)
    """
    check_positive_int(n, "n")
    check_positive_int(k, "k")
    if not (isinstance(c, (int, np.integer)) and 0 <= c <= n) or k > n:
        raise ValueError(f"need 0 <= c <= n and k <= n; got n={n}, c={c!r}, k={k}.")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _z(probability: float) -> float:
    return float(stats.norm.ppf(probability))


def examples_needed(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Examples per model to tell accuracies ``p1`` and ``p2`` apart with a two-sided z-test.

    The two-proportion formula without continuity correction (Fleiss, Levin & Paik, Statistical
    Methods for Rates and Proportions, 3rd ed. 2003, ch. 4), for two independent test sets of
    equal size. Two models scored on the *same* examples usually need fewer (a paired McNemar test),
    so this is a safe upper figure.

    Example:
        >>> examples_needed(0.70, 0.75)  # five points at 70 % accuracy
        1251
    """
    return math.ceil(_examples_needed(p1, p2, alpha, power))


def _examples_needed(p1: float, p2: float, alpha: float, power: float) -> float:
    for name, value in (("p1", p1), ("p2", p2)):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} is an accuracy and must lie in [0, 1], got {value!r}.")
    if p1 == p2:
        raise ValueError(f"p1 and p2 are both {p1}: no number of examples detects a zero difference.")
    check_confidence(alpha, "alpha", example=0.05)
    check_confidence(power, "power", example=0.8)
    p_bar = (p1 + p2) / 2
    spread = (_z(1 - alpha / 2) * math.sqrt(2 * p_bar * (1 - p_bar))
              + _z(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    return spread**2 / (p1 - p2) ** 2


def min_detectable_difference(n: int, baseline: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest accuracy gain over ``baseline`` that ``n`` examples per model detect.

    Inverts ``examples_needed`` (same test and assumptions) with a root finder.

    Example:
        >>> round(min_detectable_difference(1000, baseline=0.5), 3)  # about 6 points
        0.062
    """
    n = check_positive_int(n, "n")
    if not 0 <= baseline < 1:
        raise ValueError(f"baseline is an accuracy and must lie in [0, 1), got {baseline!r}.")
    ceiling = 1 - baseline
    if _examples_needed(baseline, 1.0, alpha, power) > n:
        raise ValueError(f"{n} examples cannot detect even a jump from {baseline} to 1.0 at "
                         f"alpha={alpha}, power={power}; use more examples.")
    return float(optimize.brentq(lambda d: _examples_needed(baseline, baseline + d, alpha, power) - n,
                                 1e-9 * ceiling, ceiling))


def judge_mean_ci(scores, confidence: float = 0.95, n_resamples: int = 2000,
                  seed: int = 0) -> ConfidenceInterval:
    """Mean judge score over items, each item averaged over repeated judge runs, with a bootstrap CI.

    ``scores`` has shape ``(n_runs, n_items)``: row r holds run r's score of every item. Averaging
    runs first removes part of the judge's sampling noise; the interval then resamples items.

    Example:
        >>> round(judge_mean_ci([[4, 3, 5, 2], [5, 3, 4, 2], [4, 4, 5, 2]]).estimate, 3)
        3.583
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must have shape (n_runs, n_items) with at least one of each, "
                         f"got shape {scores.shape}; wrap a single run as [scores].")
    if np.isnan(scores).any():
        run, item = np.argwhere(np.isnan(scores))[0]
        raise ValueError(f"scores contains NaN at run {run}, item {item}; re-run or drop that item.")
    return bootstrap_ci(np.mean, scores.mean(axis=0), confidence=confidence,
                        n_resamples=n_resamples, seed=seed)


def cohens_kappa(ratings_a, ratings_b) -> float:
    """Agreement of two raters (two judges, or a judge and humans) beyond chance: 1 perfect, 0 chance.

    kappa = (p_observed - p_chance) / (1 - p_chance), with p_chance from each rater's label
    frequencies (Cohen, Educational and Psychological Measurement 20(1), 1960).

    Example:
        >>> cohens_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"])
        0.5
    """
    a, b = as_1d(ratings_a, "ratings_a"), as_1d(ratings_b, "ratings_b")
    check_same_length([a, b], ["ratings_a", "ratings_b"])
    observed = float(np.mean(a == b))
    labels = np.unique(np.concatenate([a, b]))
    chance = float(sum(np.mean(a == label) * np.mean(b == label) for label in labels))
    if chance == 1.0:
        raise ValueError("both raters gave one and the same label to every item, so kappa is undefined "
                         "(0/0); report the raw agreement instead.")
    return (observed - chance) / (1 - chance)


def _verdicts(first_order, swapped_order) -> tuple[np.ndarray, np.ndarray]:
    first, swapped = as_1d(first_order, "first_order"), as_1d(swapped_order, "swapped_order")
    check_same_length([first, swapped], ["first_order", "swapped_order"])
    for name, array in (("first_order", first), ("swapped_order", swapped)):
        unknown = ~np.isin(array, VERDICTS)
        if unknown.any():
            index = int(np.flatnonzero(unknown)[0])
            raise ValueError(f"{name}[{index}] is {array[index].item()!r}; a verdict must be one of "
                             f"{VERDICTS} ('A' = the answer shown first won).")
    return first, swapped


def _mirrored(swapped: np.ndarray) -> np.ndarray:
    """Swapped-order verdicts renamed to the original order: 'A' <-> 'B', ties stay ties."""
    return np.select([swapped == "A", swapped == "B"], ["B", "A"], "tie")


def position_flip_rate(first_order, swapped_order) -> float:
    """How often the judge's verdict changes when the two answers are shown in the other order.

    ``first_order[i]`` is the verdict with answer X shown first (as 'A'), ``swapped_order[i]`` the
    verdict on the same pair with Y shown first. A consistent judge answers 'A' then 'B' (X wins
    both times), 'B' then 'A', or 'tie' twice; anything else counts as a flip (Zheng et al., Judging
    LLM-as-a-Judge with MT-Bench and Chatbot Arena, NeurIPS 2023).

    Example:
        >>> position_flip_rate(["A", "A", "B", "tie"], ["B", "A", "A", "tie"])
        0.25
    """
    first, swapped = _verdicts(first_order, swapped_order)
    return float(np.mean(first != _mirrored(swapped)))


def consistent_verdicts(first_order, swapped_order) -> np.ndarray:
    """One verdict per pair from both orders: 'A' or 'B' only when the same answer won both times.

    Verdicts are named as in ``first_order`` ('A' = the answer shown first there); a pair whose
    verdict flips with the order becomes a 'tie', the conservative rule of Zheng et al. (2023).

    Example:
        >>> consistent_verdicts(["A", "A", "B"], ["B", "A", "A"]).tolist()
        ['A', 'tie', 'B']
    """
    first, swapped = _verdicts(first_order, swapped_order)
    return np.where(first == _mirrored(swapped), first, "tie")


def first_position_rate(first_order, swapped_order) -> float:
    """Share of decisive verdicts (ties left out) that went to the answer shown first; 0.5 is unbiased.

    Example:
        >>> first_position_rate(["A", "A", "B", "tie"], ["A", "A", "A", "tie"])
        0.8333333333333334
    """
    first, swapped = _verdicts(first_order, swapped_order)
    verdicts = np.concatenate([first, swapped])
    decisive = verdicts[verdicts != "tie"]
    if decisive.size == 0:
        raise ValueError("every verdict is a tie, so no position preference can be measured.")
    return float(np.mean(decisive == "A"))
