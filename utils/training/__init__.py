"""Training arithmetic.

LoRA's trainable parameters and the memory a fine-tune needs.
"""
