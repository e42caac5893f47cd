import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.stats import spearmanr

from utils.evaluation.ratings import (
    bootstrap_ratings,
    bradley_terry,
    elo_history,
    elo_ratings,
    expected_score,
    simulate_matches,
)

TRUE_RATINGS = {f"model_{i}": 800.0 + 80.0 * i for i in range(8)}  # mean 1080


def _games(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["player_a", "player_b", "score_a"])


def _rank_correlation(ratings: pd.Series) -> float:
    return spearmanr([TRUE_RATINGS[p] for p in ratings.index], ratings.to_numpy()).statistic


def test_expected_score_follows_the_elo_curve():
    assert expected_score(1000, 1000) == 0.5
    assert expected_score(1400, 1000) == pytest.approx(10 / 11)  # 400 points: odds of 10 to 1
    assert expected_score(1000, 1400) + expected_score(1400, 1000) == pytest.approx(1.0)


def test_simulated_win_rate_matches_the_rating_gap():
    matches = simulate_matches({"strong": 1200, "weak": 1000}, n_matches=20_000, seed=1)
    assert (matches["player_a"] != matches["player_b"]).all()
    strong_wins = np.where(matches["player_a"] == "strong", matches["score_a"], 1 - matches["score_a"])
    assert strong_wins.mean() == pytest.approx(expected_score(1200, 1000), abs=0.01)


def test_elo_single_match_by_hand():
    # both at 1000, expected 0.5: the winner gains k * 0.5 and the loser loses as much
    ratings = elo_ratings(_games([("x", "y", 1.0)]), k=40)
    assert ratings.to_dict() == {"x": 1020.0, "y": 980.0}
    tie = elo_ratings(_games([("x", "y", 0.5)]), initial=1500)
    assert tie.to_dict() == {"x": 1500.0, "y": 1500.0}


