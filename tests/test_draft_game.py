"""The playable draft, without a browser: whole drafts played through the plain functions."""

import numpy as np
import pytest

from utils.drafts import draft_game as dg
from utils.drafts import prompts as dp
from utils.drafts import simulation as sim


def play(seed, choose):
    game = dg.new_game("QLT", seed)
    while not dg.finished(game):
        game = dg.take(game, choose(game))
    return game


def test_a_whole_draft_deals_every_card_once():
    game = play(0, lambda g: dg.pick_record(g)["pack"][-1])
    spec = sim.SETS["QLT"]
    assert len(game.history) == sim.PACKS * spec.pack_size
    assert game.pools.sum() == sim.SEATS * sim.PACKS * spec.pack_size and game.packs.sum() == 0
    assert game.pools[0].sum() == len(game.history)


def test_taking_good_cards_builds_a_stronger_deck_than_taking_the_first():
    quality = dict(zip(sim.set_cards("QLT")["name"], sim.card_quality("QLT"), strict=True))
    def by_quality(record):
        return {n: quality[n] for n in record["pack"]}

    best = [dg.result(play(s, lambda g: dg.suggestions(g, by_quality, k=1)[0]["name"]))["strength"]
            for s in range(6)]
    first = [dg.result(play(s, lambda g: dg.pick_record(g)["pack"][0]))["strength"] for s in range(6)]
    assert np.mean(best) > np.mean(first) + 0.1


def test_suggestions_are_probabilities_with_reasons_read_from_the_text():
    info = dp.card_info(sim.set_cards("QLT"), {c["name"]: c for c in sim.scryfall_cards("QLT")})
    game = dg.take(dg.new_game("QLT", 1), dg.pick_record(dg.new_game("QLT", 1))["pack"][0])
    top = dg.suggestions(game, lambda r: {n: float(len(n)) for n in r["pack"]}, info, k=3)
    assert len(top) == 3 and top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]
    assert all(0 < s["probability"] < 1 for s in top)
    assert all("of your 1 cards" in s["reason"] or "colourless" in s["reason"] for s in top)


def test_bad_moves_get_clear_errors():
    game = dg.new_game("QLT", 2)
    with pytest.raises(ValueError, match="is not in your pack; choose one of"):
        dg.take(game, "Not A Card")
    with pytest.raises(ValueError, match="finish it before asking for the result"):
        dg.result(game)
    with pytest.raises(ValueError, match="no set 'XYZ'"):
        dg.new_game("XYZ")
