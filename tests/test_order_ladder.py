"""utils.course_data.order_ladder: the order task at three levels, and held-out sets whose names,
items and phrasings never appear in training."""

import pytest

from utils.course_data import order_ladder, sft_data
from utils.instruction_data import data_quality


def _vocabulary(records):
    answers = [sft_data.target_answer(r) for r in records]
    return {a["name"] for a in answers}, {a["item"] for a in answers}


def test_every_level_keeps_the_answer_format_and_the_records_validate():
    for level in order_ladder.LEVELS:
        for split in order_ladder.SPLITS:
            records = order_ladder.make_examples(40, level=level, split=split, seed=3)
            sft_data.validate_records(records)
            for record in records:
                answer = sft_data.target_answer(record)
                assert list(answer) == ["name", "item", "quantity"]
                assert answer["name"] in record["messages"][1]["content"]
                assert not data_quality.breaks_format(record)


def test_level_one_train_is_the_shipped_generator():
    import random

    rng_a, rng_b = random.Random(5), random.Random(5)
    assert order_ladder.make_example(rng_a, level=1) == sft_data.make_example(rng_b)


def test_harder_levels_reach_larger_quantities_and_add_distractors():
    easy = order_ladder.make_examples(300, level=1, seed=0)
    hard = order_ladder.make_examples(300, level=3, seed=0)
    assert max(sft_data.target_answer(r)["quantity"] for r in easy) <= 12
    assert max(sft_data.target_answer(r)["quantity"] for r in hard) > 12
    messages = [r["messages"][1]["content"] for r in hard]
    several = sum(m.count(". ") + m.count("? ") + m.count("! ") >= 1 for m in messages)
    assert several > 250  # a distracting sentence in (nearly) every level-3 message


def test_corrections_state_the_final_quantity():
    records = order_ladder.make_examples(400, level=3, seed=1)
    corrected = [r for r in records if any(c.split("{")[0] and c.split("{")[0] in r["messages"][1]["content"]
                                           for c in order_ladder.CORRECTIONS["train"])]
    assert 120 < len(corrected) < 280  # about half
    for record in corrected:
        quantity = sft_data.target_answer(record)["quantity"]
        message = record["messages"][1]["content"]
        assert str(quantity) in message or order_ladder.number_word(quantity) in message or any(
            idiom in message for idiom in order_ladder.IDIOMS.get(quantity, []))


def test_held_out_never_shares_vocabulary_or_messages_with_train():
    train = order_ladder.make_examples(500, level=3, seed=0)
    held = order_ladder.held_out(200, level=3, exclude=train)
    assert len(held) == 200
    train_names, train_items = _vocabulary(train)
    held_names, held_items = _vocabulary(held)
    assert not train_names & held_names and not train_items & held_items
    assert not {r["messages"][1]["content"] for r in train} & {r["messages"][1]["content"] for r in held}
    assert order_ladder.held_out(20, level=3) == order_ladder.held_out(20, level=3)  # seeded


@pytest.mark.parametrize(("quantity", "word"), [(7, "seven"), (20, "twenty"), (23, "twenty-three")])
def test_number_word(quantity, word):
    assert order_ladder.number_word(quantity) == word


def test_bad_level_or_split_names_the_choices():
    with pytest.raises(ValueError, match="level must be one of"):
        order_ladder.make_examples(1, level=4)
    with pytest.raises(ValueError, match="split one of"):
        order_ladder.make_examples(1, split="test")
