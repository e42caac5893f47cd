"""How fast training runs against what the machine can do: matrix-multiply peaks and a trainer
callback that counts the tokens and model FLOPs of each optimizer step.

The benchmark (``bash course.sh bench``) measures the float32 and bf16 peaks once, sets
``COURSE_THROUGHPUT_LOG`` for each notebook, and ``setup_notebook`` then adds ``ThroughputMeter``
to every transformers/TRL trainer the notebook builds; each finished ``train()`` appends one JSON
line to that file. Outside the benchmark nothing is added.

Model FLOPs follow the usual count (Kaplan et al., 2020; "model FLOPs utilisation" in the PaLM
paper, Chowdhery et al., 2022): 2 per non-embedding weight per token forward, 2 more backward for
the input gradients, 2 more for the gradients of trainable weights. The output head and attention's
score products are left out, so the share of the peak is a slight underestimate.

Example:
    >>> import torch
    >>> matmul_parameters(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()))
    (12, 12)
    >>> step_flops(tokens_with_grad=10, tokens_without_grad=0, weights=100, trainable_weights=0)
    4000
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

LOG_ENV = "COURSE_THROUGHPUT_LOG"


def matmul_peak_gflops(dtype: torch.dtype, size: int = 1024, seconds: float = 1.0) -> float:
    """Best GFLOP/s of repeated ``size`` x ``size`` matrix multiplies in ``dtype`` on the CPU, with
    torch's current thread count: the ceiling a training step's matrix work can reach."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):  # warm up the kernels and caches
        a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def machine_peaks() -> dict[str, int]:
    """This machine's float32 and bf16 matrix-multiply peaks (GFLOP/s) with torch's thread count:
    the ceilings the benchmark and the profile compare training against."""
    return {name: round(matmul_peak_gflops(dtype))
            for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}


def matmul_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(weights in linear layers, of which trainable), leaving out the output head: Kaplan et al.'s
    non-embedding count. The head runs only at labelled positions in the course's trainers, so
    counting it at every token would credit work that is never done; leaving it out undercounts
    slightly instead."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    total = trainable = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            total += module.weight.numel()
            trainable += module.weight.numel() if module.weight.requires_grad else 0
    return total, trainable


def step_flops(tokens_with_grad: int, tokens_without_grad: int, weights: int, trainable_weights: int) -> int:
    """Model FLOPs: 2 per weight per token forward; with gradients, 2 more for the inputs' gradients
    and 2 per trainable weight for the weights' gradients."""
    return (tokens_with_grad * (4 * weights + 2 * trainable_weights)
            + tokens_without_grad * 2 * weights)


def precision_of(args) -> str:
    """The precision a TrainingArguments object trains in."""
    return "bf16" if getattr(args, "bf16", False) else "fp16" if getattr(args, "fp16", False) else "fp32"


class ThroughputMeter(TrainerCallback):
    """Times each optimizer step (evaluation and logging excluded) and counts the tokens that pass
    through the model inside it, with and without gradients (a DPO reference pass has none)."""

    def __init__(self, log_path: str | Path | None = None):
        self.log_path = log_path or os.environ.get(LOG_ENV)
        self.in_step = False
        self.step_start = 0.0
        self.steps: list[dict] = []  # one entry per optimizer step
        self.handle = None
        self.weights = (0, 0)

    def _count(self, module, inputs):
        if self.in_step and inputs and torch.is_tensor(inputs[0]):
            key = "tokens_with_grad" if torch.is_grad_enabled() else "tokens_without_grad"
            self.steps[-1][key] += inputs[0].numel()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.weights = matmul_parameters(model)
        # the embedding layer runs once per forward pass, whatever wraps the model (PEFT, TRL)
        self.handle = model.get_input_embeddings().register_forward_pre_hook(self._count)

    def on_step_begin(self, args, state, control, **kwargs):
        self.steps.append({"seconds": 0.0, "tokens_with_grad": 0, "tokens_without_grad": 0})
        self.in_step, self.step_start = True, time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.in_step = False
        self.steps[-1]["seconds"] = time.perf_counter() - self.step_start

    def summary(self, args, skip: int = 0) -> dict:
        """Totals over the steps after the first ``skip`` (warm-up) ones."""
        kept = self.steps[skip:]
        totals = {key: sum(step[key] for step in kept)
                  for key in ("seconds", "tokens_with_grad", "tokens_without_grad")}
        flops = step_flops(totals["tokens_with_grad"], totals["tokens_without_grad"], *self.weights)
        return {"steps": len(kept), **totals, "precision": precision_of(args), "weights": self.weights[0],
                "trainable_weights": self.weights[1], "flops": flops}

    def on_train_end(self, args, state, control, **kwargs):
        if self.handle is not None:
            self.handle.remove()
        if self.log_path:
            with open(self.log_path, "a") as log:
                log.write(json.dumps(self.summary(args)) + "\n")


def meter_trainers_from_env() -> bool:
    """When ``COURSE_THROUGHPUT_LOG`` is set (by the benchmark), give every trainer built from now
    on a ``ThroughputMeter``. Returns whether it did."""
    if not os.environ.get(LOG_ENV):
        return False
    from transformers import trainer

    if ThroughputMeter not in trainer.DEFAULT_CALLBACKS:
        trainer.DEFAULT_CALLBACKS.append(ThroughputMeter)
    return True


def summarise(lines: list[dict], peaks: dict[str, float], precision: str | None = None) -> dict:
    """One notebook's training throughput from its meter lines: tokens/s, GFLOP/s and the share
    of the peak of the precision it trained in. With ``precision`` (the course's, say) only the
    trainers that ran in it count, when there are any; otherwise the precision most time went to.

    Example:
        >>> line = {"seconds": 2.0, "tokens_with_grad": 1000, "flops": 4e11, "precision": "bf16"}
        >>> lines = [line, {**line, "precision": "fp32", "seconds": 8.0}]
        >>> summarise(lines, {"fp32": 200, "bf16": 800}, precision="bf16")
        {'train_precision': 'bf16', 'train_tokens_per_s': 500, 'train_gflops': 200, 'train_peak_share': 0.25}
    """
    if precision and any(line["precision"] == precision for line in lines):
        lines = [line for line in lines if line["precision"] == precision]
    seconds = sum(line["seconds"] for line in lines)
    if not lines or seconds <= 0:
        return {}
    by_time: dict[str, float] = {}
    for line in lines:
        by_time[line["precision"]] = by_time.get(line["precision"], 0.0) + line["seconds"]
    chosen = max(by_time, key=by_time.get)
    gflops = sum(line["flops"] for line in lines) / seconds / 1e9
    peak = peaks.get(chosen) or peaks.get("fp32")
    return {"train_precision": chosen,
            "train_tokens_per_s": round(sum(line["tokens_with_grad"] for line in lines) / seconds),
            "train_gflops": round(gflops), "train_peak_share": round(gflops / peak, 2) if peak else ""}
