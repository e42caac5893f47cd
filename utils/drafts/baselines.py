"""Baselines a draft-pick model must beat, and the helpers to score them on pick records.

A pick record is the dict ``utils.drafts.files`` produces (``pack``, ``pool``, ``pick``, ``draft_id``...).
Every baseline ranks the distinct cards of the pack, best first (``*_ranking``); its pick is the
first card (``*_pick``):

- ``random_ranking``: a random order (top-1 accuracy near 1 / distinct cards in the pack);
- ``rarity_ranking``: rarest first (mythic > rare > uncommon > common), ties at random;
- ``rating_ranking`` with ``pick_rate_ratings`` (how often a card is taken when seen) or
  ``average_pick_ratings`` (minus its average pick number within the pack, the "average taken at"
  statistic 17lands reports as ATA, https://www.17lands.com/metrics_definitions);
- ``conditional_logit_ranking`` with ``fit_conditional_logit``: a conditional-logit ranker
  (McFadden, 1974; the
  many-item form of Bradley-Terry, Bradley & Terry, 1952), one value per card plus weights on how
  well the card's colours match the pool, fitted by L-BFGS on training drafts.

``pick_accuracy`` scores a ranking function (top-1 and top-3), ``split_by_draft`` splits records
so that no draft has picks on both sides.

Example:
    >>> from utils.drafts import baselines as base
    >>> records = [{"draft_id": "a", "pack": ["Gull", "Eel", "Eel"], "pool": [], "pick": "Eel"},
    ...            {"draft_id": "a", "pack": ["Gull", "Eel"], "pool": ["Eel"], "pick": "Eel"}]
    >>> ratings = base.pick_rate_ratings(records)
    >>> base.rating_ranking(records[0], ratings)
    ['Eel', 'Gull']
    >>> base.pick_accuracy(records, lambda r: base.rating_ranking(r, ratings))
    {'top1': 1.0, 'top3': 1.0}
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

RARITY_RANK = {"common": 0, "uncommon": 1, "rare": 2, "mythic": 3}
COLOURS = "WUBRG"


def pack_cards(record: Mapping) -> list[str]:
    """The distinct card names of a pick's pack, in pack order.

    Example:
        >>> pack_cards({"pack": ["Gull", "Eel", "Gull"]})
        ['Gull', 'Eel']
    """
    return list(dict.fromkeys(record["pack"]))


def random_ranking(record: Mapping, rng: random.Random) -> list[str]:
    """The pack's distinct cards in a random order.

    Example:
        >>> sorted(random_ranking({"pack": ["Gull", "Eel"]}, random.Random(0)))
        ['Eel', 'Gull']
    """
    cards = pack_cards(record)
    rng.shuffle(cards)
    return cards


def rarity_by_name(cards: pd.DataFrame) -> dict[str, str]:
    """``{card name: rarity}`` from a 17lands ``cards.csv`` table.

    Example:
        >>> rarity_by_name(pd.DataFrame({"name": ["Gull"], "rarity": ["rare"]}))
        {'Gull': 'rare'}
    """
    return dict(zip(cards["name"], cards["rarity"], strict=True))


def rarity_ranking(record: Mapping, rarity: Mapping[str, str], rng: random.Random | None = None) -> list[str]:
    """Rarest first (mythic, rare, uncommon, common, then anything unknown); ties in random order
    when ``rng`` is given, else in pack order.

    Example:
        >>> rarity_ranking({"pack": ["Gull", "Eel"]}, {"Gull": "common", "Eel": "rare"})
        ['Eel', 'Gull']
    """
    cards = random_ranking(record, rng) if rng is not None else pack_cards(record)
    return sorted(cards, key=lambda name: -RARITY_RANK.get(str(rarity.get(name, "")).lower(), -1))


def pick_rate_ratings(records: Iterable[Mapping]) -> dict[str, float]:
    """Each card's pick rate: picks of it / packs it was in (a pack with two copies counts once).

    Example:
        >>> pick_rate_ratings([{"pack": ["Gull", "Eel"], "pick": "Eel"}, {"pack": ["Eel"], "pick": "Eel"}])
        {'Gull': 0.0, 'Eel': 1.0}
    """
    seen, taken = Counter(), Counter()
    for record in records:
        seen.update(pack_cards(record))
        taken[record["pick"]] += 1
    return {name: taken[name] / count for name, count in seen.items()}


def average_pick_ratings(records: Iterable[Mapping]) -> dict[str, float]:
    """Minus each card's average pick number within its pack when taken (higher = taken earlier).

    Cards seen but never taken get one less than the lowest rating, i.e. ranked below all others.

    Example:
        >>> average_pick_ratings([{"pack": ["Gull", "Eel"], "pick": "Eel", "pick_number": 1},
        ...                       {"pack": ["Gull"], "pick": "Gull", "pick_number": 2}])
        {'Eel': -1.0, 'Gull': -2.0}
    """
    numbers: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for record in records:
        numbers[record["pick"]].append(record["pick_number"])
        seen.update(record["pack"])
    ratings = {name: -float(np.mean(picks)) for name, picks in numbers.items()}
    floor = min(ratings.values(), default=0.0) - 1.0
    return ratings | {name: floor for name in seen if name not in ratings}


def rating_ranking(record: Mapping, ratings: Mapping[str, float],
                   default: float = float("-inf")) -> list[str]:
    """The pack's distinct cards by rating, highest first; unrated cards get ``default`` (ties keep
    pack order).

    Example:
        >>> rating_ranking({"pack": ["Gull", "Eel", "Newt"]}, {"Gull": 0.1, "Eel": 0.7})
        ['Eel', 'Gull', 'Newt']
    """
    return sorted(pack_cards(record), key=lambda name: -ratings.get(name, default))


def colour_identity_by_name(cards: pd.DataFrame) -> dict[str, str]:
    """``{card name: colour identity}`` (e.g. ``"WU"``, ``""`` for colourless) from ``cards.csv``.

    Example:
        >>> colour_identity_by_name(pd.DataFrame({"name": ["Gull"], "color_identity": ["U"]}))
        {'Gull': 'U'}
    """
    identity = cards["color_identity"].fillna("").astype(str)
    return dict(zip(cards["name"], identity, strict=True))


def colour_features(record: Mapping, colours: Mapping[str, str]) -> tuple[list[str], np.ndarray]:
    """The pack's distinct cards and a (cards, 4) feature matrix describing their fit to the pool:
    mean share of the card's colours among the pool's coloured cards, the same times
    pool size / 10 (commitment grows), a colourless flag, and that flag times pool size / 10.

    Example:
        >>> names, x = colour_features({"pack": ["Gull", "Gear"], "pool": ["Eel", "Eel"]},
        ...                            {"Gull": "U", "Eel": "U", "Gear": ""})
        >>> x.tolist()
        [[1.0, 0.2, 0.0, 0.0], [0.0, 0.0, 1.0, 0.2]]
    """
    counts = Counter(c for name in record["pool"] for c in colours.get(name, ""))
    total = max(sum(counts.values()), 1)
    size = len(record["pool"]) / 10
    names = pack_cards(record)
    rows = []
    for name in names:
        identity = [c for c in colours.get(name, "") if c in COLOURS]
        share = float(np.mean([counts[c] / total for c in identity])) if identity else 0.0
        colourless = float(not identity)
        rows.append([share, share * size, colourless, colourless * size])
    return names, np.array(rows, dtype=float).reshape(len(names), 4)


@dataclass
class ConditionalLogitPicker:
    """A fitted conditional-logit pick model: score = card value + colour features . weights."""

    card_value: dict[str, float]
    weights: np.ndarray
    colours: dict[str, str]


def _design(records: list[Mapping], colours: Mapping[str, str], index: dict[str, int]):
    """Flat candidate arrays over all records: card index, features, chosen flag, segment starts."""
    cards, features, chosen, starts = [], [], [], []
    for record in records:
        names, x = colour_features(record, colours)
        starts.append(len(cards))
        cards += [index[name] for name in names]
        features.append(x)
        chosen += [name == record["pick"] for name in names]
    return (np.array(cards), np.vstack(features), np.array(chosen, dtype=float), np.array(starts))


def _segment_softmax(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Softmax of ``scores`` within each segment beginning at ``starts`` (segments are contiguous)."""
    segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(scores))))
    shifted = np.exp(scores - np.maximum.reduceat(scores, starts)[segment])
    return shifted / np.add.reduceat(shifted, starts)[segment]


