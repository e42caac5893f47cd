"""Generation and sampling.

Logits processors, batched generation, an API-shaped chat_completion and the sampling explorer.
"""
