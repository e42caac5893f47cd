"""Draft pickers side by side on the same picks: top-1 with draft-clustered intervals, the paired
difference to a chosen picker, and the simulator's ceiling, in one table.

The draft notebook and ``scripts/evaluate_draft_picker.py`` print the same table from these
functions, so a saved picker can be scored on any set the generator writes.

Example:
    >>> import random
    >>> records = [{"draft_id": d, "pack_number": 1, "pick_number": p, "pack": ["A", "B"], "pool": [],
    ...             "pick": "B"} for d in "abcd" for p in (1, 2)]
    >>> hits = hits_table(records, {"always A": lambda r: ["A", "B"], "always B": lambda r: ["B", "A"]})
    >>> accuracy_table(hits, versus="always B")[["picker", "top1"]].to_dict("records")
    [{'picker': 'always A', 'top1': 0.0}, {'picker': 'always B', 'top1': 1.0}]
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from utils.drafts import baselines as base
from utils.drafts import prompts as dp
from utils.drafts import simulation as sim
from utils.evaluation.metrics import cluster_bootstrap_ci

Ranking = Callable[[Mapping], list[str]]
KEYS = ["draft_id", "pack_number", "pick_number"]


def baseline_rankers(train: list[Mapping], cards: pd.DataFrame, seed: int = 0) -> dict[str, Ranking]:
    """The baselines, each saying what it knows: random; rarity; pick rate and the conditional-logit
    ranker on card identity (fitted on ``train``: they cannot rate a card they never saw); and a
    conditional-logit ranker on ``cards.csv``'s columns only (rarity, mana value, types, colours),
    which can."""
    rarity = base.rarity_by_name(cards)
    rate = base.pick_rate_ratings(train)
    identity = base.fit_conditional_logit(train, cards)
    columns = base.fit_feature_logit(train, cards, base.column_features(cards))
    rng_random, rng_rarity = random.Random(seed), random.Random(seed + 1)
    return {"random": lambda r: base.random_ranking(r, rng_random),
            "rarity": lambda r: base.rarity_ranking(r, rarity, rng_rarity),
            "pick rate": lambda r: base.rating_ranking(r, rate),
            "card-identity ranker": lambda r: base.conditional_logit_ranking(r, identity),
            "card-columns ranker": lambda r: base.feature_logit_ranking(r, columns)}


def hits_table(records: Sequence[Mapping], rankers: Mapping[str, Ranking],
               ceiling: Mapping[tuple, float] | None = None) -> pd.DataFrame:
    """One row per (picker, pick): the pick's keys, ``top1`` (0/1), the picker's choice and, when
    ``ceiling`` is given (``read_ceiling``), the simulator's best chance at that pick."""
    tables = [dp.pick_hits(records, ranking, ks=(1,)).assign(picker=name)
              for name, ranking in rankers.items()]
    hits = pd.concat(tables, ignore_index=True)
    if ceiling is not None:
        hits["ceiling"] = [ceiling[(d, p, k)] for d, p, k in hits[KEYS].itertuples(index=False)]
    return hits


def listed_records(hits: pd.DataFrame, records: Sequence[Mapping]) -> list[Mapping]:
    """The pick records behind ``hits``' rows, in its order (a pick is its draft, pack and pick
    number): a saved picker's ``eval_hits.csv`` names the picks it scored, and the baselines are
    scored on the same ones. A listed pick that ``records`` lacks is a clear error."""
    by_key = {tuple(r[k] for k in KEYS): r for r in records}
    keys = list(hits[KEYS].astype({"draft_id": str}).itertuples(index=False, name=None))
    missing = [key for key in keys if key not in by_key]
    if missing:
        raise ValueError(f"{len(missing)} of the {len(keys)} listed picks are not among the records "
                         f"(e.g. draft, pack, pick = {missing[0]}); are the hits from this set and split?")
    return [by_key[key] for key in keys]


def read_ceiling(set_dir: str | Path, code: str) -> dict[tuple, float]:
    """``{(draft_id, pack_number, pick_number): best chance}`` from a set's ceiling file, with the
    1-based numbers the loader's pick records carry."""
    path = Path(set_dir) / sim.ceiling_file_name(code)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; the simulation writes it beside the draft file "
                                "(python -m utils.drafts.simulation). Real 17lands data has no ceiling.")
    frame = pd.read_csv(path, dtype={"draft_id": str})
    return {(d, p + 1, k + 1): c for d, p, k, c in frame[KEYS + [sim.CEILING_COLUMN]].itertuples(index=False)}


def accuracy_table(hits: pd.DataFrame, versus: str | None = None, n_resamples: int = 2000) -> pd.DataFrame:
    """Per picker: picks, top-1 with a 95% interval that resamples whole drafts, and (``versus``)
    the paired difference ``versus`` minus that picker with its interval; a ``simulator ceiling``
    row when ``hits`` has a ceiling column."""
    rows = []
    wide = hits.pivot_table(index=KEYS, columns="picker", values="top1").reset_index()
    for name in hits["picker"].unique():
        mine = wide[name].to_numpy(float)
        low_high = cluster_bootstrap_ci(np.mean, mine, groups=wide["draft_id"], n_resamples=n_resamples)
        row = {"picker": name, "picks": len(mine), "top1": round(float(mine.mean()), 3),
               "top1 low": round(low_high.low, 3), "top1 high": round(low_high.high, 3)}
        if versus is not None and name != versus:
            diff = cluster_bootstrap_ci(np.mean, wide[versus].to_numpy(float) - mine, groups=wide["draft_id"],
                                        n_resamples=n_resamples)
            row |= {f"{versus} minus this": round(diff.estimate, 3), "diff low": round(diff.low, 3),
                    "diff high": round(diff.high, 3)}
        rows.append(row)
    if "ceiling" in hits:
        first = hits.drop_duplicates(KEYS)
        interval = cluster_bootstrap_ci(np.mean, first["ceiling"].to_numpy(float), groups=first["draft_id"],
                                        n_resamples=n_resamples)
        rows.append({"picker": "simulator ceiling", "picks": len(first), "top1": round(interval.estimate, 3),
                     "top1 low": round(interval.low, 3), "top1 high": round(interval.high, 3)})
    return pd.DataFrame(rows)
