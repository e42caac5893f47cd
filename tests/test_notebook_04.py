"""Notebook 04 (LoRA versus full fine-tuning) in fast mode: LoRA's trainable share is the formula's,
the memory of one step is accounted part by part, both methods improve on the untrained model, the
script's grid loads with intervals (when its results are present), and a merged adapter computes
what the unmerged one did."""


def test_notebook_runs(notebook_runs):
    run = notebook_runs("04")
    assert run.result.ok, run.result.error


def test_lora_by_hand_matches_peft(notebook_runs):
    results = notebook_runs("04").results
    assert results["hand_init_difference"] == 0.0  # B = 0: no change before training
    assert results["peft_vs_hand_difference"] < 1e-4
    losses = results["hand_final_loss"]
    # rank 1 cannot express the rank-2 change; rank 2 and the full update can
    assert losses["LoRA r=1"] > 10 * losses["LoRA r=2"]
    assert results["hand_learned_rank"]["LoRA r=1"] == 1
    # PEFT's scale: alpha / r = 2 at every rank with alpha = 2r; rsLoRA's alpha / sqrt(r) grows with r
    scales = {(row["rank r"], row["scaling"].startswith("rsLoRA")): row["PEFT's scale"]
              for row in results["peft_scales"]}
    assert all(abs(scale - 2) < 1e-9 for (rank, rs), scale in scales.items() if not rs)
    assert scales[(128, True)] > scales[(8, True)] > 2


def test_trainable_share_is_the_formula(notebook_runs):
    results = notebook_runs("04").results
    assert len(results["trainable_counts"]) >= 4
    for row in results["trainable_counts"]:
        assert row["formula"] == row["PEFT counts"], row
    live = {row["method"]: row for row in results["live"]}
    for method, predicted in results["live_lora_formula"].items():
        assert live[method]["trainable_params"] == predicted
        assert live[method]["trainable_params"] / live[method]["total_params"] < 0.05
    assert live["full"]["trainable_params"] == results["total_params"]


def test_both_methods_improve_on_the_untrained_model(notebook_runs):
    live = {row["method"]: row for row in notebook_runs("04").results["live"]}
    untrained = live.pop("untrained")
    assert {"full"} < set(live) and any(m.startswith("lora-") for m in live)
    for method, row in live.items():
        assert row["answer_loss"] < untrained["answer_loss"], method
        assert row["exact_match"] >= untrained["exact_match"], method


def test_memory_of_one_step_is_accounted(notebook_runs):
    measured = notebook_runs("04").results["memory_measured"]
    full, lora = measured["full"], measured["lora-16"]
    assert lora["trainable_params"] < 0.05 * full["trainable_params"]  # LoRA trains fewer parameters
    # full fine-tuning keeps a gradient and two Adam states per weight; LoRA only for the adapter
    assert full["gradients"] == full["weights"] and full["optimizer states"] >= 2 * full["weights"]
    assert full["gradients"] + full["optimizer states"] > 10 * (lora["gradients"] + lora["optimizer states"])
    # the tensors saved for backward are of the same order for both: LoRA back-propagates through every layer
    saved = {m: r["saved activations"] + r["saved weight copies"] for m, r in measured.items()}
    assert 0.5 < saved["lora-16"] / saved["full"] < 1.5
    for row in measured.values():
        assert row["rss_peak_mb"] >= row["rss_after_forward_mb"] >= row["rss_before_step_mb"]
        assert row["rss_before_step_mb"] > row["rss_loaded_mb"] > 0
    assert full["rss_peak_mb"] > lora["rss_peak_mb"]


def test_memory_and_disk(notebook_runs):
    results = notebook_runs("04").results
    live = {row["method"]: row for row in results["live"]}
    for method, row in live.items():
        if method != "untrained":
            assert row["peak_rss_mb"] >= row["rss_before_train_mb"] > 0
    # full fine-tuning's gradients and Adam states are predicted at 12 bytes per parameter
    assert abs(results["predicted_grad_adam_mb"]["full"] - 12 * results["total_params"] / 2**20) < 1
    adapters = [mb for name, mb in results["adapter_mb"].items() if name.startswith("adapter")]
    assert adapters and max(adapters) < 0.2 * results["adapter_mb"]["full fine-tuned model (weights only)"]


def test_merge_keeps_the_outputs(notebook_runs):
    results = notebook_runs("04").results
    assert results["max_logit_difference"] < 1e-2  # float32 rounding through 30 layers; logits are ~40
    assert results["merged_same_answers"] is True


def test_script_grid_loads_with_intervals(notebook_runs):
    results = notebook_runs("04").results
    if not results["have_grid"]:  # the notebook printed how to make the results instead
        assert results["grid"] == [] and results["grid_differences"] == []
        return
    assert {row["method"] for row in results["grid"]} >= {"full", "LoRA r=8"}
    for row in results["grid"] + results["rank_grid"] + results["qlora_grid"]:
        assert row["em low"] <= row["exact match"] <= row["em high"]
    for row in results["grid"]:
        assert row["facts low"] <= row["facts"] <= row["facts high"]
    for row in results["grid_differences"]:
        assert row["learns"] in {"full ahead", "LoRA ahead", "no difference shown"}
        assert row["forgets"] in {"full kept more facts", "LoRA kept more facts", "no difference shown"}
        assert row["LoRA - full, exact match"].count("[") == 1  # estimate [low, high]


def test_qlora_runs_or_says_why_not(notebook_runs):
    qlora = notebook_runs("04").results["qlora"]
    assert qlora["ran"] or "missing" in qlora["skipped_because"]  # on a CPU: skipped cleanly, with the reason
    for row in notebook_runs("04").results["qlora_grid"]:  # the script's GPU rows, when present
        assert row["CUDA peak (MB)"] > 0


def test_mixed_precision_keeps_float32_weights_and_learns_as_much(notebook_runs):
    mixed = notebook_runs("04").results["mixed_precision"]
    assert mixed["weights_dtype"] == {"float32": "torch.float32", "bf16 autocast": "torch.float32"}
    fp32, bf16 = mixed["losses"]["float32"], mixed["losses"]["bf16 autocast"]
    assert len(fp32) == len(bf16) == mixed["steps"]
    held, untrained = mixed["held_out_loss"], mixed["untrained_loss"]
    # both learn; bf16's held-out gain is at least half of float32's (one seed, a few steps)
    assert held["float32"] < untrained and held["bf16 autocast"] < untrained
    assert untrained - held["bf16 autocast"] > 0.5 * (untrained - held["float32"])
