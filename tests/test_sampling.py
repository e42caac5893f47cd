"""utils.generation.sampling: the penalty processor against its formula, the API-shaped chat_completion,
and the diversity metrics. A tiny random Llama with the real tokenizer keeps these fast."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from tiny_models import tiny_llama
from transformers import LogitsProcessorList

from utils.generation.sampling import (
    FrequencyPresencePenalty,
    LogitBias,
    chat_completion,
    distinct_n,
    generate_choices,
    repetition_rate,
    sample_prompts,
    token_bytes,
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


# --- logit_bias, logprobs and min_p -------------------------------------------------------------

def with_head_bias(model, bias: dict[int, float], keep_weights: bool = True):
    """A copy of ``model`` whose output head adds ``bias`` (token id -> logit); with
    ``keep_weights=False`` the head's weights are zero, so every step's logits are exactly ``bias``
    (0 elsewhere) whatever the context: a model whose distribution a test knows in advance."""
    biased = copy.deepcopy(model)
    head = torch.nn.Linear(biased.config.hidden_size, biased.config.vocab_size, bias=True)
    head.weight.data = biased.lm_head.weight.data.clone() if keep_weights else torch.zeros_like(head.weight)
    head.bias.data.zero_()
    for token, value in bias.items():
        head.bias.data[token] = value
    biased.lm_head = head
    return biased


# four ordinary tokens whose probabilities stand 1 : 0.6 : 0.4 : 0.3 (the other 49148 share < 1e-5)
KNOWN = {1000: 20.0, 1001: 20.0 + math.log(0.6), 1002: 20.0 + math.log(0.4), 1003: 20.0 + math.log(0.3)}


@pytest.fixture(scope="module")
def known_model(tiny_model):
    return with_head_bias(tiny_model, KNOWN, keep_weights=False)


def known_log_probs(vocab_size: int) -> torch.Tensor:
    logits = torch.zeros(vocab_size)
    logits[list(KNOWN)] = torch.tensor(list(KNOWN.values()))
    return logits.log_softmax(-1)


def test_logit_bias_adds_to_the_named_logits():
    scores = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    bias = LogitBias({"4": 100, 0: -100, " 2 ": 0.5}, vocab_size=6)  # JSON's string keys and ints alike
    expected = scores.clone()
    expected[:, 4] += 100
    expected[:, 0] -= 100
    expected[:, 2] += 0.5
    torch.testing.assert_close(bias(torch.zeros(2, 3, dtype=torch.long), scores), expected)
    assert torch.equal(scores, torch.arange(12, dtype=torch.float32).reshape(2, 6))  # input untouched
    assert torch.equal(LogitBias({}, vocab_size=6)(torch.zeros(2, 1, dtype=torch.long), scores), scores)
    assert bias.logit_bias == {4: 100.0, 0: -100.0, 2: 0.5}


@pytest.mark.parametrize("logit_bias,error,message", [
    ({"abc": 1}, ValueError, "logit_bias key 'abc' is not a token id"),
    ({"1.5": 1}, ValueError, "logit_bias key '1.5' is not a token id"),
    ({1.0: 1}, ValueError, "logit_bias key 1.0 is not a token id"),
    ({True: 1}, ValueError, "logit_bias key True is not a token id"),
    ({"6": 1}, ValueError, "logit_bias key '6' is not in the model's vocabulary: token ids run from 0 to 5"),
    ({-1: 1}, ValueError, "logit_bias key -1 is not in the model's vocabulary"),
    ({"3": 150}, ValueError, "logit_bias\\['3'\\] must lie in \\[-100, 100\\], got 150"),
    ({3: -100.5}, ValueError, "logit_bias\\[3\\] must lie in \\[-100, 100\\]"),
    ({"3": "1"}, TypeError, "logit_bias\\['3'\\] must be a number"),
    ({"3": float("nan")}, TypeError, "logit_bias\\['3'\\] must be a number"),
    ({3: 1, "3": 2}, ValueError, "names token 3 twice"),
    ([3, 1], TypeError, "logit_bias must be a dict of token id -> bias"),
])
def test_logit_bias_rejects_bad_keys_and_values(logit_bias, error, message):
    with pytest.raises(error, match=message):
        LogitBias(logit_bias, vocab_size=6)


def test_logit_bias_rejects_scores_of_another_vocabulary():
    with pytest.raises(ValueError, match="expected scores of shape \\(batch, 6\\)"):
        LogitBias({1: 1}, vocab_size=6)(torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 7))


def test_chat_completion_checks_logit_bias_against_the_model(tiny_model, tokenizer):
    last = tiny_model.config.vocab_size - 1
    with pytest.raises(ValueError, match=f"'{last + 1}' is not in the model's vocabulary: token ids "
                                         f"run from 0 to {last}"):
        chat_completion(tiny_model, tokenizer, MESSAGES, max_tokens=2, logit_bias={str(last + 1): 5})
    with pytest.raises(ValueError, match="must lie in \\[-100, 100\\]"):
        generate_choices(tiny_model, tokenizer, MESSAGES, max_tokens=2, logit_bias={"5": 101})


def test_logit_bias_minus_100_bans_the_greedy_first_token(tiny_model, tokenizer):
    """Banned, the greedy first token gives way to the model's second choice, and the reported
    logprobs (the model's own distribution) stay as they were."""
    greedy = dict(temperature=0, max_tokens=6, logprobs=True, top_logprobs=2)
    plain = chat_completion(tiny_model, tokenizer, MESSAGES, **greedy)["choices"][0]
    first = plain["token_ids"][0]
    banned = chat_completion(tiny_model, tokenizer, MESSAGES, logit_bias={str(first): -100},
                             **greedy)["choices"][0]
    assert banned["token_ids"][0] != first and first not in banned["token_ids"]
    runner_up = plain["logprobs"]["content"][0]["top_logprobs"][1]
    assert token_bytes(tokenizer, banned["token_ids"][0]) == bytes(runner_up["bytes"])
    assert banned["logprobs"]["content"][0]["top_logprobs"] == plain["logprobs"]["content"][0]["top_logprobs"]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_logit_bias_plus_100_forces_a_token_at_every_step(tiny_model, tokenizer, temperature):
    forced = tokenizer(" blue", add_special_tokens=False)["input_ids"][-1]
    response = chat_completion(tiny_model, tokenizer, MESSAGES, n=2, temperature=temperature,
                               max_tokens=5, seed=0, logit_bias={forced: 100})
    for choice in response["choices"]:
        assert choice["token_ids"] == [forced] * 5
        assert choice["finish_reason"] == "length"


def test_logprobs_are_off_by_default(tiny_model, tokenizer):
    choice = chat_completion(tiny_model, tokenizer, MESSAGES, max_tokens=2, seed=0)["choices"][0]
    assert set(choice) == {"index", "message", "finish_reason", "token_ids"}


def forward_log_probs(model, tokenizer, token_ids: list[int]) -> torch.Tensor:
    """``(len(token_ids), vocab)``: the log-softmax at each generated position, from one plain
    forward pass over prompt + completion (no cache, no generate), to check generate's against."""
    prompt = tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True,
                                           return_dict=True)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt + token_ids])).logits[0].float()
    return logits[len(prompt) - 1:len(prompt) - 1 + len(token_ids)].log_softmax(-1)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_logprobs_have_the_api_shape_and_agree_with_the_model(tiny_model, tokenizer, temperature):
    response = chat_completion(tiny_model, tokenizer, MESSAGES, n=2, temperature=temperature,
                               max_tokens=6, seed=0, logprobs=True, top_logprobs=5)
    for choice in response["choices"]:
        content = choice["logprobs"]["content"]
        assert len(content) == len(choice["token_ids"]) - (choice["finish_reason"] == "stop")
        assert b"".join(bytes(entry["bytes"]) for entry in content).decode() == choice["message"]["content"]
        reference = forward_log_probs(tiny_model, tokenizer, choice["token_ids"])
        for step, (token, entry) in enumerate(zip(choice["token_ids"], content, strict=False)):
            assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"}
            assert bytes(entry["bytes"]) == token_bytes(tokenizer, token)
            assert entry["logprob"] == pytest.approx(reference[step, token].item(), abs=1e-4)
            tops = entry["top_logprobs"]
            assert len(tops) == 5 and all(set(top) == {"token", "logprob", "bytes"} for top in tops)
            values = [top["logprob"] for top in tops]
            assert values == sorted(values, reverse=True)
            expected, ids = reference[step].topk(5)
            assert values == pytest.approx(expected.tolist(), abs=1e-4)
            assert [bytes(top["bytes"]) for top in tops] == [token_bytes(tokenizer, i) for i in ids.tolist()]
            assert entry["logprob"] <= values[0] + 1e-6
            if temperature == 0:  # greedy: the chosen token is the most likely one
                assert tops[0] == {key: entry[key] for key in ("token", "logprob", "bytes")}


