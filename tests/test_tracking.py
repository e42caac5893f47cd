"""utils.production.tracking: runs logged to a local MLflow store (SQLite, no server) read back intact."""

import pytest

from utils.production import tracking


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlruns")
    tracking.use_local_store(folder, experiment="test")
    return folder


def test_log_and_read_back(store, tmp_path):
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
