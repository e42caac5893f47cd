"""Notebook 09 (evaluation) in fast mode: it runs, and the numbers it records behave as its prose says."""

import numpy as np


def _run(notebook_runs):
    run = notebook_runs("09")
    assert run.result.ok, run.result.error
    return run.results


def test_design_checks_and_checkpoint_curve(notebook_runs):
    results = _run(notebook_runs)
    # the course's splits share no text, not even after normalising case and punctuation
    assert results["leakage_verbatim"] == 0 and results["leakage_normalised"] == 0
    assert results["draft_shared_drafts"] == 0
    curve = results["curve"]
    assert curve["step"][0] == 0 and len(curve["step"]) >= 2
    # training lowers the held-out loss; the metric never ends below where it started
    assert curve["validation loss"][-1] < 0.8 * curve["validation loss"][0]
    assert curve["exact match"][-1] >= curve["exact match"][0]


def test_sft_beats_base_with_an_interval_that_excludes_zero(notebook_runs):
    results = _run(notebook_runs)
    estimate, low, high = results["gain_exact_match"]
    assert low <= estimate <= high
    if results["sft_source"].startswith("loaded"):  # notebook 02's model: the gain is large and certain
        assert low > 0
    else:  # a fresh clone's short fallback run: at least no worse
        assert estimate >= 0
    for row in results["uncertainty"]:
        assert 0 <= row["95% low"] <= row["95% high"] <= 1 and 0 <= row["estimate"] <= 1
    assert results["examples_needed_70_75"] == 1251


def test_multiple_choice_scores_are_probabilities_of_the_options(notebook_runs):
    results = _run(notebook_runs)
    assert set(results["mc"]) >= {"base, letter", "base, cloze (acc)", "base, cloze (acc_norm)"}
    for scores in results["mc"].values():
        assert 0 <= scores["accuracy"] <= 1 and 0 <= scores["macro-F1"] <= 1
    # the model means to answer with a letter: most next-token probability falls on " A"-" D"
    assert results["mc_letter_mass_base"] > 0.5


def test_judge_varies_between_runs_and_is_measured(notebook_runs):
    results = _run(notebook_runs)
    runs = np.array(results["judge_score_runs"])
    assert runs.ndim == 2 and runs.shape[0] >= 2 and set(np.unique(runs)) <= {1, 2, 3, 4, 5}
    # sampled runs of the same judge on the same answers do not agree
    assert results["judge_changed_share"] > 0
    assert (runs.min(axis=0) != runs.max(axis=0)).mean() == results["judge_changed_share"]
    for key in ("judge_mean_right", "judge_mean_wrong"):
        estimate, low, high = results[key]
        assert 1 <= low <= estimate <= high <= 5
    tests = results["judge_tests"]
    assert 0 <= tests["position flip rate"] <= 1
    assert 0 <= tests["first-position rate (0.5 = fair)"] <= 1
    assert -1 <= tests["Cohen's kappa (0 = chance)"] <= 1


def test_bradley_terry_recovers_the_simulated_order_and_elo_depends_on_order(notebook_runs):
    results = _run(notebook_runs)
    assert results["sim_bt_order"] == results["sim_true_order"]
    assert results["sim_spearman"] > 0.9
    assert results["sim_bt_covers_truth"] >= 0.6
    assert results["sim_elo_spread"] > 5  # the same games in another order give other Elo ratings
    arena = results["draft_arena"]
    assert "LLM picker (LoRA)" in arena
    # the fitted conditional-logit picker beats the random picker in the draft arena
    assert arena["conditional logit"]["rating"] > arena["random"]["rating"]
    for row in arena.values():
        assert row["low"] <= row["rating"] <= row["high"]


def test_temperature_scaling_keeps_accuracy_and_lowers_held_out_ece(notebook_runs):
    results = _run(notebook_runs)
    simulated = results["calibration"]["simulated, overconfident x2.5"]
    picker = results["calibration"]["conditional-logit draft picker"]
    for case in (simulated, picker):  # dividing logits by T never changes the argmax
        assert case["accuracy, T = 1"] == case["accuracy, fitted T"]
    # the simulated model was made 2.5 times too sharp: T is found near 2.5 and ECE falls sharply
    assert 2.0 < simulated["fitted T"] < 3.0
    assert simulated["ECE, fitted T"] < 0.5 * simulated["ECE, T = 1"]
    # the picker, fitted by maximum likelihood, is calibrated already: T near 1 and ECE barely moves
    assert abs(picker["fitted T"] - 1) < 0.2
    assert abs(picker["ECE, fitted T"] - picker["ECE, T = 1"]) < 0.02
    assert picker["ECE, T = 1"] < 0.1
    # the letter-scored base model: T fitted on one half lowers ECE on the other
    assert results["mc_ece_after"] < results["mc_ece_before"]
