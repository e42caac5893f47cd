"""utils.generation.sampling: the penalty processor against its formula, the API-shaped chat_completion,
and the diversity metrics. A tiny random Llama with the real tokenizer keeps these fast."""

from __future__ import annotations

import copy

import pytest
import torch
from tiny_models import tiny_llama
from transformers import LogitsProcessorList

from utils.generation.sampling import (
    FrequencyPresencePenalty,
    chat_completion,
    distinct_n,
    generate_choices,
    repetition_rate,
)

MESSAGES = [{"role": "user", "content": "Name a colour."}]

pytestmark = pytest.mark.usefixtures("float32")  # the checks lean on a random model's float32 greedy path


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    return tiny_llama(tokenizer, hidden_size=32, intermediate_size=64, layers=2, heads=4, kv_heads=2,
                      max_positions=256)


def formula(input_ids, scores, frequency, presence, prompt_length):
    """The OpenAI formula written the slow, obvious way, one row and one token at a time."""
    expected = scores.clone()
    for row in range(input_ids.shape[0]):
        generated = input_ids[row, prompt_length:].tolist()
        for token in set(generated):
            count = generated.count(token)
            expected[row, token] -= count * frequency + presence
    return expected


@pytest.mark.parametrize("frequency,presence", [(0.5, 0.0), (0.0, 1.5), (1.3, -0.7), (-2.0, 2.0)])
def test_penalty_equals_formula_on_random_histories(frequency, presence):
    generator = torch.Generator().manual_seed(1)
    vocab, batch, prompt_length = 50, 4, 6
    input_ids = torch.randint(0, 12, (batch, prompt_length + 9), generator=generator)
    scores = torch.randn(batch, vocab, generator=generator)
    processed = FrequencyPresencePenalty(frequency, presence, prompt_length)(input_ids, scores.clone())
    torch.testing.assert_close(processed, formula(input_ids, scores, frequency, presence, prompt_length))


def test_penalty_is_batch_safe():
    """Each row is penalised by its own history only: the same row alone gives the same result."""
    generator = torch.Generator().manual_seed(2)
    input_ids = torch.tensor([[9, 9, 1, 1, 1, 4], [9, 9, 2, 3, 3, 3], [9, 9, 5, 5, 5, 5]])
    scores = torch.randn(3, 10, generator=generator)
    penalty = FrequencyPresencePenalty(0.4, 0.3, prompt_length=2)
    together = penalty(input_ids, scores.clone())
    for row in range(3):
        alone = penalty(input_ids[row:row + 1], scores[row:row + 1].clone())
        torch.testing.assert_close(together[row:row + 1], alone)
    assert together[0, 1] == pytest.approx(scores[0, 1] - 3 * 0.4 - 0.3)
    assert together[1, 1] == scores[1, 1]  # token 1 occurs only in row 0


def test_prompt_tokens_are_ignored():
    scores = torch.zeros(1, 10)
    input_ids = torch.tensor([[7, 7, 7, 7, 3]])  # four 7s in the prompt, one 3 generated
    processed = FrequencyPresencePenalty(1.0, 0.5, prompt_length=4)(input_ids, scores)
    assert processed[0, 7] == 0.0
    assert processed[0, 3] == pytest.approx(-1.5)
    # with no generated token at all, nothing changes
    assert torch.equal(FrequencyPresencePenalty(2.0, 2.0, prompt_length=5)(input_ids, scores), scores)


def test_penalty_does_not_modify_its_input():
    scores = torch.zeros(1, 5)
    FrequencyPresencePenalty(1.0, 1.0, prompt_length=0)(torch.tensor([[1, 1]]), scores)
    assert torch.equal(scores, torch.zeros(1, 5))


