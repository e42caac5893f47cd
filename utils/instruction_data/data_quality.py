"""Instruction-data quality: make noisy variants of clean chat records, then catch them with filters.

Noise (each function returns a new record; the input is never changed):

- ``wrong_answer``: the order answer with a mistake an annotator makes: the item left in the
  plural as the customer wrote it, or a wrong quantity. Still valid JSON in the right format.
- ``truncated_answer``: the answer cut off part-way, as a scraper or a length limit leaves it.
- ``off_format_answer``: the right order in the wrong shape: prose, other keys, or the quantity
  as a word.
- ``near_duplicate``: the same conversation with the user message re-cased, re-punctuated or
  padded with a polite word; exact duplicates are plain copies.

``make_noisy_set`` mixes them into a larger set with chosen shares and returns each record's
noise label. Filters flag records (True: drop it): ``exact_duplicates``, ``near_duplicates``
(Jaccard similarity of character n-grams), ``breaks_format``, ``length_outliers`` and a
model-based score, ``answer_perplexities`` (the perplexity of each answer given its prompt).
``leaked`` and ``stratified_split`` make validation splits without train/validation overlap.

Example:
    >>> import random
    >>> from utils.course_data import order_ladder, sft_data
    >>> from utils.instruction_data import data_quality
    >>> record = sft_data.make_examples(1, seed=0)[0]
    >>> record["messages"][2]["content"]
    '{"name": "Hannah", "item": "loaf", "quantity": 1}'
    >>> data_quality.truncated_answer(record, random.Random(0))["messages"][2]["content"]
    '{"name": "Hannah", "item": "loa'
    >>> data_quality.breaks_format(record), data_quality.exact_duplicates([record, record])
    (False, [False, True])
"""

from __future__ import annotations

import copy
import json
import math
import random
import string
from collections.abc import Callable, Sequence

from utils.core.model_modes import eval_mode
from utils.course_data import order_ladder, sft_data

ANSWER_KEYS = ("name", "item", "quantity")  # the order task's answer, in this order
NOISE_KINDS = ("wrong answer", "truncated", "off-format", "duplicate", "near-duplicate")
POLITE_WORDS = ("please", "thanks", "thank you", "cheers")
# Sentence punctuation only: "+", "-", "=" and the like carry meaning ("7 + 5" is not "7 - 5").
_PUNCTUATION = str.maketrans("", "", ".,!?;:'\"()[]{}")


def _answer_of(record: dict) -> str:
    return record["messages"][-1]["content"]


def _with_answer(record: dict, answer: str) -> dict:
    changed = copy.deepcopy(record)
    changed["messages"][-1]["content"] = answer
    return changed


def _order_of(record: dict) -> dict:
    order = json.loads(_answer_of(record))
    if not isinstance(order, dict) or set(order) != set(ANSWER_KEYS):
        raise ValueError(f"expected an order answer with keys {', '.join(ANSWER_KEYS)}, got "
                         f"{_answer_of(record)!r}; make noise from clean sft_data records.")
    return order


# ----------------------------------------------------------------------------------------------- noise

def wrong_answer(record: dict, rng: random.Random) -> dict:
    """The order with one mistake: the item in the plural (as the customer wrote it, when the
    quantity is above 1) or, otherwise, another quantity from 1 to 12. Still in the right format.

    Example:
        >>> record = sft_data.make_examples(1, seed=0)[0]     # Hannah, 1 loaf
        >>> wrong_answer(record, random.Random(0))["messages"][2]["content"]
        '{"name": "Hannah", "item": "loaf", "quantity": 8}'
    """
    order = _order_of(record)
    if order["quantity"] > 1 and order["item"] in sft_data.ITEMS and rng.random() < 0.5:
        order["item"] = sft_data.ITEMS[order["item"]]
    else:
        order["quantity"] = rng.choice([q for q in range(1, 13) if q != order["quantity"]])
    return _with_answer(record, sft_data.format_answer(order))


