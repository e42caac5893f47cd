"""The bookkeeping the course's experiment scripts share: resumable rows and one entry per invocation.

``scripts/sft_experiments.py``, ``preference_experiments.py``, ``rl_experiments.py`` and
``calibration_experiments.py`` take the same common options and write one
JSON row per finished run to ``runs.jsonl`` as soon as it finishes (a rerun reads the rows and skips
those runs) and, at the end, add an entry for the invocation to ``meta.json``: results can come
from several invocations and machines, and each says how it was made.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> append_row(out / "runs.jsonl", {"key": "a", "score": 1})
    >>> [row["key"] for row in read_rows(out / "runs.jsonl")], read_rows(out / "missing.jsonl")
    (['a'], [])
    >>> append_invocation(out, {"command": "python x.py"})
    >>> append_invocation(out, {"command": "python x.py --fast"})
    >>> len(json.loads((out / "meta.json").read_text())["invocations"])
    2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from utils.core import runtime
from utils.core.jsonl import read_jsonl

META_FILE = "meta.json"


def add_common_arguments(parser: argparse.ArgumentParser, name: str, budget: bool = True) -> None:
    """The options every experiment script takes: ``--out`` (default ``data/results/NAME``),
    ``--model``, ``--fast`` and, where runs can be many, ``--budget-minutes``."""
    default_out = runtime.REPO_ROOT / "data" / "results" / name
    parser.add_argument("--out", default=str(default_out), help="folder of runs.jsonl and meta.json")
    parser.add_argument("--model", default=None, help="base model: None = bundled SmolLM2-135M-Instruct")
    if budget:
        parser.add_argument("--budget-minutes", type=float, default=None, help="start no run after this long")
    parser.add_argument("--fast", action="store_true", help="tiny sizes and steps: the test suite's run")


def read_rows(rows_path: str | Path) -> list[dict]:
    """The rows of ``runs.jsonl`` written so far (none when the file does not exist yet)."""
    return read_jsonl(rows_path) if Path(rows_path).exists() else []


def append_row(rows_path: str | Path, row: dict) -> None:
    """Add one finished run's row, at once: a stopped invocation keeps every run it finished."""
    with open(rows_path, "a") as handle:
        handle.write(json.dumps(row) + "\n")


def append_invocation(out: str | Path, meta: dict) -> None:
    """Add this invocation's entry (command, minutes, hardware...) to ``meta.json`` in ``out``."""
    meta_path = Path(out) / META_FILE
    runs = json.loads(meta_path.read_text())["invocations"] if meta_path.exists() else []
    meta_path.write_text(json.dumps({"invocations": runs + [meta]}, indent=1) + "\n")


def hardware() -> str:
    """The machine a run used: the GPU's description, or this CPU with its torch thread count."""
    if runtime.pick_device() == "cuda":
        return runtime.describe_device()
    import torch

    from utils.maintenance.notebook_runner import hardware as this_machine

    return f"{this_machine()}, torch threads {torch.get_num_threads()}"
