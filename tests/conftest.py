"""Shared fixtures: each notebook is executed once per test session, in fast mode, and every
test that needs it reads the same run (its pass/fail and the numbers it recorded)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from utils.core.models import ensure_bundled_cache
from utils.core.runtime import PRECISION_ENV, RESULTS_ENV
from utils.maintenance.notebook_runner import RunResult, execute_notebook, list_notebooks


class NotebookRun:
    def __init__(self, result: RunResult, results: dict):
        self.result = result
        self.results = results


@pytest.fixture
def float32(monkeypatch):
    """Scoring and generation in float32 (COURSE_PRECISION=fp32) for one test: for checks that a
    batched result equals one-by-one passes to 1e-5, or that lean on a random model's greedy path."""
    monkeypatch.setenv(PRECISION_ENV, "fp32")


@pytest.fixture(scope="session")
def tokenizer():
    """The bundled SmolLM2's tokenizer, loaded once for every unit test that needs real tokens."""
    return AutoTokenizer.from_pretrained(ensure_bundled_cache(quiet=True))


@pytest.fixture(scope="session")
def tiny_llama_dir(tokenizer, tmp_path_factory):
    """A 2-layer random Llama saved with the course tokenizer, so load_model(folder) reads it: the
    scripts' tests train it in seconds where the bundled model would take minutes."""
    from tiny_models import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny_llama"), tokenizer, hidden_size=32,
                           max_positions=256)


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory):
    """``notebook_runs("01")`` executes notebooks/01_*.ipynb in fast mode once and caches it."""
    cache: dict[str, NotebookRun] = {}
    results_dir = tmp_path_factory.mktemp("notebook_results")
    out_dir = tmp_path_factory.mktemp("executed_notebooks")

    def run(prefix: str) -> NotebookRun:
        (path,) = list_notebooks([prefix])
        if path.stem not in cache:
            previous = os.environ.get(RESULTS_ENV)
            os.environ[RESULTS_ENV] = str(results_dir)
            try:
                result = execute_notebook(path, fast=True, write_to=out_dir / path.name,
                                          progress=False)
            finally:
                if previous is None:
                    os.environ.pop(RESULTS_ENV, None)
                else:
                    os.environ[RESULTS_ENV] = previous
            recorded = results_dir / f"{path.stem}.json"
            results = json.loads(recorded.read_text()) if recorded.exists() else {}
            cache[path.stem] = NotebookRun(result, results)
        return cache[path.stem]

    return run


def notebook_ids() -> list[str]:
    return [p.stem for p in list_notebooks()]


NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
