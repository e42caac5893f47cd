"""utils.evaluation.long_context: the key sits where it is asked to, and retrieval reads generation."""

import pytest
from tiny_models import tiny_llama

from utils.evaluation import long_context as haystack


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_the_key_sits_at_its_depth(depth):
    prompt = haystack.haystack_prompt("4817", depth, n_sentences=10, seed=0)
    body = prompt.split(haystack.QUESTION)[0]
    sentences = body.split(". ")
    position = next(i for i, s in enumerate(sentences) if "4817" in s)
    assert position == round(depth * 10)
    assert prompt.endswith("The pass code is") and prompt.count("4817") == 1


def test_depth_outside_0_1_is_refused():
    with pytest.raises(ValueError):
        haystack.haystack_prompt("1234", 1.5, n_sentences=4)


def test_retrieved_returns_a_bool(tokenizer):
    model = tiny_llama(tokenizer)
    prompt = haystack.haystack_prompt("4817", 0.5, 4)
    found = haystack.retrieved(model, tokenizer, prompt, "4817", max_new_tokens=3)
    assert isinstance(found, bool)