def test_elo_conserves_total_rating_and_history_ends_at_the_ratings():
    matches = simulate_matches(TRUE_RATINGS, n_matches=300, seed=2)
    history = elo_history(matches)
    assert history.shape == (300, 8)
    assert history.sum(axis=1).to_numpy() == pytest.approx(np.full(300, 8 * 1000.0))
    pd.testing.assert_series_equal(history.iloc[-1], elo_ratings(matches), check_names=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elo_and_bradley_terry_recover_the_true_order(seed):
    matches = simulate_matches(TRUE_RATINGS, n_matches=3000, seed=seed)
    assert _rank_correlation(elo_ratings(matches)) >= 0.9
    strengths = bradley_terry(matches)
    assert _rank_correlation(strengths) >= 0.95
    # the true ratings shifted to the anchor's mean 1000, recovered to within sampling error
    centred = np.array([TRUE_RATINGS[p] - 80.0 for p in strengths.index])
    assert np.abs(strengths.to_numpy() - centred).max() < 60


def test_elo_depends_on_match_order_but_bradley_terry_does_not():
    matches = simulate_matches(TRUE_RATINGS, n_matches=500, seed=3)
    reversed_order = matches.iloc[::-1].reset_index(drop=True)
    elo_gap = (elo_ratings(matches) - elo_ratings(reversed_order)).abs().max()
    assert elo_gap > 10
    pd.testing.assert_series_equal(bradley_terry(matches), bradley_terry(reversed_order))


def test_bradley_terry_known_value_for_two_players():
    # x beats y 3 times out of 4: the likelihood peaks at odds 3, i.e. 400 log10(3) points apart
    ratings = bradley_terry(_games([("x", "y", 1), ("x", "y", 1), ("y", "x", 0), ("y", "x", 1)]))
    assert ratings["x"] - ratings["y"] == pytest.approx(400 * np.log10(3))
    assert ratings.mean() == pytest.approx(1000.0)
    # a tie counts as half a win each: 2.5 to 1.5
    with_tie = bradley_terry(_games([("x", "y", 1), ("x", "y", 1), ("x", "y", 0.5), ("x", "y", 0)]))
    assert with_tie["x"] - with_tie["y"] == pytest.approx(400 * np.log10(2.5 / 1.5))


def test_bradley_terry_matches_a_direct_likelihood_maximisation():
    matches = simulate_matches(TRUE_RATINGS, n_matches=400, seed=4)
    ratings = bradley_terry(matches)
    position = {p: i for i, p in enumerate(ratings.index)}
    a = matches["player_a"].map(position).to_numpy()
    b = matches["player_b"].map(position).to_numpy()
    score = matches["score_a"].to_numpy()

    def negative_log_likelihood(theta):  # theta: natural-log strengths
        diff = theta[a] - theta[b]
        return np.sum(np.logaddexp(0, -diff) * score + np.logaddexp(0, diff) * (1 - score))

    theta = optimize.minimize(negative_log_likelihood, np.zeros(8), method="BFGS").x
    direct = 1000 + 400 * (theta - theta.mean()) / np.log(10)
    assert ratings.to_numpy() == pytest.approx(direct, abs=0.05)


def test_bradley_terry_needs_a_prior_when_someone_never_loses():
    matches = _games([("x", "y", 1), ("x", "z", 1), ("y", "z", 1), ("z", "y", 1)])
    with pytest.raises(ValueError, match=r"strength gap is infinite.*pseudo_count"):
        bradley_terry(matches)
    ratings = bradley_terry(matches, pseudo_count=0.5)
    assert ratings["x"] > ratings["y"] == pytest.approx(ratings["z"])


def test_bootstrap_intervals_cover_truth_and_shrink_with_more_matches():
    few = bootstrap_ratings(simulate_matches(TRUE_RATINGS, 400, seed=5), n_resamples=100)
    many = bootstrap_ratings(simulate_matches(TRUE_RATINGS, 3000, seed=5), n_resamples=100)
    assert list(many.columns) == ["rating", "low", "high"]
    assert many["rating"].is_monotonic_decreasing
    assert ((many["low"] <= many["rating"]) & (many["rating"] <= many["high"])).all()
    centred = pd.Series({p: r - 80.0 for p, r in TRUE_RATINGS.items()})[many.index]
    assert ((many["low"] <= centred) & (centred <= many["high"])).mean() >= 0.75
    width_few = (few["high"] - few["low"]).mean()
    assert (many["high"] - many["low"]).mean() < 0.6 * width_few


def test_bootstrap_elo_is_reproducible_and_orders_players():
    matches = simulate_matches(TRUE_RATINGS, 2000, seed=6)
    table = bootstrap_ratings(matches, method="elo", n_resamples=50, seed=1)
    pd.testing.assert_frame_equal(table, bootstrap_ratings(matches, method="elo", n_resamples=50, seed=1))
    assert _rank_correlation(table["rating"]) >= 0.9


def test_bootstrap_names_the_resample_that_fails():
    matches = _games([("x", "y", 1), ("y", "x", 1), ("x", "y", 1)])
    with pytest.raises(ValueError, match=r"bootstrap resample \d+: .*pseudo_count"):
        bootstrap_ratings(matches, n_resamples=50)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: elo_ratings(_games([])), "matches is empty"),
        (lambda: elo_ratings(_games([("x", "y", 1)]).drop(columns="score_a")),
         r"lacks column\(s\) \['score_a'\]"),
        (lambda: elo_ratings([("x", "y", 1)]), "must be a pandas DataFrame"),
        (lambda: elo_ratings(_games([("x", "y", 1), ("x", "y", 2)])), "row 1: score_a is 2"),
        (lambda: elo_ratings(_games([("x", "x", 1)])), "row 0: 'x' plays itself"),
        (lambda: elo_ratings(_games([("x", "y", 1), ("x", "w", 0)]), players=["x", "y"]),
         r"row 1: unknown player 'w' in column player_b"),
        (lambda: bradley_terry(_games([("x", "y", 1)]), players=["x", "y", "x"]), "lists a name twice"),
        (lambda: elo_ratings(_games([("x", "y", 1)]), k=0), "k .* must be a positive number"),
        (lambda: bradley_terry(_games([("x", "y", 1)]), pseudo_count=-1), "pseudo_count must be zero or"),
        (lambda: bradley_terry(_games([("x", "y", 1), ("y", "x", 1)]), players=["x", "y", "z"]),
         r"\['z'\]"),
        (lambda: bootstrap_ratings(_games([("x", "y", 1)]), method="glicko"), "method must be"),
        (lambda: bootstrap_ratings(_games([("x", "y", 1)]), confidence=95), "strictly between 0 and 1"),
        (lambda: simulate_matches({"x": 1000}, 10), "at least two players"),
        (lambda: simulate_matches({"x": 1000, "y": 900}, 0), "n_matches must be at least 1, got 0"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
