"""Notebook 09 (from notebook to production) in fast mode: the config-driven scripts train, two
processes reproduce one process's loss curve, the server round trip works and its ignored
parameters are measured, and the MLflow runs read back."""


def test_config_driven_runs_train(notebook_runs):
    run = notebook_runs("09")
    assert run.result.ok, run.result.error
    results = run.results
    assert results["sft_losses"][-1] < results["sft_losses"][0]
    assert abs(results["dpo_losses"][0] - 0.6931) < 0.01  # policy == reference before the first update
    assert 0 < results["adapter_mb"] < 0.1 * results["full_model_mb"]


def test_two_processes_match_one(notebook_runs):
    results = notebook_runs("09").results
    processes = results["ddp_processes"]
    assert processes == {"1 process": 1, "torchrun, 2 processes": 2, "accelerate launch, 2 processes": 2}
    assert len(set(results["ddp_global_batch"].values())) == 1
    for difference in results["ddp_max_difference"].values():
        assert difference < results["ddp_tolerance"]


def test_serving_round_trip_and_measured_parameters(notebook_runs):
    results = notebook_runs("09").results
    assert results["served_requests"] >= 1 and results["server_group_gone"]
    server, sampled, local = (results["probes"][k] for k in (
        "transformers serve", "transformers serve + do_sample", "chat_completion (notebook 06)"))
    # the course's chat_completion honours every parameter of the hosted API
    assert local["n"] == 3 and local["max_tokens"] <= 8 and local["temperature"] > 1
    assert local["presence_penalty"] and local["frequency_penalty"] and local["top_p"]
    # the server: one choice whatever n, and what it ignored is named in the results and its log
    assert server["n"] == 1 and server["max_tokens"] <= 8 and not server["presence_penalty"]
    assert "n" in results["ignored_by_server"] and results["server_log_ignoring"]
    assert server["temperature"] == 1  # greedy whatever the temperature without do_sample
    assert sampled["temperature"] > 1 and sampled["top_p"]


def test_mlflow_runs_read_back(notebook_runs):
    results = notebook_runs("09").results
    assert sorted(results["mlflow_runs"]) == results["mlflow_read_back_names"]
    lengths = results["mlflow_history_lengths"]
    assert lengths["1 process"] == results["ddp_steps"] and len(lengths) == 5
    assert any(f.endswith("adapter_model.safetensors") for f in results["mlflow_dpo_files"])
