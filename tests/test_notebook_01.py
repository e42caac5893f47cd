"""Notebook 01 (pretraining), executed once in fast mode: hold it to what its prose claims."""

import math


def test_pretraining_notebook_runs(notebook_runs):
    run = notebook_runs("01")
    assert run.result.ok, run.result.error


def test_hand_computed_loss_equals_the_library_loss(notebook_runs):
    results = notebook_runs("01").results
    assert results["loss_abs_diff"] < 1e-4
    assert math.isclose(results["perplexity"], math.exp(results["hand_loss"]), rel_tol=1e-6)
    # shifting the labels yourself means predicting two tokens ahead: clearly worse
    assert results["double_shift_loss"] > results["library_loss"] + 1.0


def test_korean_costs_several_times_more_tokens(notebook_runs):
    assert notebook_runs("01").results["korean_token_ratio"] > 2.0


def test_tiny_model_is_small_and_starts_near_the_uniform_loss(notebook_runs):
    results = notebook_runs("01").results
    assert 1e6 < results["tiny_parameters"] < 1e7
    assert results["tokenizer_vocab"] < 4096
    assert abs(results["initial_loss"] - results["uniform_loss"]) < 0.5


def test_training_loss_ends_well_below_its_start(notebook_runs):
    results = notebook_runs("01").results
    assert results["final_loss"] < 0.7 * results["initial_loss"]
    assert results["tokens_per_second"] > 0


def test_generations_turn_from_noise_into_corpus_like_text(notebook_runs):
    results = notebook_runs("01").results
    assert results["known_word_share_start"] < 0.6
    assert results["known_word_share_end"] > 0.8
    assert results["known_pair_share_end"] > results["known_pair_share_start"] + 0.15


def test_training_lowers_the_held_out_loss_per_byte(notebook_runs):
    results = notebook_runs("01").results
    assert results["bpb_trained"] < 0.8 * results["bpb_untrained"]
    assert 0 < results["bpb_smollm2"] < results["bpb_untrained"]


def test_classifier_head_reuses_the_same_body(notebook_runs):
    results = notebook_runs("01").results
    assert results["classifier_same_body"] is True
    assert results["classifier_logits_shape"] == [2, 2]


def test_probe_on_the_pretrained_body_generalises_and_on_a_random_body_does_not(notebook_runs):
    results = notebook_runs("01").results
    assert results["probe_acc_pretrained"] >= 0.75
    assert results["probe_acc_pretrained"] > results["probe_acc_random"] + 0.3
    assert results["probe_train_acc_random"] >= 0.9  # the random body fits the words it was shown
