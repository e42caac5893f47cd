"""Export a fine-tuned model to GGUF, the file format of llama.cpp and Ollama, and run it back.

The steps: ``plain_model_folder`` turns what a run saved (a full model folder, or a LoRA adapter
merged into its base with PEFT's ``merge_and_unload``) into one ``save_pretrained`` folder;
``convert_to_gguf`` runs llama.cpp's own converter (``convert_hf_to_gguf.py``) on it in a
subprocess; ``load_gguf`` reads the file back with transformers' GGUF loader (which de-quantises
to float32) and ``load_llama_cpp`` with ``llama-cpp-python`` (which runs the quantised weights),
when that package is installed. ``ollama_modelfile`` writes the Modelfile that would serve it.

The converter is not on PyPI by itself; the llama-cpp-python source archive vendors it.
``ensure_converter`` extracts it from that archive into the course cache once (fetching the
archive with ``pip download`` when it is not there).

Example:
    >>> convert_command("runs/merged", "model-q8_0.gguf", "q8_0", Path("llama.cpp"))[1:]
    ['llama.cpp/convert_hf_to_gguf.py', 'runs/merged', '--outfile', 'model-q8_0.gguf', '--outtype', 'q8_0']
    >>> print(ollama_modelfile("model-q8_0.gguf").splitlines()[0])
    FROM ./model-q8_0.gguf
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import torch

from utils.core.model_modes import eval_mode
from utils.core.models import _quiet_progress, atomic_folder, cache_root, load_model
from utils.generation.batched import chat_batch

LLAMA_CPP_VERSION = "0.3.36"  # llama-cpp-python release whose source archive vendors the converter
CONVERTER = "convert_hf_to_gguf.py"
CONVERTER_PARTS = (CONVERTER, "conversion", "gguf-py")  # what the converter needs from vendor/llama.cpp
OUTTYPES = ("f32", "f16", "bf16", "q8_0")  # the converter's own --outtype choices we support
STDERR_LINES = 15  # lines of the converter's output quoted in an error
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"  # SmolLM2's template


class ConverterNotAvailableError(RuntimeError):
    """llama.cpp's converter is not in the cache and could not be fetched; the message says how."""


class ConversionError(RuntimeError):
    """The converter ran and failed; the message quotes the end of its output."""


def converter_dir(version: str = LLAMA_CPP_VERSION) -> Path:
    """Where the extracted converter lives: ``<course cache>/llama.cpp-convert-<version>``.

    Example:
        >>> converter_dir("0.3.36").name
        'llama.cpp-convert-0.3.36'
    """
    return cache_root() / f"llama.cpp-convert-{version}"


def sdist_name(version: str = LLAMA_CPP_VERSION) -> str:
    """The file name ``pip download`` gives the source archive.

    Example:
        >>> sdist_name("0.3.36")
        'llama_cpp_python-0.3.36.tar.gz'
    """
    return f"llama_cpp_python-{version}.tar.gz"


def ensure_converter(version: str = LLAMA_CPP_VERSION, sdist: str | Path | None = None) -> Path:
    """The folder holding ``convert_hf_to_gguf.py`` (and its ``conversion`` and ``gguf-py``),
    extracted once from the llama-cpp-python source archive: ``sdist`` if given, else one in
    ``<course cache>/downloads``, else one fetched there with ``pip download``.

    Example:
        >>> ensure_converter().joinpath(CONVERTER).is_file()  # doctest: +SKIP
        True
    """
    folder = converter_dir(version)
    if all((folder / part).exists() for part in CONVERTER_PARTS):
        return folder
    archive = Path(sdist) if sdist else cache_root() / "downloads" / sdist_name(version)
    if sdist and not archive.is_file():
        raise ConverterNotAvailableError(f"{archive} does not exist; pass the path of {sdist_name(version)}.")
    if archive.is_file():
        return extract_converter(archive, folder)
    archive = download_sdist(version, archive.parent)
    extract_converter(archive, folder)
    archive.unlink()  # 76 MB of which the converter needs 3
    return folder


