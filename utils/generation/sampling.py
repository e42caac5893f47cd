"""Sampling the way the hosted chat APIs do it, on a local transformers model.

transformers has temperature, top-k, top-p, min-p and a multiplicative ``repetition_penalty``,
but not the additive frequency and presence penalties nor the ``logit_bias`` of the OpenAI-style
chat-completion APIs. This module adds them as ``LogitsProcessor``s, wraps ``generate`` in an
API-shaped ``chat_completion`` (with the API's ``logprobs`` and ``top_logprobs``), and measures
what sampling settings do to text (distinct-n, repetition).

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

import functools
import numbers
import re

import torch
from tokenizers import decoders
from transformers import LogitsProcessor, LogitsProcessorList

from utils.core.checks import ArgumentTypeError, check_int, check_number, check_positive
from utils.core.model_modes import eval_mode
from utils.generation.batched import chat_batch, generate_batch, seeded

# The ranges and defaults of the hosted chat-completion APIs (OpenAI's /v1/chat/completions).
PENALTY_RANGE = (-2.0, 2.0)
LOGIT_BIAS_RANGE = (-100.0, 100.0)
MAX_TOP_LOGPROBS = 20
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


class LogitBias(LogitsProcessor):
    """The API's ``logit_bias`` as a transformers ``LogitsProcessor``: at every step, each token id
    in ``logit_bias`` gets its bias (a number in [-100, 100]) added to its logit. Keys are token ids
    of the model's vocabulary (``vocab_size`` logits), as ints or as strings of ints, which is how
    JSON sends them. Small biases nudge a token; -100 bans it and +100 forces it, as the API says.

    In ``generate`` the course's processors come before temperature (transformers applies custom
    processors first), so a bias is divided by the temperature, as the logits themselves are.

    Example (token 3 pushed up, token 1 down, over a vocabulary of 5):
        >>> LogitBias({"3": 100, 1: -2.5}, vocab_size=5)(torch.tensor([[0]]), torch.zeros(1, 5))
        tensor([[  0.0000,  -2.5000,   0.0000, 100.0000,   0.0000]])
        >>> LogitBias({"7": 1}, vocab_size=5)
        Traceback (most recent call last):
        ...
        ValueError: logit_bias key '7' is not in the model's vocabulary: token ids run from 0 to 4.
    """

    def __init__(self, logit_bias: dict, vocab_size: int):
        if not isinstance(logit_bias, dict):
            raise ArgumentTypeError(f"logit_bias must be a dict of token id -> bias, like "
                                    f"{{'50256': -100}}, got {logit_bias!r}.")
        self.vocab_size = check_int(vocab_size, "vocab_size", low=1)
        low, high = LOGIT_BIAS_RANGE
        self.logit_bias: dict[int, float] = {}
        for key, bias in logit_bias.items():
            token_id = self.token_id(key)
            if token_id in self.logit_bias:
                raise ValueError(f"logit_bias names token {token_id} twice (key {key!r}); keep one.")
            self.logit_bias[token_id] = check_number(bias, f"logit_bias[{key!r}]", low, high)
        self.bias = torch.zeros(self.vocab_size)
        self.bias[list(self.logit_bias)] = torch.tensor(list(self.logit_bias.values()))

    def token_id(self, key) -> int:
        """``key`` (an int or a string of one) as a token id of the vocabulary, or a clear error."""
        if isinstance(key, str) and re.fullmatch(r"\s*[+-]?\d+\s*", key):
            token_id = int(key)
        elif isinstance(key, numbers.Integral) and not isinstance(key, bool):
            token_id = int(key)
        else:
            raise ValueError(f"logit_bias key {key!r} is not a token id: keys are token ids "
                             f"(0 to {self.vocab_size - 1}) as ints or strings of ints, like '50256'.")
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"logit_bias key {key!r} is not in the model's vocabulary: token ids run "
                             f"from 0 to {self.vocab_size - 1}.")
        return token_id

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.dim() != 2 or scores.shape[-1] != self.vocab_size:
            raise ValueError(f"expected scores of shape (batch, {self.vocab_size}), got "
                             f"{tuple(scores.shape)}; build LogitBias with the model's vocab_size.")
        if not self.logit_bias:
            return scores
        return scores + self.bias.to(device=scores.device, dtype=scores.dtype)

    def __repr__(self) -> str:
        return f"LogitBias({self.logit_bias}, vocab_size={self.vocab_size})"


@functools.cache
def _unicode_to_byte() -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode  # GPT-2's byte <-> character table
    return {character: byte for byte, character in bytes_to_unicode().items()}


def token_bytes(tokenizer, token_id: int) -> bytes:
    """The UTF-8 bytes one token stands for. Byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3,
    Qwen) store each byte as a printable character, so a token can hold part of a character (the
    "bytes" field of the API's logprobs exists for this); other tokenizers give their decoded text.

    Example:
        >>> from transformers import AutoTokenizer
        >>> from utils.core.models import ensure_bundled_cache
        >>> tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))
        >>> [token_bytes(tokenizer, t) for t in tokenizer("✓", add_special_tokens=False)["input_ids"]]
        [b'\\xe2\\x9c', b'\\x93']
    """
    decoder = getattr(getattr(tokenizer, "backend_tokenizer", None), "decoder", None)
    if isinstance(decoder, decoders.ByteLevel):
        table = _unicode_to_byte()
        return b"".join(bytes([table[c]]) if c in table else c.encode("utf-8")
                        for c in tokenizer.convert_ids_to_tokens(token_id))
    return tokenizer.decode([token_id]).encode("utf-8")


def _logprob_entry(tokenizer, token_id: int, logprob: float) -> dict:
    raw = token_bytes(tokenizer, token_id)  # a part of a character shows as \xe2 in "token"
    return {"token": raw.decode("utf-8", errors="backslashreplace"), "logprob": logprob,
            "bytes": list(raw)}


def _content_entry(tokenizer, token_id: int, logprob: float, top_ids: list[int],
                   top_logprobs: list[float]) -> dict:
    """One position of the API's ``logprobs.content``: the token and its top alternatives."""
    alternatives = [_logprob_entry(tokenizer, alternative, value)
                    for alternative, value in zip(top_ids, top_logprobs, strict=True)]
    return {**_logprob_entry(tokenizer, token_id, logprob), "top_logprobs": alternatives}


