"""utils.evaluation.judging: a judge's report card on pairs with a known winner."""

import numpy as np

from utils.evaluation import judging


def test_a_perfect_judge_agrees_fully_and_has_no_position_bias():
    row = judging.agreement_row([0.99] * 8, [0.01] * 8, runs=5, n_resamples=100)
    assert row["agreement"] == 1 and row["kappa"] == 1
    assert row["position flip rate"] == 0
    assert row["right wins, shown first"] == row["right wins, shown second"] == 1


def test_a_position_detector_is_at_chance_and_flips_every_time():
    row = judging.agreement_row([0.9] * 8, [0.9] * 8, runs=5, n_resamples=100)  # always "A"
    assert row["agreement"] == 0.5 and row["kappa"] == 0
    assert row["position flip rate"] == 1
    assert row["right wins, shown first"] == 1 and row["right wins, shown second"] == 0


def test_intervals_bracket_the_estimates_and_sampling_adds_noise():
    rng = np.random.default_rng(0)
    p_first, p_swapped = rng.uniform(0.4, 0.9, 30), rng.uniform(0.1, 0.6, 30)
    row = judging.agreement_row(p_first, p_swapped, runs=10, n_resamples=200)
    assert row["agreement low"] <= row["agreement"] <= row["agreement high"]
    assert row["kappa low"] <= row["kappa"] <= row["kappa high"]
    assert 0 < row["verdicts that change between sampled runs"] <= 1  # probabilities near 0.5 flip


def test_pairwise_probability_is_a_softmax_over_two_scores():
    assert judging.pairwise_probability(0.0, 0.0) == 0.5
    assert judging.pairwise_probability(-1.0, -3.0) > 0.85
