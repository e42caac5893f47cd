"""utils.evaluation.linguistic_calibration: questions by bucket, stated confidences, records that keep
the model's own result, logit confidences that temperature flattens, cross-fitted temperature."""

import numpy as np
import pytest
from tiny_models import tiny_llama

from utils.evaluation import linguistic_calibration as lc


def test_questions_are_distinct_balanced_and_respect_exclude():
    questions = lc.make_questions(5, seed=0)
    assert len(questions) == 20 and len({q["question"] for q in questions}) == 20
    assert {q["bucket"] for q in questions} == set(lc.BUCKETS)
    assert all(q["answer"] == q["a"] + q["b"] for q in questions)
    again = lc.make_questions(5, seed=1, exclude={q["question"] for q in questions})
    assert not {q["question"] for q in again} & {q["question"] for q in questions}


def test_stated_confidence_and_correctness_ignore_the_confidence_number():
    question = {"a": 40, "b": 45, "answer": 85, "bucket": "2+2 digits"}
    assert lc.stated_confidence("40 + 45 = 85. Confidence: 20%") == 0.2
    assert lc.stated_confidence("85") is None
    assert lc.is_correct("40 + 45 = 85. Confidence: 20%", question)
    assert not lc.is_correct("40 + 45 = 84. Confidence: 85%", question)


def test_records_keep_the_models_result_and_state_its_bucket_accuracy():
    questions = lc.make_questions(1, seed=0)
    replies = [f"{q['a']} + {q['b']} = {q['answer'] + 1}" for q in questions]
    replies[0] = "I do not know"  # no number: skipped
    accuracy = {name: 0.42 for name in lc.BUCKETS}
    records = lc.calibration_records(questions, replies, accuracy)
    assert len(records) == len(questions) - 1
    text = records[0]["completion"][0]["content"]
    assert text.endswith("Confidence: 40%") and str(questions[1]["answer"] + 1) in text


def test_result_confidences_are_probabilities_and_flatten_with_temperature(tokenizer):
    model = tiny_llama(tokenizer)
    questions = lc.make_questions(1, seed=0)[:2]
    replies = [f"{q['a']} + {q['b']} = {q['answer']}" for q in questions]
    conf = lc.result_confidences(model, tokenizer, questions, replies, temperatures=(1.0, 4.0))
    assert conf.shape == (2, 2) and ((conf > 0) & (conf <= 1)).all()
    no_number = lc.result_confidences(model, tokenizer, questions[:1], ["no idea"], temperatures=(1.0,))
    assert no_number.tolist() == [[0.0]]


def test_cross_fitted_temperature_uses_the_other_half():
    rng = np.random.default_rng(0)
    confidences = np.sort(rng.uniform(0.01, 0.99, (40, len(lc.TEMPERATURES))), axis=1)[:, ::-1]
    correct = rng.random(40) < 0.5
    scaled, fitted = lc.cross_fitted(confidences, correct)
    assert len(fitted) == 2 and all(t in lc.TEMPERATURES for t in fitted)
    assert scaled.shape == (40,)
    estimate, low, high = lc.ece_ci(scaled, correct, n_resamples=100)
    assert 0 <= low <= estimate <= high <= 1


def test_ece_difference_is_paired_and_its_interval_excludes_zero_for_a_clear_gap():
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.05, 0.95, 200)
    correct = (rng.random(200) < truth).astype(float)
    calibrated, overconfident = truth, np.minimum(truth + 0.4, 1.0)
    same = lc.ece_difference_ci(calibrated, correct, calibrated, correct, n_resamples=200)
    assert same.estimate == same.low == same.high == 0.0
    better = lc.ece_difference_ci(overconfident, correct, calibrated, correct, n_resamples=200)
    assert better.high < 0 and better.low <= better.estimate <= better.high


def test_read_runs_turns_the_scripts_rows_into_arrays(tmp_path):
    import json

    row = {"seed": 0, "bucket": ["1+1 digits", "3+3 digits"]}
    for name in ("base", "trained"):
        row |= {f"{name}_correct": "10", f"{name}_stated": [0.9, None],
                f"{name}_logit": [0.8, 0.1], f"{name}_scaled": [0.7, 0.2]}
    (tmp_path / "runs.jsonl").write_text(json.dumps(row) + "\n")
    [run] = lc.read_runs(tmp_path / "runs.jsonl")
    assert run["trained_correct"].tolist() == [1.0, 0.0] and np.isnan(run["trained_stated"][1])
    assert run["base_logit"].dtype == float and run["bucket"].tolist() == row["bucket"]
    with pytest.raises(FileNotFoundError, match="calibration_experiments.py"):
        lc.read_runs(tmp_path / "missing.jsonl")


def test_asking_for_more_sums_than_a_bucket_has_names_the_bucket_and_its_size():
    held_out = lc.make_questions(50, seed=1000)
    with pytest.raises(ValueError, match=r"'1\+1 digits' .* 100 in all"):
        lc.make_questions(64, seed=0, exclude={q["question"] for q in held_out})