def fit_conditional_logit(records: list[Mapping], cards: pd.DataFrame,
                          l2: float = 1.0) -> ConditionalLogitPicker:
    """Fit card values and colour-fit weights by maximum likelihood of the observed picks, with an
    L2 penalty ``l2`` on both (unseen cards then score 0, the penalty's centre).

    Example:
        >>> cards = pd.DataFrame({"name": ["Gull", "Eel"], "color_identity": ["U", "B"]})
        >>> records = [{"pack": ["Gull", "Eel"], "pool": [], "pick": "Eel"}] * 5
        >>> model = fit_conditional_logit(records, cards)
        >>> model.card_value["Eel"] > model.card_value["Gull"]
        True
    """
    colours = colour_identity_by_name(cards)
    names = sorted({name for record in records for name in record["pack"]})
    index = {name: i for i, name in enumerate(names)}
    card, x, chosen, starts = _design(records, colours, index)
    n_cards = len(names)

    def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
        value, weights = params[:n_cards], params[n_cards:]
        scores = value[card] + x @ weights
        prob = _segment_softmax(scores, starts)
        loss = -np.sum(chosen * np.log(prob + 1e-300)) + l2 / 2 * params @ params
        residual = prob - chosen
        grad = np.concatenate([np.bincount(card, residual, minlength=n_cards), x.T @ residual])
        return loss, grad + l2 * params

    result = minimize(loss_and_grad, np.zeros(n_cards + x.shape[1]), jac=True, method="L-BFGS-B")
    values = dict(zip(names, result.x[:n_cards].tolist(), strict=True))
    return ConditionalLogitPicker(values, result.x[n_cards:], colours)


