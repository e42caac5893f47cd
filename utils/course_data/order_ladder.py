"""The order task at three levels of difficulty, with held-out sets that need generalisation.

Notebook 02's main run teaches a new skill on level 1 (``sft_data``'s plain orders: near 0%
before, near 100% after a few dozen steps). A task that saturates that fast cannot separate two
training methods, so the comparisons of notebooks 02-04 (learning rate, masking, data size and
noise, LoRA against full fine-tuning, rank) are measured on level 3, where the same budget lands
in between. Every level keeps the answer format of level 1, ``{"name": ..., "item": ...,
"quantity": ...}``, so ``sft_data.score_answers`` scores all of them.

- level 1: one sentence with the name, the item in the plural and the quantity (digits or 1-12
  as a word): ``sft_data.make_example``.
- level 2: quantities up to 24 written as digits, words ("twenty-one") or idioms ("half a
  dozen", "a pair of"), and a distracting sentence with another number or another person.
- level 3: level 2, and in half the messages the customer corrects the quantity ("... sorry,
  make that nine").

``split="unseen"`` draws names, items and phrasings that ``split="train"`` never uses, so
held-out accuracy measures the skill, not recall of training strings.

Example:
    >>> from utils.course_data import order_ladder
    >>> record = order_ladder.make_examples(1, level=3, seed=1)[0]
    >>> sorted(order_ladder.sft_data.target_answer(record))
    ['item', 'name', 'quantity']
"""

from __future__ import annotations

import random

from utils.core.checks import check_int
from utils.course_data import sft_data

LEVELS = (1, 2, 3)
SPLITS = ("train", "unseen")
UNSEEN_NAMES = ["Agnes", "Bilal", "Cora", "Dmitri", "Esme", "Farid", "Gwen", "Hamza", "Ilse", "Jorge",
                "Keiko", "Lars", "Maren", "Nikhil", "Odette", "Pablo", "Quinn", "Rania", "Stefan",
                "Thea", "Umar", "Vera", "Wiktor", "Ximena", "Yara", "Zoltan"]
UNSEEN_ITEMS = {"radish": "radishes", "lime": "limes", "towel": "towels", "spoon": "spoons",
                "jar": "jars", "kettle": "kettles", "sponge": "sponges", "peach pie": "peach pies",
                "basket": "baskets", "envelope": "envelopes", "bucket": "buckets", "torch": "torches"}
WORDS = sft_data.NUMBER_WORDS + ["thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                                 "eighteen", "nineteen", "twenty"]
IDIOMS = {2: ["a pair of", "a couple of"], 6: ["half a dozen"], 12: ["a dozen"], 24: ["two dozen"]}

# Phrasings: the train split and the unseen split never share one.
ORDERS = {
    "train": sft_data.TEMPLATES,
    "unseen": ["{name} writing: kindly pack {qty} {items} for me.",
               "Could {qty} {items} be set aside for {name}?",
               "Reserve {qty} {items}, name of {name}.",
               "Morning! {name} needs {qty} {items} delivered.",
               "For pickup by {name}: {qty} {items}.",
               "I'm {name} and I'd love {qty} {items}."],
}
DISTRACTORS = {
    "train": ["I still have {n2} {items2} from last time.",
              "My neighbour {other} ordered {n2} {items2} yesterday.",
              "Our house number is {n2}.",
              "Last month I bought {n2} {items} and they ran out."],
    "unseen": ["{other} from next door already got {n2} {items2}.",
               "The flat is number {n2}, top floor.",
               "We used {n2} {items2} at the party."],
}
CORRECTIONS = {
    "train": ["Sorry, make that {qty}.", "Actually, change it to {qty}.",
              "Wait, I meant {qty}, not {wrong}."],
    "unseen": ["Correction: {qty} instead.", "Oops, {qty} rather than {wrong}."],
}


def quantity_text(quantity: int, rng: random.Random) -> str:
    """How a level-2 customer writes ``quantity`` (1-24): digits, a word, or an idiom."""
    if quantity in IDIOMS and rng.random() < 0.4:
        return rng.choice(IDIOMS[quantity])
    return str(quantity) if rng.random() < 0.5 else number_word(quantity)


def number_word(quantity: int) -> str:
    """``quantity`` (0-29) in words: "seven", "twenty-one"."""
    return WORDS[quantity] if quantity <= 20 else f"twenty-{WORDS[quantity - 20]}"


def _vocabulary(split: str) -> tuple[list[str], dict[str, str]]:
    if split == "train":
        return sft_data.NAMES, sft_data.ITEMS
    return UNSEEN_NAMES, UNSEEN_ITEMS


def _plural(items: dict[str, str], item: str, quantity_words: str) -> str:
    return item if quantity_words in ("1", "one") else items[item]


def make_example(rng: random.Random, level: int = 3, split: str = "train") -> dict:
    """One chat record of ``level`` drawn with ``rng`` from the ``split`` vocabulary."""
    if level not in LEVELS or split not in SPLITS:
        raise ValueError(f"level must be one of {LEVELS} and split one of {SPLITS}; got {level}, {split!r}.")
    if level == 1 and split == "train":
        return sft_data.make_example(rng)
    names, items = _vocabulary(split)
    name, item = rng.choice(names), rng.choice(sorted(items))
    quantity = rng.randint(1, 24) if level > 1 else rng.randint(1, 12)
    corrected = level == 3 and rng.random() < 0.5
    wrong = rng.choice([q for q in range(1, 25) if q != quantity]) if corrected else quantity
    said = quantity_text(wrong, rng) if level > 1 else rng.choice([str(wrong), number_word(wrong)])
    sentences = [rng.choice(ORDERS[split]).format(name=name, qty=said, items=_plural(items, item, said))]
    if corrected:
        sentences.append(rng.choice(CORRECTIONS[split]).format(qty=quantity_text(quantity, rng), wrong=wrong))
    if level > 1:
        other_item = rng.choice(sorted(set(items) - {item}))
        distractor = rng.choice(DISTRACTORS[split]).format(
            n2=rng.randint(2, 24), items=items[item], items2=items[other_item],
            other=rng.choice([n for n in names if n != name]))
        sentences.insert(rng.randrange(len(sentences) + 1), distractor)
    message = " ".join(sentences)
    message = message[0].upper() + message[1:]
    answer = sft_data.format_answer({"name": name, "item": item, "quantity": quantity})
    return {"messages": [{"role": "system", "content": sft_data.SYSTEM_PROMPT},
                         {"role": "user", "content": message},
                         {"role": "assistant", "content": answer}]}


def make_examples(n: int, level: int = 3, split: str = "train", seed: int = 0) -> list[dict]:
    """``n`` records of ``level`` from ``seed`` (the same seed gives the same records)."""
    check_int(n, "n", low=0)
    rng = random.Random(f"{seed}-{level}-{split}")
    return [make_example(rng, level, split) for _ in range(n)]


def held_out(n: int, level: int = 3, seed: int = 1000, exclude: list[dict] | None = None) -> list[dict]:
    """``n`` unseen-split records of ``level`` whose user messages appear nowhere in ``exclude``."""
    seen = {sft_data.prompt_messages(r)[-1]["content"] for r in exclude or []}
    rng, records = random.Random(f"{seed}-{level}-heldout"), []
    while len(records) < n:
        record = make_example(rng, level, "unseen")
        text = record["messages"][1]["content"]
        if text not in seen:
            seen.add(text)
            records.append(record)
    return records
