"""Ratings from pairwise matches: Elo updates and Bradley-Terry strengths, with bootstrap intervals.

A match table has one row per comparison and three columns: ``player_a``, ``player_b`` and
``score_a`` (1 when A won, 0 when B won, 0.5 for a tie), the form of a pairwise arena of chat models.
``elo_ratings`` replays the matches in order (so the order matters); ``bradley_terry`` fits every
match at once by maximum likelihood (so it does not). Both report on the Elo scale, where a gap of
400 points means 10-to-1 odds, so the two can be put side by side.

Example:
    >>> from utils.evaluation.ratings import bradley_terry, elo_ratings, simulate_matches
    >>> matches = simulate_matches({"small": 900, "base": 1000, "tuned": 1150}, n_matches=600)
    >>> list(bradley_terry(matches).sort_values().index)
    ['small', 'base', 'tuned']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

from utils.core.checks import check_confidence, check_number, check_positive, check_positive_int

MATCH_COLUMNS = ("player_a", "player_b", "score_a")
SCORES = (0.0, 0.5, 1.0)  # B won, tie, A won
ELO_SCALE = 400.0  # rating points per factor of 10 in the odds (Elo's convention)


def expected_score(rating_a, rating_b):
    """Elo's expected score of A against B: 1 / (1 + 10 ** ((rating_b - rating_a) / 400)).

    Example:
        >>> round(expected_score(1200, 1000), 3)  # 200 points ahead: wins about 3 games in 4
        0.76
    """
    expected = 1.0 / (1.0 + 10.0 ** ((np.asarray(rating_b) - np.asarray(rating_a)) / ELO_SCALE))
    return float(expected) if expected.ndim == 0 else expected


def simulate_matches(true_ratings: Mapping[str, float], n_matches: int, seed: int = 0) -> pd.DataFrame:
    """Random pairings of distinct players; A wins with probability ``expected_score`` of the ratings.

    Example:
        >>> simulate_matches({"x": 1000, "y": 1200}, n_matches=3).columns.tolist()
        ['player_a', 'player_b', 'score_a']
    """
    n_matches = check_positive_int(n_matches, "n_matches")
    names = list(true_ratings)
    if len(names) < 2:
        raise ValueError(f"true_ratings needs at least two players, got {names}.")
    ratings = np.array([float(true_ratings[n]) for n in names])
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(names), n_matches)
    second = (first + rng.integers(1, len(names), n_matches)) % len(names)  # never the same player
    wins = rng.random(n_matches) < expected_score(ratings[first], ratings[second])
    return pd.DataFrame({"player_a": np.array(names)[first], "player_b": np.array(names)[second],
                         "score_a": wins.astype(float)})


def _first_bad(matches: pd.DataFrame, bad: np.ndarray, column: str):
    """(row label, value as plain Python) of the first row flagged in ``bad``, for error messages."""
    position = int(np.flatnonzero(bad)[0])
    value = matches[column].iloc[position]
    return matches.index[position], value.item() if isinstance(value, np.generic) else value


def _encode(matches: pd.DataFrame, players: Sequence[str] | None):
    """(players, index of A, index of B, score of A) after checking every row of ``matches``."""
    if not isinstance(matches, pd.DataFrame):
        raise ValueError(f"matches must be a pandas DataFrame with columns {MATCH_COLUMNS}, "
                         f"got {type(matches).__name__}.")
    missing = [c for c in MATCH_COLUMNS if c not in matches.columns]
    if missing:
        raise ValueError(f"matches lacks column(s) {missing}; it needs {MATCH_COLUMNS} "
                         f"and has {list(matches.columns)}.")
    if len(matches) == 0:
        raise ValueError("matches is empty: pass at least one match.")
    scores = pd.to_numeric(matches["score_a"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(scores, SCORES)
    if bad.any():
        row, value = _first_bad(matches, bad, "score_a")
        raise ValueError(f"matches row {row}: score_a is {value!r}; it must be "
                         "1 (A won), 0 (B won) or 0.5 (tie).")
    same = (matches["player_a"] == matches["player_b"]).to_numpy()
    if same.any():
        row, value = _first_bad(matches, same, "player_a")
        raise ValueError(f"matches row {row}: {value!r} plays itself; "
                         "drop that row.")
    if players is None:
        players = sorted(set(matches["player_a"]) | set(matches["player_b"]))
    players = list(players)
    if len(set(players)) != len(players):
        raise ValueError(f"players lists a name twice: {players}.")
    position = {name: i for i, name in enumerate(players)}
    for column in ("player_a", "player_b"):
        unknown = ~matches[column].isin(list(position)).to_numpy()
        if unknown.any():
            row, value = _first_bad(matches, unknown, column)
            raise ValueError(f"matches row {row}: unknown player {value!r} in column "
                             f"{column}; the players are {players}. Add it to players or fix the name.")
    index_a = matches["player_a"].map(position).to_numpy()
    index_b = matches["player_b"].map(position).to_numpy()
    return players, index_a, index_b, scores


def _elo(index_a, index_b, scores, n_players: int, k: float, initial: float, history: bool):
    ratings = [float(initial)] * n_players  # plain floats: this loop runs once per match
    trace = np.empty((len(scores), n_players)) if history else None
    for m, (a, b, score) in enumerate(zip(index_a.tolist(), index_b.tolist(), scores.tolist(), strict=True)):
        change = k * (score - 1.0 / (1.0 + 10.0 ** ((ratings[b] - ratings[a]) / ELO_SCALE)))
        ratings[a] += change
        ratings[b] -= change
        if history:
            trace[m] = ratings
    return trace if history else np.array(ratings)


def _check_k(k: float) -> float:
    return check_positive(k, "k (the Elo step size)", hint="e.g. 32")


def elo_ratings(matches: pd.DataFrame, k: float = 32.0, initial: float = 1000.0,
                players: Sequence[str] | None = None) -> pd.Series:
    """Elo ratings after replaying ``matches`` in row order.

    Each match moves both players by k * (score - expected score), A up and B down by the same
    amount (Elo, The Rating of Chessplayers, Past and Present, 1978). Recent matches weigh more than
    early ones, so the same matches in another order give other ratings.

    Example:
        >>> one_game = pd.DataFrame({"player_a": ["x"], "player_b": ["y"], "score_a": [1.0]})
        >>> elo_ratings(one_game).to_dict()
        {'x': 1016.0, 'y': 984.0}
    """
    players, index_a, index_b, scores = _encode(matches, players)
    ratings = _elo(index_a, index_b, scores, len(players), _check_k(k), initial, history=False)
    return pd.Series(ratings, index=pd.Index(players, name="player"), name="elo")


def elo_history(matches: pd.DataFrame, k: float = 32.0, initial: float = 1000.0,
                players: Sequence[str] | None = None) -> pd.DataFrame:
    """Every player's Elo rating after each match: one row per match, one column per player.

    Example:
        >>> two_games = pd.DataFrame({"player_a": ["x", "y"], "player_b": ["y", "x"], "score_a": [1, 1]})
        >>> elo_history(two_games)["x"].round(1).tolist()
        [1016.0, 998.5]
    """
    players, index_a, index_b, scores = _encode(matches, players)
    trace = _elo(index_a, index_b, scores, len(players), _check_k(k), initial, history=True)
    return pd.DataFrame(trace, columns=pd.Index(players, name="player"),
                        index=pd.RangeIndex(1, len(scores) + 1, name="match"))


def _win_counts(index_a, index_b, scores, n_players: int, pseudo_count: float) -> np.ndarray:
    """wins[i, j]: how often i beat j (a tie is half a win each), plus ``pseudo_count`` each way."""
    wins = np.full((n_players, n_players), float(pseudo_count))
    np.fill_diagonal(wins, 0.0)
    np.add.at(wins, (index_a, index_b), scores)
    np.add.at(wins, (index_b, index_a), 1.0 - scores)
    return wins


def _check_connected(wins: np.ndarray, players: list) -> None:
    """Hunter (2004), assumption 1: the maximum-likelihood strengths exist only if, however the players
    are split in two groups, someone in each group beat someone in the other."""
    n_groups, labels = connected_components(wins > 0, directed=True, connection="strong")
    if n_groups > 1:
        groups = [[players[i] for i in np.flatnonzero(labels == g)] for g in range(n_groups)]
        raise ValueError(f"the players split into groups that never beat each other both ways {groups}, "
                         "so their strength gap is infinite (e.g. a player who won or lost every match). "
                         "Add matches between the groups or pass pseudo_count=0.5.")


def _bradley_terry(index_a, index_b, scores, players: list, pseudo_count: float, max_iter: int,
                   tol: float) -> np.ndarray:
    """Log strengths (mean 0) by Hunter's MM algorithm, from matches already encoded."""
    wins = _win_counts(index_a, index_b, scores, len(players), pseudo_count)
    _check_connected(wins, players)
    games, total_wins = wins + wins.T, wins.sum(axis=1)
    log_strength = np.zeros(len(players))
    for _ in range(max_iter):
        strength = np.exp(log_strength)
        updated = np.log(total_wins / (games / (strength[:, None] + strength[None, :])).sum(axis=1))
        updated -= updated.mean()
        if np.max(np.abs(updated - log_strength)) < tol:
            return updated
        log_strength = updated
    raise RuntimeError(f"bradley_terry did not converge in {max_iter} iterations; raise max_iter or "
                       "pass pseudo_count=0.5 when some players are far apart.")


