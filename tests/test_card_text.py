"""Readable cards: the text a player reads, the quality it implies, and the Scryfall-format reader."""

import json

import numpy as np
import pytest

from utils.drafts import card_text as ct
from utils.drafts import simulation as sim


@pytest.mark.parametrize("code", ["QLT", "QGO"])
def test_every_card_reads_like_a_card(code):
    cards, texts = sim.set_cards(code).to_dict("records"), sim.card_texts(code)
    for card, text in zip(cards, texts, strict=True):
        assert text["type_line"].startswith(card["types"])
        pips = text["mana_cost"].count("{") - ("}" in text["mana_cost"] and text["mana_cost"][1].isdigit())
        generic = int(text["mana_cost"][1]) if text["mana_cost"][1:2].isdigit() else 0
        assert generic + pips == card["mana_value"], (card["name"], text["mana_cost"])
        is_creature = "Creature" in card["types"]
        assert (text["power"] is not None) == is_creature == (text["toughness"] is not None)
        assert is_creature or text["oracle_text"], f"{card['name']}: a non-creature needs rules text"
        for keyword in text["keywords"]:
            assert keyword in text["oracle_text"]


@pytest.mark.parametrize("code", ["QLT", "QGO"])
def test_quality_is_mostly_what_the_text_says(code):
    cards, texts = sim.set_cards(code).to_dict("records"), sim.card_texts(code)
    from_text = np.array([ct.text_value({**c, **t}) for c, t in zip(cards, texts, strict=True)])
    quality = sim.card_quality(code)
    # the hidden remainder is small next to the spread of what the text implies
    assert np.corrcoef(from_text, quality)[0, 1] > 0.9
    assert np.std(quality - from_text) < 0.5 * np.std(from_text)
    rarity = sim.set_cards(code)["rarity"].to_numpy()
    assert quality[rarity == "mythic"].mean() > quality[rarity == "common"].mean()


def test_text_value_follows_its_documented_parts():
    bear = {"type_line": "Creature — Bear", "mana_value": 2, "power": "2", "toughness": "3",
            "keywords": [], "effects": []}
    assert ct.text_value(bear) == 0.0  # on the fair curve: 2 x 2 + 1
    assert ct.text_value({**bear, "power": "3"}) == ct.STAT_VALUE
    assert ct.text_value({**bear, "keywords": ["Flying"]}) == ct.KEYWORD_VALUE["Flying"]
    assert ct.text_value({**bear, "keywords": ["Defender"]}) < 0


def test_scryfall_objects_round_trip(tmp_path):
    path = sim.write_card_text(["QLT"], tmp_path / "text.json")
    read = ct.read_card_text(path)
    for card, text in zip(sim.set_cards("QLT").to_dict("records"), sim.card_texts("QLT"), strict=True):
        fields = ct.SCRYFALL_FIELDS
        assert {f: read[card["name"]][f] for f in fields} == {f: text[f] for f in fields}


def test_faces_are_joined_and_bad_files_are_named(tmp_path):
    split = {"name": "Fire // Ice", "card_faces": [
        {"name": "Fire", "mana_cost": "{1}{R}", "type_line": "Instant",
         "oracle_text": "Fire deals 2 damage."},
        {"name": "Ice", "mana_cost": "{1}{U}", "type_line": "Instant",
         "oracle_text": "Tap target permanent."}]}
    (tmp_path / "a.json").write_text(json.dumps([split]))
    text = ct.read_card_text(tmp_path / "a.json")["Fire // Ice"]
    assert text["mana_cost"] == "{1}{R} // {1}{U}" and "Tap target permanent." in text["oracle_text"]
    (tmp_path / "b.json").write_text(json.dumps([{"name": "Gull"}]))
    with pytest.raises(ValueError, match=r"entry 0 \('Gull'\).*type_line"):
        ct.read_card_text(tmp_path / "b.json")
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        ct.read_card_text(tmp_path / "c.json")
