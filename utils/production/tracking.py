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
    >>> other = tracking.log_run("sft", params={"learning_rate": 2e-5}, curves={"train_loss": [(1, 1.5)]})
    >>> tracking.compare_params([run_id, other])
                  sft (...)  sft (...)  differs
    parameter
    learning_rate    0.0001      2e-05     True
    >>> tracking.metric_histories([run_id, other], "train_loss")["step"].tolist()
    [1, 2, 1]

A trainer fills the same store while it trains: ``scripts/train_sft.py --report_to mlflow`` (and
``train_dpo.py``) hand it to transformers' ``MLflowCallback`` through ``use_trainer_store``, which
reads the callback's own environment variables (``trainer_env`` writes them). ``compare_params``,
``metric_histories`` and ``artifacts_table`` then put several runs side by side.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from utils.core.runtime import REPO_ROOT

STORE_DIR = REPO_ROOT / "runs" / "mlruns"
DATABASE = "mlflow.db"
EXPERIMENT = "course"  # the experiment when MLFLOW_EXPERIMENT_NAME is unset
RUN_IDENTITY = ("output_dir", "run_name", "logging_dir")  # parameters that name a run, not configure it
ARTIFACT_LIMIT_MB = 50  # bigger files (a full model's weights) stay in output_dir, not in the store


def tracking_uri(folder: str | Path = STORE_DIR) -> str:
    """The SQLite tracking URI of a store folder, e.g. ``sqlite:////abs/runs/mlruns/mlflow.db``."""
    return f"sqlite:///{Path(folder).resolve() / DATABASE}"


def store_folder(uri: str) -> Path:
    """The store folder of a local tracking URI, the inverse of ``tracking_uri``.

    >>> store_folder("sqlite:////tmp/store/mlflow.db")
    PosixPath('/tmp/store')
    """
    path = Path(uri.removeprefix("sqlite:///"))
    if not uri.startswith("sqlite:///") or path.name != DATABASE:
        raise ValueError(f"{uri!r} is not a local store's URI; make one with tracking.tracking_uri(folder), "
                         f"which ends in /{DATABASE}")
    return path.parent


def ui_command(folder: str | Path = STORE_DIR) -> str:
    """The shell command that opens MLflow's web UI on this store (http://127.0.0.1:5000)."""
    return f"mlflow ui --backend-store-uri {tracking_uri(folder)} --host 127.0.0.1 --port 5000"


def use_local_store(folder: str | Path = STORE_DIR, experiment: str = EXPERIMENT) -> Path:
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


