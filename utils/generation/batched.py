"""Batched generation from chat prompts: the one place that pads, samples and decodes.

Prompts go through the tokenizer's chat template and are padded on the left, so every prompt ends
where generation starts and a batch gives the same greedy answers as one prompt at a time.
Temperature 0 decodes greedily; above 0 it samples, optionally from a seed that leaves the
caller's own random state untouched.

Example:
    >>> from utils.generation.batched import decoding_options
    >>> decoding_options(0.0)["do_sample"], decoding_options(0.7)["temperature"]
    (False, 0.7)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from utils.core.checks import check_number, check_positive_int
from utils.core.model_modes import eval_mode


def decoding_options(temperature: float = 0.0, top_p: float = 1.0, top_k: int = 0) -> dict:
    """The ``model.generate`` keywords for greedy decoding (``temperature`` 0) or for sampling at
    ``temperature`` with nucleus ``top_p`` and ``top_k`` (0: no cut). Greedy unsets the sampling
    knobs so a model's generation config does not warn about them.

    Example:
        >>> decoding_options(0.0)
        {'do_sample': False, 'temperature': None, 'top_p': None, 'top_k': None}
        >>> decoding_options(0.8, top_p=0.9)
        {'do_sample': True, 'temperature': 0.8, 'top_p': 0.9, 'top_k': 0}
    """
    if check_number(temperature, "temperature", 0.0, hint="0 decodes greedily") == 0:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": top_k}


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Seed torch for the block only: ``torch.manual_seed(seed)`` inside, and on exit the CPU
    generator and, when ``device`` is a CUDA GPU, every CUDA generator (the seed reached them all)
    are back where the caller had them. ``seed=None`` leaves everything as it is.

    Example:
        >>> with seeded(0):
        ...     first = torch.rand(1)
        >>> with seeded(0):
        ...     torch.equal(first, torch.rand(1))
        True
    """
    if seed is None:
        yield
        return
    on_cuda = torch.device(device).type == "cuda"
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if on_cuda else []):
        torch.manual_seed(seed)
        yield


def chat_batch(tokenizer, prompts: Sequence[list[dict]], device: torch.device | str = "cpu"):
    """Chat prompts (lists of ``{"role", "content"}`` turns) through the chat template, with the
    assistant's turn opened, tokenized as one batch padded on the left (the tokenizer's own padding
    side is left alone): ``input_ids`` and ``attention_mask`` on ``device``. The template writes
    the special tokens; the tokenizer adds none.

    Example:
        >>> from transformers import AutoTokenizer
        >>> from utils.core.models import ensure_bundled_cache
        >>> tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))
        >>> batch = chat_batch(tokenizer, [[{"role": "user", "content": "Hi"}],
        ...                                [{"role": "user", "content": "Hello there"}]])
        >>> batch["attention_mask"][:, 0].tolist()  # the shorter prompt is padded in front
        [0, 1]
    """
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    return tokenizer(texts, return_tensors="pt", padding=True, padding_side="left",
                     add_special_tokens=False).to(device)


def generate_batch(model, tokenizer, batch, max_new_tokens: int, n: int = 1, temperature: float = 0.0,
                   top_p: float = 1.0, top_k: int = 0, **generate_kwargs):
    """``model.generate`` on a left-padded ``batch`` (see ``chat_batch``): ``n`` continuations per
    row (row i's are rows ``i * n`` to ``i * n + n - 1`` of the output, prompt included), greedy
    (``n`` equal rows) or sampled as ``decoding_options`` says. Other keywords (``logits_processor``,
    ``return_dict_in_generate``, ...) go to ``generate``. The caller sets eval mode and the seed
    (``eval_mode``, ``seeded``).

    Example:
        >>> from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
        >>> from utils.core.models import ensure_bundled_cache
        >>> tokenizer = AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))
        >>> config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
        ...                      num_hidden_layers=1, num_attention_heads=2)
        >>> model = LlamaForCausalLM(config).eval()
        >>> batch = chat_batch(tokenizer, [[{"role": "user", "content": "Hi"}]])
        >>> output = generate_batch(model, tokenizer, batch, 4, n=2, temperature=1.0)
        >>> output.shape[0], output.shape[1] - batch["input_ids"].shape[1]  # two rows of four new tokens
        (2, 4)
    """
    rows = {key: batch[key].repeat_interleave(check_positive_int(n, "n"), dim=0)
            for key in ("input_ids", "attention_mask")}  # as num_return_sequences, which greedy refuses
    return model.generate(**rows, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                          **decoding_options(temperature, top_p, top_k), **generate_kwargs)


def generate_completions(model, tokenizer, prompts: Sequence[list[dict]], max_new_tokens: int = 32, *,
                         n: int = 1, temperature: float = 0.0, top_p: float = 1.0, top_k: int = 0,
                         seed: int | None = None, batch_size: int = 32,
                         autocast: bool = True) -> list[list[str]]:
    """``n`` completions of each chat prompt, decoded without special tokens: one list of ``n``
    strings per prompt. Batches of ``batch_size`` prompts are padded on the left, with the model in
    eval mode and no gradients, in the course's precision (``autocast=False``: float32); greedy
    when ``temperature`` is 0, else sampled, from ``seed`` when given (the caller's random state is
    left as it was).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> prompts = [[{"role": "user", "content": "What is 2 + 2?"}], [{"role": "user", "content": "Hi"}]]
        >>> [[answer], _] = generate_completions(model, tokenizer, prompts, 12)
        >>> "4" in answer  # greedy: "The answer to this classic math problem is 4."
        True
        >>> [len(a) for a in generate_completions(model, tokenizer, prompts, 4, n=3, temperature=0.7, seed=0)]
        [3, 3]
    """
    check_positive_int(max_new_tokens, "max_new_tokens")
    check_positive_int(batch_size, "batch_size")
    if check_positive_int(n, "n") > 1 and check_number(temperature, "temperature", 0.0) == 0:
        raise ValueError(f"greedy decoding (temperature 0) gives one answer per prompt, not n={n}; "
                         "pass temperature > 0 to sample several.")
    completions = []
    with eval_mode(model, autocast=autocast), seeded(seed, model.device):
        for start in range(0, len(prompts), batch_size):
            batch = chat_batch(tokenizer, prompts[start:start + batch_size], model.device)
            output = generate_batch(model, tokenizer, batch, max_new_tokens, n, temperature, top_p, top_k)
            new_tokens = output[:, batch["input_ids"].shape[1]:]
            decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            completions += [decoded[i:i + n] for i in range(0, len(decoded), n)]
    return completions
