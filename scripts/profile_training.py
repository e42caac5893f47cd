"""Where a training step's time goes, and what each speed-up buys, measured in one run.

    python scripts/profile_training.py            # about 6 minutes on a 2-core CPU
    python scripts/profile_training.py --quick    # one measured step per case (a smoke test)

For the course's batch shapes (notebook 02's SFT batch of 8 conversations, notebook 05's DPO
batch, a scoring pass of notebook 02's evaluation) it measures, on this machine, with torch's
thread count as the notebooks use it:
- the float32 and bf16 matrix-multiply peaks;
- seconds per optimizer step, tokens/s and model GFLOP/s (utils.maintenance.throughput) for a
  full fine-tuning step, a LoRA step and a DPO step, in float32 and in the course's precision;
- torch's profiler on one step of each, grouped into matrix multiplies, attention, softmax and
  cross-entropy, casts, optimizer and the rest;
- before/after pairs for the waste the libraries let us remove: logits only where the score needs
  them, padding-free batches (checked to give the same loss), eager attention instead of SDPA,
  and the unfused AdamW (transformers 5 already defaults to the fused kernel).
It writes benchmarks/profile.json and benchmarks/profile.md (the tables the README links).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from peft import LoraConfig  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402
from transformers import PrinterCallback, TrainerCallback  # noqa: E402
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer  # noqa: E402

from utils.core import models, runtime  # noqa: E402
from utils.core.model_modes import eval_mode  # noqa: E402
from utils.course_data import preference_data, sft_data  # noqa: E402
from utils.maintenance.throughput import ThroughputMeter, machine_peaks, precision_of  # noqa: E402
from utils.training.trl_on_cpu import score_labelled_positions_only  # noqa: E402

OUT_DIR = runtime.REPO_ROOT / "benchmarks"
CATEGORIES = [  # (label, substrings of profiler op names); the first match wins
    ("matrix multiplies", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "mkldnn")),
    ("attention", ("scaled_dot_product", "flash_attention")),
    ("softmax and cross-entropy", ("softmax", "nll_loss", "logsumexp", "cross_entropy")),
    ("casts and copies", ("aten::copy_", "aten::_to_copy", "aten::clone", "aten::contiguous")),
    ("optimizer", ("adam", "_foreach")),
    ("fills and allocation", ("aten::fill_", "aten::zero_", "aten::empty")),
]


class ProfileOneStep(TrainerCallback):
    """Runs torch's profiler around one optimizer step (the last one) and keeps the op table."""

    def __init__(self, step: int):
        self.step, self.table, self.prof = step, None, None

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step - 1:
            self.prof = profile(activities=[ProfilerActivity.CPU])
            self.prof.__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        if self.prof is not None and self.table is None:
            self.prof.__exit__(None, None, None)
            self.table = self.prof.key_averages()


def categorise(averages) -> dict[str, float]:
    """Self time in seconds per category, over every op of the profile."""
    shares = {label: 0.0 for label, _ in CATEGORIES} | {"everything else": 0.0}
    for event in averages:
        seconds = event.self_cpu_time_total / 1e6
        label = next((name for name, keys in CATEGORIES if any(k in event.key for k in keys)),
                     "everything else")
        shares[label] += seconds
    return {label: round(seconds, 3) for label, seconds in shares.items()}


def sft_trainer(model, tokenizer, records, precision_args: dict, lora: bool, steps: int, **extra):
    config = SFTConfig(output_dir=str(runtime.REPO_ROOT / "runs" / "profile"), max_steps=steps,
                       per_device_train_batch_size=8, learning_rate=1e-5, lr_scheduler_type="constant",
                       completion_only_loss=True, logging_steps=1, save_strategy="no", report_to="none",
                       disable_tqdm=True, activation_checkpointing=False, dataloader_pin_memory=False,
                       seed=0, **({"max_length": 128} | precision_args | extra))
    peft_config = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                             task_type="CAUSAL_LM") if lora else None
    data = Dataset.from_list(sft_data.to_prompt_completion(records[:8 * steps]))
    return SFTTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=data,
                      peft_config=peft_config)


