"""Notebook 10 (from notebook to production) in fast mode: the config-driven scripts train, two
processes (on one host or two) reproduce one process's loss curve, the served model is measured
like a service and its parameters by requests, the trainer logs to MLflow while it trains, and the
GGUF export round-trips."""


def test_config_driven_runs_train(notebook_runs):
    run = notebook_runs("10")
    assert run.result.ok, run.result.error
    results = run.results
    assert results["sft_losses"][-1] < results["sft_losses"][0]
    assert abs(results["dpo_losses"][0] - 0.6931) < 0.01  # policy == reference before the first update
    assert 0 < results["adapter_mb"] < 0.1 * results["full_model_mb"]


def test_two_processes_match_one(notebook_runs):
    results = notebook_runs("10").results
    processes = results["ddp_processes"]
    assert processes == {"1 process": 1, "torchrun, 2 processes": 2, "accelerate launch, 2 processes": 2}
    assert len(set(results["ddp_global_batch"].values())) == 1
    for difference in results["ddp_max_difference"].values():
        assert difference < results["ddp_tolerance"]


def test_two_hosts_on_loopback_match_one_process(notebook_runs):
    results = notebook_runs("10").results
    assert results["hosts_processes"] == 2
    assert results["hosts_global_batch"] == results["ddp_global_batch"]["1 process"]
    assert results["hosts_max_difference"] < results["ddp_tolerance"]


def test_memory_table_says_what_fits(notebook_runs):
    memory = notebook_runs("10").results["memory_gb"]
    assert memory["1.7B ddp.yaml"] > 24 > memory["1.7B deepspeed_zero2.yaml"] > memory["1.7B fsdp.yaml"]
    assert memory["7B ddp.yaml"] > 80 and memory["7B fsdp.yaml"] < 24


def test_served_model_measured_like_a_service(notebook_runs):
    results = notebook_runs("10").results
    service = results["service"]
    assert results["served_requests"] == service["requests"] >= 1 and results["server_group_gone"]
    assert service["latency p95 s"] >= service["latency p50 s"] > 0
    assert service["exact match low"] <= service["exact match"] <= service["exact match high"]
    assert results["committed_service"]["requests"] >= 200  # the script's run the notebook loads
    status = results["malformed_status"]
    assert status["a good request afterwards"] == 200  # still serving after the malformed ones
    assert 400 <= status["body is not JSON"] < 500 and 400 <= status["unknown model name"] < 500


def test_parameter_table_is_measured(notebook_runs):
    results = notebook_runs("10").results
    server, sampled, local = (results["probes"][k] for k in (
        "transformers serve", "transformers serve + do_sample", "chat_completion (notebook 06)"))
    assert server["max_tokens"].startswith("yes") and local["max_tokens"].startswith("yes")
    assert server["n"].startswith("NO") and local["n"].startswith("yes")
    assert sampled["temperature"].startswith("yes") and not server["temperature"].startswith("yes")
    assert "n" in results["ignored_by_server"]


def test_trainer_logs_to_mlflow_while_it_trains(notebook_runs):
    results = notebook_runs("10").results
    assert results["mlflow_differing_params"] == ["learning_rate"]
    steps = list(range(1, len(results["sft_losses"]) + 1))
    assert all(logged == steps for logged in results["mlflow_history_steps"].values())
    assert all("training_log.json" in f and "sft.yaml" in f for f in results["mlflow_files"].values())


def test_gguf_round_trip(notebook_runs):
    results = notebook_runs("10").results
    sizes = results["gguf_file_mb"]
    assert sizes["GGUF q8_0"] < sizes["GGUF f16"] < sizes["safetensors float32"]
    assert results["merge_logit_gap"] < 1e-3
    # f16 through transformers' loader answers word for word as the PyTorch model
    assert results["gguf_same_as_pytorch"]["transformers GGUF f16"] == results["gguf_orders"]