def test_logprobs_leave_out_the_stop_token(tiny_model, tokenizer):
    """The content's logprobs cover the text; the end-of-turn token (id 2), not shown, has none."""
    stopping = with_head_bias(tiny_model, {2: 1e3})
    choice = chat_completion(stopping, tokenizer, MESSAGES, max_tokens=5, logprobs=True,
                             top_logprobs=1)["choices"][0]
    assert choice["token_ids"] == [2] and choice["finish_reason"] == "stop"
    assert choice["logprobs"] == {"content": []}


def test_logprobs_match_model_logprobs(tiny_model, tokenizer):
    response = generate_choices(tiny_model, tokenizer, MESSAGES, n=3, max_tokens=5, seed=4,
                                model_logprobs=True, logprobs=True)
    for choice in response["choices"]:
        content = choice["logprobs"]["content"]
        assert [entry["logprob"] for entry in content] == choice["model_logprobs"][:len(content)]
        assert all(entry["top_logprobs"] == [] for entry in content)  # top_logprobs None: none asked


@pytest.mark.parametrize("temperature", [0.0, 0.5, 1.7])
def test_logprobs_come_from_the_model_before_temperature(known_model, tokenizer, temperature):
    """The head's logits are known, so the model's log-probabilities are too: the reported ones
    are those, whatever the temperature (at 0.5 the sampling distribution is far sharper)."""
    expected = known_log_probs(known_model.config.vocab_size)
    response = chat_completion(known_model, tokenizer, MESSAGES, n=4, temperature=temperature,
                               max_tokens=3, seed=0, logprobs=True, top_logprobs=4)
    for choice in response["choices"]:
        for token, entry in zip(choice["token_ids"], choice["logprobs"]["content"], strict=True):
            assert entry["logprob"] == pytest.approx(expected[token].item(), abs=1e-5)
            assert [top["logprob"] for top in entry["top_logprobs"]] == pytest.approx(
                expected[list(KNOWN)].tolist(), abs=1e-5)
            assert [bytes(top["bytes"]) for top in entry["top_logprobs"]] == [
                token_bytes(tokenizer, token) for token in KNOWN]


