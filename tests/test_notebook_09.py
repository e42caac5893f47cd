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
    curve = results["curve"]
    assert curve["step"][0] == 0 and len(curve["step"]) >= 2
    # training lowers the held-out loss; the metric never ends below where it started
    assert curve["validation loss"][-1] < 0.8 * curve["validation loss"][0]
    assert curve["exact match"][-1] >= curve["exact match"][0]
    # the whole answer's probability is a probability, and training raises it by orders of magnitude
    assert all(0 <= p <= 1 for p in curve["answer probability"])
    assert curve["answer probability"][-1] > 100 * curve["answer probability"][0]


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
    assert "LLM picker (notebook 08)" in arena and "random" in arena
    for row in arena.values():
        assert row["low"] <= row["rating"] <= row["high"]
    assert sum(results["draft_picks"].values()) >= 20  # every pick of eval_hits.csv played


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


def test_binomial_intervals_sit_beside_the_bootstrap(notebook_runs):
    results = _run(notebook_runs)
    methods = {row["interval"] for row in results["intervals"]}
    assert methods == {"bootstrap (percentile)", "Wilson", "Clopper-Pearson (exact)"}
    for row in results["intervals"]:
        assert 0 <= row["95% low"] <= row["95% high"] <= 1
        k, n = map(int, row["right / scored"].split("/"))
        if row["interval"] != "bootstrap (percentile)" and k in (0, n):
            assert row["width"] > 0  # the binomial intervals are not fooled by 0/n or n/n


def test_cloze_forgetting_check_runs_on_every_model_with_intervals(notebook_runs):
    results = _run(notebook_runs)
    assert set(results["forgetting"]) == {"base", "SFT", "DPO"}
    for name, row in results["forgetting"].items():
        assert row["Wilson 95% low"] <= row["cloze accuracy"] <= row["Wilson 95% high"]
        if name != "base":
            assert row["paired 95% low"] <= row["minus base (paired)"] <= row["paired 95% high"]
    assert results["forgetting"]["base"]["cloze accuracy"] > 0.5  # the facts the base model knows


def test_text_scoring_judge_agrees_with_the_code_judge_above_chance(notebook_runs):
    results = _run(notebook_runs)
    table = results["judge_agreement"]
    letter = table["letter A/B, zero-shot (above)"]
    reference = table["text, reference in the prompt"]
    # the judge with the reference in its prompt agrees with the code judge beyond chance
    assert reference["kappa low"] > 0 or reference["agreement"] > 0.5
    assert reference["agreement"] > letter["agreement"]
    # judges that score each answer alone cannot depend on the order of the pair
    assert reference["position flip rate"] == 0 and table["text, no reference"]["position flip rate"] == 0
    for row in table.values():
        assert row["kappa low"] <= row["kappa"] <= row["kappa high"]
        assert 0 <= row["verdicts that change between sampled runs"] <= 1


def test_calibration_training_makes_the_model_state_a_confidence(notebook_runs):
    results = _run(notebook_runs)
    live = results["linguistic"]
    stated = live["trained | stated in words"]
    k, n = map(int, stated["replies with it"].split("/"))
    assert k > n / 2  # after training, most replies end with a stated confidence
    assert results["verbal_stated_share"] < 0.5  # the untrained model, asked, mostly does not
    assert stated["ECE 95% low"] <= stated["ECE"] <= stated["ECE 95% high"]
    assert results["linguistic_losses"][-1] < results["linguistic_losses"][0]


def test_the_scripts_runs_state_confidences_better_calibrated_than_the_logits(notebook_runs):
    # data/results/calibration_experiments, as the notebook reads it (the same rows in fast mode)
    results = _run(notebook_runs)
    longest = max(run["steps"] for run in results["linguistic_script"])
    runs = [run for run in results["linguistic_script"] if run["steps"] == longest]
    assert len({run["seed"] for run in runs}) >= 3  # several training seeds of the full recipe
    for run in runs:
        assert run["stating one"] > 0.9  # nearly every held-out reply states a confidence
        assert run["ECE stated"] < run["ECE base logit"]  # and the words beat the untrained logits,
        low, high = map(float, run["paired 95% CI"].split(" to "))
        assert low <= run["stated minus base logit"] <= high and high < 0  # beyond the paired interval
    by_bucket = results["linguistic_script_by_bucket"]
    buckets = ("1+1 digits", "2+2 digits", "3+3 digits")
    stated = [by_bucket[name]["mean stated confidence"] for name in buckets]
    assert stated[0] > stated[1] > stated[2]  # the stated number falls with the difficulty
