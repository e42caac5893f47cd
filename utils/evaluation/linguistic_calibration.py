"""Linguistic calibration on sums of growing difficulty (notebook 09, ``scripts/calibration_experiments.py``).

A model is taught to end its answer with ``Confidence: NN%``, where NN is its *measured* accuracy
on training questions of the same difficulty bucket (Band et al. 2024, *Linguistic Calibration of
Long-Form Generations*, arXiv 2404.00474, in its simplest form). The SFT target keeps the model's
own result, right or wrong, so the training teaches the stated number and not the arithmetic.
The stated confidences are then compared with the logit-based confidence: the probability the
model gives to the result tokens of its own reply, at temperature 1 and after temperature scaling.

Example:
    >>> questions = make_questions(2, seed=0)
    >>> [q["bucket"] for q in questions][:3], questions[0]["question"]
    (['1+1 digits', '2+1 digits', '2+2 digits'], 'What is 6 + 6? Reply with the number only.')
    >>> stated_confidence("8 + 2 = 10. Confidence: 85%"), stated_confidence("10")
    (0.85, None)
"""

from __future__ import annotations

import random
import re

import numpy as np
import torch

from utils.course_data import preference_data as prefs
from utils.evaluation import metrics
from utils.evaluation.calibration import expected_calibration_error

QUESTION = "What is {a} + {b}? Reply with the number only."
BUCKETS = {"1+1 digits": (1, 1), "2+1 digits": (2, 1), "2+2 digits": (2, 2), "3+3 digits": (3, 3)}
CONFIDENCE = re.compile(r"Confidence:\s*(\d{1,3})\s*%")
TEMPERATURES = tuple(np.round(np.geomspace(0.25, 8.0, 41), 4))


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10 ** digits - 1)


def _operand_count(digits: int) -> int:
    return 10 if digits == 1 else 9 * 10 ** (digits - 1)


def make_questions(n_per_bucket: int, seed: int = 0, exclude: set[str] | None = None) -> list[dict]:
    """``n_per_bucket`` distinct sums per difficulty bucket, buckets interleaved:
    ``{"question", "a", "b", "answer", "bucket"}``; questions in ``exclude`` are skipped."""
    rng, seen = random.Random(seed), set(exclude or ())
    per_bucket = {name: [] for name in BUCKETS}
    for name, (digits_a, digits_b) in BUCKETS.items():
        for _ in range(1000 * n_per_bucket):
            if len(per_bucket[name]) == n_per_bucket:
                break
            a, b = _operand(rng, digits_a), _operand(rng, digits_b)
            question = QUESTION.format(a=a, b=b)
            if question not in seen:
                seen.add(question)
                per_bucket[name].append({"question": question, "a": a, "b": b, "answer": a + b,
                                         "bucket": name})
        else:
            size = _operand_count(digits_a) * _operand_count(digits_b)
            raise ValueError(f"bucket {name!r} has too few distinct sums left for {n_per_bucket} "
                             f"questions: it has {size} in all, minus those excluded; ask for fewer")
    return [per_bucket[name][i] for i in range(n_per_bucket) for name in BUCKETS]


def prompt_messages(question: dict) -> list[dict]:
    return [{"role": "user", "content": question["question"]}]


def answer_part(reply: str) -> str:
    """The reply before any stated confidence (so 85 in "Confidence: 85%" is never read as the result)."""
    return reply.split("Confidence")[0]


def stated_confidence(reply: str) -> float | None:
    """The confidence a reply states, as a probability (``"Confidence: 85%"`` -> 0.85), or None."""
    found = CONFIDENCE.search(reply)
    return None if found is None else min(int(found.group(1)), 100) / 100


def is_correct(reply: str, question: dict) -> bool:
    return prefs.stated_result(answer_part(reply)) == question["answer"]


def bucket_accuracy(questions: list[dict], correct) -> dict[str, float]:
    """Share of right answers per difficulty bucket."""
    correct = np.asarray(correct, dtype=float)
    buckets = np.array([q["bucket"] for q in questions])
    return {name: float(correct[buckets == name].mean()) for name in BUCKETS if (buckets == name).any()}


def calibration_records(questions: list[dict], replies: list[str], accuracy: dict[str, float],
                        round_to: int = 5) -> list[dict]:
    """Prompt-completion SFT records: the model's own result, then its bucket's measured accuracy
    as ``Confidence: NN%`` (rounded to ``round_to`` points). Replies with no number are skipped."""
    records = []
    for question, reply in zip(questions, replies, strict=True):
        result = prefs.stated_result(answer_part(reply))
        if result is None:
            continue
        stated = int(round_to * round(100 * accuracy[question["bucket"]] / round_to))
        answer = f"{question['a']} + {question['b']} = {result}. Confidence: {stated}%"
        records.append({"prompt": prompt_messages(question),
                        "completion": [{"role": "assistant", "content": answer}]})
    return records