def trainer_env(folder: str | Path = STORE_DIR, experiment: str = EXPERIMENT,
                tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables that send a ``--report_to mlflow`` training run to this store,
    read by transformers' ``MLflowCallback`` (the tags land on the run).

    >>> trainer_env("/tmp/store", "demo", {"lesson": "10"})["MLFLOW_TAGS"]
    '{"lesson": "10"}'
    """
    env = {"MLFLOW_TRACKING_URI": tracking_uri(folder), "MLFLOW_EXPERIMENT_NAME": experiment}
    return {**env, "MLFLOW_TAGS": json.dumps(dict(tags))} if tags else env


def use_trainer_store(default_folder: str | Path = STORE_DIR) -> str:
    """Before a trainer with ``report_to: mlflow`` starts: open the store ``MLFLOW_TRACKING_URI`` names
    (default: ``default_folder``) with experiment ``MLFLOW_EXPERIMENT_NAME`` (default ``course``), so
    the callback finds both, and its files go to the store's folder. Returns the tracking URI.
    Example: ``scripts/train_sft.py`` calls ``use_trainer_store()`` when ``report_to`` names mlflow.
    """
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI") or tracking_uri(default_folder)
    if uri.startswith(("http://", "https://", "databricks")):
        mlflow.set_tracking_uri(uri)  # a tracking server keeps its own artifact store
        return uri
    use_local_store(store_folder(uri), os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT)
    return tracking_uri(store_folder(uri))


def log_trainer_outputs(run_id: str, output_dir: str | Path, extra_files: Iterable[str | Path] = (),
                        params: Mapping | None = None, tags: Mapping[str, str] | None = None) -> list[str]:
    """After training: add to the trainer's run the files of ``output_dir`` (up to ARTIFACT_LIMIT_MB
    each: the adapter, ``training_log.json``, the tokenizer), ``extra_files`` (the YAML config),
    ``params`` the trainer does not know (the data file) and ``tags``. Returns the skipped files'
    names (a full model's weights), also kept as the tag ``not_logged``.
    """
    from mlflow.entities import Param, RunTag

    client = _client_for(run_id)
    skipped = []
    for path in sorted(Path(output_dir).iterdir()):
        if path.is_file() and path.stat().st_size > ARTIFACT_LIMIT_MB * 2**20:
            skipped.append(f"{path.name} ({path.stat().st_size / 2**20:.0f} MB)")
        elif path.is_file():
            client.log_artifact(run_id, str(path))
    for path in map(Path, extra_files):
        if not path.is_file():
            raise FileNotFoundError(f"extra artifact {path} does not exist; pass files the run used")
        client.log_artifact(run_id, str(path))
    tags = {**(tags or {}), "output_dir": str(output_dir)}
    if skipped:
        tags["not_logged"] = ", ".join(skipped)
    client.log_batch(run_id, params=[Param(k, _param_text(v)) for k, v in (params or {}).items()],
                     tags=[RunTag(k, str(v)) for k, v in tags.items()])
    return skipped


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


def runs_table(experiment: str = EXPERIMENT, folder: str | Path = STORE_DIR) -> pd.DataFrame:
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
    history = _client_for(run_id).get_metric_history(run_id, key)
    if not history:
        raise KeyError(f"run {run_id} has no metric {key!r}; logged curves are listed in runs_table()")
    return pd.DataFrame([(m.step, m.value) for m in history], columns=["step", "value"]).sort_values("step")


def artifact_files(run_id: str) -> list[str]:
    """Paths of the files logged with a run, relative to its artifact folder."""
    return sorted(item.path for item in _artifact_infos(run_id))


def _artifact_infos(run_id: str) -> list:
    """MLflow's ``FileInfo`` (path, size) of every file of a run, folders walked."""
    client = _client_for(run_id)
    found, pending = [], [None]
    while pending:
        for item in client.list_artifacts(run_id, pending.pop()):
            if item.is_dir:
                pending.append(item.path)
            else:
                found.append(item)
    return found


def _client_for(run_id: str):
    """An MlflowClient of the current store that holds ``run_id``, or a KeyError saying where it looked."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.tracking.MlflowClient()
    try:
        client.get_run(run_id)
    except MlflowException as error:
        raise KeyError(f"no run {run_id!r} in the store {mlflow.get_tracking_uri()}; point MLflow at the "
                       "right store with tracking.use_local_store(folder) and list its runs with runs_table()"
                       ) from error
    return client


def find_runs(experiment: str = EXPERIMENT, folder: str | Path = STORE_DIR, run_name: str | None = None,
              tags: Mapping[str, str] | None = None) -> list[str]:
    """Ids of the runs of ``experiment`` with this name and these tags, newest first; LookupError if none.
    Example: ``find_runs("10_from_notebook_to_production", tags={"lesson": "10"})[:2]``.
    """
    import mlflow

    use_local_store(folder, experiment)
    conditions = [f"tags.mlflow.runName = '{run_name}'"] if run_name else []
    conditions += [f"tags.`{key}` = '{value}'" for key, value in (tags or {}).items()]
    runs = mlflow.search_runs(experiment_names=[experiment], filter_string=" and ".join(conditions),
                              order_by=["attributes.start_time DESC"])
    if runs.empty:
        raise LookupError(f"no run in experiment {experiment!r} of {tracking_uri(folder)} matches name "
                          f"{run_name!r} and tags {dict(tags or {})}; train with --report_to mlflow first "
                          "(tracking.trainer_env gives the environment), or list the runs with runs_table()")
    return runs["run_id"].tolist()


def _labels(run_ids: Sequence[str]) -> dict[str, str]:
    """Each run's name, with the start of its id where two runs share a name."""
    if len(run_ids) < 1 or len(set(run_ids)) != len(run_ids):
        raise ValueError(f"give distinct run ids, got {list(run_ids)}; find them with find_runs()")
    names = {run_id: _client_for(run_id).get_run(run_id).info.run_name for run_id in run_ids}
    shared = {name for name in names.values() if list(names.values()).count(name) > 1}
    return {run_id: f"{name} ({run_id[:6]})" if name in shared else name for run_id, name in names.items()}


def compare_params(run_ids: Sequence[str], ignore: Iterable[str] = RUN_IDENTITY) -> pd.DataFrame:
    """The parameters of several runs side by side: one row per parameter, one column per run (its
    name), and ``differs`` True where the values differ (a parameter one run lacks differs too).
    ``ignore`` drops parameters that name a run rather than configure it (its output folder).
    Example (run in the module docstring): ``compare_params([first, second]).query("differs")``.
    """
    if len(run_ids) < 2:
        raise ValueError(f"compare_params needs at least two run ids, got {list(run_ids)}")
    labels = _labels(run_ids)
    params = {labels[run_id]: _client_for(run_id).get_run(run_id).data.params for run_id in run_ids}
    table = pd.DataFrame(params)
    table = table.drop(index=[key for key in ignore if key in table.index]).sort_index()
    table["differs"] = table.nunique(axis=1, dropna=False) > 1
    table.index.name = "parameter"
    return table


def metric_histories(run_ids: Sequence[str], key: str = "loss") -> pd.DataFrame:
    """One metric of several runs as a long table (``run``, ``run_id``, ``step``, ``value``), ready for
    ``sns.lineplot(data=..., x="step", y="value", hue="run")``. Example (run in the module
    docstring): ``metric_histories([first, second], "train_loss")``.
    """
    labels = _labels(run_ids)
    return pd.concat([metric_history(run_id, key).assign(run=labels[run_id], run_id=run_id)
                      for run_id in run_ids], ignore_index=True)[["run", "run_id", "step", "value"]]


def artifacts_table(run_ids: Sequence[str]) -> pd.DataFrame:
    """The files stored with several runs: ``run``, ``path`` and ``MB``, one row per file.
    Example: ``artifacts_table([first, second]).groupby("run")["MB"].sum()``.
    """
    labels = _labels(run_ids)
    rows = [{"run": labels[run_id], "path": item.path, "MB": (item.file_size or 0) / 2**20}
            for run_id in run_ids for item in _artifact_infos(run_id)]
    return pd.DataFrame(rows, columns=["run", "path", "MB"]).sort_values(["run", "path"], ignore_index=True)