def check_logprobs(logprobs: bool, top_logprobs: int | None) -> int:
    """The number of top alternatives to report per token (0 when ``top_logprobs`` is None), after
    the API's rules: ``logprobs`` is a bool and ``top_logprobs`` an int in [0, 20] that needs
    ``logprobs=True``.

    Example:
        >>> check_logprobs(True, 5), check_logprobs(True, None), check_logprobs(False, None)
        (5, 0, 0)
        >>> check_logprobs(False, 5)
        Traceback (most recent call last):
        ...
        ValueError: top_logprobs=5 needs logprobs=True, as in the API; pass logprobs=True too.
    """
    if not isinstance(logprobs, bool):
        raise ArgumentTypeError(f"logprobs must be True or False, got {logprobs!r}.")
    if top_logprobs is None:
        return 0
    if not logprobs:
        raise ValueError(f"top_logprobs={top_logprobs!r} needs logprobs=True, as in the API; "
                         "pass logprobs=True too.")
    return check_int(top_logprobs, "top_logprobs", low=0, high=MAX_TOP_LOGPROBS)


def _model_log_probs(step_logits: tuple, chosen: torch.Tensor, k: int):
    """From generate's raw per-step logits: the chosen tokens' log-probabilities under the model,
    ``(rows, steps)``, and the ``k`` most likely tokens of each step, ``(rows, steps, k)`` values
    and ids (best first). One step at a time, so the full log-softmax is never kept for all steps."""
    chosen_lp, top_lp, top_ids = [], [], []
    for step, logits in enumerate(step_logits):
        log_probs = logits.float().log_softmax(-1)
        chosen_lp.append(log_probs.gather(-1, chosen[:, step:step + 1]).squeeze(-1))
        values, ids = log_probs.topk(k, dim=-1)
        top_lp.append(values)
        top_ids.append(ids)
    return torch.stack(chosen_lp, 1), torch.stack(top_lp, 1), torch.stack(top_ids, 1)


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


def eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def generate_choices(model, tokenizer, messages: list[dict], *, n: int = 1, temperature: float = 1.0,
                     top_p: float = 1.0, top_k: int = 0, frequency_penalty: float = 0.0,
                     presence_penalty: float = 0.0, repetition_penalty: float = 1.0,
                     max_tokens: int | None = None, seed: int | None = None,
                     model_logprobs: bool = False, assistant_prefix: str = "", logprobs: bool = False,
                     top_logprobs: int | None = None, logit_bias: dict | None = None,
                     min_p: float = 0.0) -> dict:
    """``chat_completion`` with every knob transformers has (``top_k``, ``repetition_penalty``,
    ``min_p``) and the wider ranges transformers accepts. Each choice also carries its
    ``token_ids`` and, with ``model_logprobs=True``, the log-probability of each generated token
    (the stop token included) under the model's own distribution (before any temperature, cut,
    penalty or bias). ``logprobs``, ``top_logprobs`` and ``logit_bias`` work as in
    ``chat_completion``. ``min_p`` (0 = off) keeps, when sampling, only the tokens whose
    probability is at least ``min_p`` times the top token's, after temperature (transformers'
    ``MinPLogitsWarper``; greedy decoding keeps the top token anyway). ``assistant_prefix`` starts
    the assistant's answer with given text, which the model continues; the penalties count its
    tokens as generated ones (the completion's text and tokens are the continuation only)."""
    choices, prompt_length = _generate(
        model, tokenizer, [messages], n=n, temperature=temperature, top_p=top_p, top_k=top_k,
        frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
        repetition_penalty=repetition_penalty, max_tokens=max_tokens, seed=seed,
        model_logprobs=model_logprobs, assistant_prefix=assistant_prefix, logprobs=logprobs,
        top_logprobs=top_logprobs, logit_bias=logit_bias, min_p=min_p)
    completion_tokens = sum(len(c["token_ids"]) for c in choices)
    return {"object": "chat.completion", "model": getattr(model.config, "_name_or_path", ""),
            "choices": choices,
            "usage": {"prompt_tokens": prompt_length, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_length + completion_tokens}}


