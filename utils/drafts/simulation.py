"""Two fictional card sets and simulated drafts, written in the exact 17lands ``draft_data_public`` schema.

The course cannot ship real 17lands data in its offline default, so it simulates drafts that look
like them and that ``utils.drafts.files.draft_picks_from_17lands`` reads unchanged:

- two invented sets: "Lantern Tides" (QLT, 14-card packs) for training and "Glass Orchard"
  (QGO, 13-card packs, one wildcard slot that can repeat a card) to test generalisation. Every
  name is made up for the course and some hold commas, apostrophes, hyphens and " // ".
- eight seats open a pack each, pick one card, pass the rest (left, then right, then left; "left"
  means to the seat with the next index), three packs in all, like a Magic booster draft.
- each simulated drafter is human-like: it scores a card by its hidden quality, plus a colour fit
  to its pool whose weight grows from 0 at the first pick to its full commitment at the last,
  plus a taste for some colours that fades, a bonus for rares in some drafters, and Gumbel noise
  whose size varies between drafters (less noise = a better drafter). Sampling the argmax of
  value + Gumbel noise is a softmax choice (the Gumbel-max trick; Maddison et al., 2014,
  https://arxiv.org/abs/1411.0030).
- seat 0 is the 17lands user whose picks are written, one row per pick; a few drafts lack their
  first picks, as some real files do. Match wins and losses follow a best-of-one Premier Draft
  (stop at 7 wins or 3 losses) played with a deck built from the final pool.

Example:
    >>> from utils.drafts import simulation as sim
    >>> drafts = sim.simulate_drafts("QLT", n_drafts=2, seed=0)
    >>> drafts.seen.shape      # drafts, seats, picks (3 packs x 14), cards of the set
    (2, 8, 42, 90)
    >>> frame = sim.drafts_frame(drafts, seed=0)
    >>> list(frame.columns[:4])
    ['expansion', 'event_type', 'draft_id', 'draft_time']

Regenerate the shipped files with ``python -m utils.drafts.simulation``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utils.drafts import card_text
from utils.drafts.files import DRAFTS_DIR, PACK_PREFIX, POOL_PREFIX

COLOURS = "WUBRG"
SEATS, PACKS = 8, 3
SEED = 2026
CARDS_FILE = "cards.csv"
EVENT_TYPE = "PremierDraft"
RANKS = ("bronze", "silver", "gold", "platinum", "diamond", "mythic")
GAMES_BUCKETS = (1, 5, 10, 50, 100, 500, 1000)
CEILING_COLUMN = "simulator_best_chance"  # the top-1 a picker that knew the drafter's values would get
TEXT_FILE = "card_text.json"  # what the cards say, as Scryfall card objects
RARITY_ORDER = {"common": 0, "uncommon": 1, "rare": 2, "mythic": 3}


@dataclass(frozen=True)
class SetSpec:
    """A fictional set: its code, pack make-up and the invented words its card names are built from."""

    code: str
    name: str
    commons: int  # common slots per pack (drawn without replacement)
    uncommons: int  # uncommon slots (without replacement)
    wildcards: int  # slots of any rarity, which can repeat a card already in the pack
    n_drafts: int  # drafts shipped under data/drafts/
    places: tuple[str, ...]
    creatures: tuple[str, ...]
    spells: tuple[str, ...]
    charms: tuple[str, ...]  # enchantments, named "<place>'s <charm>"
    artifacts: tuple[str, ...]
    legends: tuple[str, ...]  # five given names for the mythic legends, one per colour
    split_card: str  # a two-colour split card, "<half> // <half>"

    @property
    def pack_size(self) -> int:
        return self.commons + self.uncommons + 1 + self.wildcards


SETS = {
    "QLT": SetSpec(
        code="QLT", name="Lantern Tides", commons=10, uncommons=3, wildcards=0, n_drafts=400,
        places=("Brinewick", "Tallowmere", "Quillon", "Marrowtide", "Kelpmoor", "Lumenhold",
                "Saltgrave", "Wickfen", "Ossary", "Drennow", "Hallowquay", "Pellmar", "Vantreel"),
        creatures=("Lamplighter", "Netmender", "Eel-Herder", "Gull-Rider", "Tidecaller", "Wharf Warden",
                   "Smuggler", "Oarsman", "Lantern Witch", "Reef Drake", "Quay Hound", "Brine Troll",
                   "Lamp Moth", "Deckhand", "Harbor Seer", "Crab Knight", "Mist-Walker"),
        spells=("Undertow", "Beacon Call", "Riptide", "Lantern Burst", "Salt Ward", "Drowning Hymn",
                "Ember Squall", "Net Toss", "Tide Reckoning"),
        charms=("Vigil", "Pact", "Covenant", "Lament", "Blessing"),
        artifacts=("Compass", "Spyglass", "Buoy", "Tide Clock"),
        legends=("Vessa", "Orrimund", "Tamsk", "Ilweth", "Corrabel"),
        split_card="Kindle Brinewick // Drown Brinewick"),
}


# Word banks for generated sets: ordinary words, made unique to a set by an invented place name.
CREATURE_WORDS = ("Archer", "Badger", "Beetle", "Bellringer", "Boar", "Brewer", "Carter", "Chandler",
                  "Bone-Picker", "Eel-Catcher", "Half-Giant", "Moss-Back", "Root-Eater", "Thorn-Caller",
                  "Cobbler", "Crane", "Dancer", "Drover", "Ferret", "Fisher", "Fox", "Gardener", "Giant",
                  "Golem", "Hawk", "Hermit", "Heron", "Hound", "Hunter", "Imp", "Jackal", "Knight",
                  "Lancer", "Lynx", "Mason", "Miller", "Mole", "Newt", "Otter", "Owl", "Piper", "Potter",
                  "Raven", "Reaver", "Sage", "Scout", "Sentry", "Shepherd", "Skald", "Slinger", "Spider",
                  "Squire", "Stag", "Tanner", "Thatcher", "Toad", "Tracker", "Troll", "Viper", "Warden",
                  "Weaver", "Whelp", "Wolf", "Wraith", "Wren", "Yeoman")
SPELL_WORDS = ("Ambush", "Blaze", "Bloom", "Cinder", "Cleansing", "Deluge", "Dirge", "Downpour", "Echo",
               "Flare", "Frostbite", "Gale", "Gambit", "Hailstorm", "Insight", "Landslide", "Lullaby",
               "Mending", "Omen", "Rally", "Reckoning", "Rebuke", "Snare", "Stampede", "Tempest",
               "Vigil Song")
CHARM_WORDS = ("Accord", "Benediction", "Bond", "Charter", "Creed", "Decree", "Edict", "Hymn", "Ledger",
               "Mandate", "Pledge", "Refrain", "Rite", "Tithe", "Vow")
ARTIFACT_WORDS = ("Anvil", "Bellows", "Chalice", "Kettle", "Lantern", "Loom", "Mirror", "Orrery",
                  "Scales", "Sextant", "Spindle", "Waterwheel")
SYLLABLES = ("al", "bar", "bel", "bri", "cor", "dal", "dun", "el", "fen", "gar", "hal", "is", "kel", "lan",
             "mar", "mor", "nim", "or", "pel", "quar", "ren", "sel", "tam", "thor", "ul", "ven", "wy", "zan")


def _invented_word(rng: np.random.Generator,
                   suffixes=("", "mere", "wick", "holt", "dale", "ford", "moor")) -> str:
    word = "".join(rng.choice(SYLLABLES, rng.integers(2, 4)))
    return (word + rng.choice(suffixes)).capitalize()


def generate_spec(code: str, name: str, seed: int, n_drafts: int = 200, commons: int = 8,
                  uncommons: int = 3, wildcards: int = 1) -> SetSpec:
    """A new fictional set's spec from a seed: invented places and legends, ordinary creature, spell,
    charm and artifact words drawn from the banks above. Register it with ``register_set``.

    Example:
        >>> spec = generate_spec("QZZ", "Test Set", seed=1)
        >>> spec.code, spec.pack_size, len(spec.places), spec.split_card.count(" // ")
        ('QZZ', 13, 13, 1)
    """
    if not (len(code) == 3 and code.isalpha() and code.isupper()):
        raise ValueError(f"set code {code!r}: use three capital letters, like 17lands' set codes (e.g. QAB).")
    rng = np.random.default_rng([seed, sum(map(ord, code))])
    places: list[str] = []
    while len(places) < 13:  # 13 places and 17 creatures: coprime, so name pairs repeat after 221
        word = _invented_word(rng)
        if word not in places:
            places.append(word)
    pick = lambda bank, k: tuple(rng.choice(bank, k, replace=False).tolist())  # noqa: E731
    legends = tuple(_invented_word(rng, ("",)) for _ in range(5))
    halves = pick(SPELL_WORDS, 2)
    return SetSpec(code=code, name=name, commons=commons, uncommons=uncommons, wildcards=wildcards,
                   n_drafts=n_drafts, places=tuple(places), creatures=pick(CREATURE_WORDS, 17),
                   spells=pick(SPELL_WORDS, 9), charms=pick(CHARM_WORDS, 5),
                   artifacts=pick(ARTIFACT_WORDS, 4),
                   legends=legends, split_card=f"{halves[0]} {places[3]} // {halves[1]} {places[3]}")


def register_set(spec: SetSpec) -> SetSpec:
    """Make a generated set known to ``set_cards``, ``simulate_drafts`` and the writers, by its code."""
    if spec.code in SETS and SETS[spec.code] != spec:
        raise ValueError(f"set code {spec.code!r} is taken by {SETS[spec.code].name!r}; choose another code.")
    SETS[spec.code] = spec
    return spec


SETS["QGO"] = register_set(generate_spec("QGO", "Glass Orchard", seed=7))  # the unseen set: a generated one
COURSE_SETS = tuple(SETS)  # the shipped sets; sets registered later (generated for tests or training) are not


def _name_stream(spec: SetSpec):
    """Endless unique card names: each holds an invented place, so none is a real card's name."""
    places, creatures = itertools.cycle(spec.places), itertools.cycle(spec.creatures)
    for i in itertools.count():  # 13 places x 17 creatures are coprime: pairs repeat after 221
        place, creature = next(places), next(creatures)
        yield f"{place} {creature}" if i % 2 == 0 else f"{creature} of {place}"


