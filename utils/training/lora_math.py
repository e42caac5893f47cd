"""LoRA arithmetic: how many weights an adapter trains, and what training keeps in memory.

LoRA replaces the update of a frozen ``d_out x d_in`` weight W by ``(alpha / r) * B @ A`` with
``A`` of shape ``r x d_in`` and ``B`` of shape ``d_out x r``: ``r * (d_in + d_out)`` trainable
weights per adapted layer instead of ``d_in * d_out``.

Example:
    >>> from utils.training import lora_math
    >>> shapes = lora_math.llama_linear_shapes(hidden_size=576, intermediate_size=1536,
    ...                                        num_attention_heads=9, num_key_value_heads=3)
    >>> lora_math.lora_parameter_count(shapes, rank=8, targets=["q_proj", "v_proj"], num_layers=30)
    460800
    >>> lora_math.training_memory_bytes(total_params=1000, trainable_params=10)["Adam states"]
    80
"""

from __future__ import annotations

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = ATTENTION + MLP  # PEFT's "all-linear" on a Llama: every linear layer but the output head


def llama_linear_shapes(hidden_size: int, intermediate_size: int, num_attention_heads: int,
                        num_key_value_heads: int, head_dim: int | None = None) -> dict[str, tuple[int, int]]:
    """``{name: (d_in, d_out)}`` of the seven linear layers in one Llama decoder layer.

    With grouped-query attention the key and value projections are narrower than the query's:
    ``num_key_value_heads * head_dim`` outputs.
    """
    for field, value in (("hidden_size", hidden_size), ("intermediate_size", intermediate_size),
                         ("num_attention_heads", num_attention_heads),
                         ("num_key_value_heads", num_key_value_heads)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{field} must be a positive integer, got {value!r}")
    head_dim = head_dim or hidden_size // num_attention_heads
    q_out, kv_out = num_attention_heads * head_dim, num_key_value_heads * head_dim
    return {"q_proj": (hidden_size, q_out), "k_proj": (hidden_size, kv_out),
            "v_proj": (hidden_size, kv_out), "o_proj": (q_out, hidden_size),
            "gate_proj": (hidden_size, intermediate_size), "up_proj": (hidden_size, intermediate_size),
            "down_proj": (intermediate_size, hidden_size)}


def shapes_from_config(config) -> dict[str, tuple[int, int]]:
    """``llama_linear_shapes`` read from a transformers Llama-style config object."""
    return llama_linear_shapes(config.hidden_size, config.intermediate_size, config.num_attention_heads,
                               config.num_key_value_heads, getattr(config, "head_dim", None))


def resolve_targets(targets: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Target modules as names: ``"all-linear"`` becomes the seven Llama projections."""
    if targets == "all-linear":
        return ALL_LINEAR
    if isinstance(targets, str):
        raise ValueError(f"targets must be 'all-linear' or a list of layer names, got the string {targets!r}")
    return tuple(targets)


def lora_parameter_count(shapes: dict[str, tuple[int, int]], rank: int,
                         targets: str | list[str] | tuple[str, ...], num_layers: int) -> int:
    """Trainable weights of a LoRA adapter: ``num_layers * sum over targets of r * (d_in + d_out)``."""
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive integer, got {rank!r}")
    names = resolve_targets(targets)
    unknown = [name for name in names if name not in shapes]
    if unknown:
        raise ValueError(f"unknown target module(s) {unknown}; choose from {sorted(shapes)}")
    return num_layers * sum(rank * (shapes[name][0] + shapes[name][1]) for name in names)


def training_memory_bytes(total_params: int, trainable_params: int, bytes_per_weight: int = 4,
                          bytes_per_grad: int | None = None, adam_bytes_per_param: int = 8) -> dict[str, int]:
    """Bytes that AdamW training keeps whatever the batch: weights, gradients, Adam's two moments.

    ``total_params`` counts every weight held in memory (for LoRA: the frozen base plus the
    adapter); only the ``trainable_params`` have a gradient and Adam states (two float32 numbers
    each, 8 bytes). Activations come on top and grow with batch size and sequence length.
    """
    if trainable_params < 0 or total_params < trainable_params:
        raise ValueError(f"need 0 <= trainable_params <= total_params, got {trainable_params} "
                         f"and {total_params}")
    bytes_per_grad = bytes_per_weight if bytes_per_grad is None else bytes_per_grad
    return {"weights": total_params * bytes_per_weight,
            "gradients": trainable_params * bytes_per_grad,
            "Adam states": trainable_params * adam_bytes_per_param}