def truncated_answer(record: dict, rng: random.Random) -> dict:
    """The answer cut after 30-70% of its characters (never empty, never whole)."""
    answer = _answer_of(record)
    if len(answer) < 2:
        raise ValueError(f"cannot truncate an answer of {len(answer)} characters; it must have at least 2.")
    keep = min(len(answer) - 1, max(1, round(len(answer) * rng.uniform(0.3, 0.7))))
    return _with_answer(record, answer[:keep])


def off_format_answer(record: dict, rng: random.Random) -> dict:
    """The right order in a wrong shape: a sentence, other key names, or the quantity as a word.

    Example:
        >>> record = sft_data.make_examples(1, seed=0)[0]
        >>> off_format_answer(record, random.Random(1))["messages"][2]["content"]
        'Hannah ordered 1 loaf.'
    """
    order = _order_of(record)
    shape = rng.choice(["sentence", "other keys", "quantity word"])
    if shape == "sentence":
        answer = f"{order['name']} ordered {order['quantity']} {order['item']}."
    elif shape == "other keys":
        answer = json.dumps({"customer": order["name"], "product": order["item"], "count": order["quantity"]})
    else:
        answer = json.dumps({**order, "quantity": order_ladder.number_word(order["quantity"])})
    return _with_answer(record, answer)


def near_duplicate(record: dict, rng: random.Random) -> dict:
    """The same conversation with the user message lower-cased, stripped of its final punctuation,
    given doubled spaces or a polite word: a copy that an exact-match check misses."""
    changed = copy.deepcopy(record)
    turn = next(m for m in changed["messages"] if m["role"] == "user")
    text = turn["content"]
    edit = rng.choice(["lower", "punctuation", "spaces", "polite"])
    if edit == "lower":
        text = text.lower()
    elif edit == "punctuation":
        text = text.rstrip(string.punctuation) or text + "!"
    elif edit == "spaces":
        text = text.replace(" ", "  ", 2)
    else:
        text = f"{text} {rng.choice(POLITE_WORDS).capitalize()}!"
    turn["content"] = text if text != turn["content"] else text + " "
    return changed


NOISE: dict[str, Callable[[dict, random.Random], dict]] = {
    "wrong answer": wrong_answer, "truncated": truncated_answer, "off-format": off_format_answer,
    "near-duplicate": near_duplicate, "duplicate": lambda record, rng: copy.deepcopy(record)}


def make_noisy_set(clean: Sequence[dict], n: int, shares: dict[str, float],
                   seed: int = 0) -> tuple[list[dict], list[str]]:
    """``n`` records built from ``clean`` records: a share ``shares[kind]`` of each noise kind of
    NOISE_KINDS (rounded), the rest clean. Duplicates copy a clean record already in the set, so
    they repeat it exactly. Returns the shuffled records and each one's label ("clean" or a kind).

    Example:
        >>> records, labels = make_noisy_set(sft_data.make_examples(8), 10, {"duplicate": 0.2})
        >>> sorted(labels).count("duplicate"), len(records)
        (2, 10)
    """
    unknown = set(shares) - set(NOISE_KINDS)
    if unknown:
        raise ValueError(f"unknown noise kinds {sorted(unknown)}; use {', '.join(NOISE_KINDS)}.")
    if any(share < 0 for share in shares.values()) or sum(shares.values()) > 1:
        raise ValueError(f"shares must be at least 0 and sum to at most 1, got {shares}.")
    counts = {kind: round(n * share) for kind, share in shares.items()}
    n_clean = n - sum(counts.values())
    if n_clean < 1 or n_clean > len(clean):
        raise ValueError(f"{n_clean} clean records are needed and {len(clean)} were given; give "
                         "more clean records or change n or the shares.")
    rng = random.Random(seed)
    sources = rng.sample(list(clean), n_clean)
    records = [copy.deepcopy(r) for r in sources]
    labels = ["clean"] * n_clean
    copies = []  # (index of the source among records, copy, label): placed after their source below
    for kind, count in counts.items():
        for _ in range(count):
            if "duplicate" in kind:  # copies (exact or near) repeat a record already in the set
                source = rng.randrange(n_clean)
                copies.append((source, NOISE[kind](sources[source], rng), kind))
            else:
                records.append(NOISE[kind](rng.choice(clean), rng))
                labels.append(kind)
    order = list(range(len(records)))
    rng.shuffle(order)
    records, labels = [records[i] for i in order], [labels[i] for i in order]
    for source, record, kind in copies:  # a copy goes somewhere after its source (the first copy)
        at = rng.randint(order.index(source) + 1, len(records))
        records.insert(at, record)
        labels.insert(at, kind)
        order.insert(at, -1)
    return records, labels


