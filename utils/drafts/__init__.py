"""Draft picks.

17lands draft files (python -m utils.drafts convert), simulated sets, pick prompts for a
language model, and baseline pickers.
"""