def dpo_trainer(model, tokenizer, pairs, precision_args: dict, steps: int):
    config = DPOConfig(output_dir=str(runtime.REPO_ROOT / "runs" / "profile"), max_steps=steps, beta=0.1,
                       per_device_train_batch_size=4, learning_rate=1e-5, lr_scheduler_type="constant",
                       logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
                       activation_checkpointing=False, dataloader_pin_memory=False, seed=0, **precision_args)
    data = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")}
                              for p in pairs[:4 * steps]])
    return DPOTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=data,
                      peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))


def measure(trainer, warmup: int, peaks: dict, profile_last: bool = True) -> dict:
    """Train; return time, tokens and GFLOP/s over the steps after ``warmup``, the first losses, and
    (optionally) the profile of the last step by category."""
    meter = ThroughputMeter(log_path=None)
    trainer.add_callback(meter)
    profiler = ProfileOneStep(trainer.args.max_steps) if profile_last else None
    if profiler:
        trainer.add_callback(profiler)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    summary = meter.summary(trainer.args, skip=warmup)
    steps = max(summary["steps"] - (1 if profile_last else 0), 1)  # the profiled step runs slower
    seconds = sum(s["seconds"] for s in meter.steps[warmup:warmup + steps])
    scale = steps / max(summary["steps"], 1)
    row = {"precision": precision_of(trainer.args), "seconds_per_step": round(seconds / steps, 3),
           "tokens_per_s": round(summary["tokens_with_grad"] * scale / seconds),
           "gflops": round(summary["flops"] * scale / seconds / 1e9)}
    row["peak_share"] = round(row["gflops"] / peaks[row["precision"]], 2)
    row["losses"] = [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h][:3]
    if profiler and profiler.table is not None:
        row["profile"] = categorise(profiler.table)
    return row


