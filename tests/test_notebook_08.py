"""Notebook 08 in fast mode: readable cards, baselines that say what they know, the pack head's loss
by hand and live, and the committed pickers' evaluation on held-out drafts and on an unseen set."""

import math


def results_of(notebook_runs) -> dict:
    run = notebook_runs("08")
    assert run.result.ok, run.result.error
    return run.results


def test_the_evaluation_rests_on_enough_picks(notebook_runs):
    results = results_of(notebook_runs)
    assert results["eval_picks"] >= 600 and results["unseen_picks"] >= 600
    assert all(row["picks"] >= 300 for row in results["head_vs_likelihood"])


def test_a_cards_text_says_more_about_its_quality_than_its_rarity(notebook_runs):
    explained = results_of(notebook_runs)["explained_variance"]
    assert explained["text (text_value)"] > 0.8
    assert explained["rarity (its mean)"] < explained["text (text_value)"] - 0.3


def test_baselines_say_what_they_know(notebook_runs):
    tables = {s: {row["picker"]: row["top1"] for row in rows}
              for s, rows in results_of(notebook_runs)["tables"].items()}
    known, unseen = tables["QLT"], tables["QGO"]
    assert known["random"] < known["rarity"] < known["card-identity ranker"]
    # names do not transfer: on the unseen set pick rate falls to random's level; the columns carry over
    assert abs(unseen["pick rate"] - unseen["random"]) < 0.08
    assert unseen["card-columns ranker"] > unseen["rarity"] > unseen["random"]
    for table in (known, unseen):  # nobody beats the simulator's ceiling
        ceiling = table.pop("simulator ceiling")
        assert all(top1 < ceiling for top1 in table.values())


def test_the_head_loss_by_hand_matches_the_module_and_starts_uniform(notebook_runs):
    results = results_of(notebook_runs)
    assert abs(results["loss_by_hand"] - results["loss_by_utils"]) < 1e-4
    assert abs(results["loss_by_hand"] - math.log(results["first_pack_cards"])) < 1e-4
    assert results["live_losses"] and all(0 < loss < 4 for loss in results["live_losses"])


def test_the_committed_picker_reproduces_the_scripts_choices(notebook_runs):
    results = results_of(notebook_runs)
    # the same card chosen live as in eval_hits.csv: a stale adapter or table would disagree
    assert results["recheck_agreement"] >= 0.6


def test_the_picker_beats_what_cannot_read_cards_on_both_sets(notebook_runs):
    # lower ends of draft-clustered 95% intervals of the paired difference, picker minus baseline
    low = results_of(notebook_runs)["diff_low"]
    for name in ("random", "rarity", "card-columns ranker"):
        assert low["QLT"][name] > 0, name
    for name in ("random", "rarity", "pick rate", "card-columns ranker"):
        assert low["QGO"][name] > 0, name


def test_a_played_draft_ends_with_a_deck_and_a_record(notebook_runs):
    results = results_of(notebook_runs)
    assert results["played_picks"] == 42
    assert results["played_draft"]["wins"] <= 7 and results["played_draft"]["losses"] <= 3