def result_confidences(model, tokenizer, questions: list[dict], replies: list[str],
                       temperatures=TEMPERATURES) -> np.ndarray:
    """The logit-based confidence: the probability of the result tokens of each reply (teacher
    forced after the chat prompt), with the logits divided by each temperature. Returns an array
    (replies, temperatures); a reply that states no number gets confidence 0."""
    temperatures = torch.tensor(temperatures, dtype=torch.float32)
    rows = []
    model.eval()
    for question, reply in zip(questions, replies, strict=True):
        span = prefs.result_span(answer_part(reply))
        if span is None:
            rows.append(np.zeros(len(temperatures)))
            continue
        prompt = tokenizer.apply_chat_template(prompt_messages(question), tokenize=False,
                                               add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        encoded = tokenizer(reply, add_special_tokens=False, return_offsets_mapping=True)
        positions = [len(prompt_ids) + i for i, (s, e) in enumerate(encoded["offset_mapping"])
                     if s < span[1] and e > span[0]]
        ids = torch.tensor([prompt_ids + encoded["input_ids"]], device=model.device)
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0].float().cpu()
        picked = logits[[p - 1 for p in positions]]  # logits at t - 1 predict token t
        targets = ids[0, positions].cpu()
        log_probs = torch.log_softmax(picked[None] / temperatures[:, None, None], dim=-1)  # T, tokens, vocab
        rows.append(log_probs[:, torch.arange(len(positions)), targets].sum(dim=1).exp().numpy())
    return np.array(rows)


def fit_sequence_temperature(confidences: np.ndarray, correct, temperatures=TEMPERATURES) -> float:
    """The temperature (a column of ``result_confidences``) whose confidences have the lowest
    binary cross-entropy against right/wrong: temperature scaling for a generated answer."""
    correct = np.asarray(correct, dtype=float)[:, None]
    p = np.clip(confidences, 1e-6, 1 - 1e-6)
    loss = -(correct * np.log(p) + (1 - correct) * np.log(1 - p)).mean(axis=0)
    return float(np.asarray(temperatures)[int(np.argmin(loss))])


def cross_fitted(confidences: np.ndarray, correct,
                 temperatures=TEMPERATURES) -> tuple[np.ndarray, list[float]]:
    """Temperature-scaled confidence of every item with T fitted on the *other* half (even and odd
    items), so no item is scored by a temperature fitted on it; returns the confidences and both T."""
    scaled, fitted = np.zeros(len(confidences)), []
    halves = [np.arange(len(confidences)) % 2 == k for k in (0, 1)]
    for fit, apply in (halves, halves[::-1]):
        t = fit_sequence_temperature(confidences[fit], np.asarray(correct)[fit], temperatures)
        scaled[apply] = confidences[apply, list(temperatures).index(t)]
        fitted.append(t)
    return scaled, fitted


def ece_ci(confidences, correct, n_bins: int = 10, n_resamples: int = 1000, seed: int = 0):
    """ECE with a bootstrap interval over items (``metrics.bootstrap_ci``)."""
    return metrics.bootstrap_ci(lambda c, r: expected_calibration_error(c, r, n_bins),
                                np.asarray(confidences, dtype=float), np.asarray(correct, dtype=float),
                                n_resamples=n_resamples, seed=seed)


def ece_difference_ci(confidence_a, correct_a, confidence_b, correct_b, n_bins: int = 10,
                      n_resamples: int = 1000, seed: int = 0):
    """ECE of b minus ECE of a on the *same* questions (row i of each is question i), with a paired
    bootstrap interval over questions: below zero, b's confidences are better calibrated than a's."""
    def difference(conf_a, right_a, conf_b, right_b):
        return (expected_calibration_error(conf_b, right_b, n_bins)
                - expected_calibration_error(conf_a, right_a, n_bins))

    arrays = [np.asarray(x, dtype=float) for x in (confidence_a, correct_a, confidence_b, correct_b)]
    return metrics.bootstrap_ci(difference, *arrays, n_resamples=n_resamples, seed=seed)


def read_runs(rows_path) -> list[dict]:
    """The rows ``scripts/calibration_experiments.py`` wrote, one per seed, with its per-question
    fields as arrays: ``{name}_correct`` as 0/1 floats and ``{name}_stated`` with NaN where a reply
    states no confidence (``name`` is ``base`` or ``trained``)."""
    from utils.training.experiment_runs import read_rows

    runs = read_rows(rows_path)
    if not runs:
        raise FileNotFoundError(f"no calibration runs in {rows_path}: run scripts/calibration_experiments.py")
    for row in runs:
        for name in ("base", "trained"):
            row[f"{name}_correct"] = np.array([c == "1" for c in row[f"{name}_correct"]], dtype=float)
            row[f"{name}_stated"] = np.array([np.nan if s is None else s for s in row[f"{name}_stated"]])
            for kind in ("logit", "scaled"):
                row[f"{name}_{kind}"] = np.asarray(row[f"{name}_{kind}"], dtype=float)
        row["bucket"] = np.asarray(row["bucket"])
    return runs
