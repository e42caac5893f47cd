"""scripts/compare_lora_full.py in fast mode on a tiny random Llama: every run happens in its own process,
the table holds the measured columns, LoRA's trainable count is the formula's, and the adapters load."""

import csv
import json

import pytest
from peft import PeftModel
from tiny_models import load_script
from transformers import LlamaConfig

from utils.core.models import load_model
from utils.training import lora_math


@pytest.fixture(scope="module")
def fast_run(tiny_llama_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("comparison")
    script = load_script("compare_lora_full")
    assert script.main(["--fast", "--methods", "full", "lora-2", "--model", str(tiny_llama_dir),
                        "--threads", "1", "--out", str(out)]) == 0
    with open(out / script.CSV_NAME) as handle:
        rows = {row["method"]: row for row in csv.DictReader(handle)}
    return out, rows, json.loads((out / script.LOG_NAME).read_text())


def test_table_has_every_run_and_measure(fast_run):
    _, rows, _ = fast_run
    assert set(rows) == {"untrained", "full", "lora-2"}
    for method in ("full", "lora-2"):
        row = rows[method]
        assert int(row["n_train"]) == 8 and int(row["steps"]) == 2  # --fast: 8 conversations, batch 4
        assert float(row["seconds_per_step"]) > 0
        assert float(row["peak_rss_mb"]) >= float(row["rss_before_train_mb"]) > 0
        assert 0 <= float(row["exact_match"]) <= 1 and float(row["answer_loss"]) > 0
    assert rows["untrained"]["steps"] == "0" and rows["untrained"]["seconds_per_step"] == ""


def test_lora_trains_what_the_formula_predicts(fast_run, tiny_llama_dir):
    _, rows, _ = fast_run
    config = LlamaConfig.from_pretrained(tiny_llama_dir)
    predicted = lora_math.lora_parameter_count(lora_math.shapes_from_config(config), 2, "all-linear", 2)
    assert int(rows["lora-2"]["trainable_params"]) == predicted
    assert int(rows["full"]["trainable_params"]) == int(rows["untrained"]["total_params"])
    assert int(rows["lora-2"]["total_params"]) == int(rows["untrained"]["total_params"]) + predicted


def test_adapter_is_small_and_loads(fast_run, tiny_llama_dir):
    out, rows, _ = fast_run
    folder = out / "adapters" / "lora-2_n8"
    assert (folder / "adapter_config.json").exists()
    assert float(rows["lora-2"]["saved_mb"]) < float(rows["full"]["saved_mb"])
    base, _ = load_model(str(tiny_llama_dir), quiet=True)
    tuned = PeftModel.from_pretrained(base, str(folder))
    assert any("lora_B" in name for name, _ in tuned.named_parameters())


def test_log_says_how_the_table_was_made(fast_run):
    _, _, log = fast_run
    assert log["command"].startswith("python scripts/compare_lora_full.py --fast")
    assert log["minutes"] >= 0 and ("CPU" in log["hardware"] or "cuda" in log["hardware"])
    assert log["epochs"] == 1 and log["lora_targets"] == "all-linear"


def test_bad_arguments_are_refused():
    script = load_script("compare_lora_full")
    with pytest.raises(SystemExit):
        script.parse_args(["--methods", "lora"])
    with pytest.raises(SystemExit):
        script.parse_args(["--methods", "lora-0"])
    with pytest.raises(SystemExit):
        script.parse_args(["--sizes", "12", "--batch-size", "8"])
    specs = script.run_specs(script.parse_args([]))
    assert specs[0]["method"] == "untrained" and len(specs) == 1 + 2 * 4
    assert len(script.run_specs(script.parse_args(["--no-untrained"]))) == 2 * 4
