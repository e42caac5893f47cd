"""Experiment tracking with MLflow in a local store that needs no server: a SQLite file and an
artifact folder under ``runs/mlruns/``. Log a run's parameters, final metrics, per-step curves and
files; read the runs back as a pandas table.

Example:
    >>> import tempfile
    >>> from utils.production import tracking
    >>> store = tracking.use_local_store(tempfile.mkdtemp(), experiment="demo")
    >>> run_id = tracking.log_run("sft", params={"learning_rate": 1e-4}, metrics={"loss": 0.3},
    ...                           curves={"train_loss": [(1, 1.2), (2, 0.3)]})
    >>> tracking.runs_table("demo", store)[["run_name", "learning_rate", "loss"]]
      run_name learning_rate  loss
    0      sft        0.0001   0.3
    >>> tracking.metric_history(run_id, "train_loss")["value"].tolist()
    [1.2, 0.3]
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from utils.core.runtime import REPO_ROOT

STORE_DIR = REPO_ROOT / "runs" / "mlruns"
DATABASE = "mlflow.db"


def tracking_uri(folder: str | Path = STORE_DIR) -> str:
    """The SQLite tracking URI of a store folder, e.g. ``sqlite:////abs/runs/mlruns/mlflow.db``."""
    return f"sqlite:///{Path(folder).resolve() / DATABASE}"


def ui_command(folder: str | Path = STORE_DIR) -> str:
    """The shell command that opens MLflow's web UI on this store (http://127.0.0.1:5000)."""
    return f"mlflow ui --backend-store-uri {tracking_uri(folder)} --host 127.0.0.1 --port 5000"


def use_local_store(folder: str | Path = STORE_DIR, experiment: str = "course") -> Path:
    """Point MLflow at the store in ``folder`` (created on first use, which takes a few seconds)
    and make ``experiment`` the active one, its files kept in ``folder/artifacts/``."""
    import mlflow

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri(folder))
    if mlflow.get_experiment_by_name(experiment) is None:
        # without an explicit location, artifacts would land in ./mlruns of the current directory
        mlflow.create_experiment(experiment, artifact_location=(folder / "artifacts" / experiment).as_uri())
    mlflow.set_experiment(experiment)
    return folder


def log_run(name: str, params: Mapping, metrics: Mapping[str, float] | None = None,
            curves: Mapping[str, Iterable[tuple[int, float]]] | None = None,
            artifacts: Iterable[str | Path] = (), tags: Mapping[str, str] | None = None) -> str:
    """Log one finished run to the active experiment and return its run id.

    ``params`` are the settings (MLflow stores them as strings); ``metrics`` the final numbers;
    ``curves`` maps a metric name to ``(step, value)`` pairs, e.g. the training loss per step;
    ``artifacts`` are files or folders copied into the store (a folder keeps its name). A curve and
    a final metric may not share a name (the table shows a curve's last value).
    """
    import mlflow
    from mlflow.entities import Metric

    overlap = set(metrics or {}) & set(curves or {})
    if overlap:
        raise ValueError(f"{sorted(overlap)} named both a final metric and a curve; name the final one "
                         "differently, e.g. 'final_loss'")
    for key, value in (metrics or {}).items():
        if not isinstance(value, (int, float)):
            raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}; "
                            "put text in params or tags instead")
    with mlflow.start_run(run_name=name, tags=dict(tags or {})) as run:
        mlflow.log_params({key: _param_text(value) for key, value in params.items()})
        now = int(time.time() * 1000)
        points = [Metric(key, float(value), now, int(step))
                  for key, pairs in (curves or {}).items() for step, value in pairs]
        points += [Metric(key, float(value), now, 0) for key, value in (metrics or {}).items()]
        for start in range(0, len(points), 1000):  # MLflow takes at most 1000 metrics per batch
            mlflow.tracking.MlflowClient().log_batch(run.info.run_id, metrics=points[start:start + 1000])
        for path in artifacts:
            path = Path(path)
            if not path.exists():
                raise FileNotFoundError(f"artifact {path} does not exist; log files that the run wrote")
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path=path.name)
            else:
                mlflow.log_artifact(str(path))
        return run.info.run_id


def _param_text(value) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."  # MLflow's limit on a parameter value


def runs_table(experiment: str = "course", folder: str | Path = STORE_DIR) -> pd.DataFrame:
    """Every run of ``experiment`` as one row: run name and id, its parameters and final metrics
    as columns (the ``params.``/``metrics.`` prefixes dropped), oldest first."""
    import mlflow

    use_local_store(folder, experiment)
    runs = mlflow.search_runs(experiment_names=[experiment], order_by=["attributes.start_time ASC"])
    if runs.empty:
        return pd.DataFrame(columns=["run_name", "run_id"])
    runs = runs.rename(columns={"tags.mlflow.runName": "run_name"})
    keep = ["run_name", "run_id"] + [c for c in runs.columns if c.startswith(("params.", "metrics."))]
    table = runs[keep].copy()
    table.columns = [c.split(".", 1)[-1] for c in keep]
    return table


def metric_history(run_id: str, key: str) -> pd.DataFrame:
    """One metric of one run, every logged step: columns ``step`` and ``value``."""
    import mlflow

    history = mlflow.tracking.MlflowClient().get_metric_history(run_id, key)
    if not history:
        raise KeyError(f"run {run_id} has no metric {key!r}; logged curves are listed in runs_table()")
    return pd.DataFrame([(m.step, m.value) for m in history], columns=["step", "value"]).sort_values("step")


def artifact_files(run_id: str) -> list[str]:
    """Paths of the files logged with a run, relative to its artifact folder."""
    import mlflow

    client = mlflow.tracking.MlflowClient()

    def walk(path: str | None) -> list[str]:
        files = []
        for item in client.list_artifacts(run_id, path):
            files += walk(item.path) if item.is_dir else [item.path]
        return files

    return sorted(walk(None))
