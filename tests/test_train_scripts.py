"""scripts/train_sft.py and scripts/train_dpo.py: the YAML configs parse into TRL's dataclasses,
the command line wins over the file, and two data-parallel CPU processes (torchrun, gloo) give
the loss curve of one process at the same global batch."""

import json
import os
import subprocess
import sys

import pytest
from trl import DPOConfig, ModelConfig, SFTConfig, TrlParser

from scripts import train_dpo, train_sft
from tests.tiny_models import tiny_llama
from utils.core import runtime
from utils.core.runtime import REPO_ROOT
from utils.production import tracking

SFT_CONFIG = str(REPO_ROOT / "configs" / "sft.yaml")
DPO_CONFIG = str(REPO_ROOT / "configs" / "dpo.yaml")
TOLERANCE = 1e-3  # nats: float32 sums in another order differ by ~1e-6; a wrong batch split by ~1e-2


def test_sft_config_maps_notebook_02_and_flags_win():
    parser = TrlParser((train_sft.DataArguments, SFTConfig, ModelConfig))
    argv = runtime.mixed_precision_flags(["--config", SFT_CONFIG, "--max_steps", "3"], "cpu")
    data, config, model = parser.parse_args_and_config(argv)
    assert model.model_name_or_path is None and data.train_file == "data/sft/train.jsonl"
    assert (config.per_device_train_batch_size, config.learning_rate, config.lr_scheduler_type) == (
        8, 1e-4, "constant")
    assert config.completion_only_loss and config.max_steps == 3  # the flag beat the file's 10
    assert train_sft.global_batch_size(config) == 8
    assert config.bf16 == (runtime.precision("cpu") == "bf16")  # the course's policy reached the script


def test_precision_flags_leave_an_explicit_choice_alone(tmp_path):
    assert runtime.mixed_precision_flags(["--config", SFT_CONFIG, "--bf16", "false"], "cpu")[-2:] == [
        "--bf16", "false"]
    pinned = tmp_path / "pinned.yaml"
    pinned.write_text("output_dir: x\nbf16: false\n")
    assert runtime.mixed_precision_flags(["--config", str(pinned)], "cpu") == ["--config", str(pinned)]


def test_dpo_config_makes_a_lora_adapter():
    parser = TrlParser((train_dpo.DataArguments, DPOConfig, ModelConfig))
    argv = runtime.mixed_precision_flags(["--config", DPO_CONFIG], "cpu")
    data, config, model = parser.parse_args_and_config(argv)
    assert model.use_peft and model.lora_r == 16 and model.lora_alpha == 32
    assert config.beta == 0.1 and train_dpo.global_batch_size(config) == 8
    assert data.train_file == "data/preference/train.jsonl"


def test_unknown_config_key_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("output_dir: x\nbf16: false\nlearning_rat: 0.1\n")  # a typo
    parser = TrlParser((train_sft.DataArguments, SFTConfig, ModelConfig))
    with pytest.raises(ValueError, match="learning_rat"):
        parser.parse_args_and_config(["--config", str(bad)])


def test_cpu_processes_join_one_gloo_group(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    flags = train_sft.cpu_processes_flag(["--config", "c.yaml"])
    assert flags[-2:] == ["--use_cpu", "true"] or train_sft.torch_has_cuda()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert train_sft.cpu_processes_flag(["--config", "c.yaml"]) == ["--config", "c.yaml"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp("tiny_model")
    tiny_llama(tokenizer, hidden_size=32, intermediate_size=64, layers=2).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _steps(log_path):
    return [(s["step"], s["loss"]) for s in json.loads(log_path.read_text())["steps"]]


def test_two_processes_match_one_at_the_same_global_batch(tiny_folder, tmp_path):
    common = ["--config", SFT_CONFIG, "--model_name_or_path", str(tiny_folder), "--max_steps", "3",
              "--learning_rate", "1e-3"]
    one = train_sft.main([*common, "--per_device_train_batch_size", "4",
                          "--output_dir", str(tmp_path / "one")])
    store = tmp_path / "mlruns"  # the two-process run also reports to MLflow: once, from rank 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", **tracking.trainer_env(store, "ddp")}
    # --standalone rendezvouses on a free local port, so a busy 29500 (another job) cannot fail it.
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", str(REPO_ROOT / "scripts" / "train_sft.py"), *common,
                          "--per_device_train_batch_size", "2", "--output_dir", str(tmp_path / "two"),
                          "--report_to", "mlflow"],
                         env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"torchrun failed ({run.returncode}):\n{run.stderr[-4000:]}"
    two_log = json.loads((tmp_path / "two" / train_sft.LOG_FILE).read_text())
    assert two_log["processes"] == 2 and two_log["global_batch"] == 4
    one_steps, two_steps = _steps(one), _steps(tmp_path / "two" / train_sft.LOG_FILE)
    assert [s for s, _ in one_steps] == [s for s, _ in two_steps] == [1, 2, 3]
    for (_, a), (_, b) in zip(one_steps, two_steps, strict=True):
        assert abs(a - b) < TOLERANCE
    assert one_steps[-1][1] < one_steps[0][1]  # and it learns
    (run_id,) = tracking.find_runs("ddp", store)
    assert run_id == two_log["mlflow_run_id"]
    history = tracking.metric_history(run_id, "loss")
    assert history["step"].tolist() == [1, 2, 3]
    assert history["value"].tolist() == pytest.approx([loss for _, loss in two_steps])


def test_dpo_script_saves_an_adapter(tiny_folder, tmp_path):
    log_path = train_dpo.main(["--config", DPO_CONFIG, "--model_name_or_path", str(tiny_folder),
                               "--max_steps", "1", "--gradient_accumulation_steps", "1",
                               "--output_dir", str(tmp_path / "dpo")])
    log = json.loads(log_path.read_text())
    assert log["global_batch"] == 2 and log["steps"][0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # log 2
    assert (tmp_path / "dpo" / "adapter_model.safetensors").is_file()
