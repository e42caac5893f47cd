"""Sampling the way the hosted chat APIs do it, on a local transformers model.

transformers has temperature, top-k, top-p and a multiplicative ``repetition_penalty``, but not
the additive frequency and presence penalties of the OpenAI-style chat-completion APIs. This
module adds them as a ``LogitsProcessor``, wraps ``generate`` in an API-shaped
``chat_completion``, and measures what sampling settings do to text (distinct-n, repetition).

Example:
    >>> from utils.core.models import load_model
    >>> from utils.generation.sampling import chat_completion
    >>> model, tokenizer = load_model()
    >>> response = chat_completion(model, tokenizer, [{"role": "user", "content": "Hi!"}],
    ...                            n=2, temperature=0.7, max_tokens=8, seed=0)
    >>> [c["finish_reason"] for c in response["choices"]]  # both cut off at 8 tokens
    ['length', 'length']
    >>> response["usage"]
    {'prompt_tokens': 32, 'completion_tokens': 16, 'total_tokens': 48}
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from utils.core.checks import check_int, check_number, check_positive
from utils.core.model_modes import eval_mode
from utils.generation.batched import chat_batch, generate_batch, seeded

# The ranges and defaults of the hosted chat-completion APIs (OpenAI's /v1/chat/completions).
PENALTY_RANGE = (-2.0, 2.0)
TEMPERATURE_RANGE = (0.0, 2.0)
MAX_N = 128
ROLES = {"system", "user", "assistant"}


class FrequencyPresencePenalty(LogitsProcessor):
    """The OpenAI-style additive penalties as a transformers ``LogitsProcessor``.

    For every row of the batch, with ``count[j]`` the number of times token j occurs among the
    tokens generated so far (the first ``prompt_length`` tokens of each row, the prompt, are not
    counted)::

        logit[j] - count[j] * frequency_penalty - (count[j] > 0) * presence_penalty

    Positive values push the model away from tokens it has already produced (frequency: more so
    the more often; presence: once, however often); negative values pull it towards them.

    Example (a prompt of two 7s, then token 3 generated twice, over a vocabulary of 5):
        >>> penalty = FrequencyPresencePenalty(0.5, 0.25, prompt_length=2)
        >>> penalty(torch.tensor([[7, 7, 3, 3]]), torch.zeros(1, 5))
        tensor([[ 0.0000,  0.0000,  0.0000, -1.2500,  0.0000]])

    In ``generate``: ``model.generate(**batch, do_sample=True,
    logits_processor=LogitsProcessorList([FrequencyPresencePenalty(0.5, 0.5, prompt_length)]))``.
    """

    def __init__(self, frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                 prompt_length: int = 0):
        low, high = PENALTY_RANGE
        self.frequency_penalty = check_number(frequency_penalty, "frequency_penalty", low, high)
        self.presence_penalty = check_number(presence_penalty, "presence_penalty", low, high)
        self.prompt_length = check_int(prompt_length, "prompt_length", low=0)

    def token_counts(self, input_ids: torch.LongTensor, vocab_size: int) -> torch.Tensor:
        """``(batch, vocab_size)`` counts of each token among each row's generated tokens."""
        generated = input_ids[:, self.prompt_length:]
        counts = torch.zeros(input_ids.shape[0], vocab_size + 1, device=input_ids.device)
        # ids beyond the head's vocabulary (possible in some models) go to a spare column
        counts.scatter_add_(1, generated.clamp(max=vocab_size),
                            torch.ones_like(generated, dtype=counts.dtype))
        return counts[:, :vocab_size]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.dim() != 2 or scores.dim() != 2 or input_ids.shape[0] != scores.shape[0]:
            raise ValueError(f"expected input_ids (batch, length) and scores (batch, vocab), got "
                             f"{tuple(input_ids.shape)} and {tuple(scores.shape)}.")
        if self.frequency_penalty == 0.0 and self.presence_penalty == 0.0:
            return scores
        counts = self.token_counts(input_ids, scores.shape[-1]).to(scores.dtype)
        return (scores - counts * self.frequency_penalty
                - (counts > 0).to(scores.dtype) * self.presence_penalty)

    def __repr__(self) -> str:
        return (f"FrequencyPresencePenalty(frequency_penalty={self.frequency_penalty}, "
                f"presence_penalty={self.presence_penalty}, prompt_length={self.prompt_length})")