def set_cards(code: str) -> pd.DataFrame:
    """The card list of a fictional set in the 17lands ``cards.csv`` columns (90 cards, fixed order).

    Per colour: 8 commons (5 creatures, 3 spells), 4 uncommons, 2 rares and a mythic legend; then
    ten two-colour uncommons (one a split card) and five colourless cards.

    Example:
        >>> set_cards("QLT").loc[0, ["expansion", "rarity", "color_identity"]].tolist()
        ['QLT', 'common', 'W']
    """
    spec = SETS[code]
    names, spells = _name_stream(spec), itertools.cycle(spec.spells)
    places = itertools.cycle(spec.places[::-1])
    rows: list[tuple[str, str, str, int, str]] = []  # name, rarity, colours, mana value, types

    def spell(i: int) -> tuple[str, str]:  # 13 places x 9 spells are coprime: pairs repeat after 117
        return f"{next(places)} {next(spells)}", ("Instant", "Sorcery")[i % 2]

    for c, colour in enumerate(COLOURS):
        for i in range(5):
            rows.append((next(names), "common", colour, 1 + (i + c) % 5, "Creature"))
        for i in range(3):
            name, kind = spell(3 * c + i)
            rows.append((name, "common", colour, 1 + i, kind))
        rows += [(next(names), "uncommon", colour, 3 + c % 2, "Creature"),
                 (next(names), "uncommon", colour, 4, "Creature"),
                 (spell(15 + c)[0], "uncommon", colour, 2, "Instant"),
                 (f"{spec.places[(c * 2 + 1) % len(spec.places)]}'s {spec.charms[c]}", "uncommon",
                  colour, 3, "Enchantment"),
                 (next(names), "rare", colour, 5, "Creature"),
                 (f"{spec.places[(c * 3 + 2) % len(spec.places)]}'s Grand {spec.charms[c]}", "rare",
                  colour, 4, "Enchantment"),
                 (f"{spec.legends[c]}, {spec.creatures[c * 3]} of {spec.places[c]}", "mythic", colour,
                  4 + c % 2, "Legendary Creature")]
    for i, pair in enumerate(itertools.combinations(COLOURS, 2)):
        name = spec.split_card if i == 0 else next(names)
        rows.append((name, "uncommon", "".join(pair), 2 + i % 3, "Instant" if i == 0 else "Creature"))
    for i, thing in enumerate(spec.artifacts[:3]):
        rows.append((f"{spec.places[-1 - i]} {thing}", "common", "", 2 + i, "Artifact"))
    rows.append((f"{spec.places[6]} Quay", "uncommon", "", 0, "Land"))
    rows.append((f"{spec.places[7]} {spec.artifacts[3]}", "rare", "", 3, "Artifact"))
    cards = pd.DataFrame(rows, columns=["name", "rarity", "color_identity", "mana_value", "types"])
    if not cards["name"].is_unique:
        repeated = cards["name"][cards["name"].duplicated()].tolist()
        raise ValueError(f"set {code}: card names repeat {repeated}; change SETS[{code!r}]'s word lists.")
    cards.insert(0, "expansion", code)
    cards.insert(0, "id", 90_000 + 1000 * list(SETS).index(code) + np.arange(len(cards)))
    cards["is_booster"] = True
    return cards


