"""utils.drafts.baselines: random, rarity, rating and pick-model baselines, accuracy and the split."""

import random

import numpy as np
import pandas as pd
import pytest

from utils.drafts import baselines as base
from utils.drafts import simulation as sim
from utils.drafts.files import draft_picks_from_17lands


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Train/test pick records of 80 simulated QLT drafts, split by draft, and the card list."""
    frame = sim.drafts_frame(sim.simulate_drafts("QLT", 80, seed=11), seed=11)
    path = sim.write_gzip_csv(frame, tmp_path_factory.mktemp("drafts") / "d.csv.gz")
    train, test = base.split_by_draft(draft_picks_from_17lands(path), test_fraction=0.25, seed=0)
    return train, test, sim.set_cards("QLT")


def test_rarity_pick_takes_the_rarest_card():
    rarity = {"Gull": "common", "Eel": "uncommon", "Wick": "mythic", "Buoy": "rare", "Moth": "common"}
    record = {"pack": ["Gull", "Eel", "Wick", "Buoy", "Moth", "Gull"]}
    assert base.rarity_pick(record, rarity) == "Wick"
    assert base.rarity_ranking(record, rarity) == ["Wick", "Buoy", "Eel", "Gull", "Moth"]
    tied = {"pack": ["Gull", "Moth", "Eel"]}
    picks = {base.rarity_pick(tied, rarity, random.Random(seed)) for seed in range(20)}
    assert picks == {"Eel"}
    orders = {tuple(base.rarity_ranking(tied, rarity, random.Random(seed))[1:]) for seed in range(20)}
    assert orders == {("Gull", "Moth"), ("Moth", "Gull")}  # commons tie, broken at random
    assert base.rarity_pick({"pack": ["Unknown", "Gull"]}, {"Gull": "Common"}) == "Gull"


def test_random_pick_is_uniform_over_distinct_cards():
    rng = random.Random(0)
    record = {"pack": ["Gull", "Gull", "Gull", "Eel"]}
    picks = [base.random_pick(record, rng) for _ in range(4000)]
    assert 0.45 < picks.count("Eel") / len(picks) < 0.55  # copies do not weigh more
    assert sorted(base.random_ranking(record, rng)) == ["Eel", "Gull"]


def test_ratings_known_values():
    records = [{"pack": ["Gull", "Eel", "Eel"], "pick": "Eel", "pick_number": 1},
               {"pack": ["Gull", "Moth"], "pick": "Gull", "pick_number": 2},
               {"pack": ["Gull", "Eel"], "pick": "Eel", "pick_number": 3}]
    assert base.pick_rate_ratings(records) == {"Gull": 1 / 3, "Eel": 1.0, "Moth": 0.0}
    assert base.average_pick_ratings(records) == {"Eel": -2.0, "Gull": -2.0, "Moth": -3.0}
    assert base.rating_pick({"pack": ["Moth", "Gull"]}, base.pick_rate_ratings(records)) == "Gull"
    assert base.rating_ranking({"pack": ["New", "Moth"]}, {"Moth": -5.0}) == ["Moth", "New"]


def test_pick_accuracy_known_values_and_empty_input():
    records = [{"pack": ["A", "B", "C", "D"], "pick": p} for p in "ABCD"]
    assert base.pick_accuracy(records, lambda r: ["A", "B", "C", "D"]) == {"top1": 0.25, "top3": 0.75}
    assert base.pick_accuracy(records, lambda r: ["D"], ks=(1,)) == {"top1": 0.25}
    with pytest.raises(ValueError, match="no records"):
        base.pick_accuracy([], lambda r: [])


def test_split_by_draft_never_splits_a_draft():
    records = [{"draft_id": f"d{d}", "pick_number": n} for d in range(10) for n in range(1, 4)]
    train, test = base.split_by_draft(records, 0.3, seed=1)
    assert len(test) == 9 and len(train) == 21
    assert not {r["draft_id"] for r in train} & {r["draft_id"] for r in test}
    assert sorted(map(str, train + test)) == sorted(map(str, records))
    assert base.split_by_draft(records, 0.3, seed=1) == (train, test)
    assert base.split_by_draft(records, 0.3, seed=2)[1] != test
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        base.split_by_draft(records, 1.0)
    with pytest.raises(ValueError, match="at least 2 drafts"):
        base.split_by_draft(records[:3], 0.5)


def test_colour_features_known_values():
    colours = {"Gull": "U", "Eel": "UB", "Wick": "W", "Gear": ""}
    names, x = base.colour_features({"pack": ["Eel", "Wick", "Gear"], "pool": ["Gull"] * 3 + ["Wick"]},
                                    colours)
    assert names == ["Eel", "Wick", "Gear"]
    np.testing.assert_allclose(x, [[0.375, 0.15, 0, 0], [0.25, 0.1, 0, 0], [0, 0, 1, 0.4]])


def test_pick_model_recovers_a_known_order():
    cards = pd.DataFrame({"name": ["A", "B", "C"], "color_identity": ["W", "W", "W"]})
    rng = random.Random(0)
    records = []
    for _ in range(300):  # A beats B beats C, with some noise
        pack = rng.sample(["A", "B", "C"], 2)
        best = min(pack) if rng.random() < 0.85 else max(pack)
        records.append({"pack": pack, "pool": [], "pick": best})
    model = base.fit_conditional_logit(records, cards)
    assert model.card_value["A"] > model.card_value["B"] > model.card_value["C"]
    assert base.conditional_logit_ranking({"pack": ["C", "A", "B"], "pool": []}, model) == ["A", "B", "C"]
    assert base.conditional_logit_pick({"pack": ["C", "Unseen"], "pool": []}, model) == "Unseen"  # 0 > C


def test_learned_baselines_beat_random_on_held_out_drafts(simulated):
    train, test, cards = simulated
    assert not {r["draft_id"] for r in train} & {r["draft_id"] for r in test}
    rng = random.Random(0)
    random_acc = base.pick_accuracy(test, lambda r: base.random_ranking(r, rng))
    expected = np.mean([1 / len(set(r["pack"])) for r in test])
    assert abs(random_acc["top1"] - expected) < 0.04
    rarity = base.rarity_by_name(cards)
    rarity_acc = base.pick_accuracy(test, lambda r: base.rarity_ranking(r, rarity, random.Random(0)))
    for ratings in (base.pick_rate_ratings(train), base.average_pick_ratings(train)):
        rating_acc = base.pick_accuracy(test, lambda r, ratings=ratings: base.rating_ranking(r, ratings))
        assert rating_acc["top1"] > random_acc["top1"] + 0.1
        assert rating_acc["top3"] > random_acc["top3"] + 0.1
        assert rating_acc["top1"] > rarity_acc["top1"]
    model = base.fit_conditional_logit(train, cards)
    model_acc = base.pick_accuracy(test, lambda r: base.conditional_logit_ranking(r, model))
    assert model_acc["top1"] > rating_acc["top1"]  # pool colours help, as the drafters use them
    assert model.weights[1] > 0  # colour fit weighs more as the pool grows