def check_messages(messages) -> list[dict]:
    """Raise a clear error unless ``messages`` is a non-empty list of {"role", "content"} dicts."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list like [{'role': 'user', 'content': 'Hi'}].")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"messages[{index}] must be a dict with 'role' and 'content', got {message!r}.")
        if message["role"] not in ROLES:
            raise ValueError(f"messages[{index}]['role'] must be one of {sorted(ROLES)}, "
                             f"got {message['role']!r}.")
        if not isinstance(message["content"], str):
            raise ValueError(f"messages[{index}]['content'] must be a string.")
    return messages


def _eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def generate_choices(model, tokenizer, messages: list[dict], *, n: int = 1, temperature: float = 1.0,
                     top_p: float = 1.0, top_k: int = 0, frequency_penalty: float = 0.0,
                     presence_penalty: float = 0.0, repetition_penalty: float = 1.0,
                     max_tokens: int | None = None, seed: int | None = None,
                     model_logprobs: bool = False, assistant_prefix: str = "") -> dict:
    """``chat_completion`` with every knob transformers has (``top_k``, ``repetition_penalty``)
    and the wider ranges transformers accepts. Each choice also carries its ``token_ids`` and,
    with ``model_logprobs=True``, the log-probability of each generated token under the model's
    own distribution (before any temperature, cut or penalty). ``assistant_prefix`` starts the
    assistant's answer with given text, which the model continues; the penalties count its tokens
    as generated ones (the completion's text and tokens are the continuation only)."""
    check_messages(messages)
    n = check_int(n, "n", low=1)
    temperature = check_number(temperature, "temperature", 0.0, hint="0 decodes greedily")
    top_p = check_number(top_p, "top_p", 0.0, 1.0, low_open=True)
    top_k = check_int(top_k, "top_k", low=0)
    repetition_penalty = check_positive(repetition_penalty, "repetition_penalty", hint="1.0 changes nothing")
    if max_tokens is not None:
        max_tokens = check_int(max_tokens, "max_tokens", low=1)
    batch = chat_batch(tokenizer, [messages], model.device)
    penalty_start = batch["input_ids"].shape[1]  # the penalties count tokens from here on
    if assistant_prefix:
        prefix = tokenizer(assistant_prefix, add_special_tokens=False, return_tensors="pt")
        batch = {key: torch.cat([batch[key], prefix[key].to(model.device)], dim=1)
                 for key in ("input_ids", "attention_mask")}
    prompt_length = batch["input_ids"].shape[1]
    context = getattr(model.config, "max_position_embeddings", None) or prompt_length + 2048
    if max_tokens is None:  # as the API: the rest of the context window
        max_tokens = context - prompt_length
    if prompt_length + max_tokens > context:
        raise ValueError(f"prompt ({prompt_length} tokens) + max_tokens ({max_tokens}) exceeds the "
                         f"model's context of {context} tokens; lower max_tokens.")
    penalty = FrequencyPresencePenalty(frequency_penalty, presence_penalty, penalty_start)
    with eval_mode(model), seeded(seed, model.device):  # temperature 0 is greedy, as in the API
        output = generate_batch(model, tokenizer, batch, max_tokens, n, temperature, top_p, top_k,
                                repetition_penalty=repetition_penalty,
                                logits_processor=LogitsProcessorList([penalty]),
                                return_dict_in_generate=True, output_logits=model_logprobs)
    generated = output.sequences[:, prompt_length:].tolist()
    logprobs = None
    if model_logprobs:
        steps = torch.stack(output.logits, dim=1).float().log_softmax(-1)
        chosen = output.sequences[:, prompt_length:prompt_length + steps.shape[1]]
        logprobs = steps.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).tolist()
    stops = _eos_ids(model, tokenizer)
    choices = []
    for index, ids in enumerate(generated):
        end = next((i for i, t in enumerate(ids) if t in stops), None)
        kept = ids if end is None else ids[:end + 1]  # the stop token counts, as in the API
        choice = {"index": index,
                  "message": {"role": "assistant",
                              "content": tokenizer.decode(kept, skip_special_tokens=True)},
                  "finish_reason": "length" if end is None else "stop",
                  "token_ids": kept}
        if logprobs is not None:
            choice["model_logprobs"] = logprobs[index][:len(kept)]
        choices.append(choice)
    completion_tokens = sum(len(c["token_ids"]) for c in choices)
    return {"object": "chat.completion", "model": getattr(model.config, "_name_or_path", ""),
            "choices": choices,
            "usage": {"prompt_tokens": prompt_length, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_length + completion_tokens}}


def chat_completion(model, tokenizer, messages: list[dict], n: int = 1, temperature: float = 1.0,
                    top_p: float = 1.0, frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                    max_tokens: int | None = None, seed: int | None = None) -> dict:
    """An OpenAI-style chat completion from a local model, with the hosted API's defaults and
    ranges: temperature in [0, 2] (0 = greedy), top_p in (0, 1], n in [1, 128], penalties in
    [-2, 2], max_tokens >= 1 or None (the rest of the context window). Returns
    ``{"choices": [{"index", "message": {"role", "content"}, "finish_reason"}, ...],
    "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``; ``finish_reason`` is
    "stop" when the model ended its turn and "length" when ``max_tokens`` cut it off.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> r = chat_completion(model, tokenizer, [{"role": "user", "content": "Hi"}],
        ...                     max_tokens=1)
        >>> r["choices"][0]["finish_reason"], r["usage"]["completion_tokens"]
        ('length', 1)
    """
    check_int(n, "n", low=1, high=MAX_N)
    check_number(temperature, "temperature", *TEMPERATURE_RANGE)
    check_number(top_p, "top_p", 0.0, 1.0, low_open=True)
    return generate_choices(model, tokenizer, messages, n=n, temperature=temperature, top_p=top_p,
                            frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
                            max_tokens=max_tokens, seed=seed)


def distinct_n(sequences: list[list], n: int = 2) -> float:
    """Diversity across samples (Li et al., 2016): distinct n-grams / all n-grams, pooled over
    ``sequences`` (lists of tokens or words). 1.0: nothing repeats; near 0: the same n-grams
    again and again.

    >>> distinct_n([[1, 2, 3], [1, 2, 4]], n=2)  # pairs (1,2) (2,3) (1,2) (2,4): 3 distinct of 4
    0.75
    """
    check_int(n, "n", low=1)
    grams = [tuple(seq[i:i + n]) for seq in sequences for i in range(len(seq) - n + 1)]
    if not grams:
        raise ValueError(f"no sequence is {n} tokens long; distinct-{n} is undefined.")
    return len(set(grams)) / len(grams)


def repetition_rate(sequence: list) -> float:
    """Share of the tokens in one sequence that already occurred earlier in it: what the
    frequency and presence penalties push down.

    >>> repetition_rate([5, 6, 5, 5])  # the last two 5s repeat
    0.5
    """
    if len(sequence) == 0:
        raise ValueError("repetition_rate of an empty sequence is undefined.")
    seen, repeats = set(), 0
    for token in sequence:
        repeats += token in seen
        seen.add(token)
    return repeats / len(sequence)
