"""Instruction-data tooling.

Formats, their converters and validator (python -m utils.instruction_data.formats), token
statistics, noisy variants and the filters that catch them.
"""
