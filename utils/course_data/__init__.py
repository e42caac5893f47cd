"""Generators of the course's own data.

The pretraining corpus, the order-to-JSON SFT task, arithmetic preference pairs and the task mix.
"""
