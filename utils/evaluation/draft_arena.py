"""The draft pickers' arena built from a saved picker's per-pick hits
(``adapters/draft_picker/eval_hits.csv``), so the notebook never reruns the LLM picker: the code
baselines of ``utils.drafts.scoreboard`` are scored on the very same picks, and every pair of
pickers plays one game per pick (top-1 decides, then top-3; equal is a tie).

Example:
    >>> keys = {"set": "QLT", "draft_id": "d", "pack_number": 1, "pick_number": 1}
    >>> hits = pd.DataFrame([keys | {"picker": "a", "top1": 1, "top3": 1},
    ...                      keys | {"picker": "b", "top1": 0, "top3": 1}])
    >>> games_from_hits(hits)[["player_a", "player_b", "score_a"]].values.tolist()
    [['a', 'b', 1.0]]
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd

from utils.drafts import baselines as base
from utils.drafts import files as drafts
from utils.drafts import prompts as dp
from utils.drafts import scoreboard
from utils.drafts.simulation import CARDS_FILE, course_draft_file

KEYS = scoreboard.KEYS


def baseline_hits(llm_hits: pd.DataFrame, train_set: str = "QLT", seed: int = 0) -> pd.DataFrame:
    """Top-1 and top-3 of the code baselines on the picks of ``llm_hits`` (its ``set`` column names
    the set of each pick), fitted on the training drafts of ``train_set`` (notebook 08's split)."""
    train_path = course_draft_file(train_set)
    train, _ = base.split_by_draft(drafts.draft_picks_from_17lands(train_path), test_fraction=0.2, seed=0)
    tables = []
    for code, wanted in llm_hits.groupby("set"):
        path = course_draft_file(code)
        cards = pd.concat([drafts.read_cards(train_path.parent / CARDS_FILE, train_set),
                           drafts.read_cards(path.parent / CARDS_FILE, code)]).drop_duplicates("name")
        # in the hits' order, as notebook 08 scores them: the seeded random and rarity rankers then match it
        records = scoreboard.listed_records(wanted, drafts.draft_picks_from_17lands(path))
        for name, ranking in scoreboard.baseline_rankers(train, cards, seed=seed).items():
            tables.append(dp.pick_hits(records, ranking, ks=(1, 3)).assign(picker=name, set=code))
    return pd.concat(tables, ignore_index=True)


def games_from_hits(hits: pd.DataFrame) -> pd.DataFrame:
    """One game per pick for every pair of pickers: ``score_a`` 1 when A's top-1 (then top-3) is
    better, 0 when worse, 0.5 when equal."""
    score = (2 * hits["top1"] + hits["top3"]).rename("score")
    wide = hits.assign(score=score).pivot_table(index=["set"] + KEYS, columns="picker", values="score")
    wide = wide.dropna()  # picks every picker played
    games = []
    for a, b in itertools.combinations(wide.columns, 2):
        diff = wide[a] - wide[b]
        games.append(pd.DataFrame({"player_a": a, "player_b": b,
                                   "score_a": (diff > 0) * 1.0 + (diff == 0) * 0.5}))
    return pd.concat(games, ignore_index=True)


def read_llm_hits(folder: str | Path, name: str = "LLM picker") -> pd.DataFrame:
    hits = pd.read_csv(Path(folder) / "eval_hits.csv", dtype={"draft_id": str})
    return hits.assign(picker=name)
