import numpy as np
import pytest

from utils.evaluation.metrics import (
    ConfidenceInterval,
    accuracy,
    bootstrap_ci,
    cluster_bootstrap_ci,
    cohens_kappa,
    consistent_verdicts,
    examples_needed,
    f1_per_class,
    first_position_rate,
    judge_mean_ci,
    macro_f1,
    min_detectable_difference,
    pass_at_k,
    position_flip_rate,
    proportion_ci,
)


def test_accuracy_counts_matches():
    assert accuracy(["a", "b", "c", "a"], ["a", "c", "c", "b"]) == 0.5


def test_macro_f1_matches_hand_computation():
    y_true = ["cat", "cat", "cat", "dog", "dog", "bird", "dog"]
    y_pred = ["cat", "cat", "dog", "dog", "cat", "bird", "fish"]
    # cat: TP=2 FP=1 FN=1 -> 4/6; dog: TP=1 FP=1 FN=2 -> 2/5; bird: TP=1 -> 1;
    # fish is predicted once and never true: TP=0 FP=1 -> 0
    per_class = f1_per_class(y_true, y_pred)
    assert per_class == pytest.approx({"bird": 1.0, "cat": 4 / 6, "dog": 2 / 5, "fish": 0.0})
    assert macro_f1(y_true, y_pred) == pytest.approx((1.0 + 4 / 6 + 2 / 5 + 0.0) / 4)


def test_macro_f1_weights_rare_classes_equally():
    y_true = [0] * 9 + [1]
    always_zero = [0] * 10
    assert accuracy(y_true, always_zero) == 0.9
    assert macro_f1(y_true, always_zero) == pytest.approx((2 * 9 / (18 + 1)) / 2)
    assert macro_f1(y_true, always_zero, labels=[0]) == pytest.approx(18 / 19)


def test_bootstrap_interval_covers_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    true_mean, repetitions = 0.3, 300
    covered = 0
    for seed in range(repetitions):
        sample = rng.binomial(1, true_mean, size=200)
        _, low, high = bootstrap_ci(np.mean, sample, n_resamples=1000, seed=seed)
        covered += low <= true_mean <= high
    assert 0.90 <= covered / repetitions <= 0.99


def test_bootstrap_resamples_pairs_and_narrows_with_more_data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    predictions = np.where(rng.random(400) < 0.8, labels, (labels + 1) % 3)
    small = bootstrap_ci(accuracy, labels[:50], predictions[:50], n_resamples=500)
    large = bootstrap_ci(accuracy, labels, predictions, n_resamples=500)
    assert isinstance(large, ConfidenceInterval)
    assert large.estimate == accuracy(labels, predictions)
    assert large.low < large.estimate < large.high
    assert large.high - large.low < small.high - small.low
    # the same seed gives the same interval
    assert bootstrap_ci(accuracy, labels, predictions, n_resamples=500) == large


def test_paired_bootstrap_of_a_difference_between_two_models():
    # model b fixes 30 of model a's 100 mistakes on the same 400 examples and breaks nothing
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 400)
    wrong_a = np.zeros(400, dtype=bool)
    wrong_a[rng.choice(400, 100, replace=False)] = True
    pred_a = np.where(wrong_a, 1 - labels, labels)
    pred_b = pred_a.copy()
    pred_b[np.flatnonzero(wrong_a)[:30]] = labels[np.flatnonzero(wrong_a)[:30]]

    def gain(y, a, b):
        return accuracy(y, b) - accuracy(y, a)

    paired = bootstrap_ci(gain, labels, pred_a, pred_b, n_resamples=1000)
    assert paired.estimate == pytest.approx(30 / 400)
    # resampling examples keeps the pairing: every resample shows a gain, so the interval excludes 0
    assert 0 < paired.low < paired.estimate < paired.high


def _clustered_sample(rng, n_groups=30, per_group=10):
    """Scores with a strong per-group effect (true mean 0): groups are far from independent."""
    group_effect = rng.normal(0, 1, n_groups)
    scores = np.repeat(group_effect, per_group) + rng.normal(0, 0.3, n_groups * per_group)
    return scores, np.repeat(np.arange(n_groups), per_group)


