import numpy as np
import pytest

from utils.evaluation.calibration import (
    apply_temperature,
    confidence_and_correct,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_table,
    simulate_logits,
)


def _ece(logits, labels, temperature=1.0):
    return expected_calibration_error(*confidence_and_correct(apply_temperature(logits, temperature), labels))


def test_reliability_table_by_hand():
    # bin (0.8, 0.9]: confidence 0.85, one of two right; bin (0.5, 0.6]: confidence 0.55, both right
    table = reliability_table([0.85, 0.85, 0.55, 0.55], [1, 0, 1, 1], n_bins=10)
    assert len(table) == 10 and table["count"].sum() == 4
    filled = table[table["count"] > 0]
    assert filled.index.tolist() == [5, 8]
    assert filled["bin_low"].tolist() == pytest.approx([0.5, 0.8])
    assert filled["bin_high"].tolist() == pytest.approx([0.6, 0.9])
    assert filled["accuracy"].tolist() == [1.0, 0.5]
    assert filled["gap"].tolist() == pytest.approx([0.45, -0.35])
    assert table.loc[0, "count"] == 0 and np.isnan(table.loc[0, "accuracy"])
    # ECE = 0.5 * 0.45 + 0.5 * 0.35; with two bins all four share (0.5, 1], where the opposite gaps
    # nearly cancel: accuracy 0.75 against mean confidence 0.70
    assert expected_calibration_error([0.85, 0.85, 0.55, 0.55], [1, 0, 1, 1], n_bins=10) == pytest.approx(0.4)
    assert expected_calibration_error([0.85, 0.85, 0.55, 0.55], [1, 0, 1, 1], n_bins=2) == pytest.approx(0.05)


def test_bins_include_their_upper_edge_and_zero_joins_the_first():
    table = reliability_table([0.0, 0.5, 1.0], [False, True, True], n_bins=2)
    assert table["count"].tolist() == [2, 1]


def test_ece_near_zero_for_a_calibrated_model_and_high_for_an_overconfident_one():
    logits, labels = simulate_logits(20_000, overconfidence=1.0, seed=0)
    assert _ece(logits, labels) < 0.02
    sharp_logits, sharp_labels = simulate_logits(20_000, overconfidence=2.5, seed=0)
    assert _ece(sharp_logits, sharp_labels) > 0.1
    # overconfident: every filled bin's accuracy sits below its confidence
    confidence, correct = confidence_and_correct(apply_temperature(sharp_logits, 1.0), sharp_labels)
    table = reliability_table(confidence, correct, n_bins=10)
    assert (table.loc[table["count"] > 200, "gap"] < 0).all()


@pytest.mark.parametrize("distortion", [2.5, 0.5])
def test_temperature_scaling_recovers_the_distortion_and_lowers_ece_and_nll(distortion):
    logits, labels = simulate_logits(10_000, overconfidence=distortion, seed=1)
    validation, test = slice(0, 5000), slice(5000, None)
    temperature = fit_temperature(logits[validation], labels[validation])
    assert temperature == pytest.approx(distortion, rel=0.1)
    assert _ece(logits[test], labels[test], temperature) < 0.03 < _ece(logits[test], labels[test])
    assert (negative_log_likelihood(logits[test], labels[test], temperature)
            < negative_log_likelihood(logits[test], labels[test]))
    # dividing by T keeps every argmax, so accuracy does not move
    unscaled = apply_temperature(logits, 1.0).argmax(axis=1)
    assert (apply_temperature(logits, temperature).argmax(axis=1) == unscaled).all()


def test_fitted_temperature_is_one_for_a_calibrated_model():
    logits, labels = simulate_logits(5000, overconfidence=1.0, seed=2)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.1)


def test_negative_log_likelihood_known_values():
    assert negative_log_likelihood([[0.0, 0.0]], [0]) == pytest.approx(np.log(2))
    # softmax([ln 3, 0]) = [0.75, 0.25]
    assert negative_log_likelihood([[np.log(3), 0.0]], [1]) == pytest.approx(-np.log(0.25))
    # a huge temperature flattens any logits to uniform: NLL -> log(number of classes)
    assert negative_log_likelihood([[5.0, -2.0, 1.0]], [2], temperature=1e6) == pytest.approx(np.log(3))


def test_apply_temperature_and_confidence_and_correct():
    probabilities = apply_temperature([[2.0, 0.0], [0.0, 0.0]], temperature=2.0)
    assert probabilities.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert probabilities[0, 0] == pytest.approx(1 / (1 + np.exp(-1)))
    confidence, correct = confidence_and_correct([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], [0, 1])
    assert confidence.tolist() == [0.7, 0.6] and correct.tolist() == [True, False]


def test_simulated_labels_follow_the_true_probabilities():
    logits, labels = simulate_logits(20_000, n_classes=3, overconfidence=1.0, seed=3)
    assert set(np.unique(labels)) == {0, 1, 2}
    expected = apply_temperature(logits, 1.0).mean(axis=0)
    observed = np.bincount(labels, minlength=3) / len(labels)
    assert observed == pytest.approx(expected, abs=0.015)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_calibration_error([], []), "confidences is empty"),
        (lambda: expected_calibration_error([0.5, 0.7], [1]), "confidences has 2, correct has 1"),
        (lambda: expected_calibration_error([0.5, 1.2], [1, 0]),
         r"confidences\[1\] is 1.2, outside \[0, 1\]"),
        (lambda: reliability_table([0.5, 0.7], [1, 2]), r"correct\[1\] is 2"),
        (lambda: reliability_table([0.5], [1], n_bins=0), "n_bins must be at least 1, got 0"),
        (lambda: confidence_and_correct([[0.5, 1.5]], [0]), r"row 0 has a value outside \[0, 1\]"),
        (lambda: confidence_and_correct([[0.5, 0.5]], [0, 1]), "probabilities has 1, labels has 2"),
        (lambda: negative_log_likelihood([0.1, 0.9], [1]), r"shape \(n_examples, n_classes\)"),
        (lambda: negative_log_likelihood([[0.1, np.nan]], [1]), "row 0 holds a NaN"),
        (lambda: negative_log_likelihood([[0.1, 0.2]], [2]), r"labels\[0\] is 2; .* from 0 to 1"),
        (lambda: apply_temperature([[1.0, 0.0]], temperature=0), "temperature must be a positive number"),
        (lambda: fit_temperature([[1.0, 0.0]], [0], bounds=(2.0, 1.0)), "0 < low < high"),
        (lambda: simulate_logits(10, overconfidence=-1), "overconfidence must be a positive number"),
        (lambda: simulate_logits(10, n_classes=1), "n_classes must be at least 2"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_ece_is_the_count_weighted_gap_of_the_reliability_table():
    rng = np.random.default_rng(3)
    confidences = rng.random(500)
    correct = rng.random(500) < confidences ** 2  # overconfident
    table = reliability_table(confidences, correct, n_bins=12)
    filled = table[table["count"] > 0]
    by_table = float((filled["count"] / len(confidences) * filled["gap"].abs()).sum())
    assert expected_calibration_error(confidences, correct, n_bins=12) == pytest.approx(by_table)
    assert by_table > 0.1
