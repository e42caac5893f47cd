"""What a player reads on a card of the course's fictional sets, and the strength it implies.

Every card gets the fields a player reads, named as Scryfall names them (https://scryfall.com/docs/api/cards):
``mana_cost`` (``{2}{W}``), ``type_line`` (``Creature — Gull Rider``), ``oracle_text`` (its rules text),
``power`` and ``toughness`` (creatures only, as strings), and ``keywords`` (a list). The text is drawn
from a seed: stats near a fair curve for the card's mana value, keywords from its colour's menu, and
abilities from a fixed menu; rarer cards draw from a bigger budget, as in real sets.

A card's hidden quality is mostly a documented function of that text (``text_value``), plus a small
hidden remainder (``REMAINDER_SD``), so a reader of the text can rate a card it has never seen:

- a creature's body: ``STAT_VALUE`` per point of power + toughness above the fair curve
  ``2 x mana value + 1`` (a 2-mana 2/3 is on the curve);
- each keyword its ``KEYWORD_VALUE`` (flying 0.35 ... defender -0.5);
- each ability its menu value: removal and card draw are worth most, life gain least; a spell or
  ability that is cheaper than its fair cost gains ``COST_VALUE`` per mana saved (and loses it per mana over).

Example:
    >>> from utils.drafts import card_text
    >>> card = {"name": "Gull-Rider", "rarity": "common", "color_identity": "W", "mana_value": 2,
    ...         "types": "Creature"}
    >>> text = card_text.write_card(card, seed=[1, 2])
    >>> sorted(text)
    ['effects', 'keywords', 'mana_cost', 'oracle_text', 'power', 'toughness', 'type_line']
    >>> text["mana_cost"]
    '{1}{W}'
    >>> card_text.text_value({"type_line": "Creature — Gull Rider", "mana_value": 2, "power": "2",
    ...                       "toughness": "3", "keywords": ["Flying"], "effects": []})
    0.35
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

COLOUR_SYMBOL = "WUBRG"
STAT_VALUE = 0.25  # quality per point of power + toughness above the fair curve
COST_VALUE = 0.15  # quality per mana an ability costs below its fair cost
REMAINDER_SD = 0.12  # the part of a card's quality its text does not show
RIDER_VALUE = 0.3  # "draw a card" added to a rarer spell, enchantment or artifact
RARITY_BUDGET = {"common": 0.0, "uncommon": 0.7, "rare": 1.6, "mythic": 2.2}  # extra power a rarity affords
KEYWORD_VALUE = {"Flying": 0.35, "Deathtouch": 0.3, "First strike": 0.2, "Lifelink": 0.2, "Ward": 0.15,
                 "Menace": 0.15, "Trample": 0.15, "Vigilance": 0.1, "Haste": 0.1, "Flash": 0.1,
                 "Reach": 0.05, "Defender": -0.5}
COLOUR_KEYWORDS = {"W": ("Flying", "Vigilance", "Lifelink", "First strike"),
                   "U": ("Flying", "Flash", "Ward", "Defender"),
                   "B": ("Deathtouch", "Lifelink", "Menace"),
                   "R": ("Haste", "First strike", "Menace", "Trample"),
                   "G": ("Trample", "Reach", "Vigilance", "Defender")}

# Abilities: (kind, rules text with {n}, fair mana cost as a function of n, value as a function of n,
# colours that get it). ``kind`` says where it may appear: "spell" (instants, sorceries),
# "enters" (a creature's enters-the-battlefield trigger), "static" (enchantments), "tap" (artifacts).
ABILITIES = (
    ("spell", "{name} deals {n} damage to target creature.", lambda n: n - 1, lambda n: 0.3 + 0.15 * n, "R"),
    ("spell", "Destroy target creature.", lambda n: 4, lambda n: 1.1, "B"),
    ("spell", "Target creature gets -{n}/-{n} until end of turn.", lambda n: n, lambda n: 0.25 + 0.18 * n,
     "B"),
    ("spell", "Exile target creature that attacked this turn.", lambda n: 2, lambda n: 0.7, "W"),
    ("spell", "Counter target spell.", lambda n: 2, lambda n: 0.5, "U"),
    ("spell", "Draw {n} cards.", lambda n: 1 + n, lambda n: 0.3 * n, "U"),
    ("spell", "Return target creature to its owner's hand.", lambda n: 1, lambda n: 0.25, "U"),
    ("spell", "Target creature fights target creature you don't control.", lambda n: 2, lambda n: 0.6, "G"),
    ("spell", "Target creature gets +{n}/+{n} until end of turn.", lambda n: n - 1, lambda n: 0.05 * n,
     "WRG"),
    ("spell", "You gain {n} life.", lambda n: n // 3, lambda n: -0.3 + 0.03 * n, "WBG"),
    ("enters", "When this creature enters, draw a card.", lambda n: 1, lambda n: 0.45, "UBG"),
    ("enters", "When this creature enters, it deals {n} damage to any target.", lambda n: n,
     lambda n: 0.2 + 0.2 * n, "R"),
    ("enters", "When this creature enters, target creature an opponent controls gets -{n}/-{n} "
     "until end of turn.",
     lambda n: n, lambda n: 0.2 + 0.18 * n, "B"),
    ("enters", "When this creature enters, you gain {n} life.", lambda n: 0, lambda n: 0.03 * n, "WBG"),
    ("enters", "When this creature enters, tap target creature an opponent controls.", lambda n: 0,
     lambda n: 0.1, "WU"),
    ("static", "Creatures you control get +1/+1.", lambda n: 3, lambda n: 0.6, "WG"),
    ("static", "Enchant creature. Enchanted creature can't attack or block.", lambda n: 2, lambda n: 0.65,
     "WU"),
    ("static", "Whenever a creature you control dies, draw a card.", lambda n: 3, lambda n: 0.35, "B"),
    ("static", "At the beginning of your upkeep, you gain 1 life.", lambda n: 2, lambda n: -0.3, "WG"),
    ("static", "Creatures you control have haste.", lambda n: 3, lambda n: 0.1, "R"),
    ("tap", "{T}: Add one mana of any color.", lambda n: 2, lambda n: 0.1, ""),
    ("tap", "{2}, {T}: Draw a card.", lambda n: 3, lambda n: 0.35, ""),
    ("tap", "Equipped creature gets +2/+1. Equip {2}", lambda n: 2, lambda n: 0.1, ""),
)
LAND_TEXT = "{T}: Add {C}.\n{T}, Pay 1 life: Add one mana of any color."


def mana_cost(mana_value: int, colours: str) -> str:
    """A Scryfall-style mana cost: generic mana first, then one symbol per colour (two for a one-colour
    card of mana value 4 or more).

    Example:
        >>> mana_cost(3, "W"), mana_cost(5, "B"), mana_cost(2, "UR"), mana_cost(0, "")
        ('{2}{W}', '{3}{B}{B}', '{U}{R}', '')
    """
    pips = list(colours) * (2 if len(colours) == 1 and mana_value >= 4 else 1)
    pips = pips[:max(mana_value, len(colours))]
    generic = mana_value - len(pips)
    return (f"{{{generic}}}" if generic > 0 else "") + "".join(f"{{{c}}}" for c in pips)


def _subtype(name: str) -> str:
    """A creature's subtype from its name: the creature word of "Place Creature" or "Creature of Place"."""
    base = name.split(",")[-1].strip()
    base = base.split(" of ")[0] if " of " in base else " ".join(base.split()[1:]) or base
    return base.replace("-", " ").title()


