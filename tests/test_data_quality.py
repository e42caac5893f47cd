import copy
import json
import math
import random

import pytest
from tiny_models import tiny_llama

from utils.course_data import sft_data
from utils.instruction_data import data_quality as dq

RECORDS = sft_data.make_examples(200, seed=3)


def answer(record):
    return record["messages"][-1]["content"]


# --------------------------------------------------------------------------------------------- noise

@pytest.mark.parametrize("kind", dq.NOISE_KINDS)
def test_every_noise_kind_leaves_its_input_alone_and_keeps_a_valid_record(kind):
    rng = random.Random(0)
    for record in RECORDS[:40]:
        before = copy.deepcopy(record)
        noisy = dq.NOISE[kind](record, rng)
        assert record == before
        sft_data.validate_records([noisy])  # still a trainable chat record


def test_wrong_answers_keep_the_format_but_change_a_value():
    rng = random.Random(1)
    for record in RECORDS:
        wrong = dq.wrong_answer(record, rng)
        assert not dq.breaks_format(wrong)
        assert json.loads(answer(wrong)) != json.loads(answer(record))
        assert wrong["messages"][:-1] == record["messages"][:-1]


def test_truncated_and_off_format_answers_break_the_format_rule():
    rng = random.Random(2)
    for record in RECORDS:
        cut = answer(dq.truncated_answer(record, rng))
        assert 0 < len(cut) < len(answer(record)) and answer(record).startswith(cut)
        assert dq.breaks_format(dq.truncated_answer(record, rng))
        assert dq.breaks_format(dq.off_format_answer(record, rng))


def test_wrong_answer_names_what_it_needs():
    record = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": '{"a": 4}'}]}
    with pytest.raises(ValueError, match="keys name, item, quantity"):
        dq.wrong_answer(record, random.Random(0))
    with pytest.raises(ValueError, match="at least 2"):
        dq.truncated_answer({"messages": [{"role": "assistant", "content": "x"}]}, random.Random(0))


def test_near_duplicates_differ_from_the_original_but_normalize_close_to_it():
    rng = random.Random(3)
    for record in RECORDS[:50]:
        near = dq.near_duplicate(record, rng)
        assert near != record and answer(near) == answer(record)
        grams = [dq.shingles(dq.conversation_text(r)) for r in (record, near)]
        assert dq.jaccard(*grams) >= 0.7


def test_make_noisy_set_has_the_shares_asked_for_and_copies_follow_their_source():
    shares = {"wrong answer": 0.3, "truncated": 0.1, "duplicate": 0.1, "near-duplicate": 0.1}
    records, labels = dq.make_noisy_set(RECORDS, 100, shares, seed=0)
    assert len(records) == 100
    assert {kind: labels.count(kind) for kind in shares} == {k: round(100 * s) for k, s in shares.items()}
    assert labels.count("clean") == 40
    # every exact copy comes after its first occurrence, so the exact filter drops the copy, not the source
    flags = dq.exact_duplicates(records)
    assert [label for label, flag in zip(labels, flags, strict=True) if flag] == ["duplicate"] * 10
    assert dq.make_noisy_set(RECORDS, 100, shares, seed=0) == (records, labels)  # seeded


@pytest.mark.parametrize("shares, message", [
    ({"typo": 0.1}, "unknown noise kinds"),
    ({"wrong answer": 0.7, "truncated": 0.5}, "sum to at most 1"),
    ({"wrong answer": -0.1}, "at least 0"),
])
def test_make_noisy_set_rejects_bad_shares(shares, message):
    with pytest.raises(ValueError, match=message):
        dq.make_noisy_set(RECORDS, 10, shares)


def test_make_noisy_set_needs_enough_clean_records():
    with pytest.raises(ValueError, match="10 clean records are needed and 5 were given"):
        dq.make_noisy_set(RECORDS[:5], 10, {})


# ------------------------------------------------------------------------------------------- filters

