"""utils.production.gguf_export: the bundled SmolLM2 converted by llama.cpp's own converter gives
the PyTorch model's greedy answers back (f16), its q8_0 file loads and answers, a LoRA adapter merges
exactly, and bad input is refused with a message that says what to do.

The converter comes from the llama-cpp-python source archive in the course cache (fetched with pip
on first use). When it can be neither found nor fetched, the round-trip tests fail with that
message: they never skip. Only the llama-cpp-python test skips when that package is not installed.
"""

import io
import json
import tarfile

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.tiny_models import save_tiny_llama
from utils.core.models import ensure_bundled_cache, load_model
from utils.core.runtime import REPO_ROOT
from utils.course_data import sft_data
from utils.production import gguf_export

MAX_TOKENS = 24
PROMPTS = [[{"role": "user", "content": "What is the capital of France?"}],
           [{"role": "user", "content": "Name three colours."}],
           sft_data.prompt_messages(sft_data.load_split(REPO_ROOT / "data" / "sft" / "validation.jsonl")[0])]


@pytest.fixture(scope="module")
def converter():
    """llama.cpp's converter from the course cache, fetched on first use; fails (never skips) with
    the message of ConverterNotAvailableError when it can be neither found nor fetched."""
    return gguf_export.ensure_converter()


@pytest.fixture(scope="module")
def exported(converter, tmp_path_factory):
    """The bundled model's float32 folder converted to f16 and q8_0 GGUF files, once."""
    out, folder = tmp_path_factory.mktemp("gguf"), ensure_bundled_cache(quiet=True)
    return {outtype: gguf_export.convert_to_gguf(folder, out, outtype, converter)
            for outtype in ("f16", "q8_0")}


@pytest.fixture(scope="module")
def pytorch_answers():
    model, tokenizer = load_model(device="cpu", dtype=torch.float32, quiet=True)
    return gguf_export.greedy_answers(model, tokenizer, PROMPTS, MAX_TOKENS).answers


def test_f16_round_trip_gives_the_pytorch_greedy_answers(exported, pytorch_answers, float32):
    model, tokenizer = gguf_export.load_gguf(exported["f16"])
    run = gguf_export.greedy_answers(model, tokenizer, PROMPTS, MAX_TOKENS)
    assert run.answers == pytorch_answers
    assert run.new_tokens > 0 and run.tokens_per_second > 0


def test_q8_0_file_is_smaller_loads_and_answers(exported, tokenizer, float32):
    assert exported["q8_0"].stat().st_size < 0.6 * exported["f16"].stat().st_size  # 8.5 bits against 16
    model, tokenizer = gguf_export.load_gguf(exported["q8_0"], tokenizer)  # the f16 test reads the tokenizer
    answers = gguf_export.greedy_answers(model, tokenizer, PROMPTS[:1], MAX_TOKENS).answers
    assert "Paris" in answers[0]


@pytest.mark.skipif(not gguf_export.llama_cpp_available(),
                    reason="llama-cpp-python is not installed (it builds from source); "
                           "the tests above cover transformers' GGUF loader")
def test_llama_cpp_runs_the_files(exported, pytorch_answers):
    runs = {}
    for outtype, path in exported.items():
        llm = gguf_export.load_llama_cpp(path, n_threads=1)
        runs[outtype] = gguf_export.llama_cpp_answers(llm, PROMPTS, MAX_TOKENS)
        llm.close()
    assert runs["f16"].answers == pytorch_answers  # llama.cpp's own kernels, the chat template from the file
    assert all(runs["q8_0"].answers) and 0 < runs["q8_0"].new_tokens <= len(PROMPTS) * MAX_TOKENS


def test_converter_failure_quotes_its_output(converter, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["NoSuchForCausalLM"]}))
    with pytest.raises(gguf_export.ConversionError, match="NoSuchForCausalLM"):
        gguf_export.convert_to_gguf(tmp_path, tmp_path / "out", "f16", converter)