def _affordable(kind: str, colours: str) -> list[tuple]:
    """The abilities of ``kind`` a card of these colours may get (colourless: the colourless ones)."""
    return [a for a in ABILITIES
            if a[0] == kind and (not colours and not a[4] or any(c in a[4] for c in colours))]


def _ability(rng: np.random.Generator, kind: str, colours: str, name: str, mana_value: int,
             bonus: int = 0) -> dict | None:
    menu = _affordable(kind, colours) or [a for a in ABILITIES if a[0] == kind]
    if not menu:
        return None
    _, text, fair, value, _ = menu[rng.integers(len(menu))]
    n = int(np.clip(mana_value + rng.integers(-1, 2) + bonus, 1, 6)) if "{n}" in text else 0
    rules = text.replace("{n}", str(n)).replace("{name}", name)
    return {"text": rules, "value": round(value(n) + COST_VALUE * (fair(n) - mana_value), 3)
            if kind in ("spell", "static") else round(value(n), 3)}


def write_card(card: Mapping, seed) -> dict:
    """The readable fields of one card (``name``, ``rarity``, ``color_identity``, ``mana_value`` and
    ``types`` as in ``cards.csv``), drawn from ``seed``; ``effects`` lists each ability with its value.

    Example:
        >>> c = write_card({"name": "Tidecaller", "rarity": "rare", "color_identity": "U", "mana_value": 5,
        ...                 "types": "Creature"}, seed=0)
        >>> c["type_line"], c["mana_cost"]
        ('Creature — Tidecaller', '{3}{U}{U}')
    """
    rng = np.random.default_rng(seed)
    colours, mv = card["color_identity"] or "", int(card["mana_value"])
    types, name = card["types"], card["name"]
    budget = RARITY_BUDGET[card["rarity"]] + (0.4 if len(colours) == 2 else 0.0)
    out = {"mana_cost": mana_cost(mv, colours), "power": None, "toughness": None, "keywords": [],
           "effects": []}
    if "Creature" in types:
        stats = max(2, 2 * mv + 1 + int(round(rng.normal(1.5 * budget - 0.5, 1.0))))
        power = int(np.clip(round(stats * rng.uniform(0.3, 0.65)), 0, stats - 1))
        out.update(power=str(power), toughness=str(stats - power),
                   type_line=f"{types} — {_subtype(name)}")
        menu = [k for c in colours for k in COLOUR_KEYWORDS[c]] or ["Reach"]
        n_keywords = min(2, rng.poisson(0.5 + 0.4 * budget))
        out["keywords"] = sorted(set(rng.choice(menu, n_keywords).tolist()), key=list(KEYWORD_VALUE).index)
        if rng.random() < 0.15 + 0.3 * budget:
            out["effects"].append(_ability(rng, "enters", colours, name, mv))
    elif types in ("Instant", "Sorcery"):
        out["type_line"] = types
        out["effects"].append(_ability(rng, "spell", colours, name, mv, bonus=int(budget > 1)))
        if types == "Instant":
            out["effects"][0]["value"] = round(out["effects"][0]["value"] + 0.1, 3)
    elif types == "Enchantment":
        out["type_line"] = "Enchantment"
        out["effects"].append(_ability(rng, "static", colours, name, mv))
    elif types == "Artifact":
        out["type_line"] = "Artifact"
        out["effects"].append(_ability(rng, "tap", "", name, mv))
    else:  # a land
        out["type_line"] = types
        out["effects"].append({"text": LAND_TEXT, "value": 0.0})
    if "Creature" not in types and types != "Land" and rng.random() < budget / 1.2:  # rarer: a rider
        spell = types in ("Instant", "Sorcery")
        rider = "Draw a card." if spell else f"When this {types.lower()} enters, draw a card."
        out["effects"].append({"text": rider, "value": RIDER_VALUE})
    out["effects"] = [e for e in out["effects"] if e]
    lines = [", ".join(out["keywords"])] if out["keywords"] else []
    out["oracle_text"] = "\n".join(lines + [e["text"] for e in out["effects"]])
    return out


