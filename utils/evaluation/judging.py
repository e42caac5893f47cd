"""Measuring a judge on pairs with a known winner (notebook 09, section 4).

Each pair is shown twice, the right answer first and then second. A judge gives, per showing, the
probability that the answer shown first wins (``p_first`` with the right answer first,
``p_swapped`` with it second). ``agreement_row`` turns these into the numbers a judge must pass
before it is trusted: agreement and Cohen's kappa with the code judge (both with a bootstrap
interval over pairs), position bias (Zheng et al. 2023) and run-to-run noise of sampled verdicts.

Example:
    >>> row = agreement_row([0.9, 0.8, 0.3, 0.7], [0.2, 0.4, 0.6, 0.1], runs=5, n_resamples=200)
    >>> row["agreement"], row["right wins, shown first"], row["right wins, shown second"]
    (0.75, 0.75, 0.75)
"""

from __future__ import annotations

import numpy as np

from utils.evaluation import metrics


def _verdicts(p_first_wins) -> np.ndarray:
    return np.where(np.asarray(p_first_wins, dtype=float) > 0.5, "A", "B")


def pairwise_probability(score_first, score_second) -> np.ndarray:
    """P(the answer shown first wins) from two scores (log-likelihoods): a softmax over the pair."""
    return 1 / (1 + np.exp(np.asarray(score_second, dtype=float) - np.asarray(score_first, dtype=float)))


def agreement_row(p_first, p_swapped, runs: int = 10, n_resamples: int = 1000, seed: int = 0) -> dict:
    """The judge's report card on pairs whose right answer is known (see the module's docstring)."""
    p_first, p_swapped = np.asarray(p_first, dtype=float), np.asarray(p_swapped, dtype=float)
    n = len(p_first)
    first, swapped = _verdicts(p_first), _verdicts(p_swapped)
    truth = np.array(["A"] * n + ["B"] * n)  # the right answer was shown first, then second
    greedy = np.concatenate([first, swapped])

    def stats(statistic):
        return metrics.bootstrap_ci(lambda idx: statistic(np.concatenate([idx, idx + n]).astype(int)),
                                    np.arange(n), n_resamples=n_resamples, seed=seed)

    agree = stats(lambda rows: float(np.mean(truth[rows] == greedy[rows])))
    kappa = stats(lambda rows: metrics.cohens_kappa(truth[rows], greedy[rows]))
    rng = np.random.default_rng(seed)
    p_all = np.concatenate([p_first, p_swapped])
    sampled = np.where(rng.random((runs, 2 * n)) < p_all, "A", "B")  # one verdict per run at temperature 1
    run_agreement = (sampled == truth).mean(axis=1)
    return {"pairs": n, "agreement": agree.estimate, "agreement low": agree.low, "agreement high": agree.high,
            "kappa": kappa.estimate, "kappa low": kappa.low, "kappa high": kappa.high,
            "right wins, shown first": float(np.mean(first == "A")),
            "right wins, shown second": float(np.mean(swapped == "B")),
            "position flip rate": metrics.position_flip_rate(first, swapped),
            "verdicts that change between sampled runs": float(np.mean(~(sampled == sampled[0]).all(axis=0))),
            "agreement of single sampled runs": f"{run_agreement.min():.2f}-{run_agreement.max():.2f}"}
