"""Calibration: does a model that says "90 % sure" turn out right 90 % of the time?

``reliability_table`` bins predictions by confidence and compares each bin's mean confidence with
its accuracy (the numbers behind a reliability diagram); ``expected_calibration_error`` sums the
gaps, weighted by bin size. ``fit_temperature`` finds the one number T that, dividing the logits,
minimises the negative log-likelihood on validation data; ``apply_temperature`` uses it. Dividing
by T never changes the argmax, so accuracy stays the same while confidence becomes honest
(Guo et al., On Calibration of Modern Neural Networks, ICML 2017).

Example:
    >>> from utils.evaluation.calibration import (apply_temperature, confidence_and_correct,
    ...                                expected_calibration_error, fit_temperature, simulate_logits)
    >>> logits, labels = simulate_logits(4000, overconfidence=3.0, seed=0)
    >>> temperature = fit_temperature(logits, labels)  # close to 3
    >>> before = expected_calibration_error(*confidence_and_correct(apply_temperature(logits, 1.0), labels))
    >>> after = expected_calibration_error(*confidence_and_correct(apply_temperature(logits, temperature),
    ...                                                            labels))
    >>> after < before
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, special

from utils.core.checks import as_1d, check_int, check_positive, check_positive_int, check_same_length

DEFAULT_BINS = 15  # Guo et al. (2017) report ECE with 15 equal-width bins


def _confidences_and_correct(confidences, correct) -> tuple[np.ndarray, np.ndarray]:
    confidences = as_1d(confidences, "confidences").astype(float)
    correct = as_1d(correct, "correct")
    check_same_length([confidences, correct], ["confidences", "correct"])
    outside = (confidences < 0) | (confidences > 1)
    if outside.any():
        index = int(np.flatnonzero(outside)[0])
        raise ValueError(f"confidences[{index}] is {float(confidences[index])!r}, outside [0, 1]; pass "
                         "probabilities (apply softmax to logits first).")
    not_binary = ~np.isin(correct, (0, 1))
    if not_binary.any():
        index = int(np.flatnonzero(not_binary)[0])
        raise ValueError(f"correct[{index}] is {correct[index].item()!r}; correct must hold 1/True for a "
                         "right prediction and 0/False for a wrong one.")
    return confidences, correct.astype(float)


def _bin_index(confidences: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each confidence among ``n_bins`` equal bins (0, 1/M], (1/M, 2/M], ...; 0 joins the first."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, confidences, side="left") - 1, 0, n_bins - 1)


def reliability_table(confidences, correct, n_bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Per confidence bin: its edges, how many predictions fall in it, their mean confidence and accuracy.

    ``gap`` is accuracy minus confidence: negative where the model is overconfident. Empty bins keep
    their row with count 0 and NaN means. For a yes/no task, pass P(yes) as ``confidences`` and
    whether the answer was yes as ``correct`` to get the classic calibration curve instead.

    Example:
        >>> table = reliability_table([0.85, 0.85, 0.55, 0.55], [1, 0, 1, 1], n_bins=10)
        >>> table.loc[table["count"] > 0, ["confidence", "accuracy", "gap"]].round(2).values.tolist()
        [[0.55, 1.0, 0.45], [0.85, 0.5, -0.35]]
    """
    confidences, correct = _confidences_and_correct(confidences, correct)
    n_bins = check_positive_int(n_bins, "n_bins")
    frame = pd.DataFrame({"bin": _bin_index(confidences, n_bins), "confidence": confidences,
                          "accuracy": correct})
    grouped = frame.groupby("bin").agg(count=("accuracy", "size"), confidence=("confidence", "mean"),
                                       accuracy=("accuracy", "mean"))
    table = grouped.reindex(range(n_bins))
    table["count"] = table["count"].fillna(0).astype(int)
    table.insert(0, "bin_low", np.arange(n_bins) / n_bins)
    table.insert(1, "bin_high", np.arange(1, n_bins + 1) / n_bins)
    table["gap"] = table["accuracy"] - table["confidence"]
    return table.rename_axis("bin")


def expected_calibration_error(confidences, correct, n_bins: int = DEFAULT_BINS) -> float:
    """ECE = sum over bins of (bin size / n) * |accuracy - mean confidence| (Guo et al. 2017).

    0 for a perfectly calibrated model (up to sampling noise, which grows with fewer examples per bin).

    Example:
        >>> round(expected_calibration_error([0.85, 0.85, 0.55, 0.55], [1, 0, 1, 1], n_bins=10), 6)
        0.4
    """
    confidences, correct = _confidences_and_correct(confidences, correct)
    bins = _bin_index(confidences, check_positive_int(n_bins, "n_bins"))
    # (count / n) * |mean accuracy - mean confidence| per bin is |sum of (correct - confidence)| / n:
    # no table needed, so a bootstrap can call it thousands of times
    gaps = np.bincount(bins, weights=correct - confidences, minlength=n_bins)
    return float(np.abs(gaps).sum() / len(confidences))