# --------------------------------------------------------------------------------------------- filters

def normalize(text: str) -> str:
    """Lower case, no sentence punctuation, single spaces: the form duplicates are compared in.

    Example:
        >>> normalize("  Order for Ana:  TWO pears! ")
        'order for ana two pears'
        >>> normalize("What is 7 + 5?")
        'what is 7 + 5'
    """
    return " ".join(text.lower().translate(_PUNCTUATION).split())


def conversation_text(record: dict) -> str:
    """The user and assistant turns of a chat record joined: what near-duplicate checks compare
    (a system prompt shared by every record would make all records look alike)."""
    return "\n".join(m["content"] for m in record["messages"] if m["role"] != "system")


def exact_duplicates(records: Sequence[dict], key: Callable[[dict], str] | None = None) -> list[bool]:
    """True for each record whose conversation is identical to an earlier one (the first copy stays);
    with ``key=user_text``, each record that repeats an earlier prompt (one answer per prompt)."""
    seen: set[str] = set()
    flags = []
    for record in records:
        text = json.dumps(record["messages"], sort_keys=True) if key is None else key(record)
        flags.append(text in seen)
        seen.add(text)
    return flags


def shingles(text: str, n: int = 5) -> set[str]:
    """The set of character n-grams of the normalized text (the whole text when it is shorter).

    Example:
        >>> sorted(shingles("Ab, c", n=3))
        ['ab ', 'b c']
    """
    text = normalize(text)
    return {text[i:i + n] for i in range(max(1, len(text) - n + 1))}


