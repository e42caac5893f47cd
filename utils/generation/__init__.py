"""Generation and sampling.

Logits processors, batched generation, an API-shaped chat_completion (and sampling over many
prompts), and the sampling explorer: its plain functions and its panel.
"""
