"""A synthetic key-retrieval sweep ("needle in a haystack"): one sentence, "The pass code is 4817.",
hidden at a chosen depth of filler text, and a question at the end (Liu et al. 2023, *Lost in the
Middle*, arXiv 2307.03172, measure the same dependence on position with real documents).

Example:
    >>> prompt = haystack_prompt("4817", depth=0.5, n_sentences=4, seed=0)
    >>> "The pass code is 4817." in prompt, prompt.endswith("The pass code is")
    (True, True)
"""

from __future__ import annotations

import random

import torch

SUBJECTS = ["The old bridge", "A grey heron", "The night train", "Our neighbour", "The market square",
            "A small boat", "The library", "The orchard", "A tired farmer", "The harbour light"]
VERBS = ["was painted", "was seen", "stood", "waited", "was quiet", "was busy", "was cleaned", "was closed"]
PLACES = ["near the river", "after the rain", "in early spring", "behind the hill", "at dawn",
          "by the station", "during the fair", "under the clouds", "on Sunday", "along the coast"]
QUESTION = "\n\nQuestion: What is the pass code?\nAnswer: The pass code is"


def make_key(rng: random.Random) -> str:
    return str(rng.randint(1000, 9999))


def haystack_prompt(key: str, depth: float, n_sentences: int, seed: int = 0) -> str:
    """Filler sentences with "The pass code is KEY." inserted at ``depth`` (0 = first, 1 = last
    sentence before the question), then the question."""
    if not 0 <= depth <= 1:
        raise ValueError(f"depth is a share of the text from 0 to 1, got {depth!r}")
    rng = random.Random(seed)
    sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(PLACES)}."
                 for _ in range(n_sentences)]
    sentences.insert(round(depth * n_sentences), f"The pass code is {key}.")
    return " ".join(sentences) + QUESTION


def retrieved(model, tokenizer, prompt: str, key: str, max_new_tokens: int = 6) -> bool:
    """Whether greedy decoding after ``prompt`` writes ``key`` in its first ``max_new_tokens`` tokens."""
    ids = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return key in tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