def sample_prompts(model, tokenizer, prompts, *, max_tokens: int, seed: int | None = 0,
                   batch_size: int = 64, **knobs) -> list[dict]:
    """One completion for each of many ``prompts`` (user messages as strings, or whole chats),
    ``batch_size`` prompts per batched ``generate`` call: how the course measures a sampling
    setting over many prompts rather than one. ``knobs`` are those of ``generate_choices``
    (temperature, top_p, penalties, ``model_logprobs``, ...). Returns the choices in prompt order;
    each one is a ``generate_choices`` choice plus the ``prompt`` it answers. Padding is on the
    left, so every row's answer starts at the same position and the penalties count answer tokens
    only. Batch b samples from ``seed + b`` (the same prompts and seed give the same answers).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> choices = sample_prompts(model, tokenizer, ["Name a fruit.", "Name a colour."],
        ...                          max_tokens=4, temperature=0.7)
        >>> [c["prompt"] for c in choices], [c["finish_reason"] for c in choices]
        (['Name a fruit.', 'Name a colour.'], ['length', 'length'])
    """
    check_int(batch_size, "batch_size", low=1)
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of prompts; wrap a single one: [prompt].")
    chats = [[{"role": "user", "content": p}] if isinstance(p, str) else p for p in prompts]
    choices = []
    for number, start in enumerate(range(0, len(chats), batch_size)):
        rows, _ = _generate(model, tokenizer, chats[start:start + batch_size], max_tokens=max_tokens,
                            seed=None if seed is None else seed + number, **knobs)
        for offset, choice in enumerate(rows):
            choices.append({**choice, "index": start + offset, "prompt": prompts[start + offset]})
    return choices


def _generate(model, tokenizer, conversations: list[list[dict]], *, n: int = 1, temperature: float = 1.0,
              top_p: float = 1.0, top_k: int = 0, frequency_penalty: float = 0.0,
              presence_penalty: float = 0.0, repetition_penalty: float = 1.0,
              max_tokens: int | None = None, seed: int | None = None,
              model_logprobs: bool = False, assistant_prefix: str = "", logprobs: bool = False,
              top_logprobs: int | None = None, logit_bias: dict | None = None,
              min_p: float = 0.0) -> tuple[list[dict], int]:
    """The choices for a batch of ``conversations`` (``n`` rows each, in order) and the padded
    prompt length: what ``generate_choices`` and ``sample_prompts`` share."""
    conversations = [check_messages(m) for m in conversations]
    top_count = check_logprobs(logprobs, top_logprobs)
    min_p = check_number(min_p, "min_p", 0.0, 1.0, hint="0 keeps every token")
    n = check_int(n, "n", low=1)
    temperature = check_number(temperature, "temperature", 0.0, hint="0 decodes greedily")
    top_p = check_number(top_p, "top_p", 0.0, 1.0, low_open=True)
    top_k = check_int(top_k, "top_k", low=0)
    repetition_penalty = check_positive(repetition_penalty, "repetition_penalty", hint="1.0 changes nothing")
    if max_tokens is not None:
        max_tokens = check_int(max_tokens, "max_tokens", low=1)
    batch = chat_batch(tokenizer, conversations, model.device)
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
    processors = [FrequencyPresencePenalty(frequency_penalty, presence_penalty, penalty_start)]
    if logit_bias is not None:
        processors.append(LogitBias(logit_bias, model.config.vocab_size))
    extra = {"min_p": min_p} if min_p > 0 and temperature > 0 else {}  # greedy: min-p changes nothing
    with eval_mode(model), seeded(seed, model.device):  # temperature 0 is greedy, as in the API
        output = generate_batch(model, tokenizer, batch, max_tokens, n, temperature, top_p, top_k,
                                repetition_penalty=repetition_penalty,
                                logits_processor=LogitsProcessorList(processors),
                                return_dict_in_generate=True,
                                output_logits=model_logprobs or logprobs, **extra)
    generated = output.sequences[:, prompt_length:].tolist()
    chosen_lp = top_lp = top_ids = None
    if model_logprobs or logprobs:  # the raw logits of each step: the model's own distribution
        chosen = output.sequences[:, prompt_length:prompt_length + len(output.logits)]
        chosen_lp, top_lp, top_ids = (t.tolist() for t in _model_log_probs(output.logits, chosen,
                                                                           top_count))
    stops = eos_ids(model, tokenizer)
    choices = []
    for index, ids in enumerate(generated):
        end = next((i for i, t in enumerate(ids) if t in stops), None)
        kept = ids if end is None else ids[:end + 1]  # the stop token counts, as in the API
        choice = {"index": index,
                  "message": {"role": "assistant",
                              "content": tokenizer.decode(kept, skip_special_tokens=True)},
                  "finish_reason": "length" if end is None else "stop",
                  "token_ids": kept}
        if model_logprobs:
            choice["model_logprobs"] = chosen_lp[index][:len(kept)]
        if logprobs:  # the content's tokens: the stop token, which the text does not show, has none
            content = kept if end is None else kept[:-1]
            choice["logprobs"] = {"content": [
                _content_entry(tokenizer, token, chosen_lp[index][step], top_ids[index][step],
                               top_lp[index][step]) for step, token in enumerate(content)]}
        choices.append(choice)
    return choices, prompt_length