@pytest.mark.parametrize("kwargs,error,message", [
    ({"top_logprobs": 3}, ValueError, "top_logprobs=3 needs logprobs=True"),
    ({"top_logprobs": 0}, ValueError, "top_logprobs=0 needs logprobs=True"),
    ({"logprobs": True, "top_logprobs": 21}, ValueError, "top_logprobs must be at least 0 and at most 20"),
    ({"logprobs": True, "top_logprobs": -1}, ValueError, "top_logprobs must be at least 0"),
    ({"logprobs": True, "top_logprobs": 2.0}, TypeError, "top_logprobs must be an integer"),
    ({"logprobs": "yes"}, TypeError, "logprobs must be True or False"),
])
def test_logprobs_arguments_are_checked(tiny_model, tokenizer, kwargs, error, message):
    with pytest.raises(error, match=message):
        chat_completion(tiny_model, tokenizer, MESSAGES, max_tokens=2, **kwargs)
    with pytest.raises(error, match=message):
        generate_choices(tiny_model, tokenizer, MESSAGES, max_tokens=2, **kwargs)


def test_top_logprobs_zero_and_twenty(tiny_model, tokenizer):
    for count in (0, 20):
        response = chat_completion(tiny_model, tokenizer, MESSAGES, max_tokens=2, seed=0,
                                   logprobs=True, top_logprobs=count)
        assert all(len(entry["top_logprobs"]) == count
                   for entry in response["choices"][0]["logprobs"]["content"])


