"""A draft you can play: you take one card per pick, seven simulated drafters take theirs, the
packs pass, and at the end your deck is built and its simulated record played out.

Plain functions over a ``DraftGame`` state, so tests play whole drafts without a browser; the
notebook's panel is a thin layer over ``new_game``, ``suggestions``, ``take`` and ``result``.
Any picker can advise: ``suggestions`` takes a scorer, a function from a pick record (the dict
``utils.drafts.files`` makes) to ``{card name: score}``, and turns its scores into probabilities.

Example:
    >>> from utils.drafts import draft_game as dg
    >>> game = dg.new_game("QLT", seed=0)
    >>> record = dg.pick_record(game)
    >>> record["pack_number"], record["pick_number"], len(record["pack"]), record["pool"]
    (1, 1, 14, [])
    >>> game = dg.take(game, record["pack"][0])
    >>> dg.pick_record(game)["pick_number"], len(dg.pick_record(game)["pack"])
    (2, 13)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from utils.drafts import simulation as sim

Scorer = Callable[[Mapping], Mapping[str, float]]
REMOVAL = r"deals \d+ damage|Destroy target|gets -\d+/-\d+|Exile target|can't attack or block|fights"


@dataclass(frozen=True)
class DraftGame:
    """Where a draft stands: the packs in the seats' hands, their pools, the pick under way."""

    code: str
    seed: int
    packs: np.ndarray  # (8, cards) counts: the pack each seat holds now
    pools: np.ndarray  # (8, cards) counts: what each seat has taken
    pick: int  # 0 .. 3 x pack size - 1
    drafters: dict  # the seven opponents' (and an unused seat-0) parameters, arrays of shape (1, 8)
    history: tuple = ()  # your picks, in order

    @property
    def cards(self):
        return sim.set_cards(self.code)

    @property
    def pack_size(self) -> int:
        return sim.SETS[self.code].pack_size


def _rng(game_or_code, seed: int, pick: int) -> np.random.Generator:
    code = game_or_code if isinstance(game_or_code, str) else game_or_code.code
    return np.random.default_rng([seed, sum(map(ord, code)), pick])


def _open_packs(code: str, seed: int, pack_number: int) -> np.ndarray:
    cards, spec = sim.set_cards(code), sim.SETS[code]
    rng = np.random.default_rng([seed, sum(map(ord, code)), 1000 + pack_number])
    return sim.make_packs(cards, spec, sim.SEATS, rng).astype(np.int64)


def new_game(code: str = "QLT", seed: int = 0) -> DraftGame:
    """A fresh draft of set ``code``: eight packs opened, seven simulated opponents drawn from ``seed``.

    Example:
        >>> new_game("QGO", seed=1).packs.sum(axis=1).tolist()  # eight packs of 13 cards
        [13, 13, 13, 13, 13, 13, 13, 13]
    """
    if code not in sim.SETS:
        raise ValueError(f"no set {code!r}; the known sets are {sorted(sim.SETS)}.")
    drafters = sim.random_drafters(1, np.random.default_rng([seed, 7]))
    n_cards = len(sim.set_cards(code))
    return DraftGame(code, seed, _open_packs(code, seed, 0), np.zeros((sim.SEATS, n_cards), dtype=np.int64),
                     0, drafters)


def finished(game: DraftGame) -> bool:
    """True once every card of the three packs has been taken."""
    return game.pick >= sim.PACKS * game.pack_size


def pick_record(game: DraftGame) -> dict:
    """Your current pick as a pick record (1-based pack and pick numbers, as the loader writes them).

    Example:
        >>> record = pick_record(new_game())
        >>> len(record["pack"]), record["pool"]
        (14, [])
    """
    if finished(game):
        raise ValueError("the draft is over: every card has been taken; see result(game).")
    names = game.cards["name"].to_numpy()
    return {"draft_id": f"play-{game.seed}", "expansion": game.code,
            "pack_number": game.pick // game.pack_size + 1, "pick_number": game.pick % game.pack_size + 1,
            "pack": [str(n) for n, k in zip(names, game.packs[0], strict=True) for _ in range(k)],
            "pool": [str(n) for n, k in zip(names, game.pools[0], strict=True) for _ in range(k)]}


def take(game: DraftGame, name: str) -> DraftGame:
    """You take ``name``; the seven opponents take theirs; the packs pass (left, right, left), and a
    new pack is opened when one runs out. Returns the new state (the old one is unchanged).
    """
    if finished(game):
        raise ValueError("the draft is over: every card has been taken; see result(game).")
    names = game.cards["name"].tolist()
    if name not in names or game.packs[0, names.index(name)] == 0:
        choices = sorted(set(pick_record(game)["pack"]))
        raise ValueError(f"{name!r} is not in your pack; choose one of {choices}.")
    cards, quality = game.cards, sim.card_quality(game.code)
    colours = sim.colour_matrix(cards)
    rare = cards["rarity"].isin(["rare", "mythic"]).to_numpy(dtype=float)
    n_picks = sim.PACKS * game.pack_size
    choices = sim.choose_cards(game.packs[None], game.pools[None], game.pick / (n_picks - 1), quality,
                               colours, rare, game.drafters, _rng(game, game.seed, game.pick))[0]
    choices[0] = names.index(name)
    packs, pools = game.packs.copy(), game.pools.copy()
    seats = np.arange(sim.SEATS)
    pools[seats, choices] += 1
    packs[seats, choices] -= 1
    pick = game.pick + 1
    pack_number = pick // game.pack_size
    if pick % game.pack_size == 0:
        packs = _open_packs(game.code, game.seed, pack_number) if pick < n_picks else packs
    else:
        packs = np.roll(packs, -1 if pack_number == 1 else 1, axis=0)  # as simulate_drafts passes them
    return replace(game, packs=packs, pools=pools, pick=pick, history=game.history + (name,))