def download_sdist(version: str, dest: Path) -> Path:
    """``pip download`` the llama-cpp-python source archive (about 76 MB) into ``dest``.

    Example:
        >>> download_sdist("0.3.36", cache_root() / "downloads").name  # doctest: +SKIP
        'llama_cpp_python-0.3.36.tar.gz'
    """
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               f"llama-cpp-python=={version}", "--dest", str(dest)]
    done = subprocess.run(command, capture_output=True, text=True)
    archive = dest / sdist_name(version)
    if done.returncode != 0 or not archive.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-STDERR_LINES:])
        raise ConverterNotAvailableError(
            f"llama.cpp's converter is not in the course cache and `{' '.join(command[2:])}` failed "
            f"(exit code {done.returncode}). Online, check the network and rerun. Offline, fetch "
            f"{sdist_name(version)} on a machine with a network (`pip download --no-deps --no-binary "
            f":all: llama-cpp-python=={version}`) and copy it to {dest}/ (or pass sdist=its path).\n"
            f"pip said:\n{tail}")
    return archive


def extract_converter(archive: Path, folder: Path) -> Path:
    """Extract only the converter's parts of ``vendor/llama.cpp`` from ``archive`` into ``folder``
    (into a temporary sibling first, so an interrupted extraction leaves nothing half-written).

    Example:
        >>> extract_converter(Path("llama_cpp_python-0.3.36.tar.gz"), converter_dir())  # doctest: +SKIP
        PosixPath('/root/.cache/llm-fine-tuning-course/llama.cpp-convert-0.3.36')
    """
    with atomic_folder(folder) as tmp:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if _converter_part(m.name) and (m.isfile() or m.isdir())]
            for member in members:
                member.name = _converter_part(member.name)
            tar.extractall(tmp, members=members, filter="data")
        missing = [part for part in CONVERTER_PARTS if not (tmp / part).exists()]
        if missing:
            raise ConverterNotAvailableError(
                f"{archive} has no vendor/llama.cpp/{', '.join(missing)}; it is not a llama-cpp-python "
                "source archive. Delete it and let ensure_converter() fetch the right one.")
    return folder


def _converter_part(name: str) -> str | None:
    """The path of a converter part inside the archive's vendor/llama.cpp; None if not a part.

    Example:
        >>> _converter_part("llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py/gguf/vocab.py")
        'gguf-py/gguf/vocab.py'
    """
    _, sep, inside = name.partition("/vendor/llama.cpp/")
    if sep and inside.split("/", 1)[0] in CONVERTER_PARTS:
        return inside
    return None


