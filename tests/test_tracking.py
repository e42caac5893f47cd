"""utils.production.tracking: runs logged to a local MLflow store (SQLite, no server) read back intact,
and the training scripts' trainers write into it while they train (``--report_to mlflow``)."""

import json
import os
import time

import pytest
from mlflow.tracking import MlflowClient
from transformers import TrainerCallback

from scripts import train_dpo, train_sft
from tests.tiny_models import save_tiny_llama
from utils.core.runtime import REPO_ROOT
from utils.production import tracking

SFT_CONFIG = str(REPO_ROOT / "configs" / "sft.yaml")
DPO_CONFIG = str(REPO_ROOT / "configs" / "dpo.yaml")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlruns")
    tracking.use_local_store(folder, experiment="test")
    return folder


def test_log_and_read_back(store, tmp_path):
    tracking.use_local_store(store, experiment="test")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    first = tracking.log_run("sft", params={"learning_rate": 1e-4, "per_device_train_batch_size": 8},
                             metrics={"exact_match": 0.9}, curves={"loss": [(1, 2.0), (2, 1.0), (3, 0.5)]},
                             artifacts=[adapter], tags={"notebook": "02"})
    second = tracking.log_run("dpo", params={"learning_rate": 2e-4, "beta": 0.1},
                              curves={"loss": [(1, 0.69), (2, 0.6)]})
    table = tracking.runs_table("test", store)
    assert list(table["run_name"]) == ["sft", "dpo"] and list(table["run_id"]) == [first, second]
    assert table.loc[0, "learning_rate"] == "0.0001"  # MLflow keeps parameters as text
    assert table.loc[0, "exact_match"] == pytest.approx(0.9)
    assert table.loc[0, "loss"] == pytest.approx(0.5)  # a curve's column holds its last value
    assert table.loc[1, "beta"] == "0.1" and table["per_device_train_batch_size"].isna()[1]
    history = tracking.metric_history(first, "loss")
    assert history["step"].tolist() == [1, 2, 3] and history["value"].tolist() == [2.0, 1.0, 0.5]
    assert tracking.artifact_files(first) == ["adapter/adapter_config.json"]
    assert (store / "artifacts").is_dir() and (store / tracking.DATABASE).is_file()


def test_bad_input_is_named(store):
    with pytest.raises(ValueError, match="'loss'.* both a final metric and a curve"):
        tracking.log_run("x", params={}, metrics={"loss": 1.0}, curves={"loss": [(1, 1.0)]})
    with pytest.raises(TypeError, match="metric 'accuracy' must be a number"):
        tracking.log_run("x", params={}, metrics={"accuracy": "high"})
    with pytest.raises(KeyError, match="no metric 'missing'"):
        run_id = tracking.runs_table("test", store)["run_id"].iloc[0]
        tracking.metric_history(run_id, "missing")


def test_ui_command_points_at_the_store(tmp_path):
    assert tracking.ui_command(tmp_path).startswith(f"mlflow ui --backend-store-uri sqlite:///{tmp_path}")


def test_store_folder_inverts_the_uri(tmp_path):
    assert tracking.store_folder(tracking.tracking_uri(tmp_path)) == tmp_path.resolve()
    with pytest.raises(ValueError, match="not a local store's URI"):
        tracking.store_folder("sqlite:////tmp/other.db")
    env = tracking.trainer_env(tmp_path, "lr_sweep", {"lesson": "10"})
    assert env["MLFLOW_EXPERIMENT_NAME"] == "lr_sweep" and json.loads(env["MLFLOW_TAGS"]) == {"lesson": "10"}


class StoreProbe(TrainerCallback):
    """Reads the store through a second client during training, after the trainer logged each step:
    ``seen[step]`` lists the steps of the loss history found there at that moment."""

    def __init__(self, uri: str):
        self.client, self.seen = MlflowClient(uri), {}

    def on_log(self, args, state, control, logs=None, **kwargs):
        import mlflow

        if "loss" not in (logs or {}):
            return
        run_id, deadline = mlflow.active_run().info.run_id, time.monotonic() + 20
        while True:  # the callback logs asynchronously: give its queue a moment to reach the database
            steps = [m.step for m in self.client.get_metric_history(run_id, "loss")]
            if state.global_step in steps or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.seen[state.global_step] = sorted(steps)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tokenizer):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny_model"), tokenizer)


@pytest.fixture(scope="module")
def trained_runs(store, tiny_folder, tmp_path_factory):
    """Two 2-step SFT runs of the script with --report_to mlflow, differing in the learning rate only."""
    out = tmp_path_factory.mktemp("tracked")
    probe = StoreProbe(tracking.tracking_uri(store))
    run_ids = {}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in tracking.trainer_env(store, "trainer", {"test": "two_rates"}).items():
            patch.setenv(key, value)
        for rate in ("1e-3", "5e-4"):
            log = train_sft.main(["--config", SFT_CONFIG, "--model_name_or_path", str(tiny_folder),
                                  "--max_steps", "2", "--per_device_train_batch_size", "2",
                                  "--report_to", "mlflow", "--learning_rate", rate,
                                  "--output_dir", str(out / f"lr_{rate}")],
                                 callbacks=(probe,) if rate == "1e-3" else ())
            run_ids[rate] = json.loads(log.read_text())["mlflow_run_id"]
    return run_ids, probe


