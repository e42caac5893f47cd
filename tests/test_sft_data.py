"""Unit tests of utils.course_data.sft_data: the order-extraction task, its validator and its metric."""

from __future__ import annotations

import json
import math

import pytest
import torch
from tiny_models import tiny_llama

from utils.core.jsonl import JsonlError
from utils.course_data import sft_data


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    return tiny_llama(tokenizer)


def test_make_examples_is_seeded_and_answers_are_consistent():
    first, again, other = (sft_data.make_examples(50, seed=s) for s in (3, 3, 4))
    assert first == again
    assert first != other
    for record in first:
        system, user, assistant = record["messages"]
        assert [system["role"], user["role"], assistant["role"]] == ["system", "user", "assistant"]
        answer = json.loads(assistant["content"])
        assert answer["name"] in user["content"]
        assert answer["item"] in sft_data.ITEMS
        assert 1 <= answer["quantity"] <= 12
        written = {str(answer["quantity"]), sft_data.NUMBER_WORDS[answer["quantity"]]}
        assert any(w in user["content"].lower() for w in written)
    assert len({r["messages"][1]["content"] for r in first}) > 45  # varied, not one template


def test_make_examples_rejects_negative_n():
    with pytest.raises(ValueError, match="n must be at least 0, got -1"):
        sft_data.make_examples(-1)


def test_write_and_load_splits_round_trip_without_leakage(tmp_path):
    paths = sft_data.write_splits(tmp_path, n_train=60, n_val=20, seed=1)
    train, val = sft_data.load_split(paths["train"]), sft_data.load_split(paths["validation"])
    assert (len(train), len(val)) == (60, 20)
    assert train == sft_data.make_examples(60, seed=1)
    train_prompts = {r["messages"][1]["content"] for r in train}
    assert not train_prompts & {r["messages"][1]["content"] for r in val}
    assert sft_data.write_splits(tmp_path / "again", 60, 20, seed=1)["validation"].read_text() == \
        paths["validation"].read_text()


def test_shipped_data_is_valid_and_matches_its_generator():
    from utils.core.runtime import REPO_ROOT

    train = sft_data.load_split(REPO_ROOT / "data" / "sft" / "train.jsonl")
    val = sft_data.load_split(REPO_ROOT / "data" / "sft" / "validation.jsonl")
    assert train == sft_data.make_examples(len(train), seed=sft_data.DEFAULT_SEED)
    assert len(val) >= 100


def test_load_split_names_file_and_line_of_bad_json(tmp_path):
    path = tmp_path / "broken.jsonl"
    good = json.dumps(sft_data.make_examples(1)[0])
    path.write_text(good + "\n" + good[:-3] + "\n")
    with pytest.raises(JsonlError, match="broken.jsonl: line 2 is not valid JSON"):
        sft_data.load_split(path)


def _record(*turns):
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


