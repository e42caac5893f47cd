"""A course-built multiple-choice set and the two ways benchmark suites score a model on one.

``make_questions`` draws four-option questions (capitals, opposites, animal sounds, colours,
sums) from fact tables written for the course, with a fixed seed. ``letter_prompt`` lays a
question out the MMLU way (options lettered A-D, "Answer:"), and ``choice_probabilities`` reads
the next-token probabilities of the letters; ``cloze_prompt`` asks the question bare, and
``continuation_log_likelihoods`` scores each option's own text as the continuation (the ARC and
HellaSwag way, with ``acc_norm`` dividing by the option's length). Both follow
lm-evaluation-harness (Gao et al., 2021-2024): no generation, only log-likelihoods.

Example:
    >>> from utils.evaluation.multiple_choice import letter_prompt, make_questions
    >>> question = make_questions(1, seed=0)[0]
    >>> sorted(question)
    ['answer', 'category', 'options', 'question']
    >>> letter_prompt(question, shots=[]).endswith("Answer:")
    True
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from utils.core.checks import check_int
from utils.core.model_modes import eval_mode

LETTERS = ("A", "B", "C", "D")
CAPITALS = {"France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo",
            "China": "Beijing", "Russia": "Moscow", "Egypt": "Cairo", "Greece": "Athens",
            "Portugal": "Lisbon", "Canada": "Ottawa", "Ireland": "Dublin", "Norway": "Oslo",
            "Sweden": "Stockholm", "Poland": "Warsaw", "Austria": "Vienna", "Kenya": "Nairobi",
            "Peru": "Lima", "Argentina": "Buenos Aires", "Thailand": "Bangkok", "South Korea": "Seoul",
            "India": "New Delhi", "Turkey": "Ankara", "Cuba": "Havana"}
OPPOSITES = {"hot": "cold", "big": "small", "fast": "slow", "happy": "sad", "light": "dark",
             "old": "young", "open": "closed", "early": "late", "full": "empty", "wet": "dry",
             "hard": "soft", "loud": "quiet", "rich": "poor", "strong": "weak", "tall": "short",
             "up": "down", "thick": "thin", "clean": "dirty"}
ANIMAL_SOUNDS = {"cow": "moo", "dog": "bark", "cat": "meow", "duck": "quack", "lion": "roar",
                 "owl": "hoot", "snake": "hiss", "pig": "oink", "frog": "croak", "horse": "neigh",
                 "sheep": "baa", "bee": "buzz"}
COLOURS = {"the sky on a clear day": "blue", "fresh grass": "green", "fresh snow": "white",
           "a ripe banana": "yellow", "coal": "black", "a ripe tomato": "red", "an orange": "orange",
           "a ripe aubergine": "purple", "milk chocolate": "brown"}
CATEGORIES = ("capital", "opposite", "animal sound", "colour", "sum")


def _fact_question(rng: random.Random, category: str) -> tuple[str, str, list[str]]:
    """(question, right answer, pool of wrong answers) of one category."""
    fact_tables = {  # category: (facts, question template)
        "capital": (CAPITALS, "What is the capital of {}?"),
        "opposite": (OPPOSITES, "What is the opposite of '{}'?"),
        "animal sound": (ANIMAL_SOUNDS, "What sound does a {} make?"),
        "colour": (COLOURS, "What colour is {}?"),
    }
    if category in fact_tables:
        facts, template = fact_tables[category]
        key = rng.choice(sorted(facts))
        return template.format(key), facts[key], sorted(set(facts.values()))
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    near = {a + b + d for d in (-10, -2, -1, 1, 2, 10)} - {a + b}
    return f"What is {a} + {b}?", str(a + b), sorted(str(n) for n in near if n > 0)


def make_question(rng: random.Random, category: str | None = None) -> dict:
    """One question: ``{"question", "options" (4 strings), "answer" (index 0-3), "category"}``.

    The right answer sits at a uniformly random position; the three wrong options come from the
    same category, so no option is absurd on its face.
    """
    category = rng.choice(CATEGORIES) if category is None else category
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {CATEGORIES}, got {category!r}.")
    question, right, pool = _fact_question(rng, category)
    options = rng.sample([w for w in pool if w != right], 3)
    answer = rng.randrange(4)
    options.insert(answer, right)
    return {"question": question, "options": options, "answer": answer, "category": category}


def make_questions(n: int, seed: int = 0, exclude: set[str] | None = None) -> list[dict]:
    """``n`` questions with distinct texts from ``seed``; texts in ``exclude`` are skipped.

    Pass the few-shot examples' texts as ``exclude`` so no test question is also an example.

    Example:
        >>> shots = make_questions(3, seed=1)
        >>> test = make_questions(5, seed=2, exclude={q["question"] for q in shots})
        >>> {q["question"] for q in shots} & {q["question"] for q in test}
        set()
    """
    check_int(n, "n", low=0)
    rng, seen, questions = random.Random(seed), set(exclude or ()), []
    for _ in range(100 * n + 100):
        if len(questions) == n:
            return questions
        question = make_question(rng)
        if question["question"] not in seen:
            seen.add(question["question"])
            questions.append(question)
    raise ValueError(f"could not draw {n} distinct questions ({len(questions)} found); ask for fewer.")


def _check_question(question: dict) -> None:
    missing = [k for k in ("question", "options", "answer") if k not in question]
    if missing:
        raise ValueError(f"question lacks field(s) {missing}; make it with make_question.")
    if len(question["options"]) != len(LETTERS):
        raise ValueError(f"question {question['question']!r} has {len(question['options'])} options; "
                         f"letter prompts need exactly {len(LETTERS)}.")


def letter_block(question: dict, with_answer: bool) -> str:
    """A question with lettered options and "Answer:", followed by the right letter if asked."""
    _check_question(question)
    lines = [f"Question: {question['question']}"]
    lines += [f"{letter}. {option}" for letter, option in zip(LETTERS, question["options"], strict=True)]
    lines.append("Answer:" + (f" {LETTERS[question['answer']]}" if with_answer else ""))
    return "\n".join(lines)


def letter_prompt(question: dict, shots: Sequence[dict]) -> str:
    """MMLU-style few-shot prompt: solved examples, then the question, ending in "Answer:".

    The model's answer is the letter it finds most likely next (" A" ... " D").
    """
    blocks = [letter_block(shot, with_answer=True) for shot in shots]
    return "\n\n".join(blocks + [letter_block(question, with_answer=False)])


def cloze_prompt(question: dict, shots: Sequence[dict]) -> str:
    """ARC-style few-shot prompt without options: solved examples, then "Question: ...\\nAnswer:".

    The model's answer is the option whose text (after a space) it finds most likely.
    """
    _check_question(question)
    blocks = [f"Question: {s['question']}\nAnswer: {s['options'][s['answer']]}" for s in shots]
    return "\n\n".join(blocks + [f"Question: {question['question']}\nAnswer:"])


def _single_token_ids(tokenizer, choices: Sequence[str]) -> list[int]:
    ids = []
    for choice in choices:
        encoded = tokenizer(choice, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1:
            raise ValueError(f"choice {choice!r} is {len(encoded)} tokens ({encoded}); choice_probabilities "
                             "needs one token per choice, e.g. ' A' or 'Yes'. Score longer texts with "
                             "continuation_log_likelihoods.")
        ids.append(encoded[0])
    return ids


def choice_probabilities(model, tokenizer, texts: Sequence[str], choices: Sequence[str],
                         batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """For each text, the probability of each single-token choice as the very next token.

    Returns ``(probabilities, mass)``: ``probabilities`` has one row per text, renormalised over
    the choices (what a judge restricted to these answers would say), and ``mass`` is the share
    of the model's whole next-token distribution that fell on the choices (near 1: the model
    means to answer in this form; near 0: it wanted to write something else).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> probs, mass = choice_probabilities(model, tokenizer, ["Question: Is snow cold?\\nAnswer:"],
        ...                                    [" yes", " no"])
        >>> probs.shape, round(probs.sum().item(), 4), 0 < mass.item() < 1
        (torch.Size([1, 2]), 1.0, True)
    """
    if not texts:
        raise ValueError("texts is empty: pass at least one prompt.")
    ids = torch.tensor(_single_token_ids(tokenizer, choices))
    rows = []
    with eval_mode(model, tokenizer, padding_side="left"):
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), return_tensors="pt", padding=True,
                              add_special_tokens=False).to(model.device)
            logits = model(**batch, logits_to_keep=1).logits[:, -1].float()  # only the last position
            rows.append(torch.softmax(logits, dim=-1)[:, ids.to(logits.device)].cpu())
    raw = torch.cat(rows)
    mass = raw.sum(dim=1)
    return raw / mass[:, None], mass


def continuation_log_likelihoods(model, tokenizer, context: str, continuations: Sequence[str]
                                 ) -> tuple[list[float], list[int]]:
    """Summed log-probability of each continuation after ``context``, and its token count.

    Context and continuation are tokenised separately and joined, as lm-evaluation-harness does,
    so every option is scored on the same context tokens. All options run as one right-padded
    batch (padding after a causal sequence never changes its real tokens).

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model()
        >>> options = [" Paris", " Rome"]
        >>> scores, lengths = continuation_log_likelihoods(model, tokenizer, "The capital of France is",
        ...                                                options)
        >>> scores[0] > scores[1], lengths  # one token each
        (True, [1, 1])
    """
    if not continuations:
        raise ValueError("continuations is empty: pass the options to score.")
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    if not context_ids:
        raise ValueError("context is empty: the first continuation token needs something to follow.")
    options = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
    empty = [c for c, ids in zip(continuations, options, strict=True) if not ids]
    if empty:
        raise ValueError(f"continuation {empty[0]!r} has no tokens; every option needs some text.")
    rows = [context_ids + option for option in options]
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batch = torch.tensor([row + [pad] * (width - len(row)) for row in rows], device=model.device)
    with eval_mode(model):
        log_probs = torch.log_softmax(model(input_ids=batch).logits.float(), dim=-1)
    scores = []
    for i, option in enumerate(options):
        first = len(context_ids) - 1  # the logits at position t predict token t + 1
        positions = torch.arange(first, first + len(option), device=model.device)
        targets = torch.tensor(option, device=model.device)
        scores.append(float(log_probs[i, positions, targets].sum()))
    return scores, [len(option) for option in options]


def cloze_correct(model, tokenizer, questions: Sequence[dict], shots: Sequence[dict] = (),
                  batch_size: int = 64) -> list[bool]:
    """For each question, whether its right option has the highest summed log-likelihood after the
    cloze prompt (as ``continuation_log_likelihoods`` scores it, many questions per batch): the
    forgetting check of notebooks 02, 04 and 09 (score the same questions before and after
    fine-tuning; a drop is knowledge lost)."""
    rows, spans = [], []  # one row per (question, option); span = where the option's tokens are
    for question in questions:
        context = tokenizer(cloze_prompt(question, shots), add_special_tokens=False)["input_ids"]
        for option in question["options"]:
            ids = tokenizer(" " + option, add_special_tokens=False)["input_ids"]
            rows.append(context + ids)
            spans.append((len(context), len(context) + len(ids)))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    scores = []
    with eval_mode(model):
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            width = max(map(len, chunk))
            batch = torch.tensor([row + [pad] * (width - len(row)) for row in chunk], device=model.device)
            log_probs = torch.log_softmax(model(input_ids=batch).logits.float(), dim=-1)
            for i, row in enumerate(chunk):
                first, end = spans[start + i]
                targets = torch.tensor(row[first:end], device=model.device)
                scores.append(float(log_probs[i, first - 1:end - 1].gather(1, targets[:, None]).sum()))
    n = len(LETTERS)
    return [max(range(n), key=lambda k, q=q: scores[q * n + k]) == question["answer"]
            for q, question in enumerate(questions)]