def _check_pseudo_count(pseudo_count: float) -> float:
    return check_number(pseudo_count, "pseudo_count", 0.0, hint="e.g. 0.5")


def bradley_terry(matches: pd.DataFrame, players: Sequence[str] | None = None, pseudo_count: float = 0.0,
                  anchor: float = 1000.0, max_iter: int = 10_000, tol: float = 1e-10) -> pd.Series:
    """Bradley-Terry strengths by maximum likelihood, reported on the Elo scale with mean ``anchor``.

    The model says P(i beats j) = g_i / (g_i + g_j). The MM algorithm of Hunter (Annals of Statistics
    32(1), 2004) updates g_i <- W_i / sum_j N_ij / (g_i + g_j), with W_i the wins of i and N_ij
    the games between i and j, until nothing moves; the rating is anchor + 400 log10(g_i) with the
    g_i scaled to geometric mean 1. ``pseudo_count`` adds that many wins each way between every pair,
    a prior that pulls strengths together and keeps them finite when someone won every game.

    Example:
        >>> games = pd.DataFrame({"player_a": ["x"] * 4, "player_b": ["y"] * 4, "score_a": [1, 1, 1, 0]})
        >>> bradley_terry(games).round(2).to_dict()  # x wins 3 to 1: odds 3, 400 log10(3) = 190.85 apart
        {'x': 1095.42, 'y': 904.58}
    """
    pseudo_count = _check_pseudo_count(pseudo_count)
    players, index_a, index_b, scores = _encode(matches, players)
    log_strength = _bradley_terry(index_a, index_b, scores, players, pseudo_count,
                                  check_positive_int(max_iter, "max_iter"), tol)
    ratings = anchor + ELO_SCALE * log_strength / np.log(10)
    return pd.Series(ratings, index=pd.Index(players, name="player"), name="bradley_terry")