@pytest.mark.parametrize(("bad", "message"), [
    ({"messages": [{"content": "hi"}, {"role": "assistant", "content": "x"}]},
     r"record 2, messages\[0\]: field 'role' is missing"),
    (_record(("user", "hi"), ("assistant", "  ")),
     r"record 2, messages\[1\]: field 'content' is missing or empty"),
    (_record(("assistant", "x"), ("user", "hi")),
     r"record 2, messages\[0\]: field 'role' is 'assistant' where the 'user' turn belongs"),
    (_record(("user", "a"), ("user", "b"), ("assistant", "c")),
     r"^record 2, messages\[1\]: field 'role' is 'user' where"),
    (_record(("user", "hi"), ("bot", "x")), r"messages\[1\]: field 'role' is 'bot'; use one of"),
    (_record(("user", "hi")), "record 2, messages: the last turn is 'user'"),
    ({"messages": []}, "record 2, messages: must be a non-empty list"),
    ({"text": "hello"}, "record 2: has neither 'messages' nor 'prompt'/'completion'"),
    ("just a string", "record 2: expected a JSON object"),
    ({"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "user", "content": "x"}]},
     r"record 2, prompt\+completion\[1\]: field 'role' is 'user' where the 'assistant'"),
])
def test_validate_records_names_record_and_field(bad, message):
    good = sft_data.make_examples(1)[0]
    with pytest.raises(sft_data.InvalidRecordError, match=message):
        sft_data.validate_records([good, bad])


def test_validate_records_accepts_good_formats():
    records = sft_data.make_examples(5)
    sft_data.validate_records(records)
    sft_data.validate_records(sft_data.to_prompt_completion(records))
    sft_data.validate_records([_record(("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))])


def test_to_prompt_completion_splits_off_the_last_turn():
    record = sft_data.make_examples(1)[0]
    (converted,) = sft_data.to_prompt_completion([record])
    assert converted["prompt"] == record["messages"][:2]
    assert converted["completion"] == record["messages"][2:]
    assert sft_data.target_answer(converted) == sft_data.target_answer(record)
    with pytest.raises(sft_data.InvalidRecordError):
        sft_data.to_prompt_completion([{"messages": [{"role": "user", "content": "hi"}]}])


@pytest.mark.parametrize(("text", "expected"), [
    ('{"name": "Ana", "item": "pear", "quantity": 3}', {"name": "Ana", "item": "pear", "quantity": 3}),
    ('Sure! {"a": 1} and {"b": 2}', {"a": 1}),
    ('{broken {"a": [1, 2]}', {"a": [1, 2]}),
    ('{"name": "Ana", "item": ', None),
    ("no json here", None),
    ("[1, 2]", None),
])
def test_extract_answer(text, expected):
    assert sft_data.extract_answer(text) == expected


def test_score_answers_is_exact_on_content():
    record = sft_data.make_examples(1, seed=2)[0]
    target = sft_data.target_answer(record)
    right = json.dumps(target, indent=2)  # layout does not matter, content does
    wrong_type = json.dumps({**target, "quantity": str(target["quantity"])})
    extra_key = json.dumps({**target, "note": "x"})
    assert sft_data.score_answers([right, wrong_type, extra_key, "nothing"], [record] * 4) == \
        [True, False, False, False]
    with pytest.raises(ValueError, match="2 answers for 1 records"):
        sft_data.score_answers(["a", "b"], [record])


def test_generate_answers_batches_with_left_padding(tiny_model, tokenizer):
    records = sft_data.make_examples(5, seed=0)
    batched = sft_data.generate_answers(tiny_model, tokenizer, records, max_new_tokens=4, batch_size=5)
    single = [sft_data.generate_answers(tiny_model, tokenizer, [r], max_new_tokens=4)[0] for r in records]
    assert batched == single  # padding on the left leaves every greedy answer unchanged
    assert tokenizer.padding_side == "right"  # restored
    assert not tiny_model.training


def test_exact_match_counts_right_answers(tiny_model, tokenizer, monkeypatch):
    records = sft_data.make_examples(4, seed=5)
    assert sft_data.exact_match(tiny_model, tokenizer, records, max_new_tokens=3) == 0.0
    answers = [r["messages"][-1]["content"] for r in records[:3]] + ["wrong"]
    monkeypatch.setattr(sft_data, "generate_answers", lambda *args, **kwargs: answers)
    assert sft_data.exact_match(tiny_model, tokenizer, records) == 0.75
    with pytest.raises(ValueError, match="at least one record"):
        sft_data.exact_match(tiny_model, tokenizer, [])


def test_answer_token_ids_split_prompt_from_answer(tokenizer):
    record = sft_data.make_examples(1, seed=7)[0]
    ids, n_prompt = sft_data.answer_token_ids(tokenizer, record)
    answer = tokenizer.decode(ids[n_prompt:])
    assert answer == record["messages"][-1]["content"] + "<|im_end|>\n"
    assert tokenizer.decode(ids[:n_prompt]).endswith("<|im_start|>assistant\n")


def test_answer_loss_scores_only_answer_tokens(tiny_model, tokenizer):
    records = sft_data.make_examples(3, seed=8)
    loss = sft_data.answer_loss(tiny_model, tokenizer, records, batch_size=2)
    # an untrained model is close to uniform over the vocabulary: about ln(49152) = 10.8 nats
    assert 10.0 < loss < 11.6
    assert abs(sft_data.answer_loss(tiny_model, tokenizer, records, batch_size=3) - loss) < 1e-4
    # one record by hand: transformers' own loss with the prompt positions masked out
    ids, n_prompt = sft_data.answer_token_ids(tokenizer, records[0])
    labels = torch.tensor([[-100] * n_prompt + ids[n_prompt:]])
    with torch.no_grad():
        expected = tiny_model(input_ids=torch.tensor([ids]), labels=labels).loss.item()
    assert abs(sft_data.answer_loss(tiny_model, tokenizer, records[:1]) - expected) < 1e-4
    with pytest.raises(ValueError, match="at least one record"):
        sft_data.answer_loss(tiny_model, tokenizer, [])


def test_answer_probabilities_multiply_the_token_probabilities_of_each_answer(tiny_model, tokenizer):
    # short answers, so that an untrained model's probability (about e^-11 per token) stays above zero
    records = [{"messages": [{"role": "user", "content": f"Say {word}."},
                             {"role": "assistant", "content": word}]} for word in ("ok", "yes please", "no")]
    probabilities = sft_data.answer_probabilities(tiny_model, tokenizer, records, batch_size=2)
    for record, probability in zip(records, probabilities, strict=True):
        ids, n_prompt = sft_data.answer_token_ids(tokenizer, record)
        per_token = sft_data.answer_loss(tiny_model, tokenizer, [record])
        assert 0 < probability < 1e-9
        assert probability == pytest.approx(math.exp(-per_token * (len(ids) - n_prompt)), rel=1e-3)
    assert probabilities[1] < min(probabilities[0], probabilities[2])  # a longer answer: more factors below 1


def test_answer_tail_logits_give_the_same_losses(tiny_model, tokenizer, float32):
    # the shortcut skips the vocabulary head on prompt positions; each answer's loss must not move
    from utils.core.model_modes import eval_mode

    records = sft_data.make_examples(5, seed=3)
    with eval_mode(tiny_model):
        tail, full = (list(sft_data.answer_token_losses(tiny_model, tokenizer, records, 5, keep_tail=keep))
                      for keep in (True, False))
    (tail_losses, tail_mask), (full_losses, full_mask) = tail[0], full[0]
    assert tail_losses.shape[1] < full_losses.shape[1]  # fewer positions went through the head
    assert torch.equal(tail_mask.sum(dim=1), full_mask.sum(dim=1))
    assert torch.allclose((tail_losses * tail_mask).sum(dim=1), (full_losses * full_mask).sum(dim=1),
                          atol=1e-4)
