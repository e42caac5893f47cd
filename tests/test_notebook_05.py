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


def test_pairs_separate_the_two_preferences_and_say_where_they_come_from(notebook_runs):
    sources = notebook_runs("05").results["pair_sources"]
    # concision pairs: chosen sampled by the model where it could, else the reference answer, never edited
    assert sources["concision"]["model"] > 0 and sources["concision"]["reference"] > 0
    assert sources["concision"]["edited"] == 0
    # correctness pairs: both sides sampled where the model produced a correct answer, else edited
    assert sources["correctness"]["model"] > 0 and sources["correctness"]["edited"] > 0
    assert sources["correctness"]["reference"] == 0


def test_held_out_preference_accuracy_rises(notebook_runs):
    results = notebook_runs("05").results
    assert results["val_accuracy_start"] == 0.0  # all margins are exactly 0 before training
    assert results["val_accuracy_end"] > 0.5


def test_dpo_on_concision_pairs_moves_concision_on_held_out_problems(notebook_runs):
    results = notebook_runs("05").results
    assert results["pair_type"] == "concision"
    before, after = results["before"], results["after"]
    assert results["n_eval"] >= 20
    assert after["concise"] > before["concise"]
    assert after["words"] < before["words"]  # shorter answers: DPO here rewards shortness


def test_forgetting_check_and_simpo_run(notebook_runs):
    results = notebook_runs("05").results
    assert results["n_facts"] >= 20
    assert 0.25 < results["facts_before"] <= 1 and 0 <= results["facts_after"] <= 1  # 4 options: chance 0.25
    assert results["dpo_seconds_per_step"] > 0 and results["simpo_seconds_per_step"] > 0
    assert results["dpo_peak_mb"] > 0 and results["simpo_peak_mb"] > 0
    assert len(results["simpo_margins"]) >= 1
    assert results["script_runs"] >= 4 and 0 <= results["best_of_16_concise_correct"] <= 1
