"""The draft panel without a browser: its buttons' functions play a whole draft and show the result."""

import re

import pytest

from utils.drafts import draft_game as dg
from utils.drafts import draft_panel as dpanel
from utils.drafts import prompts as dp
from utils.drafts import simulation as sim


@pytest.fixture
def panel():
    info = dp.card_info(sim.set_cards("QLT"), {c["name"]: c for c in sim.scryfall_cards("QLT")})
    quality = dict(zip(sim.set_cards("QLT")["name"], sim.card_quality("QLT"), strict=True))
    return dpanel.draft_panel(lambda record: {n: 3 * quality[n] for n in record["pack"]}, info, "QLT", 4)


def test_one_button_per_distinct_card_and_three_suggestions(panel):
    record = dg.pick_record(panel.state["game"])
    names = [b.description for b in panel.parts["cards"].children]
    assert names == list(dict.fromkeys(record["pack"]))
    assert panel.parts["suggestions"].value.count("<li>") == 3
    assert all(b.tooltip for b in panel.parts["cards"].children)  # each card's text


def test_a_draft_played_to_the_end_shows_deck_and_record(panel):
    panel.parts["cards"].children[-1].click()  # a card of your own choosing
    while not dg.finished(panel.state["game"]):
        panel.parts["follow"].click()
    result = panel.parts["result"].value
    assert "Your record:" in result and "Deck (23 cards)" in result
    assert re.search(r"You followed the picker on 4[12] of 42 picks", result)
    assert not panel.parts["cards"].children
    panel.parts["follow"].click()  # nothing left to take: said in the panel, not raised
    assert "the draft is over" in panel.parts["error"].value
    panel.parts["new"].click()
    assert panel.state["game"].pick == 0 and not panel.parts["result"].value


def test_an_illegal_pick_shows_an_error_in_the_panel(panel):
    panel.take("Not A Card")
    assert "is not in your pack" in panel.parts["error"].value
    assert panel.state["game"].pick == 0
