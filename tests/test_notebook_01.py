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


def test_first_word_costs_more_than_uniform_without_the_separator_and_less_with_it(notebook_runs):
    results = notebook_runs("01").results
    assert results["cat_loss_bare"] > results["uniform_loss_smollm2"]
    assert results["cat_loss_after_separator"] < results["uniform_loss_smollm2"]


def test_hand_written_block_equals_the_library(notebook_runs):
    results = notebook_runs("01").results
    assert results["attention_max_diff"] < 1e-5
    assert results["mlp_max_diff"] < 1e-5
    assert results["block_max_diff"] < 1e-4  # the residual stream is larger, so is float rounding


def test_korean_costs_several_times_more_tokens(notebook_runs):
    assert notebook_runs("01").results["korean_token_ratio"] > 2.0


def test_tiny_model_is_small_and_starts_near_the_uniform_loss(notebook_runs):
    results = notebook_runs("01").results
    assert 1e6 < results["tiny_parameters"] < 1e7
    assert results["tokenizer_vocab"] < 4096
    assert abs(results["initial_loss"] - results["uniform_loss"]) < 0.5
    assert abs(results["valid_loss_start"] - results["uniform_loss"]) < 0.5


def test_training_and_validation_losses_fall_together(notebook_runs):
    results = notebook_runs("01").results
    assert results["final_loss"] < 0.7 * results["initial_loss"]
    assert results["valid_loss_end"] < 0.7 * results["valid_loss_start"]
    assert abs(results["valid_loss_end"] - results["final_loss"]) < 0.5  # no memorising
    assert results["tokens_per_second"] > 0


def test_samples_turn_from_noise_into_sentences_that_parse(notebook_runs):
    results = notebook_runs("01").results
    assert results["known_word_share_start"] < 0.6
    assert results["known_word_share_end"] > 0.8
    assert results["template_share_start"] < 0.05                       # noise never parses
    assert results["template_ci_end"][0] > results["template_ci_start"][1]  # intervals apart
    assert results["template_share_end"] > results["template_share_midway"]  # still rising at the end


def test_training_lowers_the_held_out_loss_per_byte(notebook_runs):
    results = notebook_runs("01").results
    assert results["bpb_trained"] < 0.8 * results["bpb_untrained"]
    assert 0 < results["bpb_smollm2"] < results["bpb_untrained"]


def test_classifier_head_reuses_the_same_body(notebook_runs):
    results = notebook_runs("01").results
    assert results["classifier_same_body"] is True
    assert results["classifier_logits_shape"] == [2, 4]


def test_probe_on_the_pretrained_body_generalises_and_on_a_random_body_does_not(notebook_runs):
    results = notebook_runs("01").results
    assert results["probe_words"] >= 60                   # every corpus word held out once
    assert results["probe_ci_pretrained"][0] > results["probe_majority_baseline"]
    assert results["probe_difference_ci"][0] > 0          # paired interval clear of zero
    assert results["probe_ci_random"][0] <= results["probe_majority_baseline"]  # no better than it
    assert results["probe_train_acc_random"] >= 0.9       # the random body fits the words it was shown
