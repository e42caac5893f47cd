"""How big an instruction dataset is: tokens per field of each record, and what training on it costs.

``token_lengths`` counts the tokens of each text field of each record (any format of
``utils.instruction_data.formats``) with the tokenizer you will train with, so a notebook can plot
the lengths,
pick a ``max_length`` that truncates few records and sum the tokens an epoch processes.
``training_cost`` turns a token count into a price for a hosted fine-tuning service.

Counts are of the field texts alone, without special tokens or the chat template's markup, which
add a fixed few tokens per turn (measure them with ``tokenizer.apply_chat_template``).

Example:
    >>> from utils.instruction_data.dataset_stats import token_lengths, training_cost
    >>> class Words:  # stands in for a Hugging Face tokenizer
    ...     def encode(self, text, add_special_tokens=False):
    ...         return text.split()
    >>> lengths = token_lengths([{"instruction": "Add 2 and 3.", "output": "5"}], Words())
    >>> lengths.loc[0].to_dict()
    {'instruction': 4, 'input': 0, 'output': 1, 'total': 5}
    >>> round(training_cost(int(lengths["total"].sum()), epochs=3, price_per_1k_tokens=0.008), 8)
    0.00012
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from utils.core.checks import check_number, check_positive_int
from utils.instruction_data.formats import FormatError, detect_format, record_problems

# The text fields counted for each format; chat formats are counted per role. A system column is
# kept only when some record has a system text.
FIELDS = {"alpaca": ("system", "instruction", "input", "output"),
          "alpaca-preference": ("system", "instruction", "input", "chosen", "rejected"),
          "messages": ("system", "user", "assistant"),
          "prompt-completion": ("prompt", "completion"),
          "preference": ("prompt", "chosen", "rejected")}


def field_texts(record: dict, fields: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The texts of a record by field: a chat record by role (every turn of that role), other
    formats by field (a message list contributes the content of each turn). ``fields`` picks
    top-level fields instead, such as ``["text"]`` of an Alpaca record.

    Example:
        >>> field_texts({"messages": [{"role": "user", "content": "Hi"},
        ...                           {"role": "assistant", "content": "Hello"}]})
        {'system': [], 'user': ['Hi'], 'assistant': ['Hello']}
    """
    if fields is None and "messages" in record:
        return {role: [m["content"] for m in record["messages"] if m["role"] == role]
                for role in FIELDS["messages"]}
    texts = {}
    for field in fields if fields is not None else FIELDS[detect_format(record)]:
        value = record.get(field, "")
        if not isinstance(value, (str, list)):
            raise FormatError(f"field {field!r} holds a JSON {type(value).__name__}, not text; pick "
                              "text fields.", field)
        texts[field] = [value] if isinstance(value, str) else [m["content"] for m in value]
    return texts


def count_tokens(text: str, tokenizer) -> int:
    """Tokens of ``text`` without special tokens: ``tokenizer.encode(text, add_special_tokens=False)``
    for a Hugging Face tokenizer, or any callable that returns a list of tokens.

    Example:
        >>> count_tokens("one two three", str.split)
        3
    """
    if hasattr(tokenizer, "encode"):
        return len(tokenizer.encode(text, add_special_tokens=False))
    if callable(tokenizer):
        return len(tokenizer(text))
    raise TypeError(f"tokenizer must have an encode method or be callable, got "
                    f"{type(tokenizer).__name__}.")


def token_lengths(records: Iterable[dict], tokenizer,
                  fields: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per record, one column of token counts per field (see ``field_texts``) and their
    ``total``. Records must be valid and of one format; a FormatError names the first that is not.

    Example:
        >>> token_lengths([{"prompt": "a b", "completion": "c"}], str.split)["total"].tolist()
        [3]
    """
    fields = list(fields) if fields is not None else None
    rows, first = [], None
    for number, record in enumerate(records, start=1):
        if fields is None:
            problems = record_problems(record)
            if problems:
                raise FormatError(f"record {number}: {problems[0][1]}", problems[0][0])
            found = detect_format(record)
            if first is not None and found != first:
                raise FormatError(f"record {number} is in {found} format, earlier ones in {first}; "
                                  "count one format at a time.")
            first = found
        texts = field_texts(record, fields)
        rows.append({field: sum(count_tokens(t, tokenizer) for t in parts)
                     for field, parts in texts.items()})
    lengths = pd.DataFrame(rows, dtype="int64")
    if fields is None and "system" in lengths and not lengths["system"].any():
        lengths = lengths.drop(columns="system")
    lengths["total"] = lengths.sum(axis=1) if len(lengths.columns) else 0
    return lengths.rename_axis("record")


def training_cost(total_tokens: int, epochs: int, price_per_1k_tokens: float) -> float:
    """The price of fine-tuning on ``total_tokens`` tokens for ``epochs`` epochs: hosted services
    such as OpenAI bill the tokens of the training file times the number of epochs
    (https://platform.openai.com/docs/guides/fine-tuning, "Estimate costs").

    Example:
        >>> training_cost(1_000_000, epochs=3, price_per_1k_tokens=0.008)
        24.0
    """
    for name, value in (("total_tokens", total_tokens), ("price_per_1k_tokens", price_per_1k_tokens)):
        check_number(value, name, 0.0, math.inf, high_open=True)
    check_positive_int(epochs, "epochs")
    return float(total_tokens * epochs * price_per_1k_tokens / 1000)