@pytest.mark.parametrize("kwargs,message", [
    ({"frequency_penalty": 2.5}, "frequency_penalty must lie in \\[-2, 2\\]"),
    ({"presence_penalty": -2.01}, "presence_penalty must lie in \\[-2, 2\\]"),
    ({"prompt_length": -1}, "prompt_length must be at least 0"),
])
def test_penalty_rejects_out_of_range_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrequencyPresencePenalty(**kwargs)


def test_penalty_rejects_non_numbers():
    with pytest.raises(TypeError, match="frequency_penalty must be a number"):
        FrequencyPresencePenalty(frequency_penalty="0.5")
    with pytest.raises(TypeError, match="must be a number"):
        FrequencyPresencePenalty(presence_penalty=float("nan"))


def test_zero_penalties_leave_generation_unchanged(tiny_model, tokenizer):
    batch = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt",
                                          return_dict=True)
    prompt_length = batch["input_ids"].shape[1]
    outputs = []
    for processors in ([], [FrequencyPresencePenalty(0.0, 0.0, prompt_length)]):
        torch.manual_seed(3)
        outputs.append(tiny_model.generate(
            **batch.copy(), do_sample=True, max_new_tokens=12, num_return_sequences=3, top_k=0,
            logits_processor=LogitsProcessorList(processors), pad_token_id=2))
    assert torch.equal(outputs[0], outputs[1])


def test_penalty_changes_generation_in_generate(tiny_model, tokenizer):
    """A strong frequency penalty under greedy decoding forbids repeating a generated token."""
    common = dict(n=1, temperature=0.0, max_tokens=20)
    plain = generate_choices(tiny_model, tokenizer, MESSAGES, **common)["choices"][0]["token_ids"]
    penalised = generate_choices(tiny_model, tokenizer, MESSAGES, frequency_penalty=2.0,
                                 presence_penalty=2.0, **common)["choices"][0]["token_ids"]
    assert repetition_rate(plain) > 0.0  # a random model repeats itself under greedy decoding
    # a random model's logits differ by far less than 4, so no generated token comes back
    assert repetition_rate(penalised) == 0.0


