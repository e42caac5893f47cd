"""Notebook 02 (supervised fine-tuning) in fast mode: it runs, it teaches the skill, and the
comparisons it prints behave as its prose says."""


def test_fine_tuning_teaches_the_skill(notebook_runs):
    run = notebook_runs("02")
    assert run.result.ok, run.result.error
    results = run.results
    assert results["exact_match_before"] <= 0.10
    # even the shrunken fast run lifts held-out exact match far above the untrained model
    assert results["exact_match_after"] >= results["exact_match_before"] + 0.5
    assert results["val_loss_after"] < 0.3 * results["val_loss_before"]
    # the saved folder loads back and still does the task
    assert results["reloaded_exact_match"] >= 0.5


def test_malformed_records_are_named_before_training(notebook_runs):
    errors = notebook_runs("02").results["validation_errors"]
    assert set(errors) == {"missing role", "empty content", "wrong turn order"}
    assert "field 'role' is missing" in errors["missing role"]
    assert "field 'content' is missing or empty" in errors["empty content"]
    assert "field 'role' is 'assistant' where the 'user' turn belongs" in errors["wrong turn order"]
    for message in errors.values():
        assert message.startswith("train.jsonl record 5, messages[")


def test_comparisons_are_recorded(notebook_runs):
    results = notebook_runs("02").results
    lr_losses = results["lr_validation_loss"]
    assert len(lr_losses) == 3
    # the smallest learning rate moves the held-out loss least from where it started
    smallest = min(lr_losses, key=float)
    assert lr_losses[smallest] > min(lr_losses.values())
    assert results["masked_answer_loss"] < results["val_loss_before"]
    assert results["unmasked_answer_loss"] > 0
    # the over-fitting run fits its few examples far better than it generalises
    assert results["overfit_train_loss_final"] < results["overfit_val_loss_final"]