def jaccard(a: set, b: set) -> float:
    """Shared elements over all elements: 1.0 for equal sets, 0.0 for disjoint ones."""
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicates(records: Sequence[dict], threshold: float = 0.8, n: int = 5,
                    text: Callable[[dict], str] = conversation_text) -> list[bool]:
    """True for each record whose ``text`` has a Jaccard similarity of character ``n``-grams of at
    least ``threshold`` with an earlier record that was kept (exact duplicates are caught too).

    Real pipelines estimate the same similarity with MinHash to compare millions of documents;
    at a few hundred records, comparing every pair is fast and exact.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold is a Jaccard similarity in (0, 1], got {threshold!r}.")
    kept: list[set[str]] = []
    flags = []
    for record in records:
        grams = shingles(text(record), n)
        duplicate = any(jaccard(grams, other) >= threshold for other in kept)
        flags.append(duplicate)
        if not duplicate:
            kept.append(grams)
    return flags


def breaks_format(record: dict, keys: Sequence[str] = ANSWER_KEYS) -> bool:
    """True unless the answer is exactly one JSON object with ``keys``, text values and a whole
    number of at least 1 for ``quantity``: the order task's format rule.

    Example:
        >>> breaks_format({"messages": [{"role": "assistant", "content": '{"name": "A", "item": "pear"}'}]})
        True
    """
    try:
        answer = json.loads(_answer_of(record))
    except json.JSONDecodeError:
        return True
    if not isinstance(answer, dict) or list(answer) != list(keys):
        return True
    quantity = answer.get("quantity")
    if "quantity" in keys and (type(quantity) is not int or quantity < 1):
        return True
    return not all(isinstance(answer[k], str) and answer[k].strip() for k in keys if k != "quantity")


def length_outliers(lengths: Sequence[int], low: float = 0.5, high: float = 2.0) -> list[bool]:
    """True for each length below ``low`` times the median or above ``high`` times it.

    Example:
        >>> length_outliers([20, 21, 19, 8, 60])
        [False, False, False, True, True]
    """
    if not lengths:
        return []
    ordered = sorted(lengths)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return [length < low * median or length > high * median for length in lengths]


def answer_perplexities(model, tokenizer, records: Sequence[dict], batch_size: int = 16) -> list[float]:
    """The perplexity of each record's answer given its prompt under ``model``: exp of the mean
    next-token loss over the answer's tokens (its end-of-turn token included). 1.0 is a perfectly
    predicted answer; a high value marks an answer the model finds surprising."""
    scores = []
    with eval_mode(model):
        for losses, counted in sft_data.answer_token_losses(model, tokenizer, list(records), batch_size):
            counted = counted.sum(dim=1)
            scores += [math.exp(value) for value in (losses.sum(dim=1) / counted).tolist()]
    return scores


# ------------------------------------------------------------------------------------ validation splits

def user_text(record: dict) -> str:
    """The user turns of a chat record, normalized: the key that decides leakage."""
    return normalize(" ".join(m["content"] for m in record["messages"] if m["role"] == "user"))


def leaked(train: Sequence[dict], validation: Sequence[dict],
           key: Callable[[dict], str] = user_text) -> list[int]:
    """Indices of validation records whose ``key`` (by default the normalized user message) also
    occurs in train: a model could answer them from memory.

    Example:
        >>> records = sft_data.make_examples(3, seed=0)
        >>> leaked(records[:2], records[1:])
        [0]
    """
    seen = {key(record) for record in train}
    return [i for i, record in enumerate(validation) if key(record) in seen]


def near_leaked(train: Sequence[dict], validation: Sequence[dict], threshold: float = 0.8, n: int = 5,
                text: Callable[[dict], str] = conversation_text) -> list[int]:
    """Indices of validation records within ``threshold`` Jaccard similarity (character ``n``-grams
    of ``text``) of some training record: leakage that an exact comparison misses.

    Example:
        >>> record = sft_data.make_examples(1, seed=0)[0]
        >>> near_leaked([record], [near_duplicate(record, random.Random(0))])
        [0]
    """
    grams = [shingles(text(record), n) for record in train]
    return [i for i, record in enumerate(validation)
            if any(jaccard(shingles(text(record), n), other) >= threshold for other in grams)]


def stratified_split(records: Sequence[dict], groups: Sequence[str], validation_share: float,
                     seed: int = 0) -> tuple[list[int], list[int]]:
    """Train and validation indices with the same ``validation_share`` of every group (task), at
    least one validation record per group with two or more records.

    Example:
        >>> train, val = stratified_split(list(range(10)), ["a"] * 6 + ["b"] * 4, 0.25)
        >>> len(train), len(val)
        (7, 3)
    """
    if len(records) != len(groups):
        raise ValueError(f"{len(records)} records but {len(groups)} group labels; give one per record.")
    if not 0 < validation_share < 1:
        raise ValueError(f"validation_share must lie between 0 and 1, got {validation_share!r}.")
    rng = random.Random(seed)
    train, validation = [], []
    for group in sorted(set(groups)):
        members = [i for i, g in enumerate(groups) if g == group]
        rng.shuffle(members)
        n_val = min(len(members) - 1, max(1, round(len(members) * validation_share)))
        validation += members[:n_val]
        train += members[n_val:]
    return sorted(train), sorted(validation)

