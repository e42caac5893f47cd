"""Training memory, accounted: weights, gradients, optimizer states and what autograd saves for backward.

One training step keeps four kinds of tensors alive: the weights, a gradient per trainable weight,
the optimizer's states (AdamW: two per trainable weight) and the tensors the forward pass saves
for the backward pass (activations, and under autocast the bf16 copies of the weights it
multiplies with). ``SavedTensors`` totals the last kind with
``torch.autograd.graph.saved_tensors_hooks``; ``measure_training_step`` counts all four in a real
step and reads the process's resident memory (RSS) after each phase and its peak.

    python -m utils.training.memory_accounting --method lora-16   # one JSON line, fresh process

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(4, 3)
    >>> with SavedTensors(layer.parameters()) as saved:
    ...     loss = layer(torch.ones(2, 4)).sum()
    >>> saved.bytes_by_kind()["activations"]  # the input, 2 x 4 float32 numbers (the weight is not counted)
    32
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

PROC_STATUS = Path("/proc/self/status")


def storage_bytes(tensors) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views of one storage count once)."""
    seen = {}
    for tensor in tensors:
        if tensor is not None:
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


class SavedTensors:
    """Count what autograd saves for backward inside a ``with`` block, by distinct storage.

    Tensors that share a parameter's storage are not counted (they are the weights). A saved
    tensor with a parameter's shape but another dtype is a ``"weight copies"`` entry (autocast's
    bf16 cast of a weight, kept for the backward pass); everything else is ``"activations"``.
    """

    def __init__(self, parameters):
        parameters = list(parameters)
        self._parameter_storages = {p.untyped_storage().data_ptr() for p in parameters}
        self._weight_shapes = {(tuple(p.shape), p.dtype) for p in parameters if p.dim() >= 2}
        self._shapes = {shape for shape, _ in self._weight_shapes}
        self.saved: dict[int, tuple[str, int]] = {}

    def _pack(self, tensor):
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # e.g. a sparse or wrapper tensor: not ours to count
            return tensor
        key = storage.data_ptr()
        if key not in self._parameter_storages and key not in self.saved:
            is_copy = tuple(tensor.shape) in self._shapes and (tuple(tensor.shape), tensor.dtype) \
                not in self._weight_shapes
            self.saved[key] = ("weight copies" if is_copy else "activations", storage.nbytes())
        return tensor

    def __enter__(self) -> SavedTensors:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)

    def bytes_by_kind(self) -> dict[str, int]:
        """``{"activations": bytes, "weight copies": bytes}`` saved so far."""
        totals = {"activations": 0, "weight copies": 0}
        for kind, nbytes in self.saved.values():
            totals[kind] += nbytes
        return totals


def rss_mb() -> dict[str, float]:
    """This process's resident memory now and its peak since the last ``reset_peak_rss`` (MB)."""
    fields = dict(line.split(":", 1) for line in PROC_STATUS.read_text().splitlines() if ":" in line)
    return {"now": int(fields["VmRSS"].split()[0]) / 1024, "peak": int(fields["VmHWM"].split()[0]) / 1024}


def reset_peak_rss() -> bool:
    """Reset the peak (``VmHWM``) to the current resident size; False where Linux does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _trim_heap() -> None:
    from utils.core.runtime import release_memory

    release_memory()


def training_batch(tokenizer, records: list[dict]) -> dict[str, torch.Tensor]:
    """Token ids, attention mask and labels of chat records, padded on the right; labels are -100 on
    the prompt and the padding, so the loss counts the answer tokens only (notebook 02's collate)."""
    from utils.course_data.sft_data import answer_token_ids

    encoded = [answer_token_ids(tokenizer, record) for record in records]
    width = max(len(ids) for ids, _ in encoded)
    batch = {"input_ids": torch.full((len(encoded), width), tokenizer.pad_token_id),
             "attention_mask": torch.zeros((len(encoded), width), dtype=torch.long),
             "labels": torch.full((len(encoded), width), -100)}
    for row, (ids, n_prompt) in enumerate(encoded):
        batch["input_ids"][row, :len(ids)] = torch.tensor(ids)
        batch["attention_mask"][row, :len(ids)] = 1
        batch["labels"][row, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])
    return batch


def measure_training_step(model, batch: dict, optimizer, steps: int = 2, autocast=None) -> dict:
    """Run ``steps`` AdamW steps on ``batch`` and account for the memory of the last one (by then
    the optimizer's states exist, as in every step of a real run after the first).

    Returns bytes counted tensor by tensor (``weights``, ``gradients``, ``optimizer states``,
    ``saved activations``, ``saved weight copies``), the resident memory after each phase of the
    last step (``rss_*_mb``) and its peak during that step (``rss_peak_mb``).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    parameters = list(model.parameters())
    autocast = autocast or torch.autocast("cpu", enabled=False)
    result = {}
    model.train()
    for step in range(steps):
        last = step == steps - 1
        optimizer.zero_grad(set_to_none=True)  # gradients do not exist between steps
        if last:
            _trim_heap()  # give back what earlier steps freed, so RSS shows what this step holds
            result["rss_before_step_mb"] = rss_mb()["now"]
            result["peak_reset"] = reset_peak_rss()
        with SavedTensors(parameters) as saved:
            with autocast:
                loss = model(**batch).loss
        if last:
            result["rss_after_forward_mb"] = rss_mb()["now"]
            result["rss_peak_forward_mb"] = rss_mb()["peak"]
        loss.backward()
        if last:
            result["rss_after_backward_mb"] = rss_mb()["now"]
            result["gradients"] = storage_bytes(p.grad for p in parameters)
        optimizer.step()
    result.update(rss_after_step_mb=rss_mb()["now"], rss_peak_mb=rss_mb()["peak"], loss=loss.item(),
                  weights=storage_bytes(parameters),
                  trainable_params=sum(p.numel() for p in parameters if p.requires_grad),
                  total_params=sum(p.numel() for p in parameters),
                  **{"optimizer states": storage_bytes(t for state in optimizer.state.values()
                                                        for t in state.values() if torch.is_tensor(t)),
                     "saved activations": saved.bytes_by_kind()["activations"],
                     "saved weight copies": saved.bytes_by_kind()["weight copies"]})
    return result


def main(argv: list[str] | None = None) -> int:
    from peft import LoraConfig, get_peft_model

    from utils.core import models, runtime
    from utils.course_data import sft_data

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="full",
                        help="full, or lora-R (LoRA of rank R on all linear layers)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    runtime.quiet_libraries()
    runtime.seed_everything(0)
    model, tokenizer = models.load_model(args.model, quiet=True)
    rss_loaded = rss_mb()["now"]
    if args.method.startswith("lora-"):
        rank = int(args.method.split("-")[1])
        model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    elif args.method != "full":
        raise SystemExit(f"--method must be 'full' or 'lora-R' (e.g. lora-16), got {args.method!r}")
    records = sft_data.load_split(runtime.REPO_ROOT / "data" / "sft" / "train.jsonl")[:args.batch_size]
    batch = training_batch(tokenizer, records)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    result = measure_training_step(model, batch, optimizer, autocast=runtime.autocast("cpu"))
    result.update(method=args.method, batch_shape=list(batch["input_ids"].shape), rss_loaded_mb=rss_loaded,
                  precision=runtime.precision("cpu"))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
