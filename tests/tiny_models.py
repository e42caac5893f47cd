"""A tiny random Llama with the course's real tokenizer, so model-using unit tests take seconds."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def tiny_llama(tokenizer, hidden_size=16, intermediate_size=32, layers=1, heads=2, kv_heads=1,
               max_positions=2048, seed=0) -> LlamaForCausalLM:
    """A randomly initialised Llama in eval mode whose special tokens match ``tokenizer``."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                         intermediate_size=intermediate_size, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv_heads,
                         max_position_embeddings=max_positions,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    model = LlamaForCausalLM(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
