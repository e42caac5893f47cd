import numpy as np
import pytest

from utils.instruction_data.dataset_stats import count_tokens, field_texts, token_lengths, training_cost
from utils.instruction_data.formats import FormatError


class WhitespaceTokenizer:
    """Stands in for a Hugging Face tokenizer: one token per word, plus BOS/EOS when asked."""

    def encode(self, text, add_special_tokens=True):
        return (["<s>"] if add_special_tokens else []) + text.split() + (
            ["</s>"] if add_special_tokens else [])


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def test_count_tokens_leaves_out_special_tokens_and_takes_a_callable():
    assert count_tokens("one two three", WhitespaceTokenizer()) == 3
    assert count_tokens("one two three", str.split) == 3
    assert count_tokens("", WhitespaceTokenizer()) == 0
    with pytest.raises(TypeError, match="encode method or be callable"):
        count_tokens("a", 42)


def test_alpaca_lengths_per_field_with_total():
    records = [{"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
               {"instruction": "Name a colour.", "output": "Red, or maybe blue."}]
    lengths = token_lengths(records, WhitespaceTokenizer())
    assert list(lengths.columns) == ["instruction", "input", "output", "total"]
    assert lengths.to_dict("list") == {"instruction": [3, 3], "input": [3, 0], "output": [1, 4],
                                       "total": [7, 7]}
    assert lengths.index.name == "record"


def test_chat_lengths_sum_the_turns_of_each_role():
    records = [{"messages": [{"role": "system", "content": "Be brief."}, user("Hi there"),
                             assistant("Hello"), user("Say bye"), assistant("Bye now, friend")]},
               {"messages": [user("One"), assistant("Two words")]}]
    lengths = token_lengths(records, WhitespaceTokenizer())
    assert lengths.to_dict("list") == {"system": [2, 0], "user": [4, 1], "assistant": [4, 2],
                                       "total": [10, 3]}


def test_system_column_appears_only_when_a_record_has_a_system_text():
    plain = [{"instruction": "a b", "output": "c"}]
    assert "system" not in token_lengths(plain, str.split)
    with_system = plain + [{"instruction": "a", "output": "b", "system": "s t u"}]
    assert token_lengths(with_system, str.split)["system"].tolist() == [0, 3]


def test_preference_lengths_count_prompt_chosen_and_rejected():
    records = [{"prompt": [user("Greet me")], "chosen": [assistant("Hello there!")],
                "rejected": [assistant("No.")]},
               {"prompt": "Greet me now", "chosen": "Hi", "rejected": "Go away, please"}]
    lengths = token_lengths(records, str.split)
    assert lengths.to_dict("list") == {"prompt": [2, 3], "chosen": [2, 1], "rejected": [1, 3],
                                       "total": [5, 7]}


def test_chosen_fields_override_the_format_fields():
    records = [{"instruction": "a", "output": "b", "text": "the whole rendered text"}]
    assert token_lengths(records, str.split, fields=["text"]).to_dict("list") == {
        "text": [4], "total": [4]}
    assert field_texts(records[0], ["output"]) == {"output": ["b"]}
    with pytest.raises(FormatError, match="'n' holds a JSON int"):
        field_texts({"n": 3}, ["n"])


def test_invalid_and_mixed_records_are_refused_with_their_number():
    chat = {"messages": [user("Hi"), assistant("Hello")]}
    with pytest.raises(FormatError, match="record 2: no assistant turn") as caught:
        token_lengths([chat, {"messages": [user("Hi")]}], str.split)
    assert caught.value.field == "messages"
    with pytest.raises(FormatError, match="record 2 is in alpaca format, earlier ones in messages"):
        token_lengths([chat, {"instruction": "a", "output": "b"}], str.split)


def test_training_cost_is_tokens_times_epochs_times_price():
    assert training_cost(1_000_000, epochs=3, price_per_1k_tokens=0.008) == pytest.approx(24.0)
    assert training_cost(np.int64(2_000), epochs=np.int64(1), price_per_1k_tokens=0.5) == 1.0
    assert training_cost(0, epochs=4, price_per_1k_tokens=0.01) == 0.0


@pytest.mark.parametrize("tokens, epochs, price, message", [
    (-1, 1, 0.01, r"total_tokens must lie in \[0, inf\), got -1"),
    (100, 0, 0.01, "epochs must be at least 1, got 0"),
    (100, 2.5, 0.01, "epochs must be an integer, got 2.5"),
    (100, 1, -0.01, r"price_per_1k_tokens must lie in \[0, inf\)"),
    (100, 1, float("nan"), "price_per_1k_tokens must be a number, got nan"),
    (100, 1, float("inf"), r"price_per_1k_tokens must lie in \[0, inf\), got inf"),
    ("100", 1, 0.01, "total_tokens"),
])
def test_training_cost_rejects_bad_arguments(tokens, epochs, price, message):
    with pytest.raises(ValueError, match=message):
        training_cost(tokens, epochs, price)
