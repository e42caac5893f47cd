"""utils.training.memory_accounting: saved-for-backward bytes, gradients and optimizer states are
counted tensor by tensor, and LoRA's differ from full fine-tuning's where they should."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from tiny_models import tiny_llama

from utils.training import memory_accounting


def test_saved_tensors_count_the_input_not_the_weight():
    layer = torch.nn.Linear(4, 3)
    with memory_accounting.SavedTensors(layer.parameters()) as saved:
        layer(torch.ones(2, 4, requires_grad=True)).sum()
    assert saved.bytes_by_kind() == {"activations": 2 * 4 * 4, "weight copies": 0}


def test_bf16_copies_of_weights_are_filed_apart():
    layer = torch.nn.Linear(8, 8, bias=False)
    inputs = torch.ones(2, 8, requires_grad=True)  # its gradient needs the (bf16) weight
    autocast = torch.autocast("cpu", dtype=torch.bfloat16)
    with memory_accounting.SavedTensors(layer.parameters()) as saved, autocast:
        layer(inputs).float().sum()
    assert saved.bytes_by_kind()["weight copies"] == 8 * 8 * 2  # one bf16 copy of the 8 x 8 weight


def test_views_of_one_storage_count_once():
    base = torch.zeros(10)
    assert memory_accounting.storage_bytes([base, base[:5], base.view(2, 5)]) == 40


def test_training_batch_masks_the_prompt(tokenizer):
    record = {"messages": [{"role": "system", "content": "Extract."},
                           {"role": "user", "content": "two pears"},
                           {"role": "assistant", "content": '{"quantity": 2}'}]}
    batch = memory_accounting.training_batch(tokenizer, [record, record])
    assert batch["input_ids"].shape == batch["labels"].shape
    labelled = batch["labels"][0] != -100
    assert 0 < int(labelled.sum()) < batch["labels"].shape[1]  # the answer only
    assert not labelled[0]  # the prompt is masked


@pytest.mark.parametrize("lora", [False, True])
def test_one_step_is_accounted(tokenizer, lora):
    model = tiny_llama(tokenizer, hidden_size=32, intermediate_size=64, layers=2)
    if lora:
        model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules="all-linear"))
    record = {"messages": [{"role": "user", "content": "two pears"}, {"role": "assistant", "content": "2"}]}
    batch = memory_accounting.training_batch(tokenizer, [record])
    trainable = [p for p in model.parameters() if p.requires_grad]
    result = memory_accounting.measure_training_step(model, batch, torch.optim.AdamW(trainable, lr=1e-3))
    n_trainable = sum(p.numel() for p in trainable)
    assert result["trainable_params"] == n_trainable
    assert result["gradients"] == 4 * n_trainable  # float32 gradient per trainable weight
    assert result["optimizer states"] >= 8 * n_trainable  # AdamW's two moments (plus step counters)
    assert result["saved activations"] > 0
    assert result["rss_peak_mb"] >= result["rss_before_step_mb"] > 0
    if lora:
        assert result["gradients"] < 0.5 * result["weights"]


def test_measure_needs_a_step():
    with pytest.raises(ValueError, match="steps"):
        memory_accounting.measure_training_step(torch.nn.Linear(2, 2), {}, None, steps=0)