def test_cluster_bootstrap_covers_where_the_example_bootstrap_does_not():
    rng = np.random.default_rng(2)
    repetitions, cluster_hits, example_hits = 60, 0, 0
    for seed in range(repetitions):
        scores, groups = _clustered_sample(rng)
        _, low, high = cluster_bootstrap_ci(np.mean, scores, groups=groups, n_resamples=300, seed=seed)
        cluster_hits += low <= 0 <= high
        _, low, high = bootstrap_ci(np.mean, scores, n_resamples=300, seed=seed)
        example_hits += low <= 0 <= high
    assert cluster_hits / repetitions >= 0.85
    assert example_hits / repetitions <= 0.65


def test_cluster_bootstrap_is_wider_for_correlated_groups():
    scores, groups = _clustered_sample(np.random.default_rng(3))
    cluster = cluster_bootstrap_ci(np.mean, scores, groups=groups, n_resamples=500)
    single = bootstrap_ci(np.mean, scores, n_resamples=500)
    assert cluster.estimate == pytest.approx(single.estimate)
    assert (cluster.high - cluster.low) > 2 * (single.high - single.low)


def test_cluster_bootstrap_passes_paired_samples_to_the_statistic():
    y_true = ["a", "a", "b", "b", "a", "b"]
    y_pred = ["a", "a", "b", "b", "b", "a"]
    result = cluster_bootstrap_ci(accuracy, y_true, y_pred, groups=[1, 1, 2, 2, 3, 3], n_resamples=4000)
    assert result.estimate == pytest.approx(4 / 6)
    # a resample holds three whole groups of accuracy 1, 1 or 0, so it scores k/3 with k ~ Bin(3, 2/3):
    # P(0) = 1/27 and P(1) = 8/27 both exceed 2.5 %, so the 95 % interval runs from 0 to 1
    assert (result.low, result.high) == (0.0, 1.0)
    narrow = cluster_bootstrap_ci(accuracy, y_true, y_pred, groups=[1, 1, 2, 2, 3, 3], n_resamples=4000,
                                  confidence=0.2)  # 40th to 60th percentile: inside P(k = 2) = 12/27
    assert narrow.low == narrow.high == pytest.approx(2 / 3)


def test_proportion_intervals_cover_about_95_percent_and_exact_is_wider():
    rng = np.random.default_rng(0)
    true_share, n = 0.1, 40
    draws = rng.binomial(n, true_share, size=2000)
    for method in ("wilson", "exact"):
        intervals = [proportion_ci(int(k), n, method=method) for k in draws]
        covered = [low <= true_share <= high for _, low, high in intervals]
        assert 0.92 < np.mean(covered) <= 1.0
    wilson, exact = proportion_ci(3, n), proportion_ci(3, n, method="exact")
    assert exact.high - exact.low > wilson.high - wilson.low
    assert proportion_ci(0, n).low == 0.0 and proportion_ci(0, n).high > 0.0  # no zero-width interval at 0


def test_examples_needed_gives_the_promised_power_in_simulation():
    p1, p2 = 0.70, 0.75
    n = examples_needed(p1, p2)
    assert n == 1251
    rng = np.random.default_rng(0)
    hits1, hits2 = rng.binomial(n, p1, 20000) / n, rng.binomial(n, p2, 20000) / n
    pooled = (hits1 + hits2) / 2
    z = (hits2 - hits1) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    assert np.mean(np.abs(z) > 1.959964) == pytest.approx(0.80, abs=0.02)


def test_examples_needed_grows_with_the_inverse_square_of_the_gap():
    assert examples_needed(0.5, 0.6) < examples_needed(0.5, 0.55) < examples_needed(0.5, 0.52)
    assert examples_needed(0.5, 0.51) / examples_needed(0.5, 0.52) == pytest.approx(4, rel=0.01)


def test_min_detectable_difference_inverts_examples_needed():
    gap = min_detectable_difference(1000, baseline=0.5)
    assert gap == pytest.approx(0.0625, abs=0.001)
    assert examples_needed(0.5, 0.5 + gap) in (1000, 1001)
    assert min_detectable_difference(4000, baseline=0.5) == pytest.approx(gap / 2, rel=0.02)