def test_trainer_writes_metrics_during_training(trained_runs):
    run_ids, probe = trained_runs
    assert probe.seen == {1: [1], 2: [1, 2]}  # step 1's loss was in the store before step 2 ran
    history = tracking.metric_history(run_ids["1e-3"], "loss")
    assert history["step"].tolist() == [1, 2] and history["value"].notna().all()
    run = MlflowClient().get_run(run_ids["1e-3"])
    assert run.info.run_name == "lr_1e-3" and run.info.status == "FINISHED"  # named after output_dir
    assert run.data.params["learning_rate"] == "0.001" and run.data.params["global_batch"] == "2"
    assert run.data.tags["test"] == "two_rates" and run.data.tags["script"] == "train_sft.py"
    files = tracking.artifact_files(run_ids["1e-3"])
    assert {"sft.yaml", "training_log.json", "config.json"} <= set(files)


def test_two_runs_differ_in_exactly_the_changed_parameter(trained_runs, store):
    run_ids, _ = trained_runs
    newest_first = [run_ids["5e-4"], run_ids["1e-3"]]
    assert tracking.find_runs("trainer", store, tags={"test": "two_rates"}) == newest_first
    table = tracking.compare_params([run_ids["1e-3"], run_ids["5e-4"]])
    assert list(table.columns) == ["lr_1e-3", "lr_5e-4", "differs"]
    assert table.index[table["differs"]].tolist() == ["learning_rate"]
    assert table.loc["learning_rate", "lr_5e-4"] == "0.0005"
    assert len(table) > 100  # every TrainingArguments field and the model's config
    curves = tracking.metric_histories(list(run_ids.values()), "loss")
    assert curves.groupby("run")["step"].apply(list).to_dict() == {"lr_1e-3": [1, 2], "lr_5e-4": [1, 2]}
    files = tracking.artifacts_table(list(run_ids.values()))
    assert (files.groupby("run")["path"].apply(lambda p: "training_log.json" in set(p))).all()


def test_dpo_run_logs_its_adapter(store, tiny_folder, tmp_path, monkeypatch):
    for key, value in tracking.trainer_env(store, "trainer_dpo").items():
        monkeypatch.setenv(key, value)
    log = train_dpo.main(["--config", DPO_CONFIG, "--model_name_or_path", str(tiny_folder),
                          "--max_steps", "1", "--gradient_accumulation_steps", "1", "--report_to", "mlflow",
                          "--run_name", "dpo_try", "--output_dir", str(tmp_path / "dpo")])
    (run_id,) = tracking.find_runs("trainer_dpo", store, run_name="dpo_try")
    assert json.loads(log.read_text())["mlflow_run_id"] == run_id
    files = set(tracking.artifact_files(run_id))
    assert {"adapter_model.safetensors", "dpo.yaml", "training_log.json"} <= files
    assert tracking.metric_history(run_id, "rewards/accuracies")["step"].tolist() == [1]


def test_big_files_stay_out_of_the_store(store, tmp_path):
    tracking.use_local_store(store, experiment="test")
    run_id = tracking.log_run("outputs", params={})
    with open(tmp_path / "model.safetensors", "wb") as weights:  # a sparse file: no disk space used
        weights.truncate((tracking.ARTIFACT_LIMIT_MB + 1) * 2**20)
    (tmp_path / "training_log.json").write_text("{}")
    skipped = tracking.log_trainer_outputs(run_id, tmp_path, params={"n_train": 8})
    assert skipped == [f"model.safetensors ({tracking.ARTIFACT_LIMIT_MB + 1} MB)"]
    assert tracking.artifact_files(run_id) == ["training_log.json"]
    assert MlflowClient().get_run(run_id).data.tags["not_logged"] == skipped[0]


def test_comparisons_name_bad_input(store, tmp_path):
    tracking.use_local_store(store, experiment="test")
    run_id = tracking.runs_table("test", store)["run_id"].iloc[0]
    with pytest.raises(KeyError, match="no run 'not-a-run' in the store sqlite:///"):
        tracking.compare_params([run_id, "not-a-run"])
    with pytest.raises(ValueError, match="at least two run ids"):
        tracking.compare_params([run_id])
    with pytest.raises(ValueError, match="distinct run ids"):
        tracking.metric_histories([run_id, run_id], "loss")
    with pytest.raises(LookupError, match="no run in experiment 'empty'.*--report_to mlflow"):
        tracking.find_runs("empty", tmp_path / "empty_store")
    assert not os.environ.get("MLFLOW_RUN_ID")  # no run left attached for the next test