def card_texts(code: str) -> list[dict]:
    """What a player reads on each card of ``set_cards(code)`` (same order): ``card_text.write_card``'s
    fields, drawn from the set's seed.

    Example:
        >>> card_texts("QLT")[0]["type_line"]
        'Creature — Lamplighter'
    """
    return card_text.write_cards(set_cards(code).to_dict("records"), seed=[SEED, sum(map(ord, code))])


def card_quality(code: str) -> np.ndarray:
    """The hidden quality of each card of ``set_cards(code)`` (same order): the value its text implies
    (``card_text.text_value``) plus a small remainder no text shows (``card_text.REMAINDER_SD``).

    Rarer cards have stronger text on average, so they are better on average too.

    Example:
        >>> q = card_quality("QLT"); cards = set_cards("QLT")
        >>> bool(q[cards["rarity"] == "mythic"].mean() > q[cards["rarity"] == "common"].mean())
        True
    """
    cards = set_cards(code).to_dict("records")
    rng = np.random.default_rng([SEED, sum(map(ord, code)), 1])
    texts = card_texts(code)
    values = [card_text.text_value({**card, **text}) for card, text in zip(cards, texts, strict=True)]
    return np.array(values) + rng.normal(0.0, card_text.REMAINDER_SD, len(cards))