def test_judge_mean_averages_runs_then_bootstraps_items():
    scores = np.array([[4, 3, 5, 2], [5, 3, 4, 2], [4, 4, 5, 2]])
    result = judge_mean_ci(scores, n_resamples=500)
    assert result.estimate == pytest.approx(scores.mean())
    assert 2 <= result.low < result.estimate < result.high <= 5


def test_cohens_kappa_matches_hand_computation():
    # 50 items: both yes 20, a yes / b no 5, a no / b yes 10, both no 15
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    # observed 35/50 = 0.7; chance 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5
    assert cohens_kappa(a, b) == pytest.approx(0.4)
    assert cohens_kappa(a, a) == 1.0


def test_position_bias_of_a_judge_that_always_picks_the_first_answer():
    rng = np.random.default_rng(0)
    honest = rng.choice(["A", "B"], size=100)
    mirrored = np.where(honest == "A", "B", "A")
    assert position_flip_rate(honest, mirrored) == 0.0
    assert first_position_rate(honest, mirrored) == 0.5
    always_first = ["A"] * 100
    assert position_flip_rate(always_first, always_first) == 1.0
    assert first_position_rate(always_first, always_first) == 1.0


def test_consistent_verdicts_keep_only_order_independent_wins():
    first = ["A", "A", "B", "B", "tie", "A"]
    swapped = ["B", "A", "A", "B", "tie", "tie"]
    assert consistent_verdicts(first, swapped).tolist() == ["A", "tie", "B", "tie", "tie", "tie"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy([], []), "y_true is empty"),
        (lambda: accuracy([1, 2, 3], [1, 2]), "y_true has 3, y_pred has 2"),
        (lambda: macro_f1([[1, 2]], [[1, 2]]), "one-dimensional"),
        (lambda: bootstrap_ci(np.mean, [1.0, np.nan]), "NaN at index 1"),
        (lambda: bootstrap_ci(np.mean, [1, 0], confidence=95), r"did you mean 0.95"),
        (lambda: bootstrap_ci(np.mean, [1, 0], confidence=1.0), "strictly between 0 and 1"),
        (lambda: bootstrap_ci(np.mean), r"bootstrap_ci needs at least one sample .* bootstrap_ci\(accuracy"),
        (lambda: cluster_bootstrap_ci(np.mean, groups=[1]), "cluster_bootstrap_ci needs at least one sample"),
        (lambda: bootstrap_ci(np.mean, [1, 0], n_resamples=0), "n_resamples must be at least 1"),
        (lambda: cluster_bootstrap_ci(np.mean, [1, 0, 1], groups=[1, 2]), "groups has 2"),
        (lambda: examples_needed(0.7, 1.2), r"p2 is an accuracy and must lie in \[0, 1\]"),
        (lambda: examples_needed(0.7, 0.7), "zero difference"),
        (lambda: examples_needed(0.7, 0.8, power=80), r"power must lie .* \(e.g. 0.8\).*did you mean 0.8"),
        (lambda: examples_needed(0.7, 0.8, alpha=0), r"alpha must lie .* \(e.g. 0.05\)"),
        (lambda: min_detectable_difference(5, baseline=0.5), "use more examples"),
        (lambda: judge_mean_ci([1, 2, 3]), r"shape \(n_runs, n_items\)"),
        (lambda: cohens_kappa(["y"] * 3, ["y"] * 3), "undefined"),
        (lambda: position_flip_rate(["A", "first"], ["B", "A"]), r"first_order\[1\] is 'first'"),
        (lambda: first_position_rate(["tie"], ["tie"]), "every verdict is a tie"),
        (lambda: proportion_ci(31, 30), "from 0 to n=30"),
        (lambda: proportion_ci(3, 30, method="bootstrap"), "'wilson' or 'exact'"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()



def test_pass_at_k_matches_the_binomial_formula_and_its_edges():
    from math import comb

    for n, c, k in [(10, 3, 1), (10, 3, 5), (20, 0, 4), (8, 7, 2)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)  # pass@1 is the share of correct samples
    assert pass_at_k(5, 2, 4) == 1.0  # fewer than k wrong answers: some drawn answer is right
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(4, 1, 5)