def conditional_logit_ranking(record: Mapping, model: ConditionalLogitPicker) -> list[str]:
    """The pack's distinct cards by the model's score, highest first.

    Example:
        >>> model = ConditionalLogitPicker({"Gull": 0.0, "Eel": 1.0}, np.zeros(4), {})
        >>> conditional_logit_ranking({"pack": ["Gull", "Eel"], "pool": []}, model)
        ['Eel', 'Gull']
    """
    names, x = colour_features(record, model.colours)
    scores = np.array([model.card_value.get(name, 0.0) for name in names]) + x @ model.weights
    return [names[i] for i in np.argsort(-scores, kind="stable")]


def random_pick(record: Mapping, rng: random.Random) -> str:
    """A uniformly random card of the pack (one of its distinct names).

    Example:
        >>> random_pick({"pack": ["Gull", "Gull"]}, random.Random(0))
        'Gull'
    """
    return random_ranking(record, rng)[0]


def rarity_pick(record: Mapping, rarity: Mapping[str, str], rng: random.Random | None = None) -> str:
    """The rarest card of the pack (see ``rarity_ranking`` for ties).

    Example:
        >>> rarity_pick({"pack": ["Gull", "Eel"]}, {"Gull": "mythic", "Eel": "common"})
        'Gull'
    """
    return rarity_ranking(record, rarity, rng)[0]


def rating_pick(record: Mapping, ratings: Mapping[str, float]) -> str:
    """The pack's highest-rated card (``pick_rate_ratings`` or ``average_pick_ratings``).

    Example:
        >>> rating_pick({"pack": ["Gull", "Eel"]}, {"Gull": 0.2, "Eel": 0.9})
        'Eel'
    """
    return rating_ranking(record, ratings)[0]


def conditional_logit_pick(record: Mapping, model: ConditionalLogitPicker) -> str:
    """The pack's best card by a fitted ``ConditionalLogitPicker``.

    Example:
        >>> picker = ConditionalLogitPicker({"Gull": 1.0}, np.zeros(4), {})
        >>> conditional_logit_pick({"pack": ["Gull", "Eel"], "pool": []}, picker)
        'Gull'
    """
    return conditional_logit_ranking(record, model)[0]


def pick_accuracy(records: Iterable[Mapping], ranking: Callable[[Mapping], list[str]],
                  ks: tuple[int, ...] = (1, 3)) -> dict[str, float]:
    """The share of records whose actual pick is among the first k of ``ranking(record)``, per k.

    Example:
        >>> pick_accuracy([{"pack": ["A", "B"], "pick": "B"}], lambda r: ["A", "B"])
        {'top1': 0.0, 'top3': 1.0}
    """
    hits, n = Counter(), 0
    for record in records:
        ranked = ranking(record)
        n += 1
        for k in ks:
            hits[k] += record["pick"] in ranked[:k]
    if n == 0:
        raise ValueError("pick_accuracy got no records; check the split or the file you loaded.")
    return {f"top{k}": hits[k] / n for k in ks}