def scoring_pass(model, tokenizer, records, keep_tail: bool, reps: int) -> dict:
    """Seconds per scoring pass of notebook 02's answer loss (batches of 16), with logits for every
    position or only for the answer tail; then one more pass under the profiler."""
    def one_pass():
        with eval_mode(model):
            for _ in sft_data.answer_token_losses(model, tokenizer, records, keep_tail=keep_tail):
                pass

    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        one_pass()
        best = min(best, time.perf_counter() - start)
    with profile(activities=[ProfilerActivity.CPU]) as profiled:
        one_pass()
    return {"seconds": round(best, 3), "loss": round(sft_data.answer_loss(model, tokenizer, records), 5),
            "profile": categorise(profiled.key_averages())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one measured step per case")
    args = parser.parse_args(argv)
    runtime.quiet_libraries()
    measured, warmup = (1, 1) if args.quick else (3, 1)
    steps = warmup + measured + 1  # the last step is profiled
    fp32, course = runtime.mixed_precision_args("cpu") | {"bf16": False}, runtime.mixed_precision_args("cpu")
    peaks = machine_peaks()
    print("matmul peaks (GFLOP/s):", peaks, "| threads:", torch.get_num_threads(), flush=True)
    records = sft_data.load_split(runtime.REPO_ROOT / "data" / "sft" / "train.jsonl")
    pairs = preference_data.load_pairs(runtime.REPO_ROOT / "data" / "preference" / "train.jsonl")
    tokenizer = models.load_model(quiet=True)[1]
    results = {"peaks": peaks, "threads": torch.get_num_threads(), "hardware": runtime.describe_device(),
               "course_precision": runtime.precision("cpu"), "cases": {}}

    def fresh(attention: str | None = None):
        model = models.load_model(device="cpu", quiet=True)[0]
        if attention:
            model.set_attn_implementation(attention)
        return model

    def sft(precision_args, lora=False, attention=None, **extra):
        return lambda: sft_trainer(fresh(attention), tokenizer, records, precision_args, lora, steps, **extra)

    def dpo(precision_args):
        return lambda: dpo_trainer(fresh(), tokenizer, pairs, precision_args, steps)

    # name -> (trainer builder, whether TRL's head scores only labelled positions on the CPU)
    cases = {
        "full SFT, float32, TRL as shipped": (sft(fp32), False),
        "full SFT, bf16 autocast, TRL as shipped": (sft(course), False),
        "full SFT, bf16 + labelled positions only": (sft(course), True),
        "full SFT, bf16 + labelled only + unfused AdamW": (sft(course, optim="adamw_torch"), True),
        "full SFT, bf16 + labelled only + padding-free": (
            sft(course, padding_free=True, max_length=None), True),
        "full SFT, bf16 + labelled only + eager attention": (sft(course, attention="eager"), True),
        "LoRA SFT, float32, TRL as shipped": (sft(fp32, lora=True), False),
        "LoRA SFT, bf16 + labelled positions only": (sft(course, lora=True), True),
        "DPO (LoRA), float32, TRL as shipped": (dpo(fp32), False),
        "DPO (LoRA), bf16 + labelled positions only": (dpo(course), True),
    }
    for name, (build, compact) in cases.items():
        score_labelled_positions_only(compact)
        results["cases"][name] = row = measure(build(), warmup, peaks)
        print(f"{name:50s} {row['seconds_per_step']:6.2f} s/step {row['tokens_per_s']:5d} tok/s "
              f"{row['gflops']:4d} GFLOP/s ({row['peak_share']:.0%} of {row['precision']} peak); "
              f"losses {row['losses']}", flush=True)
    score_labelled_positions_only(True)
    model = fresh()
    scoring_records = records[-64:]
    for precision in ("fp32", runtime.precision("cpu")):
        for keep_tail in (False, True):
            # "" leaves the choice to the course's policy; "fp32" forces float32 for this block
            with mock.patch.dict(os.environ, {runtime.PRECISION_ENV: "fp32" if precision == "fp32" else ""}):
                row = scoring_pass(model, tokenizer, scoring_records, keep_tail, reps=1 if args.quick else 2)
            where = "for the answer tail" if keep_tail else "everywhere"
            name = f"scoring 64 answers, {precision}, logits {where}"
            results["cases"][name] = row
            print(f"{name:50s} {row['seconds']:6.2f} s; answer loss {row['loss']}", flush=True)
    OUT_DIR.mkdir(exist_ok=True)
    if not args.quick:
        (OUT_DIR / "profile.json").write_text(json.dumps(results, indent=2))
        (OUT_DIR / "profile.md").write_text(markdown(results))
    return results


def markdown(results: dict) -> str:
    peaks = results["peaks"]
    lines = [f"# Where the time goes: training steps profiled on {results['hardware']}, "
             f"{results['threads']} threads",
             "", "Written by `python scripts/profile_training.py`; every figure is from that one run.",
             f"Matrix-multiply peaks: {peaks['fp32']} GFLOP/s in float32, {peaks['bf16']} in bf16. "
             f"The course's precision here: {results['course_precision']}.", "",
             "| case | precision | s/step | tokens/s | non-embedding model GFLOP/s | share of peak "
             "| first losses |",
             "|---|---|---|---|---|---|---|"]
    for name, row in results["cases"].items():
        if "seconds_per_step" in row:
            losses = ", ".join(map(str, row["losses"]))
            lines.append(f"| {name} | {row['precision']} | {row['seconds_per_step']} | "
                         f"{row['tokens_per_s']} | {row['gflops']} | {row['peak_share']:.0%} | {losses} |")
    lines += ["", "| scoring pass | seconds | answer loss |", "|---|---|---|"]
    for name, row in results["cases"].items():
        if "seconds_per_step" not in row:
            lines.append(f"| {name} | {row['seconds']} | {row['loss']} |")
    lines += ["", "Self time of one profiled step (or scoring pass), seconds, by kind of work:", ""]
    profiled = {name: row["profile"] for name, row in results["cases"].items() if "profile" in row}
    labels = list(next(iter(profiled.values())))
    lines += ["| case | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for name, shares in profiled.items():
        lines.append(f"| {name} | " + " | ".join(f"{shares[label]:.2f}" for label in labels) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