def suggestions(game: DraftGame, scorer: Scorer, info: Mapping[str, Mapping] | None = None,
                k: int = 3) -> list[dict]:
    """The scorer's top ``k`` cards of your pack: name, probability (a softmax over the pack's
    distinct cards) and a one-line reason read from the card's text and your pool.

    Example:
        >>> game = new_game()
        >>> top = suggestions(game, lambda r: {n: float(len(n)) for n in r["pack"]}, k=2)
        >>> [round(s["probability"], 2) <= 1 for s in top], len(top)
        ([True, True], 2)
    """
    record = pick_record(game)
    scores = scorer(record)
    names = list(dict.fromkeys(record["pack"]))
    values = np.array([scores[n] for n in names], dtype=float)
    prob = np.exp(values - values.max())
    prob /= prob.sum()
    order = np.argsort(-prob, kind="stable")[:k]
    return [{"name": names[i], "probability": float(prob[i]),
             "reason": reason(names[i], record["pool"], info)} for i in order]


def reason(name: str, pool: list[str], info: Mapping[str, Mapping] | None) -> str:
    """One line on why a card is worth taking, read from its text and the pool: its strongest
    feature (removal, card draw, an evasive or efficient body) and how it fits your colours.

    Example:
        >>> info = {"Gull": {"colour": "U", "mana_value": 2, "text": "{1}{U} Creature — Bird 3/2. Flying."},
        ...         "Eel": {"colour": "U", "mana_value": 1, "text": "{U} Creature — Fish 1/1."}}
        >>> reason("Gull", ["Eel", "Eel"], info)
        'a 3/2 flyer for 2; shares a colour with 2 of your 2 cards'
    """
    card = (info or {}).get(name)
    if card is None or "text" not in card:
        return "no card text loaded"
    text = card["text"]
    sentences = [part.strip().rstrip(".") for part in text.split(". ")]
    if re.search(REMOVAL, text):
        what = "removal: " + next(part for part in sentences if re.search(REMOVAL, part))
    elif "draw" in text.lower():
        what = "card draw: " + next(part for part in sentences if "draw" in part.lower())
    elif m := re.search(r" (\d+)/(\d+)\.", text):
        power, toughness, cost = int(m.group(1)), int(m.group(2)), int(card["mana_value"])
        flyer = "Flying" in text
        body = f"a {power}/{toughness}{' flyer' if flyer else ''} for {cost}"
        what = body + (" (big for its cost)" if power + toughness > 2 * cost + 2 and not flyer else "")
    else:
        what = text.split(". ", 1)[-1].rstrip(".") or "a card"
    colours = set(card["colour"]) - {"C"}
    if not pool:
        return what
    if not colours:
        return f"{what}; colourless, fits any deck"
    shared = sum(1 for other in pool if colours & set((info or {}).get(other, {}).get("colour", "")))
    return f"{what}; shares a colour with {shared} of your {len(pool)} cards"


def result(game: DraftGame) -> dict:
    """Your deck (the best 23 cards in your two main colours, as the simulation builds decks), its
    mean quality against the seven opponents' decks, and a simulated Premier Draft record.

    Example:
        >>> game = new_game(seed=3)
        >>> while not finished(game):
        ...     game = take(game, pick_record(game)["pack"][0])
        >>> out = result(game)
        >>> len(out["deck"]), out["wins"] <= 7 and out["losses"] <= 3
        (23, True)
    """
    if not finished(game):
        raise ValueError(f"the draft is at pick {game.pick + 1}; finish it before asking for the result.")
    cards, quality = game.cards, sim.card_quality(game.code)
    colours = sim.colour_matrix(cards)
    decks = np.stack([sim.final_deck(pool, quality, colours) for pool in game.pools])
    strength = (decks @ quality) / decks.sum(axis=1)
    win_prob = 1 / (1 + np.exp(-2.0 * (strength[0] - np.median(strength[1:]))))
    wins, losses = sim.play_event(float(win_prob), _rng(game, game.seed, 10_000))
    names = cards["name"].to_numpy()
    deck = [str(n) for n, k in zip(names, decks[0], strict=True) for _ in range(k)]
    return {"deck": deck, "strength": float(strength[0]),
            "opponents_strength": float(np.median(strength[1:])), "win_probability": float(win_prob),
            "wins": wins, "losses": losses}