def _logits_and_labels(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=float)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (n_examples, n_classes) with at least one example and "
                         f"two classes, got shape {logits.shape}.")
    if not np.isfinite(logits).all():
        row = int(np.argwhere(~np.isfinite(logits))[0][0])
        raise ValueError(f"logits row {row} holds a NaN or infinite value; drop that example.")
    labels = as_1d(labels, "labels")
    check_same_length([logits, labels], ["logits", "labels"])
    valid = np.isin(labels, np.arange(logits.shape[1]))
    if not valid.all():
        index = int(np.flatnonzero(~valid)[0])
        raise ValueError(f"labels[{index}] is {labels[index].item()!r}; a label must be a class index "
                         f"from 0 to {logits.shape[1] - 1} (a column of logits).")
    return logits, labels.astype(int)


def _check_temperature(value: float, name: str = "temperature") -> float:
    return check_positive(value, name, hint="1.0 leaves the logits as they are")


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Class probabilities softmax(logits / temperature), one row per example.

    Example:
        >>> apply_temperature([[2.0, 0.0]], temperature=2.0).round(3).tolist()  # softmax([1, 0])
        [[0.731, 0.269]]
    """
    logits = np.asarray(logits, dtype=float)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (n_examples, n_classes), got shape {logits.shape}.")
    return special.softmax(logits / _check_temperature(temperature), axis=1)


def confidence_and_correct(probabilities, labels) -> tuple[np.ndarray, np.ndarray]:
    """Each example's top probability and whether that top class is the label (the inputs of ECE).

    Example:
        >>> confidence_and_correct([[0.7, 0.3], [0.4, 0.6]], [0, 0])
        (array([0.7, 0.6]), array([ True, False]))
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.size == 0:
        raise ValueError(f"probabilities must have shape (n_examples, n_classes), got {probabilities.shape}.")
    if (probabilities < 0).any() or (probabilities > 1).any():
        row = int(np.argwhere((probabilities < 0) | (probabilities > 1))[0][0])
        raise ValueError(f"probabilities row {row} has a value outside [0, 1]; "
                         "apply softmax to logits first.")
    labels = as_1d(labels, "labels")
    check_same_length([probabilities, labels], ["probabilities", "labels"])
    return probabilities.max(axis=1), probabilities.argmax(axis=1) == labels


def negative_log_likelihood(logits, labels, temperature: float = 1.0) -> float:
    """Mean -log P(label) under softmax(logits / temperature), in nats.

    Example:
        >>> round(negative_log_likelihood([[0.0, 0.0]], [0]), 4)  # a coin flip: log 2
        0.6931
    """
    logits, labels = _logits_and_labels(logits, labels)
    scaled = logits / _check_temperature(temperature)
    log_probabilities = scaled - special.logsumexp(scaled, axis=1, keepdims=True)
    return float(-log_probabilities[np.arange(len(labels)), labels].mean())


def fit_temperature(logits, labels, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature that minimises the validation NLL of softmax(logits / T) (Guo et al. 2017).

    Fit it on validation data, then report calibration on separate test data. The search runs over
    log T within ``bounds`` with scipy's bounded scalar minimiser.

    Example:
        >>> logits, labels = simulate_logits(2000, overconfidence=2.0, seed=1)
        >>> 1.7 < fit_temperature(logits, labels) < 2.3
        True
    """
    logits, labels = _logits_and_labels(logits, labels)
    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"bounds must be (low, high) with 0 < low < high, got {bounds!r}.")
    result = optimize.minimize_scalar(lambda log_t: negative_log_likelihood(logits, labels, np.exp(log_t)),
                                      bounds=(np.log(low), np.log(high)), method="bounded",
                                      options={"xatol": 1e-6})
    return float(np.exp(result.x))


def simulate_logits(n_examples: int, n_classes: int = 4, overconfidence: float = 1.0,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a simulated classifier and labels drawn from its own probabilities.

    Each label is drawn from softmax(true logits), so the true logits are perfectly calibrated;
    the returned logits are the true ones times ``overconfidence`` (above 1: too sure of itself,
    below 1: too timid). Temperature scaling should then find T close to ``overconfidence``.

    Example:
        >>> logits, labels = simulate_logits(5, n_classes=3)
        >>> logits.shape, labels.shape
        ((5, 3), (5,))
    """
    n_examples = check_positive_int(n_examples, "n_examples")
    check_int(n_classes, "n_classes", low=2)
    overconfidence = _check_temperature(overconfidence, "overconfidence")
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0.0, 2.0, size=(n_examples, n_classes))
    probabilities = special.softmax(true_logits, axis=1)
    labels = (rng.random((n_examples, 1)) > probabilities.cumsum(axis=1)).sum(axis=1)
    return true_logits * overconfidence, np.minimum(labels, n_classes - 1)