def plain_model_folder(source: str | Path, merged_dir: str | Path, base: str | Path | None = None) -> Path:
    """A ``save_pretrained`` folder the converter can read: ``source`` itself when it holds a full
    model, or, when it holds a LoRA adapter, the adapter merged into ``base`` and saved in ``merged_dir``.

    Example:
        >>> plain_model_folder("runs/10_production/sft_model", "runs/merged")  # doctest: +SKIP
        PosixPath('runs/10_production/sft_model')
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a folder; pass the output_dir of a training run (a full "
                                "model with config.json, or a LoRA adapter with adapter_config.json).")
    if (source / "config.json").is_file():
        return source
    if (source / "adapter_config.json").is_file():
        return merge_adapter(source, merged_dir, base)
    raise FileNotFoundError(f"{source} holds neither config.json (a full model) nor adapter_config.json "
                            "(a LoRA adapter); pass the folder a training run saved.")


def adapter_base(adapter_dir: Path, base: str | Path | None) -> str:
    """The base model of an adapter: ``base`` if given, else the folder its config recorded.

    Example:
        >>> adapter_base(Path("runs/10_production/dpo_adapter"), base="runs/base")
        'runs/base'
    """
    if base is not None:
        return str(base)
    recorded = json.loads((adapter_dir / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not recorded or not Path(recorded).is_dir():
        raise FileNotFoundError(
            f"{adapter_dir} is a LoRA adapter and its base model ({recorded or 'not recorded'}) is not a "
            "folder here; pass base= the model it was trained on, e.g. "
            "base=utils.core.models.ensure_bundled_cache() for the bundled SmolLM2.")
    return recorded


def merge_adapter(adapter_dir: str | Path, merged_dir: str | Path, base: str | Path | None = None) -> Path:
    """Fold a LoRA adapter into its base model's weights (W + B A x alpha / r, in float32) with
    PEFT's ``merge_and_unload`` and save a plain model folder, tokenizer included.

    Example:
        >>> merge_adapter("runs/10_production/dpo_adapter", "runs/10_production/dpo_merged")  # doctest: +SKIP
        PosixPath('runs/10_production/dpo_merged')
    """
    from peft import PeftModel

    adapter_dir, merged_dir = Path(adapter_dir), Path(merged_dir)
    base_model, tokenizer = load_model(adapter_base(adapter_dir, base), device="cpu", dtype=torch.float32,
                                       quiet=True)
    merged = PeftModel.from_pretrained(base_model, adapter_dir).merge_and_unload()
    merged.save_pretrained(merged_dir)
    tokenizer.save_pretrained(merged_dir)  # the base's tokenizer and chat template: LoRA does not change them
    return merged_dir


def check_outtype(outtype: str) -> str:
    """``outtype`` if the converter writes it, else a ValueError listing the choices.

    Example:
        >>> check_outtype("q8_0")
        'q8_0'
    """
    if outtype not in OUTTYPES:
        raise ValueError(f"outtype must be one of {', '.join(OUTTYPES)} (llama.cpp's converter types), "
                         f"got {outtype!r}; for 4-bit types quantise the f16 file with llama-quantize.")
    return outtype


def convert_command(model_dir: str | Path, outfile: str | Path, outtype: str, converter: Path) -> list[str]:
    """The converter's command line, run with this Python (so it uses this environment's torch).

    Example:
        >>> convert_command("merged", "model-f16.gguf", "f16", Path("conv"))[-2:]
        ['--outtype', 'f16']
    """
    return [sys.executable, str(converter / CONVERTER), str(model_dir), "--outfile", str(outfile),
            "--outtype", check_outtype(outtype)]


def convert_to_gguf(model_dir: str | Path, out_dir: str | Path, outtype: str = "f16",
                    converter: Path | None = None, timeout: float = 1800) -> Path:
    """Convert a ``save_pretrained`` folder to ``out_dir/model-<outtype>.gguf`` with llama.cpp's
    converter (fetched by ``ensure_converter`` unless given); return the file's path.

    Example:
        >>> convert_to_gguf("runs/10_production/sft_model", "runs/gguf", "q8_0")  # doctest: +SKIP
        PosixPath('runs/gguf/model-q8_0.gguf')
    """
    model_dir, outfile = Path(model_dir), Path(out_dir) / f"model-{check_outtype(outtype)}.gguf"
    if not (model_dir / "config.json").is_file():
        hint = (" It is a LoRA adapter: merge it first with plain_model_folder(adapter, merged_dir, base)."
                if (model_dir / "adapter_config.json").is_file() else "")
        raise FileNotFoundError(f"{model_dir / 'config.json'} is missing, so {model_dir} is not a model "
                                f"folder written by save_pretrained.{hint}")
    converter = converter or ensure_converter()
    outfile.parent.mkdir(parents=True, exist_ok=True)
    python_path = os.pathsep.join([str(converter / "gguf-py"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": python_path,  # its own gguf-py first: it needs that version
           "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(convert_command(model_dir, outfile, outtype, converter), capture_output=True,
                          text=True, env=env, timeout=timeout)
    if done.returncode != 0 or not outfile.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-STDERR_LINES:])
        raise ConversionError(f"llama.cpp's converter failed on {model_dir} (exit code {done.returncode}). "
                              f"Last lines of its output:\n{tail}")
    return outfile


def load_gguf(path: str | Path, tokenizer=None):
    """``(model, tokenizer)`` read from a GGUF file by transformers (weights de-quantised to
    float32, tokenizer and chat template from the file's metadata), in eval mode on the CPU.
    Pass ``tokenizer`` (e.g. one read from another export of the same model) to skip rebuilding
    it from the file's vocabulary, which takes about 10 s for SmolLM2's 49,152 tokens.

    Example:
        >>> model, tokenizer = load_gguf("runs/10_production/gguf/model-q8_0.gguf")  # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; write it with "
                                "convert_to_gguf(model_dir, out_dir, outtype).")
    # transformers draws its de-quantising bar with a bare tqdm that no setting turns off: pass it by
    with _quiet_progress(), mock.patch.object(gguf_utils, "tqdm", lambda items, **_: items):
        tokenizer = tokenizer or AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return model.eval(), tokenizer


@dataclass
class GreedyRun:
    """Greedy answers to a list of chat prompts, with the new tokens counted and the time taken.

    Example:
        >>> GreedyRun(["Paris."], new_tokens=3, seconds=0.5).tokens_per_second
        6.0
    """

    answers: list[str]
    new_tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else float("nan")


def check_prompts(prompts: list[list[dict]]) -> list[list[dict]]:
    """``prompts`` if it is a non-empty list of chat prompts (lists of role/content turns).

    Example:
        >>> len(check_prompts([[{"role": "user", "content": "Hi"}]]))
        1
    """
    if not prompts or not all(isinstance(p, list) and p and "content" in p[0] for p in prompts):
        raise ValueError("prompts must be a non-empty list of chat prompts, each a list of "
                         '{"role": ..., "content": ...} turns, e.g. '
                         "[sft_data.prompt_messages(r) for r in records].")
    return prompts


