"""Notebook 00 (start here), executed once in fast mode: hold it to what its prose claims."""


def test_start_here_chats_and_counts_the_model(notebook_runs):
    run = notebook_runs("00")
    assert run.result.ok, run.result.error
    results = run.results
    assert "Paris" in results["answers"]["What is the capital of France?"]
    assert results["total_parameters"] == 134_515_008        # SmolLM2-135M, tied head counted once
    assert results["table_total"] == results["total_parameters"]  # the table adds up to the model
    assert results["lm_head_new_parameters"] == 0             # the head is the embedding matrix
    assert results["block_parameters"] == 30 * 3_540_096    # 30 identical blocks
    assert results["logits_shape"][-1] == 49_152             # one logit per vocabulary entry


def test_next_token_guesses_depend_on_how_the_text_begins(notebook_runs):
    results = notebook_runs("00").results
    assert results["top_guess_bare"].startswith("' cat'")              # a copy of a prompt word, unsure
    assert results["top_guess_after_separator"].startswith("' mat'")   # with the document separator