def split_by_draft(records: list[Mapping], test_fraction: float = 0.2,
                   seed: int = 0) -> tuple[list[Mapping], list[Mapping]]:
    """Split records into train and test by draft (never by row), so no draft is on both sides.

    Example:
        >>> records = [{"draft_id": d, "pick_number": n} for d in "abcde" for n in (1, 2)]
        >>> train, test = split_by_draft(records, 0.2)
        >>> len(train), len(test), {r["draft_id"] for r in test} & {r["draft_id"] for r in train}
        (8, 2, set())
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction}; use a fraction strictly between 0 and 1.")
    drafts = list(dict.fromkeys(record["draft_id"] for record in records))
    if len(drafts) < 2:
        raise ValueError(f"split_by_draft needs at least 2 drafts, got {len(drafts)}; load more drafts.")
    random.Random(seed).shuffle(drafts)
    n_test = min(max(1, round(test_fraction * len(drafts))), len(drafts) - 1)
    test_ids = set(drafts[:n_test])
    return ([r for r in records if r["draft_id"] not in test_ids],
            [r for r in records if r["draft_id"] in test_ids])


CARD_TYPES = ("Creature", "Legendary", "Instant", "Sorcery", "Enchantment", "Artifact", "Land")


def column_features(cards: pd.DataFrame) -> dict[str, np.ndarray]:
    """``{card name: features}`` from ``cards.csv``'s structured columns only (no card text, no
    identity): rarity one-hot, mana value and its square / 10, card types, number of colours.
    A ranker on these features can rate a card of a set it never saw.

    Example:
        >>> cards = pd.DataFrame({"name": ["Gull"], "rarity": ["rare"], "mana_value": [2],
        ...                       "types": ["Creature"], "color_identity": ["WU"]})
        >>> column_features(cards)["Gull"].tolist()
        [0.0, 0.0, 1.0, 0.0, 2.0, 0.4, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    """
    out = {}
    for card in cards.to_dict("records"):
        rarity = [float(RARITY_RANK.get(card["rarity"], -1) == r) for r in range(4)]
        mana = float(card["mana_value"])
        types = [float(t in str(card["types"])) for t in CARD_TYPES]
        n_colours = float(len(str(card["color_identity"] or "").replace("nan", "")))
        out[card["name"]] = np.array(rarity + [mana, mana * mana / 10] + types + [n_colours])
    return out


@dataclass
class FeatureLogitPicker:
    """A conditional-logit pick model on card features: score = features . w + colour fit . v."""

    features: dict[str, np.ndarray]
    card_weights: np.ndarray
    weights: np.ndarray
    colours: dict[str, str]


def _feature_design(records: list[Mapping], features: Mapping[str, np.ndarray], colours: Mapping[str, str]):
    rows, chosen, starts = [], [], []
    for record in records:
        names, x = colour_features(record, colours)
        starts.append(len(chosen))
        rows.append(np.hstack([np.stack([features[name] for name in names]), x]))
        chosen += [name == record["pick"] for name in names]
    return np.vstack(rows), np.array(chosen, dtype=float), np.array(starts)


def fit_feature_logit(records: list[Mapping], cards: pd.DataFrame, features: Mapping[str, np.ndarray],
                      l2: float = 1.0) -> FeatureLogitPicker:
    """Fit weights on card features (e.g. ``column_features(cards)``) and colour fit by maximum
    likelihood of the observed picks, with an L2 penalty. Unlike ``fit_conditional_logit`` it has no
    per-card value, so it scores cards it never saw in training.

    Example:
        >>> cards = pd.DataFrame({"name": ["Gull", "Eel"], "color_identity": ["U", "U"]})
        >>> feats = {"Gull": np.array([0.0]), "Eel": np.array([1.0])}
        >>> records = [{"pack": ["Gull", "Eel"], "pool": [], "pick": "Eel"}] * 5
        >>> fit_feature_logit(records, cards, feats).card_weights[0] > 0
        np.True_
    """
    colours = colour_identity_by_name(cards)
    x, chosen, starts = _feature_design(records, features, colours)

    def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
        prob = _segment_softmax(x @ params, starts)
        loss = -np.sum(chosen * np.log(prob + 1e-300)) + l2 / 2 * params @ params
        return loss, x.T @ (prob - chosen) + l2 * params

    result = minimize(loss_and_grad, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    n_card = x.shape[1] - 4
    return FeatureLogitPicker(dict(features), result.x[:n_card], result.x[n_card:], colours)


def feature_logit_ranking(record: Mapping, model: FeatureLogitPicker) -> list[str]:
    """The pack's distinct cards by a ``FeatureLogitPicker``'s score, highest first.

    Example:
        >>> features = {"A": np.array([0.0]), "B": np.array([1.0])}
        >>> model = FeatureLogitPicker(features, np.ones(1), np.zeros(4), {})
        >>> feature_logit_ranking({"pack": ["A", "B"], "pool": []}, model)
        ['B', 'A']
    """
    names, x = colour_features(record, model.colours)
    scores = np.stack([model.features[name] for name in names]) @ model.card_weights + x @ model.weights
    return [names[i] for i in np.argsort(-scores, kind="stable")]
