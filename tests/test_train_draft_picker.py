"""scripts/train_draft_picker.py in fast mode on a tiny model: it trains, its loss falls, and it saves a
small float16 adapter that PEFT loads back, with a log of how it was made."""

import json

import pandas as pd
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from tiny_models import load_script, save_tiny_llama

from utils.core.models import load_model


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer random Llama saved with the course tokenizer, so load_model(folder) reads it."""
    _, tokenizer = load_model(quiet=True)
    # large random weights (initializer_range): LoRA's gradients are not vanishing
    return save_tiny_llama(tmp_path_factory.mktemp("tiny_model"), tokenizer, hidden_size=64,
                           max_positions=1024, initializer_range=0.5)


@pytest.fixture(scope="module")
def fast_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapter")
    script = load_script("train_draft_picker")
    # 16 steps over the same 4 picks: a tiny random model can only show learning by fitting them
    assert script.main(["--fast", "--steps", "16", "--train-picks", "4", "--lr", "0.01",
                        "--unseen-picks", "2", "--model", str(tiny_model_dir), "--out", str(out)]) == 0
    return out, json.loads((out / script.LOG_FILE).read_text())


def test_fast_run_loss_falls(fast_run):
    _, log = fast_run
    losses = log["losses"]
    assert len(losses) == log["steps_done"] == 16
    assert sum(losses[-4:]) / 4 < 0.85 * sum(losses[:4]) / 4


def test_log_says_how_the_adapter_was_made(fast_run):
    _, log = fast_run
    assert log["command"].startswith("python scripts/train_draft_picker.py")
    assert log["format"] == "line" and log["scoring"] == "ratio"
    assert log["batch_size"] == 2 and log["training_picks"] == 32
    assert log["minutes"] >= 0 and ("CPU" in log["hardware"] or "cuda" in log["hardware"])
    assert log["eval_picks"] == 4 and 0 <= log["eval_top1"] <= log["eval_top3"] <= 1


def test_eval_hits_name_each_scored_pick_of_both_sets(fast_run):
    out, log = fast_run
    hits = pd.read_csv(out / "eval_hits.csv", dtype={"draft_id": str})
    assert list(hits.columns) == ["set", "draft_id", "pack_number", "pick_number", "top1", "top3", "choice"]
    assert hits["set"].value_counts().to_dict() == {"QLT": 4, "QGO": 2} and log["unseen_picks"] == 2
    assert ((hits["top1"] <= hits["top3"]) & hits["top3"].isin([0, 1])).all()
    assert hits["top1"][hits["set"] == "QLT"].mean() == pytest.approx(log["eval_top1"])


def test_eval_only_rescores_the_saved_adapter_to_the_same_table(fast_run, tiny_model_dir, tmp_path):
    import shutil

    out, log = fast_run
    copy = tmp_path / "adapter"
    shutil.copytree(out, copy)
    script = load_script("train_draft_picker")
    assert script.main(["--fast", "--eval-only", "--unseen-picks", "2", "--model", str(tiny_model_dir),
                        "--out", str(copy)]) == 0
    again = json.loads((copy / script.LOG_FILE).read_text())
    assert again["eval_command"].startswith("python scripts/train_draft_picker.py")
    assert again["losses"] == log["losses"] and again["eval_top1"] == log["eval_top1"]
    # the saved float16 adapter chooses what the trained model, rounded to float16, chose
    pd.testing.assert_frame_equal(pd.read_csv(copy / "eval_hits.csv"), pd.read_csv(out / "eval_hits.csv"))


def test_eval_only_without_an_adapter_says_what_is_missing(tmp_path):
    script = load_script("train_draft_picker")
    with pytest.raises(SystemExit, match="--eval-only needs an adapter made by this script"):
        script.main(["--fast", "--eval-only", "--out", str(tmp_path)])


def test_sft_objective_still_trains_through_trl(tiny_model_dir, tmp_path):
    script = load_script("train_draft_picker")
    assert script.main(["--fast", "--objective", "sft", "--scoring", "likelihood", "--steps", "8",
                        "--train-picks", "4", "--lr", "0.01", "--layers-from", "1",
                        "--model", str(tiny_model_dir), "--out", str(tmp_path)]) == 0
    log = json.loads((tmp_path / script.LOG_FILE).read_text())
    assert log["objective"] == "sft" and log["lora_layers_from"] == 1 and len(log["losses"]) == 8
    assert sum(log["losses"][-2:]) < sum(log["losses"][:2])
    weights = load_file(str(tmp_path / "adapter_model.safetensors"))
    assert weights and all(".layers.1." in k for k in weights)  # layer 0 left frozen


def test_adapter_is_float16_and_loads_with_peft(fast_run, tiny_model_dir):
    out, log = fast_run
    weights = load_file(str(out / "adapter_model.safetensors"))
    assert weights and all(w.dtype == torch.float16 for w in weights.values())
    assert any("lora_A" in k for k in weights) and log["adapter_bytes"] < 1_000_000
    base, _ = load_model(str(tiny_model_dir), quiet=True)
    tuned = PeftModel.from_pretrained(base, str(out))
    key = next(k for k in weights if "lora_B" in k)
    loaded = dict(tuned.named_parameters())
    match = [v for k, v in loaded.items() if k.endswith(key.replace(".weight", ".default.weight"))]
    assert match and torch.allclose(match[0].float(), weights[key].float())


def test_bad_arguments_are_refused():
    script = load_script("train_draft_picker")
    with pytest.raises(SystemExit):
        script.parse_args(["--steps", "0"])
    with pytest.raises(SystemExit):
        script.parse_args(["--format", "json"])
    with pytest.raises(SystemExit):
        script.parse_args(["--layers-from", "-1"])
    assert script.parse_args([]).steps == 300 and script.parse_args(["--fast"]).steps == 4


def test_head_objective_trains_reads_text_and_rescores_the_same(tiny_model_dir, tmp_path):
    script = load_script("train_draft_picker")
    out = tmp_path / "head"
    assert script.main(["--fast", "--objective", "head", "--steps", "16", "--train-picks", "4",
                        "--lr", "0.01",
                        "--unseen-picks", "2", "--model", str(tiny_model_dir), "--out", str(out)]) == 0
    log = json.loads((out / script.LOG_FILE).read_text())
    assert log["objective"] == "head" and log["format"] == "text"
    assert sum(log["losses"][-4:]) / 4 < 0.85 * sum(log["losses"][:4]) / 4
    first = pd.read_csv(out / "eval_hits.csv")
    assert script.main(["--fast", "--eval-only", "--unseen-picks", "2", "--model", str(tiny_model_dir),
                        "--out", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "eval_hits.csv"), first)


def test_extra_sets_mix_generated_drafts_into_training(tiny_model_dir, tmp_path):
    script = load_script("train_draft_picker")
    args = script.parse_args(["--fast", "--objective", "head", "--extra-sets", "2", "--extra-drafts", "3",
                              "--model", str(tiny_model_dir), "--out", str(tmp_path)])
    args.train_picks = 10_000
    train, test, info = script.training_records(args)
    sets = {record["expansion"] for record in train}
    assert sets == {"QLT", "QTA", "QTB"} and {record["expansion"] for record in test} == {"QLT"}
    assert all("text" in info[name] for record in train for name in record["pack"])