def greedy_answers(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int = 32,
                   autocast: bool = False) -> GreedyRun:
    """Greedy answers from a transformers model, one prompt at a time (as a chat client sends them),
    in float32 unless ``autocast``; ``new_tokens`` leaves out the end-of-turn token. One untimed
    one-token answer warms the model up first.

    Example:
        >>> from utils.core.models import load_model
        >>> model, tokenizer = load_model(quiet=True)
        >>> prompt = [{"role": "user", "content": "What is the capital of France?"}]
        >>> run = greedy_answers(model, tokenizer, [prompt], 12)
        >>> "Paris" in run.answers[0], run.new_tokens <= 12  # "The capital of France is Paris."
        (True, True)
    """
    answers, new_tokens = [], 0
    with eval_mode(model, autocast=autocast):
        warm_up = chat_batch(tokenizer, check_prompts(prompts)[:1], model.device)
        model.generate(**warm_up, max_new_tokens=1, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        start = time.perf_counter()
        for prompt in prompts:
            batch = chat_batch(tokenizer, [prompt], model.device)
            output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)[0, batch["input_ids"].shape[1]:]
            new_tokens += int((output != tokenizer.eos_token_id).sum())
            answers.append(tokenizer.decode(output, skip_special_tokens=True))
    return GreedyRun(answers, new_tokens, time.perf_counter() - start)


def llama_cpp_available() -> bool:
    """True when ``llama-cpp-python`` is installed (it builds llama.cpp from source on install).

    Example:
        >>> llama_cpp_available() in (True, False)
        True
    """
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def load_llama_cpp(path: str | Path, n_ctx: int = 1024, n_threads: int | None = None):
    """A ``llama_cpp.Llama`` for the GGUF file, quiet, on ``n_threads`` CPU threads (torch's by default).
    Call its ``close()`` when done: left to the finaliser at interpreter exit, it can raise.

    Example:
        >>> llm = load_llama_cpp("runs/10_production/gguf/model-q8_0.gguf")  # doctest: +SKIP
    """
    if not llama_cpp_available():
        raise ModuleNotFoundError("llama-cpp-python is not installed; `pip install llama-cpp-python` builds "
                                  "it from source (needs cmake and a C++ compiler); or use load_gguf().")
    from llama_cpp import Llama

    threads = n_threads or torch.get_num_threads()
    return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)


def llama_cpp_answers(llm, prompts: list[list[dict]], max_new_tokens: int = 32) -> GreedyRun:
    """Greedy answers from llama.cpp through its chat API (the chat template stored in the GGUF),
    after an untimed warm-up request (the first one takes seconds).

    Example:
        >>> prompts = [[{"role": "user", "content": "Capital of France?"}]]
        >>> llama_cpp_answers(llm, prompts).answers  # doctest: +SKIP
        ['The capital of France is Paris.']
    """
    check_prompts(prompts)
    llm.create_chat_completion(messages=prompts[0], max_tokens=1, temperature=0.0)  # warm-up, untimed
    answers, new_tokens, start = [], 0, time.perf_counter()
    for prompt in prompts:
        reply = llm.create_chat_completion(messages=prompt, max_tokens=max_new_tokens, temperature=0.0)
        answers.append(reply["choices"][0]["message"]["content"])
        new_tokens += reply["usage"]["completion_tokens"]
    return GreedyRun(answers, new_tokens, time.perf_counter() - start)


def ollama_modelfile(gguf_file: str, system: str = DEFAULT_SYSTEM, temperature: float = 0.0) -> str:
    """An Ollama Modelfile serving ``gguf_file`` (a path relative to the Modelfile) with SmolLM2's
    ChatML turns, ``<|im_end|>`` as the stop token and the default system prompt of its template.

    Example:
        >>> ollama_modelfile("model-q8_0.gguf").splitlines()[-2:]
        ['PARAMETER stop "<|im_end|>"', 'PARAMETER temperature 0.0']
    """
    if not gguf_file.endswith(".gguf"):
        raise ValueError(f"Ollama's FROM needs a .gguf file here, got {gguf_file!r}; "
                         "pass e.g. 'model-q8_0.gguf'.")
    template = ("{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
                "<|im_start|>assistant\n")
    return (f"FROM ./{gguf_file}\n"
            f'TEMPLATE """{template}"""\n'
            f'SYSTEM """{system}"""\n'
            'PARAMETER stop "<|im_end|>"\n'
            f"PARAMETER temperature {temperature}\n")
