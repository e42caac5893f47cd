"""utils.training.lora_math: the trainable-weight formula matches PEFT exactly, and the memory
arithmetic adds up."""

import pytest
from peft import LoraConfig, get_peft_model
from tiny_models import tiny_llama

from utils.core.models import count_parameters
from utils.training import lora_math


def test_shapes_follow_grouped_query_attention():
    shapes = lora_math.llama_linear_shapes(hidden_size=576, intermediate_size=1536,
                                           num_attention_heads=9, num_key_value_heads=3)
    assert shapes["q_proj"] == (576, 576) and shapes["k_proj"] == (576, 192)
    assert shapes["down_proj"] == (1536, 576) and set(shapes) == set(lora_math.ALL_LINEAR)


@pytest.mark.parametrize("targets", [["q_proj", "v_proj"], list(lora_math.ATTENTION), "all-linear"])
@pytest.mark.parametrize("rank", [1, 4])
def test_formula_equals_peft_count(tokenizer, targets, rank):
    model = tiny_llama(tokenizer, hidden_size=32, intermediate_size=48, layers=2, heads=4, kv_heads=2)
    total_before = count_parameters(model)
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets))
    predicted = lora_math.lora_parameter_count(lora_math.shapes_from_config(model.config), rank, targets,
                                               num_layers=2)
    assert count_parameters(peft_model, trainable_only=True) == predicted
    assert count_parameters(peft_model) == total_before + predicted


def test_memory_arithmetic():
    full = lora_math.training_memory_bytes(total_params=100, trainable_params=100)
    assert full == {"weights": 400, "gradients": 400, "Adam states": 800}  # 16 bytes per weight
    lora = lora_math.training_memory_bytes(total_params=110, trainable_params=10, bytes_per_weight=2,
                                           bytes_per_grad=4)
    assert lora == {"weights": 220, "gradients": 40, "Adam states": 80}


def test_bad_input_is_named():
    shapes = lora_math.llama_linear_shapes(8, 16, 2, 1)
    with pytest.raises(ValueError, match="rank must be a positive integer"):
        lora_math.lora_parameter_count(shapes, 0, "all-linear", 1)
    with pytest.raises(ValueError, match="unknown target module"):
        lora_math.lora_parameter_count(shapes, 2, ["qproj"], 1)
    with pytest.raises(ValueError, match="'all-linear' or a list"):
        lora_math.lora_parameter_count(shapes, 2, "q_proj", 1)
    with pytest.raises(ValueError, match="hidden_size"):
        lora_math.llama_linear_shapes(0, 16, 2, 1)
    with pytest.raises(ValueError, match="trainable_params"):
        lora_math.training_memory_bytes(total_params=1, trainable_params=2)