def text_value(card: Mapping) -> float:
    """The quality a card's text implies (the documented part of its hidden quality).

    Example:
        >>> text_value({"type_line": "Instant", "mana_value": 2, "keywords": [],
        ...             "effects": [{"text": "Counter target spell.", "value": 0.6}]})
        0.6
    """
    value = sum(KEYWORD_VALUE[k] for k in card.get("keywords", []))
    value += sum(e["value"] for e in card.get("effects", []))
    if card.get("power") is not None:
        fair = 2 * int(card["mana_value"]) + 1
        value += STAT_VALUE * (int(card["power"]) + int(card["toughness"]) - fair)
    return round(float(value), 3)


def write_cards(cards: Sequence[Mapping], seed) -> list[dict]:
    """``write_card`` for every card of a set, each from its own stream of ``seed``."""
    return [write_card(card, [*np.atleast_1d(seed).tolist(), i]) for i, card in enumerate(cards)]


SCRYFALL_FIELDS = ("mana_cost", "type_line", "oracle_text", "power", "toughness", "keywords")


def scryfall_object(card: Mapping, text: Mapping) -> dict:
    """One card as a Scryfall card object: ``cards.csv``'s row plus its text, under Scryfall's field names.

    Example:
        >>> card = {"name": "Eel", "expansion": "QLT", "rarity": "common", "color_identity": "U",
        ...         "mana_value": 1, "types": "Creature"}
        >>> obj = scryfall_object(card, write_card(card, seed=0))
        >>> obj["set"], obj["cmc"], obj["colors"]
        ('qlt', 1.0, ['U'])
    """
    colours = list(card["color_identity"] or "")
    return {"name": card["name"], "set": str(card.get("expansion", "")).lower(), "rarity": card["rarity"],
            "cmc": float(card["mana_value"]), "colors": colours, "color_identity": colours,
            **{field: text[field] for field in SCRYFALL_FIELDS}}


