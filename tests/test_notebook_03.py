"""Notebook 03 (instruction datasets) in fast mode: it runs, and the numbers it records behave as
its prose says: the validator flags every broken line, the filters catch the noise they are meant
for, clean data beats noisy data under the same budget, and the proper split leaks nothing."""

import pytest


@pytest.fixture(scope="module")
def results(notebook_runs):
    run = notebook_runs("03")
    assert run.result.ok, run.result.error
    return run.results


def test_formats_section_validates_and_round_trips(results):
    assert results["validator_exit_status"] == 1
    assert results["validator_problem_lines"] == [2, 3, 4, 5, 6, 7]  # every line but the clean first one
    assert results["round_trips_exact"] is True


def test_statistics_cost_follows_the_formula_and_korean_costs_more(results):
    assert results["tokens_per_epoch"] > 0
    assert results["cost_usd"] == pytest.approx(results["tokens_per_epoch"] * 3 * 0.008 / 1000)
    assert results["korean_token_ratio"] > 1.5


def test_rule_filters_catch_the_noise_they_target_and_spare_clean_records(results):
    counts = results["noise_counts"]
    assert results["exact_duplicates_caught"] == counts["duplicate"]
    assert results["near_duplicates_caught"] >= 0.6 * counts["near-duplicate"]
    caught = results["format_rule_caught"]
    assert caught == {"truncated": counts["truncated"], "off-format": counts["off-format"]}
    assert results["clean_flagged_by_rules"] <= 2


def test_only_the_reference_model_separates_wrong_answers(results):
    medians = results["median_perplexity"]
    reference, bundled = "reference (tuned on the clean set)", "bundled model"
    limit = results["perplexity_limit"]
    assert medians[f"{reference} / wrong answer"] > limit > medians[f"{reference} / clean"]
    # wrong answers stand out from clean ones far more under the reference model than under the bundled one
    ratio = {scorer: medians[f"{scorer} / wrong answer"] / medians[f"{scorer} / clean"]
             for scorer in (reference, bundled)}
    assert ratio[reference] > ratio[bundled]
    # filtering keeps clean records and drops most wrong answers
    kept = results["filtered_kept"]
    assert kept["clean"] >= 0.8 * results["noise_counts"]["clean"]
    assert kept["wrong answer"] <= 0.5 * results["noise_counts"]["wrong answer"]
    assert kept["duplicate"] == kept["truncated"] == kept["off-format"] == 0


def test_clean_beats_noisy_under_the_same_budget(results):
    exact = results["exact_match"]
    assert results["sizes"]["noisy"] == 5 * results["sizes"]["clean"]
    assert exact["clean"] > exact["noisy"]
    assert exact["filtered"] > exact["noisy"]
    assert exact["clean"] >= 0.5  # the untouched model scores 0% (notebook 02)


def test_the_mix_keeps_the_main_task(results):
    accuracy = results["task_accuracy"]
    assert set(accuracy["diverse"]) == set(accuracy["single"]) == {"order", "arithmetic", "sorting"}
    assert accuracy["diverse"]["order"] >= accuracy["single"]["order"] - 0.25


def test_the_proper_split_leaks_nothing_and_keeps_every_task(results):
    splits = results["splits"]
    naive, proper = splits["naive: shuffle and cut"], splits["de-duplicated, stratified"]
    assert naive["leaked (same user message)"] > 0
    assert proper["leaked (same user message)"] == proper["near-duplicates of train"] == 0
    for task in ("order", "arithmetic", "sorting"):
        assert proper[f"validation: {task}"] >= 1


def test_wrong_references_lower_every_measured_accuracy(results):
    for row in results["label_noise_accuracy"].values():
        clean, spoiled = row.values()
        assert spoiled <= clean
