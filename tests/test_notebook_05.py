"""Notebook 05 (preference tuning with DPO), executed once in fast mode: hold it to what its prose claims."""

import math


def test_dpo_notebook_runs(notebook_runs):
    run = notebook_runs("05")
    assert run.result.ok, run.result.error


def test_hand_computed_dpo_loss_equals_trl(notebook_runs):
    results = notebook_runs("05").results
    # before training the policy is the reference: every pair's loss is ln 2
    assert math.isclose(results["hand_loss_start"], math.log(2), abs_tol=1e-5)
    assert math.isclose(results["trl_loss_start"], math.log(2), abs_tol=1e-5)
    # after training the log-ratios are not zero, and the two still agree
    assert results["loss_abs_diff"] < 1e-4
    assert results["hand_loss_end"] < math.log(2) - 0.05


def test_preference_data_is_partly_on_policy(notebook_runs):
    results = notebook_runs("05").results
    assert results["train_pairs"] >= 200 and results["val_pairs"] >= 16
    # some chosen answers are the model's own samples, most are the reference answer
    assert 0 < results["chosen_from_model"] < results["train_pairs"] / 2


def test_held_out_preference_accuracy_rises(notebook_runs):
    results = notebook_runs("05").results
    assert results["val_accuracy_start"] == 0.0  # all margins are exactly 0 before training
    assert results["val_accuracy_end"] > 0.75
    assert results["val_margin_end"] > 0
    assert results["last_rejected_reward"] < results["first_rejected_reward"]


def test_dpo_model_wins_under_the_judge(notebook_runs):
    results = notebook_runs("05").results
    assert results["win_rate"] > 0.5
    assert results["concise_correct_after"] > results["concise_correct_before"]
    assert results["concise_after"] > results["concise_before"] + 0.2


def test_general_answers_do_not_collapse_into_numbers(notebook_runs):
    results = notebook_runs("05").results
    assert results["general_hits_after"] >= 1
    assert results["general_words_after"] > 5  # still sentences, not bare results


def test_best_of_n_and_beta_comparison(notebook_runs):
    results = notebook_runs("05").results
    assert 0 <= results["best_of_n_win_rate"] <= 1
    # best-of-n can only pick among sampled answers, and the model rarely samples a short one
    assert results["best_of_n_concise_correct"] <= results["concise_correct_after"]
    drift = results["beta_drift"]
    assert set(drift) == {"0.1", "1.0"}
    assert 0 <= drift["1.0"] < drift["0.1"]  # a larger beta keeps the policy nearer the reference