def test_exact_duplicates_ignore_key_order_of_messages_and_can_key_on_the_prompt():
    record = RECORDS[0]
    reordered = {"messages": [{"content": m["content"], "role": m["role"]} for m in record["messages"]]}
    other_answer = dq.wrong_answer(record, random.Random(0))
    assert dq.exact_duplicates([record, reordered, other_answer]) == [False, True, False]
    assert dq.exact_duplicates([record, other_answer], key=dq.user_text) == [False, True]


def test_near_duplicates_catch_edited_copies_and_few_distinct_records():
    rng = random.Random(4)
    copies = [dq.near_duplicate(r, rng) for r in RECORDS[:30]]
    flags = dq.near_duplicates(RECORDS[:30] + copies, threshold=0.8)
    assert sum(flags[30:]) >= 24  # most edited copies
    assert sum(dq.near_duplicates(RECORDS, threshold=0.8)) <= 0.03 * len(RECORDS)  # few false alarms
    with pytest.raises(ValueError, match="threshold"):
        dq.near_duplicates(RECORDS, threshold=0)


def test_jaccard_and_shingles_edge_cases():
    assert dq.jaccard(set(), set()) == 1.0 and dq.jaccard({"a"}, {"b"}) == 0.0
    assert dq.shingles("ab", n=5) == {"ab"}
    assert dq.normalize("7 + 5 = 12?") == "7 + 5 = 12"


@pytest.mark.parametrize("content, broken", [
    ('{"name": "Ana", "item": "pear", "quantity": 3}', False),
    ('{"name": "Ana", "item": "pear", "quantity": "three"}', True),
    ('{"name": "Ana", "item": "pear", "quantity": 0}', True),
    ('{"name": "Ana", "item": "pear", "quantity": true}', True),
    ('{"item": "pear", "name": "Ana", "quantity": 3}', True),  # key order is part of the format
    ('{"name": "", "item": "pear", "quantity": 3}', True),
    ('{"name": "Ana", "item": "pe', True),
    ('Ana ordered 3 pear.', True),
    ('[1, 2]', True),
])
def test_breaks_format(content, broken):
    assert dq.breaks_format({"messages": [{"role": "assistant", "content": content}]}) is broken


def test_length_outliers_are_relative_to_the_median():
    assert dq.length_outliers([10, 10, 10, 10]) == [False] * 4
    assert dq.length_outliers([10, 12, 4, 30], low=0.5, high=2.0) == [False, False, True, True]
    assert dq.length_outliers([]) == []


def test_answer_perplexities_are_exp_of_the_answer_loss_of_each_record(tokenizer):
    model = tiny_llama(tokenizer)
    records = RECORDS[:5]
    scores = dq.answer_perplexities(model, tokenizer, records, batch_size=2)
    assert len(scores) == 5 and all(score >= 1.0 for score in scores)
    # one record at a time, the perplexity is exp of sft_data's answer loss
    single = [math.exp(sft_data.answer_loss(model, tokenizer, [r])) for r in records]
    assert scores == pytest.approx(single, rel=1e-4)


# ------------------------------------------------------------------------------------------------ splits

def test_leaked_and_near_leaked_find_validation_records_seen_in_train():
    train, validation = RECORDS[:50], RECORDS[50:60] + [RECORDS[3]]
    assert dq.leaked(train, validation) == [10]
    edited = dq.near_duplicate(RECORDS[4], random.Random(0))
    assert dq.near_leaked(train, [edited, RECORDS[70]]) == [0]


def test_stratified_split_keeps_each_group_share_and_never_empties_train():
    groups = ["order"] * 80 + ["math"] * 15 + ["sort"] * 5 + ["one"]
    train, validation = dq.stratified_split(list(range(len(groups))), groups, 0.2, seed=1)
    assert sorted(train + validation) == list(range(len(groups)))
    held = [groups[i] for i in validation]
    assert (held.count("order"), held.count("math"), held.count("sort"), held.count("one")) == (16, 3, 1, 0)
    with pytest.raises(ValueError, match="one per record"):
        dq.stratified_split([1, 2], ["a"], 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        dq.stratified_split([1], ["a"], 1.0)