def test_bad_input_is_refused_before_converting(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        gguf_export.plain_model_folder(tmp_path / "missing", tmp_path / "merged")
    with pytest.raises(ValueError, match="f16"):
        gguf_export.convert_to_gguf(ensure_bundled_cache(quiet=True), tmp_path, "q4_k_m")
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="merge it first"):
        gguf_export.convert_to_gguf(tmp_path, tmp_path / "out", "f16")
    with pytest.raises(FileNotFoundError, match="pass base="):
        gguf_export.plain_model_folder(tmp_path, tmp_path / "merged")
    with pytest.raises(ValueError, match=".gguf"):
        gguf_export.ollama_modelfile("model-q8_0.bin")
    with pytest.raises(ValueError, match="non-empty list of chat prompts"):
        gguf_export.check_prompts([])


@pytest.fixture
def adapter(tmp_path, tokenizer):
    """A tiny base model and a LoRA adapter on it whose B matrices are not zero (so merging matters)."""
    from peft import LoraConfig, get_peft_model

    base_dir = save_tiny_llama(tmp_path / "base", tokenizer)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    lora = get_peft_model(base, config)
    lora.save_pretrained(tmp_path / "adapter")
    return base_dir, tmp_path / "adapter", lora.eval()


def test_merged_adapter_gives_the_adapter_model_outputs(adapter, tmp_path):
    base_dir, adapter_dir, lora = adapter
    merged_dir = gguf_export.plain_model_folder(adapter_dir, tmp_path / "merged")  # base read from its config
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    ids = torch.tensor([[1, 42, 314, 2718, 2]])
    with torch.no_grad():
        expected = lora(input_ids=ids).logits
        assert torch.allclose(merged(input_ids=ids).logits, expected, atol=1e-5)
        base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
        assert not torch.allclose(base(input_ids=ids).logits, expected, atol=1e-3)
    assert (merged_dir / "tokenizer.json").is_file() and not (merged_dir / "adapter_config.json").exists()


def test_adapter_whose_base_is_gone_needs_base(adapter, tmp_path):
    _, adapter_dir, _ = adapter
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tmp_path / "moved_away")
    (adapter_dir / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(FileNotFoundError, match="pass base="):
        gguf_export.merge_adapter(adapter_dir, tmp_path / "merged")
    assert gguf_export.merge_adapter(adapter_dir, tmp_path / "merged", base=tmp_path / "base").is_dir()


def fake_sdist(path, parts):
    with tarfile.open(path, "w:gz") as tar:
        for part in parts:
            data = b"# stand-in\n"
            info = tarfile.TarInfo(f"llama_cpp_python-0.0.0/vendor/llama.cpp/{part}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_converter_is_extracted_from_the_source_archive(tmp_path):
    parts = ["convert_hf_to_gguf.py", "conversion/__init__.py", "gguf-py/gguf/__init__.py", "CMakeLists.txt"]
    folder = gguf_export.extract_converter(fake_sdist(tmp_path / "ok.tar.gz", parts), tmp_path / "converter")
    assert sorted(p.name for p in folder.iterdir()) == ["conversion", "convert_hf_to_gguf.py", "gguf-py"]
    with pytest.raises(gguf_export.ConverterNotAvailableError, match="gguf-py"):
        gguf_export.extract_converter(fake_sdist(tmp_path / "bad.tar.gz", parts[:2]), tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_offline_fetch_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # as offline: pip finds nothing to download
    with pytest.raises(gguf_export.ConverterNotAvailableError, match="Offline, fetch") as error:
        gguf_export.ensure_converter("0.0.0")
    assert "pip download --no-deps --no-binary :all: llama-cpp-python==0.0.0" in str(error.value)
    with pytest.raises(gguf_export.ConverterNotAvailableError, match="does not exist"):
        gguf_export.ensure_converter("0.0.0", sdist=tmp_path / "nowhere.tar.gz")


def test_modelfile_serves_the_chat_template():
    text = gguf_export.ollama_modelfile("model-q8_0.gguf", temperature=0.0)
    assert text.startswith("FROM ./model-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in text and "PARAMETER temperature 0.0" in text
    assert "<|im_start|>{{ .Role }}" in text and text.count('"""') == 4