def test_chat_completion_shape_and_usage(tiny_model, tokenizer):
    response = chat_completion(tiny_model, tokenizer, MESSAGES, n=3, max_tokens=7, seed=0)
    prompt_tokens = len(tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True,
                                                      return_dict=True)["input_ids"])
    assert len(response["choices"]) == 3
    assert [c["index"] for c in response["choices"]] == [0, 1, 2]
    for choice in response["choices"]:
        assert choice["message"]["role"] == "assistant"
        assert isinstance(choice["message"]["content"], str)
        assert choice["finish_reason"] in {"stop", "length"}
        assert len(choice["token_ids"]) <= 7
        assert (choice["finish_reason"] == "length") == (len(choice["token_ids"]) == 7
                                                         and choice["token_ids"][-1] != 2)
    usage = response["usage"]
    assert usage["prompt_tokens"] == prompt_tokens
    assert usage["completion_tokens"] == sum(len(c["token_ids"]) for c in response["choices"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_finish_reason_stop_when_model_ends_its_turn(tiny_model, tokenizer):
    """A head biased towards the end-of-turn token (id 2): every choice stops at once."""
    eager = copy.deepcopy(tiny_model)
    head = torch.nn.Linear(eager.config.hidden_size, eager.config.vocab_size, bias=True)
    head.weight.data = eager.lm_head.weight.data.clone()
    head.bias.data.zero_()
    head.bias.data[2] = 1e3
    eager.lm_head = head
    response = chat_completion(eager, tokenizer, MESSAGES, n=2, max_tokens=5, seed=0)
    for choice in response["choices"]:
        assert choice["finish_reason"] == "stop"
        assert choice["token_ids"] == [2]
        assert choice["message"]["content"] == ""
    assert response["usage"]["completion_tokens"] == 2


def test_seed_makes_sampling_repeatable(tiny_model, tokenizer):
    first = chat_completion(tiny_model, tokenizer, MESSAGES, n=2, max_tokens=6, seed=11)
    second = chat_completion(tiny_model, tokenizer, MESSAGES, n=2, max_tokens=6, seed=11)
    assert [c["token_ids"] for c in first["choices"]] == [c["token_ids"] for c in second["choices"]]


def test_temperature_zero_is_greedy(tiny_model, tokenizer):
    response = chat_completion(tiny_model, tokenizer, MESSAGES, n=3, temperature=0, max_tokens=6)
    texts = {c["message"]["content"] for c in response["choices"]}
    assert len(texts) == 1


def test_model_logprobs_are_log_probabilities(tiny_model, tokenizer):
    response = generate_choices(tiny_model, tokenizer, MESSAGES, n=2, max_tokens=5, seed=0,
                                model_logprobs=True)
    for choice in response["choices"]:
        assert len(choice["model_logprobs"]) == len(choice["token_ids"])
        assert all(value <= 0.0 for value in choice["model_logprobs"])


@pytest.mark.parametrize("kwargs,error,message", [
    ({"temperature": 2.5}, ValueError, "temperature must lie in \\[0, 2\\]"),
    ({"temperature": -0.1}, ValueError, "temperature must lie in"),
    ({"top_p": 0.0}, ValueError, "top_p must lie in \\(0, 1\\]"),
    ({"top_p": 1.2}, ValueError, "top_p must lie in"),
    ({"n": 0}, ValueError, "n must be at least 1"),
    ({"n": 129}, ValueError, "at most 128"),
    ({"n": 2.0}, TypeError, "n must be an integer"),
    ({"frequency_penalty": 3}, ValueError, "frequency_penalty must lie in \\[-2, 2\\]"),
    ({"presence_penalty": -3}, ValueError, "presence_penalty must lie in \\[-2, 2\\]"),
    ({"max_tokens": 0}, ValueError, "max_tokens must be at least 1"),
    ({"max_tokens": 10_000}, ValueError, "exceeds the model's context"),
])
def test_chat_completion_rejects_invalid_arguments(tiny_model, tokenizer, kwargs, error, message):
    with pytest.raises(error, match=message):
        chat_completion(tiny_model, tokenizer, MESSAGES, **kwargs)


@pytest.mark.parametrize("messages,message", [
    ([], "non-empty list"),
    ("Hi", "non-empty list"),
    ([{"role": "user"}], "messages\\[0\\] must be a dict with 'role' and 'content'"),
    ([{"role": "robot", "content": "Hi"}], "messages\\[0\\]\\['role'\\] must be one of"),
])
def test_chat_completion_rejects_bad_messages(tiny_model, tokenizer, messages, message):
    with pytest.raises(ValueError, match=message):
        chat_completion(tiny_model, tokenizer, messages)


def test_generate_choices_accepts_the_wider_transformers_ranges(tiny_model, tokenizer):
    response = generate_choices(tiny_model, tokenizer, MESSAGES, temperature=3.0, top_k=5,
                                repetition_penalty=1.3, max_tokens=3, seed=0)
    assert len(response["choices"][0]["token_ids"]) <= 3
    with pytest.raises(ValueError, match="repetition_penalty must be a positive number"):
        generate_choices(tiny_model, tokenizer, MESSAGES, repetition_penalty=0.0)


def test_distinct_n():
    assert distinct_n([[1, 2, 3], [1, 2, 4]], n=2) == pytest.approx(3 / 4)
    assert distinct_n([[1, 1, 1, 1]], n=1) == pytest.approx(1 / 4)
    assert distinct_n([["a", "b"], ["c", "d"]], n=1) == 1.0
    with pytest.raises(ValueError, match="no sequence is 3 tokens long"):
        distinct_n([[1, 2]], n=3)


def test_repetition_rate():
    assert repetition_rate([5, 6, 5, 5]) == pytest.approx(0.5)
    assert repetition_rate([1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="empty"):
        repetition_rate([])
