"""TRL on a CPU: score only the positions that carry a label.

TRL 1.16's trainers (SFT, DPO, GRPO, KTO, RLOO) project hidden states through the vocabulary head
in tiles (``trl.trainer.utils.add_fused_lm_head``) and, on devices with Triton, only at positions
whose label is not -100. Elsewhere they score every position, so that compilers for fixed shapes
(AWS Neuron) do not recompile for every batch. An eager CPU has no such compiler, and scoring every
position there made the head the largest cost of a fine-tuning step of SmolLM2-135M (the
49,152-word head at every prompt and padding position, in float32 tiles; see
benchmarks/profile.md). ``score_labelled_positions_only`` turns TRL's compaction on for the CPU.
The losses are the same sums over the same tokens; tests/test_trl_on_cpu.py checks it.

Example:
    >>> score_labelled_positions_only()
    True
"""

from __future__ import annotations

import importlib.metadata

import torch

TESTED_TRL = "1.16."  # the private hook below exists in this release; others are left alone


def score_labelled_positions_only(enabled: bool = True) -> bool:
    """Make TRL's fused head compact labelled positions on the CPU too (``enabled=False`` restores
    TRL's own rule, for before/after measurements). Returns whether TRL now compacts on the CPU
    (always False for another TRL release, which keeps its own behaviour)."""
    if not importlib.metadata.version("trl").startswith(TESTED_TRL):
        return False
    import trl.trainer.utils as trl_utils

    current = getattr(trl_utils, "_use_triton", None)
    if current is None:
        return False
    original = getattr(current, "original", current)
    if not enabled:
        trl_utils._use_triton = original
        return False

    def compact_on_cpu(device: torch.device) -> bool:
        return device.type == "cpu" or original(device)

    compact_on_cpu.original = original
    trl_utils._use_triton = compact_on_cpu  # read only to decide compaction (trl/trainer/utils.py)
    return True
