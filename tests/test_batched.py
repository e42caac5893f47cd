"""utils.generation.batched: left-padded chat batches, greedy or seeded sampling, decoded completions."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_llama

from utils.generation.batched import (
    chat_batch,
    decoding_options,
    generate_batch,
    generate_completions,
    seeded,
)

PROMPTS = [[{"role": "user", "content": "Hi"}],
           [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 7 + 5?"}],
           [{"role": "user", "content": "Name three fruits, please, in one short line."}]]


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    return tiny_llama(tokenizer)


def test_decoding_options_greedy_or_sampled():
    assert decoding_options(0)["do_sample"] is False
    assert decoding_options(1.2, top_p=0.5, top_k=7) == {"do_sample": True, "temperature": 1.2, "top_p": 0.5,
                                                         "top_k": 7}
    with pytest.raises(ValueError, match=r"temperature must be zero or positive \(0 decodes greedily\)"):
        decoding_options(-0.1)


def test_seeded_repeats_draws_and_leaves_the_callers_stream_alone():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    with seeded(7):
        first = torch.rand(2)
    with seeded(7):
        assert torch.equal(torch.rand(2), first)
    assert torch.equal(torch.rand(3), expected)  # as if the blocks had never run
    with seeded(None):
        torch.rand(1)  # no seed: the caller's stream is used and moves on
    assert not torch.equal(torch.rand(1), expected[:1])


def test_chat_batch_pads_on_the_left_without_touching_the_tokenizer(tokenizer):
    side = tokenizer.padding_side
    batch = chat_batch(tokenizer, PROMPTS)
    assert tokenizer.padding_side == side
    for row, prompt in enumerate(PROMPTS):
        alone = tokenizer.apply_chat_template(prompt, add_generation_prompt=True,
                                              return_dict=True)["input_ids"]
        mask = batch["attention_mask"][row]
        assert batch["input_ids"][row][mask.bool()].tolist() == list(alone)
        assert mask.tolist() == sorted(mask.tolist())  # zeros (padding) first, then ones


def test_generate_batch_gives_n_equal_rows_when_greedy(tiny_model, tokenizer):
    batch = chat_batch(tokenizer, PROMPTS[:2])
    output = generate_batch(tiny_model, tokenizer, batch, 3, n=2)
    assert torch.equal(output[0], output[1]) and torch.equal(output[2], output[3])


def test_generate_batch_groups_n_rows_per_prompt(tiny_model, tokenizer):
    batch = chat_batch(tokenizer, PROMPTS[:2])
    with seeded(0):
        output = generate_batch(tiny_model, tokenizer, batch, 3, n=2, temperature=1.0)
    width = batch["input_ids"].shape[1]
    assert output.shape == (4, width + 3)
    for row in range(4):
        assert torch.equal(output[row, :width], batch["input_ids"][row // 2])


def test_greedy_completions_do_not_depend_on_the_batch(tiny_model, tokenizer):
    batched = generate_completions(tiny_model, tokenizer, PROMPTS, 5, batch_size=2)
    single = [generate_completions(tiny_model, tokenizer, [p], 5)[0] for p in PROMPTS]
    assert batched == single and [len(a) for a in batched] == [1, 1, 1]
    assert all(isinstance(a[0], str) and a[0] for a in batched)


def test_sampled_completions_repeat_with_a_seed_and_keep_the_callers_rng(tiny_model, tokenizer):
    torch.manual_seed(3)
    state = torch.random.get_rng_state()
    first = generate_completions(tiny_model, tokenizer, PROMPTS, 4, n=3, temperature=1.0, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert first == generate_completions(tiny_model, tokenizer, PROMPTS, 4, n=3, temperature=1.0, seed=0)
    assert [len(a) for a in first] == [3, 3, 3]
    assert first != generate_completions(tiny_model, tokenizer, PROMPTS, 4, n=3, temperature=1.0, seed=1)


def test_model_mode_and_padding_side_are_restored(tokenizer):
    model = tiny_llama(tokenizer).train()
    side = tokenizer.padding_side
    generate_completions(model, tokenizer, PROMPTS[:1], 2)
    assert model.training and tokenizer.padding_side == side


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 2}, "greedy decoding .* gives one answer per prompt, not n=2; pass temperature > 0"),
    ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"n": 0, "temperature": 1.0}, "n must be at least 1"),
    ({"temperature": -1.0}, "temperature must be zero or positive"),
])
def test_bad_arguments_are_refused(tiny_model, tokenizer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_completions(tiny_model, tokenizer, PROMPTS, **kwargs)