def chat_completion(model, tokenizer, messages: list[dict], n: int = 1, temperature: float = 1.0,
                    top_p: float = 1.0, frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                    max_tokens: int | None = None, seed: int | None = None, *, logprobs: bool = False,
                    top_logprobs: int | None = None, logit_bias: dict | None = None) -> dict:
    """An OpenAI-style chat completion from a local model, with the hosted API's defaults and
    ranges: temperature in [0, 2] (0 = greedy), top_p in (0, 1], n in [1, 128], penalties in
    [-2, 2], max_tokens >= 1 or None (the rest of the context window), logit_bias values in
    [-100, 100] keyed by token id (see ``LogitBias``), top_logprobs in [0, 20] with logprobs=True.
    Returns ``{"choices": [{"index", "message": {"role", "content"}, "finish_reason"}, ...],
    "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}}``; ``finish_reason`` is
    "stop" when the model ended its turn and "length" when ``max_tokens`` cut it off.

    With ``logprobs=True`` each choice also has the API's ``"logprobs": {"content": [{"token",
    "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}, ...]}, ...]}``: one entry
    per token of the message's content (the stop token has none), with the ``top_logprobs`` most
    likely tokens at that position, best first. A token that holds part of a character shows it
    as ``\\xe2`` in "token"; its "bytes" are exact.

    Which distribution: the model's own, the log-softmax of its raw logits at each step, before
    temperature, top_p, the penalties and logit_bias, for the chosen token and the alternatives
    alike. The API reference leaves it open (the openai package's ``ChatCompletionTokenLogprob``
    says only "the log probability of this token"); users have measured hosted logprobs that do
    not change with temperature (github.com/standardcompletions/rfcs/issues/11) and OpenAI's no
    longer change with logit_bias since February 2024 (github.com/safety-research/safety-tooling/
    issues/79). The course reports the model's distribution because it is what the model has
    learned and what fine-tuning moves: the numbers stay put while the sampling knobs move. So a
    sampled or biased token can sit far below the top alternatives; only under greedy decoding
    with no penalty or bias is the chosen token always the first alternative.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> r = chat_completion(model, tokenizer, [{"role": "user", "content": "Hi"}],
        ...                     max_tokens=1, logprobs=True, top_logprobs=3)
        >>> r["choices"][0]["finish_reason"], r["usage"]["completion_tokens"]
        ('length', 1)
        >>> [entry] = r["choices"][0]["logprobs"]["content"]
        >>> sorted(entry), len(entry["top_logprobs"]), entry["logprob"] <= 0
        (['bytes', 'logprob', 'token', 'top_logprobs'], 3, True)
    """
    check_int(n, "n", low=1, high=MAX_N)
    check_number(temperature, "temperature", *TEMPERATURE_RANGE)
    check_number(top_p, "top_p", 0.0, 1.0, low_open=True)
    return generate_choices(model, tokenizer, messages, n=n, temperature=temperature, top_p=top_p,
                            frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
                            max_tokens=max_tokens, seed=seed, logprobs=logprobs,
                            top_logprobs=top_logprobs, logit_bias=logit_bias)


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