def test_token_bytes_keep_partial_characters(tokenizer):
    ids = tokenizer("colour ✓ 日本", add_special_tokens=False)["input_ids"]
    assert b"".join(token_bytes(tokenizer, token) for token in ids) == "colour ✓ 日本".encode()


def test_min_p_keeps_tokens_with_half_the_top_probability(known_model, tokenizer):
    """At temperature 1 the probabilities stand 1 : 0.6 : 0.4 : 0.3, so min_p=0.5 keeps the first
    two tokens only; without it, the other two are drawn too (same seed)."""
    common = dict(n=64, temperature=1.0, max_tokens=1, seed=0, model_logprobs=True, logprobs=True,
                  top_logprobs=1)
    cut = generate_choices(known_model, tokenizer, MESSAGES, min_p=0.5, **common)["choices"]
    top = cut[0]["logprobs"]["content"][0]["top_logprobs"][0]["logprob"]
    assert all(choice["model_logprobs"][0] >= top + math.log(0.5) for choice in cut)
    assert {choice["token_ids"][0] for choice in cut} == {1000, 1001}
    uncut = generate_choices(known_model, tokenizer, MESSAGES, **common)["choices"]
    assert {choice["token_ids"][0] for choice in uncut} == set(KNOWN)


def test_min_p_is_off_at_zero_and_checked(tiny_model, tokenizer):
    common = dict(n=3, temperature=1.0, max_tokens=4, seed=5)
    plain = generate_choices(tiny_model, tokenizer, MESSAGES, **common)
    assert generate_choices(tiny_model, tokenizer, MESSAGES, min_p=0.0, **common) == plain
    greedy = dict(temperature=0.0, max_tokens=4)  # greedy keeps the top token, which min-p never cuts
    assert (generate_choices(tiny_model, tokenizer, MESSAGES, min_p=0.9, **greedy)
            == generate_choices(tiny_model, tokenizer, MESSAGES, **greedy))
    with pytest.raises(ValueError, match="min_p must lie in \\[0, 1\\] \\(0 keeps every token\\)"):
        generate_choices(tiny_model, tokenizer, MESSAGES, min_p=1.5)


PROMPTS = ["Name a colour.", "Write one long sentence about the sea and the sky.", "Hi"]


@pytest.mark.parametrize("knobs", [dict(temperature=0.0),
                                   dict(temperature=0.0, frequency_penalty=1.5, presence_penalty=0.5)])
def test_sample_prompts_answers_each_prompt_as_if_alone(tiny_model, tokenizer, knobs):
    """Left padding: every prompt of a batch gets the greedy answer it gets on its own, penalties
    included (they count only the answer's tokens, never the padding or the prompt)."""
    batched = sample_prompts(tiny_model, tokenizer, PROMPTS, max_tokens=8, batch_size=2,
                             model_logprobs=True, **knobs)
    assert [c["prompt"] for c in batched] == PROMPTS and [c["index"] for c in batched] == [0, 1, 2]
    for prompt, choice in zip(PROMPTS, batched, strict=True):
        alone = generate_choices(tiny_model, tokenizer, [{"role": "user", "content": prompt}],
                                 max_tokens=8, model_logprobs=True, **knobs)["choices"][0]
        assert choice["token_ids"] == alone["token_ids"]
        assert choice["model_logprobs"] == pytest.approx(alone["model_logprobs"], abs=1e-4)


def test_sample_prompts_is_reproducible_from_its_seed(tiny_model, tokenizer):
    first, again, other = (sample_prompts(tiny_model, tokenizer, PROMPTS, max_tokens=6, temperature=1.0,
                                          seed=seed) for seed in (3, 3, 4))
    assert [c["token_ids"] for c in first] == [c["token_ids"] for c in again]
    assert [c["token_ids"] for c in first] != [c["token_ids"] for c in other]


def test_sample_prompts_rejects_a_bare_string(tiny_model, tokenizer):
    with pytest.raises(TypeError, match=r"wrap a single one"):
        sample_prompts(tiny_model, tokenizer, "Hi", max_tokens=2)