def bootstrap_ratings(matches: pd.DataFrame, method: str = "bradley_terry", n_resamples: int = 200,
                      confidence: float = 0.95, seed: int = 0, players: Sequence[str] | None = None,
                      k: float = 32.0, pseudo_count: float = 0.0) -> pd.DataFrame:
    """Ratings with percentile bootstrap intervals from resampling the matches with replacement.

    ``method`` is "bradley_terry" (with ``pseudo_count``) or "elo" (with step size ``k``); both on
    the Elo scale around 1000. A resample also shuffles the order, so Elo's intervals include its
    dependence on order (as Chiang et al. do for Chatbot Arena, ICML 2024). The
    ``rating`` column is the rating of all matches as given; rows run from best to worst.

    Example:
        >>> matches = simulate_matches({"x": 900, "y": 1000, "z": 1100}, n_matches=300)
        >>> bootstrap_ratings(matches, n_resamples=50).columns.tolist()
        ['rating', 'low', 'high']
    """
    if method not in ("bradley_terry", "elo"):
        raise ValueError(f"method must be 'bradley_terry' or 'elo', got {method!r}.")
    confidence = check_confidence(confidence)
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    k, pseudo_count = _check_k(k), _check_pseudo_count(pseudo_count)
    players, index_a, index_b, scores = _encode(matches, players)

    def rate(rows) -> np.ndarray:
        if method == "elo":
            return _elo(index_a[rows], index_b[rows], scores[rows], len(players), k, 1000.0, history=False)
        log_strength = _bradley_terry(index_a[rows], index_b[rows], scores[rows], players, pseudo_count,
                                      max_iter=10_000, tol=1e-10)
        return 1000.0 + ELO_SCALE * log_strength / np.log(10)

    estimate = rate(np.arange(len(scores)))
    rng = np.random.default_rng(seed)
    replicates = np.empty((n_resamples, len(players)))
    for r in range(n_resamples):
        try:
            replicates[r] = rate(rng.integers(0, len(scores), len(scores)))
        except ValueError as error:
            raise ValueError(f"bootstrap resample {r}: {error}") from error
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail], axis=0)
    table = pd.DataFrame({"rating": estimate, "low": low, "high": high},
                         index=pd.Index(players, name="player"))
    return table.sort_values("rating", ascending=False)