def scryfall_cards(code: str) -> list[dict]:
    """The cards of a set as Scryfall card objects (the fields a player reads, Scryfall's names), the
    format ``utils.drafts.card_text.read_card_text`` joins to ``cards.csv``.

    Example:
        >>> sorted(scryfall_cards("QGO")[0])[:4]
        ['cmc', 'color_identity', 'colors', 'keywords']
    """
    cards = set_cards(code).to_dict("records")
    return [card_text.scryfall_object(card, text) for card, text in zip(cards, card_texts(code), strict=True)]


def colour_matrix(cards: pd.DataFrame) -> np.ndarray:
    """A (cards, 5) 0/1 matrix: which of W, U, B, R, G each card's colour identity holds.

    Example:
        >>> colour_matrix(pd.DataFrame({"color_identity": ["WU", ""]})).tolist()
        [[1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    return np.array([[float(c in identity) for c in COLOURS] for identity in cards["color_identity"]])


def make_packs(cards: pd.DataFrame, spec: SetSpec, n_packs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_packs`` boosters as an (n_packs, cards) count matrix: commons, uncommons, a rare slot
    (a mythic one time in eight) and ``spec.wildcards`` slots of any rarity.

    Example:
        >>> spec = SETS["QGO"]
        >>> make_packs(set_cards("QGO"), spec, 4, np.random.default_rng(0)).sum(axis=1).tolist()
        [13, 13, 13, 13]
    """
    rarity = cards["rarity"].to_numpy()
    packs = np.zeros((n_packs, len(cards)), dtype=np.int16)
    rows = np.arange(n_packs)[:, None]
    for name, k in (("common", spec.commons), ("uncommon", spec.uncommons)):
        members = np.flatnonzero(rarity == name)
        chosen = members[rng.random((n_packs, len(members))).argsort(axis=1)[:, :k]]
        np.add.at(packs, (np.broadcast_to(rows, chosen.shape), chosen), 1)
    rares, mythics = np.flatnonzero(rarity == "rare"), np.flatnonzero(rarity == "mythic")
    slot = np.where(rng.random(n_packs) < 1 / 8, rng.choice(mythics, n_packs), rng.choice(rares, n_packs))
    np.add.at(packs, (rows[:, 0], slot), 1)
    share = cards["rarity"].map({"common": 0.7, "uncommon": 0.2, "rare": 0.08, "mythic": 0.02})
    weights = (share / cards["rarity"].map(cards["rarity"].value_counts())).to_numpy(dtype=float)
    for _ in range(spec.wildcards):
        np.add.at(packs, (rows[:, 0], rng.choice(len(cards), n_packs, p=weights / weights.sum())), 1)
    return packs


@dataclass
class SimulatedDrafts:
    """Every seat's view of every pick of ``n`` simulated drafts of one set.

    ``seen[d, s, t]`` is the pack (card counts) seat ``s`` of draft ``d`` saw at pick ``t``
    (0..3*pack_size-1), ``picks[d, s, t]`` the index of the card it took, ``pool0[d, t]`` seat 0's
    pool before pick ``t``; ``drafters`` holds each seat's parameters (arrays of shape (n, 8));
    ``best_chance[d, t]`` is the chance of seat 0's most likely card at pick ``t``: the top-1 accuracy
    of a picker that knew the drafter's hidden values exactly, the ceiling no picker can pass on average.
    """

    spec: SetSpec
    cards: pd.DataFrame
    quality: np.ndarray
    seen: np.ndarray
    picks: np.ndarray
    pool0: np.ndarray
    drafters: dict[str, np.ndarray] = field(default_factory=dict)
    best_chance: np.ndarray | None = None  # (n, picks): seat 0's chance of its most likely card


