def test_start_here_chats_and_counts_the_model(notebook_runs):
    run = notebook_runs("00")
    assert run.result.ok, run.result.error
    results = run.results
    assert "Paris" in results["answers"]["What is the capital of France?"]
    assert results["total_parameters"] == 134_515_008        # SmolLM2-135M, tied head counted once
    assert results["block_parameters"] == 30 * 3_540_096    # 30 identical blocks
    assert results["logits_shape"][-1] == 49_152             # one logit per vocabulary entry