def _object_text(obj: Mapping, where: str) -> dict:
    """The readable fields of a Scryfall object; a card with faces (split, adventure, double-faced)
    joins its faces' texts with " // ", as Scryfall joins their names."""
    faces = obj.get("card_faces") or [obj]
    if "type_line" not in obj and not all("type_line" in face for face in faces):
        raise ValueError(f"{where}: no 'type_line'; is this a Scryfall card object "
                         "(bulk data 'oracle-cards')?")
    joined = {field: " // ".join(str(face.get(field) or "") for face in faces).strip(" /")
              for field in ("mana_cost", "type_line", "oracle_text")}
    joined.update({field: obj.get(field, faces[0].get(field)) for field in ("power", "toughness")})
    joined["keywords"] = list(obj.get("keywords", []))
    return joined


def read_card_text(path) -> dict[str, dict]:
    """``{card name: readable fields}`` from a Scryfall-format JSON file (a list of card objects, such
    as Scryfall's "oracle-cards" bulk file or the course's ``data/drafts/card_text.json``).

    Raises ValueError naming the entry and field when an object lacks what a card needs.

    Example:
        >>> import json, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cards.json"
        >>> _ = path.write_text(json.dumps([{"name": "Eel", "type_line": "Creature — Fish",
        ...                                  "oracle_text": "Flying", "power": "1", "toughness": "1"}]))
        >>> read_card_text(path)["Eel"]["type_line"]
        'Creature — Fish'
    """
    import json
    from pathlib import Path

    try:
        objects = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON ({error}); expected a list of Scryfall card objects.") from None
    if not isinstance(objects, list):
        raise ValueError(f"{path}: expected a JSON list of card objects, got {type(objects).__name__}.")
    texts = {}
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict) or "name" not in obj:
            raise ValueError(f"{path}: entry {i} has no 'name'; every card object needs one.")
        texts[obj["name"]] = _object_text(obj, f"{path}: entry {i} ({obj['name']!r})")
    return texts