def random_drafters(n_drafts: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Parameters of ``n_drafts`` x 8 drafters: commitment, noise, colour taste, rare bonus.

    Example:
        >>> random_drafters(3, np.random.default_rng(0))["taste"].shape
        (3, 8, 5)
    """
    shape = (n_drafts, SEATS)
    return {"commitment": rng.uniform(1.5, 3.0, shape),  # weight of colour_affinity at the last pick
            "noise": np.exp(rng.normal(np.log(0.35), 0.4, shape)),  # Gumbel scale: lower is better
            "taste": rng.normal(0.0, 0.25, shape + (len(COLOURS),)),  # early colour preference
            "rare_bonus": np.where(rng.random(shape) < 0.2, 0.3, 0.0)}  # some drafters take rares


def colour_affinity(pool: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """How well each card suits each pool (a simulated drafter's colour fit), in [0, 1]: 2.5 x the
    pool's mean share of the card's colours, capped at 1; colourless cards fit every pool at 0.8.
    (The prompts' ``fit N`` is another measure: ``prompts.shared_colour_count``.)

    Example:
        >>> colours = np.array([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [0, 0, 0, 0, 0]])
        >>> colour_affinity(np.array([[3, 1, 0]]), colours).round(2).tolist()
        [[1.0, 0.62, 0.8]]
    """
    counts = pool @ colours
    share = counts / np.maximum(counts.sum(axis=-1, keepdims=True), 1)
    n_colours = colours.sum(axis=1)
    fit = np.minimum(1.0, 2.5 * (share @ colours.T) / np.maximum(n_colours, 1))
    return np.where(n_colours == 0, 0.8, fit)


def choose_cards(packs: np.ndarray, pools: np.ndarray, progress: float, quality: np.ndarray,
                 colours: np.ndarray, rare: np.ndarray, drafters: dict[str, np.ndarray],
                 rng: np.random.Generator) -> np.ndarray:
    """Each seat's pick (a card index) from its pack, given its pool and the draft's progress in [0, 1].

    Example:
        >>> cards = set_cards("QLT"); d = random_drafters(1, np.random.default_rng(0))
        >>> packs = np.zeros((1, 8, 90)); packs[..., 5] = 1
        >>> choose_cards(packs, np.zeros((1, 8, 90)), 0.0, card_quality("QLT"), colour_matrix(cards),
        ...              np.zeros(90), d, np.random.default_rng(0)).tolist()
        [[5, 5, 5, 5, 5, 5, 5, 5]]
    """
    score = (pick_values(pools, progress, quality, colours, rare, drafters)
             + drafters["noise"][..., None] * rng.gumbel(size=packs.shape))
    return np.where(packs > 0, score, -np.inf).argmax(axis=-1)


def pick_values(pools: np.ndarray, progress: float, quality: np.ndarray, colours: np.ndarray,
                rare: np.ndarray, drafters: dict[str, np.ndarray]) -> np.ndarray:
    """What each seat's drafter sees in each card before its noise: quality, colour fit to its pool
    (weighted by its commitment and the draft's progress), a fading colour taste and a rare bonus."""
    n_colours = np.maximum(colours.sum(axis=1), 1)
    return (quality + drafters["commitment"][..., None] * progress * colour_affinity(pools, colours)
            + (1 - progress) * (drafters["taste"] @ colours.T) / n_colours
            + drafters["rare_bonus"][..., None] * rare)


def choice_probabilities(packs: np.ndarray, values: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The chance a drafter takes each card: the argmax of value + Gumbel(noise) over the pack's copies
    is a softmax of value / noise, weighted by each card's number of copies (Gumbel-max trick).

    Example:
        >>> chance = choice_probabilities(np.array([[2, 1, 0]]), np.array([[0.0, 0.0, 5.0]]), np.array([1.0]))
        >>> chance.round(3).tolist()
        [[0.667, 0.333, 0.0]]
    """
    logits = np.where(packs > 0, values / noise[..., None] + np.log(np.maximum(packs, 1)), -np.inf)
    logits = logits - logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)


def simulate_drafts(code: str, n_drafts: int, seed: int = SEED) -> SimulatedDrafts:
    """Simulate ``n_drafts`` eight-seat drafts of set ``code``, all drafts at once with numpy.

    Example:
        >>> d = simulate_drafts("QGO", 1, seed=3)
        >>> int(d.seen[0, 0, 0].sum()), int(d.seen[0, 0, 12].sum())   # a full pack, its last card
        (13, 1)
    """
    spec, cards = SETS[code], set_cards(code)
    quality, colours = card_quality(code), colour_matrix(cards)
    rare = cards["rarity"].isin(["rare", "mythic"]).to_numpy(dtype=float)
    rng = np.random.default_rng([seed, sum(map(ord, code))])
    drafters = random_drafters(n_drafts, rng)
    n_picks, size = PACKS * spec.pack_size, spec.pack_size
    seen = np.zeros((n_drafts, SEATS, n_picks, len(cards)), dtype=np.uint8)
    picks = np.zeros((n_drafts, SEATS, n_picks), dtype=np.int64)
    pools = np.zeros((n_drafts, SEATS, len(cards)), dtype=np.int64)
    pool0 = np.zeros((n_drafts, n_picks, len(cards)), dtype=np.uint8)
    best_chance = np.zeros((n_drafts, n_picks))  # seat 0: the chance of its most likely card
    draft, seat = np.indices((n_drafts, SEATS))
    for pack_number in range(PACKS):
        packs = make_packs(cards, spec, n_drafts * SEATS, rng).reshape(n_drafts, SEATS, -1)
        direction = -1 if pack_number == 1 else 1  # left, right, left
        for pick_number in range(size):
            t = pack_number * size + pick_number
            seen[:, :, t], pool0[:, t] = packs, pools[:, 0]
            values = pick_values(pools[:, :1], t / (n_picks - 1), quality, colours, rare,
                                 {k: v[:, :1] for k, v in drafters.items()})
            chance = choice_probabilities(packs[:, 0], values[:, 0], drafters["noise"][:, 0])
            best_chance[:, t] = chance.max(-1)
            picks[:, :, t] = choose_cards(packs, pools, t / (n_picks - 1), quality, colours, rare,
                                          drafters, rng)
            pools[draft, seat, picks[:, :, t]] += 1
            packs[draft, seat, picks[:, :, t]] -= 1
            packs = np.roll(packs, direction, axis=1)  # seat s hands its pack to seat s + direction
    return SimulatedDrafts(spec, cards, quality, seen, picks, pool0, drafters, best_chance)


def final_deck(pool: np.ndarray, quality: np.ndarray, colours: np.ndarray, size: int = 23) -> np.ndarray:
    """A (cards,) count vector: the best ``size`` cards of a pool castable in its two main colours.

    Example:
        >>> colours = np.array([[1.0, 0, 0, 0, 0], [0, 0, 0, 0, 1.0]])
        >>> final_deck(np.array([2, 1]), np.array([1.0, 2.0]), colours, size=2).tolist()
        [1, 1]
    """
    main = np.argsort(-(pool @ colours), kind="stable")[:2]
    castable = (colours[:, [c for c in range(len(COLOURS)) if c not in main]].sum(axis=1) == 0)
    copies = np.repeat(np.arange(len(pool)), np.where(castable, pool, 0))
    best = copies[np.argsort(-quality[copies], kind="stable")[:size]]
    return np.bincount(best, minlength=len(pool))


def play_event(strength: float, rng: np.random.Generator) -> tuple[int, int]:
    """Wins and losses of a Premier Draft run: matches won with probability ``strength`` until 7
    wins or 3 losses.

    Example:
        >>> play_event(1.0, np.random.default_rng(0))
        (7, 0)
    """
    wins = losses = 0
    while wins < 7 and losses < 3:
        if rng.random() < strength:
            wins += 1
        else:
            losses += 1
    return wins, losses


def user_outcomes(drafts: SimulatedDrafts, rng: np.random.Generator) -> pd.DataFrame:
    """Per draft, seat 0's 17lands user fields: draft id and time, rank, match wins and losses (a
    Premier Draft run with the deck built from the final pool) and the user buckets.

    Example:
        >>> user_outcomes(simulate_drafts("QLT", 2), np.random.default_rng(0))["rank"].isin(RANKS).all()
        np.True_
    """
    n_drafts, n_cards = len(drafts.picks), len(drafts.cards)
    colours = colour_matrix(drafts.cards)
    final_pools = drafts.pool0[:, -1] + np.eye(n_cards, dtype=np.int64)[drafts.picks[:, 0, -1]]
    decks = np.stack([final_deck(pool, drafts.quality, colours) for pool in final_pools])
    strength = (decks @ drafts.quality) / decks.sum(axis=1)
    skill = -np.log(drafts.drafters["noise"][:, 0])
    win_prob = 1 / (1 + np.exp(-(2.0 * (strength - np.median(strength)) + 0.5 * (skill - skill.mean()))))
    record = np.array([play_event(p, rng) for p in win_prob], dtype=np.int64).reshape(-1, 2)
    seconds = np.sort(rng.integers(0, 30 * 86_400, n_drafts))
    start = pd.Timestamp("2026-03-03 00:00:00") + pd.to_timedelta(seconds, "s")
    rank = np.searchsorted(np.quantile(skill, np.linspace(0, 1, len(RANKS) + 1)[1:-1]), skill)
    return pd.DataFrame({
        "draft_id": [f"{rng.integers(2**63):016x}{rng.integers(2**63):016x}" for _ in range(n_drafts)],
        "draft_time": start.strftime("%Y-%m-%d %H:%M:%S"), "rank": np.array(RANKS)[rank],
        "event_match_wins": record[:, 0], "event_match_losses": record[:, 1],
        "user_n_games_bucket": rng.choice(GAMES_BUCKETS, n_drafts),
        "user_game_win_rate_bucket": np.round(np.clip(np.floor(win_prob / 0.02) * 0.02, 0.3, 0.8), 2),
        "deck": list(decks)})


def drafts_frame(drafts: SimulatedDrafts, seed: int = SEED,
                 missing_first_picks: float = 0.03, ceiling: bool = False) -> pd.DataFrame:
    """Seat 0's picks as a 17lands ``draft_data_public`` table, one row per pick.

    A fraction ``missing_first_picks`` of drafts lose their first 1-3 rows, as in some real files.
    ``ceiling=True`` adds the column ``CEILING_COLUMN`` (``SimulatedDrafts.best_chance``), which is
    not part of the 17lands schema: ``write_course_drafts`` writes it to a file of its own.

    Example:
        >>> frame = drafts_frame(simulate_drafts("QLT", 1), missing_first_picks=0.0)
        >>> frame[["pack_number", "pick_number"]].iloc[-1].tolist()   # 0-based, as 17lands writes
        [2, 13]
    """
    rng = np.random.default_rng([seed, 17])
    users = user_outcomes(drafts, rng)
    n_drafts, _, n_picks, _ = drafts.seen.shape
    skip = np.where(rng.random(n_drafts) < missing_first_picks, rng.integers(1, 4, n_drafts), 0)
    d_idx, t_idx = np.nonzero(np.arange(n_picks)[None, :] >= skip[:, None])
    names, size = drafts.cards["name"].to_numpy(), drafts.spec.pack_size
    picked = drafts.picks[d_idx, 0, t_idx]
    user = users.iloc[d_idx].reset_index(drop=True)
    in_deck = np.stack(users["deck"].to_numpy())[d_idx, picked] > 0
    columns = pd.DataFrame({
        "expansion": drafts.spec.code, "event_type": EVENT_TYPE, "draft_id": user["draft_id"],
        "draft_time": user["draft_time"], "rank": user["rank"],
        "event_match_wins": user["event_match_wins"], "event_match_losses": user["event_match_losses"],
        "pack_number": t_idx // size, "pick_number": t_idx % size, "pick": names[picked],
        "pick_maindeck_rate": in_deck.astype(float), "pick_sideboard_in_rate": 0.0})
    pack = pd.DataFrame(drafts.seen[d_idx, 0, t_idx].astype(np.int64), columns=PACK_PREFIX + names)
    pool = pd.DataFrame(drafts.pool0[d_idx, t_idx].astype(np.int64), columns=POOL_PREFIX + names)
    buckets = user[["user_n_games_bucket", "user_game_win_rate_bucket"]]
    frame = pd.concat([columns, pack, pool, buckets], axis=1)
    if ceiling:
        frame[CEILING_COLUMN] = drafts.best_chance[d_idx, t_idx].round(4)
    return frame


def write_gzip_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as gzipped CSV with a zero timestamp, so the same table gives the same bytes.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_gzip_csv(pd.DataFrame({"a": [1]}), pathlib.Path(tempfile.mkdtemp()) / "a.csv.gz")
        >>> gzip.open(p, "rt").read()
        'a\\n1\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(data)
    return path


def draft_file_name(code: str) -> str:
    """The 17lands file name of a set's Premier Draft data: ``draft_data_public.QLT.PremierDraft.csv.gz``."""
    return f"draft_data_public.{code}.{EVENT_TYPE}.csv.gz"


def ceiling_file_name(code: str) -> str:
    """The file beside a set's draft file that holds the simulator's ceiling per pick."""
    return f"simulator_ceiling.{code}.csv.gz"


def write_set_drafts(drafts: SimulatedDrafts, out_dir: Path, seed: int) -> list[Path]:
    """A set's draft file (17lands schema) and its ceiling file (draft id, pack, pick, best chance)."""
    frame = drafts_frame(drafts, seed, ceiling=True)
    keys = ["draft_id", "pack_number", "pick_number", CEILING_COLUMN]
    code = drafts.spec.code
    return [write_gzip_csv(frame.drop(columns=CEILING_COLUMN), out_dir / draft_file_name(code)),
            write_gzip_csv(frame[keys], out_dir / ceiling_file_name(code))]


def write_card_text(codes, path: Path) -> Path:
    """The text of every card of ``codes`` as one JSON list of Scryfall card objects."""
    objects = [obj for code in codes for obj in scryfall_cards(code)]
    path.write_text(json.dumps(objects, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_course_drafts(out_dir: str | Path = DRAFTS_DIR, seed: int = SEED,
                        n_drafts: int | None = None) -> list[Path]:
    """Write ``cards.csv`` (both sets) and one draft file per fictional set; returns the paths.

    ``n_drafts`` overrides each set's shipped count (``SetSpec.n_drafts``), e.g. for tests.

    Example:
        >>> import tempfile
        >>> [p.name for p in write_course_drafts(tempfile.mkdtemp(), n_drafts=2)][0]
        'cards.csv'
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cards = pd.concat([set_cards(code) for code in COURSE_SETS], ignore_index=True)
    paths = [out_dir / CARDS_FILE, write_card_text(COURSE_SETS, out_dir / TEXT_FILE)]
    cards.to_csv(paths[0], index=False, lineterminator="\n")
    for code in COURSE_SETS:
        spec = SETS[code]
        paths += write_set_drafts(simulate_drafts(code, n_drafts or spec.n_drafts, seed), out_dir, seed)
    return paths


def course_draft_file(code: str = "QLT", data_dir: str | Path = DRAFTS_DIR) -> Path:
    """The path of a fictional set's shipped draft file, writing all course files first if missing.

    Example:
        >>> course_draft_file("QGO").name
        'draft_data_public.QGO.PremierDraft.csv.gz'
    """
    if code not in SETS:
        raise KeyError(f"no fictional set {code!r}; the course's sets are {sorted(SETS)}.")
    path = Path(data_dir) / draft_file_name(code)
    if not path.exists() or not (Path(data_dir) / CARDS_FILE).exists():
        write_course_drafts(data_dir)
    return path


def write_new_set(spec: SetSpec, out_dir: str | Path, seed: int = SEED) -> list[Path]:
    """A generated set's files in a folder of their own: ``cards.csv``, ``card_text.json``, its draft
    file and its ceiling file. Refuses to overwrite files that are already there.

    Example:
        >>> import tempfile
        >>> spec = generate_spec("QZY", "Doc Set", seed=2, n_drafts=2)
        >>> [p.name for p in write_new_set(spec, tempfile.mkdtemp())][:2]
        ['cards.csv', 'card_text.json']
    """
    out_dir = Path(out_dir)
    names = [CARDS_FILE, TEXT_FILE, draft_file_name(spec.code), ceiling_file_name(spec.code)]
    taken = [name for name in names if (out_dir / name).exists()]
    if taken:
        raise FileExistsError(f"{out_dir} already holds {taken}; choose an empty folder (--out) "
                              "so nothing is overwritten.")
    register_set(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_cards(spec.code).to_csv(out_dir / CARDS_FILE, index=False, lineterminator="\n")
    paths = [out_dir / CARDS_FILE, write_card_text([spec.code], out_dir / TEXT_FILE)]
    return paths + write_set_drafts(simulate_drafts(spec.code, spec.n_drafts, seed), out_dir, seed)


def main(argv: list[str] | None = None) -> None:
    """``python -m utils.drafts.simulation [--out DIR] [--seed N]``: rewrite the course's draft files;
    ``... --new-set CODE --name NAME --set-seed N --out DIR``: write a new generated set instead."""
    parser = argparse.ArgumentParser(prog="python -m utils.drafts.simulation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None,
                        help="folder to write (default data/drafts; required with --new-set)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the simulated drafts")
    parser.add_argument("--new-set", metavar="CODE", help="generate a new set with this three-letter code")
    parser.add_argument("--name", default="Generated Set", help="the new set's name")
    parser.add_argument("--set-seed", type=int, default=0, help="seed of the new set's cards")
    parser.add_argument("--drafts", type=int, default=200, help="simulated drafts of the new set")
    args = parser.parse_args(argv)
    if args.new_set:
        if args.out is None:
            parser.error("--new-set needs --out, a folder of its own "
                         "(the course's data/drafts is not overwritten)")
        try:
            paths = write_new_set(generate_spec(args.new_set, args.name, args.set_seed, n_drafts=args.drafts),
                                  args.out, args.seed)
        except (ValueError, FileExistsError) as error:
            parser.exit(2, f"error: {error}\n")
    else:
        paths = write_course_drafts(args.out or DRAFTS_DIR, args.seed)
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
