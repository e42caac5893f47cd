"""Unit tests of utils.course_data.preference_data: the arithmetic task, its code
judge, pairs and their format."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_models import tiny_llama

from utils.core.jsonl import JsonlError, read_jsonl
from utils.core.runtime import REPO_ROOT
from utils.course_data import preference_data as prefs

SEVEN_PLUS_FIVE = {"question": "What is 7 + 5?", "answer": 12, "a": 7, "op": "+", "b": 5}


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    return tiny_llama(tokenizer)


def test_problems_are_seeded_distinct_and_consistent():
    problems = prefs.make_problems(200, seed=3)
    assert problems == prefs.make_problems(200, seed=3)
    assert problems != prefs.make_problems(200, seed=4)
    assert len({p["question"] for p in problems}) == 200
    for p in problems:
        assert p["answer"] == (p["a"] + p["b"] if p["op"] == "+" else p["a"] - p["b"])
        assert p["answer"] >= 0 and 2 <= p["a"] <= 15 and 2 <= p["b"] <= 15
        assert str(p["a"]) in p["question"] and str(p["b"]) in p["question"]
        assert prefs.judge(prefs.reference_answer(p), p) == 2


def test_make_problems_excludes_held_out_questions_and_rejects_negative_n():
    first = prefs.make_problems(50, seed=0)
    held_out = prefs.make_problems(50, seed=1, exclude={p["question"] for p in first})
    assert not {p["question"] for p in first} & {p["question"] for p in held_out}
    with pytest.raises(ValueError, match="n must be at least 0, got -1"):
        prefs.make_problems(-1)


@pytest.mark.parametrize("text, expected", [
    ("12", 12), ("7 + 5 = 12.", 12), ("So 7 + 5 = 12, easy. Next: 3 + 4 = 7", 12),
    ("7 plus 5 equals 12", 12), ("The answer is 41.", 41), ("I do not know", None), ("x = ?", None),
    ("15 - 18 = -3", -3),
])
def test_stated_result(text, expected):
    assert prefs.stated_result(text) == expected


@pytest.mark.parametrize("text, score", [
    ("7 + 5 = 12", 2), ("12", 2), ("7 + 5 equals 12.", 2),
    ("To add 7 and 5, you simply add them together: 7 + 5 = 12.", 1),
    ("The answer is 12, because 7 + 5 = 12", 1),
    ("7 + 5 = 13", 0), ("To add 7 and 5, we need to", 0), ("", 0),
])
def test_judge_scores_concise_correct_over_padded_over_wrong(text, score):
    assert prefs.judge(text, SEVEN_PLUS_FIVE) == score


def test_judge_bad_input_says_what_is_wrong():
    with pytest.raises(TypeError, match="string"):
        prefs.judge(12, SEVEN_PLUS_FIVE)
    with pytest.raises(KeyError, match="answer"):
        prefs.judge("12", {"question": "What is 7 + 5?"})


def test_build_pair_prefers_the_best_sample_and_rejects_the_worst():
    pair = prefs.build_pair(SEVEN_PLUS_FIVE, ["7 + 5 is, let me think, 12 apples in total", "12", "13"])
    assert pair["chosen"] == [{"role": "assistant", "content": "12"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "13"}]
    assert (pair["chosen_score"], pair["rejected_score"], pair["chosen_source"]) == (2, 0, "model")
    assert pair["prompt"] == [{"role": "user", "content": "What is 7 + 5?"}]
    assert prefs.problem_of(pair) == SEVEN_PLUS_FIVE
    prefs.validate_pairs([pair])


def test_build_pair_falls_back_to_the_reference_answer_and_skips_solved_problems():
    pair = prefs.build_pair(SEVEN_PLUS_FIVE, ["Adding them gives us exactly 12 in the end", "wrong: 11"])
    assert pair["chosen"][0]["content"] == "7 + 5 = 12" and pair["chosen_source"] == "reference"
    assert pair["rejected"][0]["content"] == "wrong: 11"
    assert prefs.build_pair(SEVEN_PLUS_FIVE, ["12", "7 + 5 = 12"]) is None
    with pytest.raises(ValueError, match="at least one"):
        prefs.build_pair(SEVEN_PLUS_FIVE, [])


def test_win_rate_counts_ties_half():
    assert prefs.win_rate([2, 2, 0, 1], [0, 2, 0, 2]) == (1 + 0.5 + 0.5 + 0) / 4
    assert prefs.win_rate([1, 1], [1, 1]) == 0.5
    with pytest.raises(ValueError, match="equal length"):
        prefs.win_rate([1], [1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        prefs.win_rate([], [])


@pytest.mark.parametrize("bad, message", [
    ({"prompt": [], "chosen": [{"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "field 'prompt'"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": "a",
      "rejected": [{"role": "assistant", "content": "b"}]}, "field 'chosen'"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}]},
     "field 'rejected'"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": ""}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "chosen\\[0\\]"),
    ({"prompt": [{"role": "assistant", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "end with a 'user' turn"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "user", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "one 'assistant' turn"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "a"}]}, "identical"),
])
def test_validate_pairs_names_record_and_field(bad, message):
    with pytest.raises(prefs.InvalidPairError, match=message):
        prefs.validate_pairs([bad], source="x.jsonl")
    with pytest.raises(prefs.InvalidPairError, match="x.jsonl record 1"):
        prefs.validate_pairs([bad], source="x.jsonl")


def test_load_pairs_names_file_and_line_of_bad_json(tmp_path):
    good = prefs.build_pair(SEVEN_PLUS_FIVE, ["13"])
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(good) + "\n\n{not json\n")
    with pytest.raises(JsonlError, match="pairs.jsonl: line 3 is not valid JSON"):
        prefs.load_pairs(path)
    path.write_text(json.dumps(good) + "\n")
    assert prefs.load_pairs(path) == [good]
    with pytest.raises(FileNotFoundError, match="python -m utils.course_data.preference_data"):
        prefs.load_pairs(tmp_path / "missing.jsonl")


def test_generate_is_batched_with_left_padding_and_checks_its_arguments(tiny_model, tokenizer):
    prompts = [prefs.prompt_messages(p) for p in prefs.make_problems(5, seed=2)]
    side = tokenizer.padding_side
    batched = prefs.generate(tiny_model, tokenizer, prompts, max_new_tokens=4, batch_size=3)
    single = [prefs.generate(tiny_model, tokenizer, [p], max_new_tokens=4)[0] for p in prompts]
    assert batched == single and all(len(a) == 1 for a in batched)
    assert tokenizer.padding_side == side  # restored
    sampled = prefs.generate(tiny_model, tokenizer, prompts[:2], max_new_tokens=4, n=3, temperature=1.0,
                             seed=0)
    assert [len(a) for a in sampled] == [3, 3]
    assert sampled == prefs.generate(tiny_model, tokenizer, prompts[:2], max_new_tokens=4, n=3,
                                     temperature=1.0, seed=0)
    with pytest.raises(ValueError, match="greedy"):
        prefs.generate(tiny_model, tokenizer, prompts, n=2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        prefs.generate(tiny_model, tokenizer, prompts, max_new_tokens=0)


def test_generate_leaves_the_callers_global_rng_alone(tiny_model, tokenizer):
    prompts = [prefs.prompt_messages(p) for p in prefs.make_problems(2, seed=4)]
    torch.manual_seed(11)
    expected = torch.rand(4)
    torch.manual_seed(11)
    state = torch.random.get_rng_state()
    sampled = prefs.generate(tiny_model, tokenizer, prompts, max_new_tokens=3, n=2, temperature=1.0, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)  # not reseeded to 0, not advanced
    assert torch.equal(torch.rand(4), expected)
    assert sampled == prefs.generate(tiny_model, tokenizer, prompts, max_new_tokens=3, n=2, temperature=1.0,
                                     seed=0)


def test_build_pairs_and_write_splits_from_a_model(tiny_model, tokenizer, tmp_path):
    # a random tiny model never answers correctly: every mixed pair is reference-chosen, model-rejected
    pairs = prefs.build_pairs(tiny_model, tokenizer, prefs.make_problems(3, seed=5), n=2, max_new_tokens=3)
    assert len(pairs) == 3
    assert all(p["chosen_source"] == "reference" and p["rejected_score"] == 0 for p in pairs)
    paths = prefs.write_splits(tmp_path, tiny_model, tokenizer, n_train=4, n_val=2, n=2)
    train, val = prefs.load_pairs(paths["train"]), prefs.load_pairs(paths["validation"])
    samples = read_jsonl(tmp_path / "samples_train.jsonl")
    assert len(samples) == 4 and all(len(s["samples"]) == 2 for s in samples)
    assert len(read_jsonl(tmp_path / "samples_validation.jsonl")) == 2
    assert train == prefs.typed_pairs(samples, [s["samples"] for s in samples])
    # never correct: no concision pair; a correctness pair only from a sample that states a number
    assert all(r["pair_type"] == "correctness" and r["chosen_source"] == "edited" for r in train + val)
    assert not {r["prompt"][0]["content"] for r in train} & {r["prompt"][0]["content"] for r in val}


def test_concision_pair_keeps_both_answers_correct():
    samples = ["7 + 5 = 13", "Adding 7 and 5 gives 12 in total, easy", "7 + 5 = 12",
               "So it is 12 here, friend"]
    pair = prefs.concision_pair(SEVEN_PLUS_FIVE, samples)
    assert (pair["chosen"][0]["content"], pair["rejected"][0]["content"]) == (samples[2], samples[1])
    assert (pair["chosen_score"], pair["rejected_score"], pair["chosen_source"]) == (2, 1, "model")
    assert pair["pair_type"] == "concision"
    fallback = prefs.concision_pair(SEVEN_PLUS_FIVE, samples[:2])  # no concise correct sample
    assert fallback["chosen"][0]["content"] == "7 + 5 = 12" and fallback["chosen_source"] == "reference"
    assert prefs.concision_pair(SEVEN_PLUS_FIVE, ["7 + 5 = 12", "13"]) is None  # nothing padded and correct
    prefs.validate_pairs([pair, fallback])


@pytest.mark.parametrize("text, expected", [
    ("So 7 + 5 = 13. Easy", "So 7 + 5 = 12. Easy"), ("The result is 11.", "The result is 12."),
    ("Adding 7 and 5 gives 13", "Adding 7 and 5 gives 12"), ("no number", None),
])
def test_corrected_replaces_the_stated_result_only(text, expected):
    assert prefs.corrected(text, 12) == expected
    if expected:
        assert prefs.stated_result(expected) == 12


def test_correctness_pair_matches_lengths_or_edits_the_wrong_sample():
    samples = ["The sum of 7 and 5 is 12, as you can check.", "7 + 5 = 12", "7 + 5 = 13",
               "The sum of 7 and 5 is 14, as you can check."]
    pair = prefs.correctness_pair(SEVEN_PLUS_FIVE, samples)
    assert pair["chosen_source"] == "model" and pair["pair_type"] == "correctness"
    assert prefs.judge(pair["chosen"][0]["content"], SEVEN_PLUS_FIVE) > 0 == pair["rejected_score"]
    assert prefs.word_count(pair["chosen"][0]["content"]) == prefs.word_count(pair["rejected"][0]["content"])
    edited = prefs.correctness_pair(SEVEN_PLUS_FIVE, ["I think it is 13 apples", "no idea"])
    assert edited["chosen"][0]["content"] == "I think it is 12 apples" and edited["chosen_source"] == "edited"
    assert prefs.correctness_pair(SEVEN_PLUS_FIVE, ["7 + 5 = 12", "no idea"]) is None  # no wrong result
    prefs.validate_pairs([pair, edited])


def test_shipped_data_is_valid_held_out_and_matches_its_judge():
    folder = REPO_ROOT / "data" / "preference"
    train, val = prefs.load_pairs(folder / "train.jsonl"), prefs.load_pairs(folder / "validation.jsonl")
    assert len(train) >= 400 and len(val) >= 60
    assert not {r["prompt"][0]["content"] for r in train} & {r["prompt"][0]["content"] for r in val}
    for record in train + val:
        problem = prefs.problem_of(record)
        chosen, rejected = record["chosen"][0]["content"], record["rejected"][0]["content"]
        assert prefs.judge(chosen, problem) == record["chosen_score"]
        assert prefs.judge(rejected, problem) == record["rejected_score"]
        if record["pair_type"] == "concision":  # both correct, chosen concise
            assert (record["chosen_score"], record["rejected_score"]) == (2, 1)
        else:  # chosen correct, rejected wrong
            assert record["chosen_score"] > 0 == record["rejected_score"]
        if record["chosen_source"] == "reference":
            assert chosen == prefs.reference_answer(problem)
        if record["chosen_source"] == "edited":
            assert chosen == prefs.corrected(rejected, problem["answer"])
    # the pairs are rebuilt exactly from the shipped samples
    samples = read_jsonl(folder / "samples_train.jsonl")
    assert train == prefs.typed_pairs(samples, [s["samples"] for s in samples])
    expected = prefs.make_problems(prefs.DEFAULT_TRAIN, seed=prefs.DEFAULT_SEED)
    assert [s["question"] for s in samples] == [p["question"] for p in expected]
