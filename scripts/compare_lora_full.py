"""Compare full fine-tuning with LoRA at several ranks on the course's order-to-JSON task.

Every run trains SmolLM2-135M-Instruct with TRL's SFTTrainer on the first N conversations of
data/sft/train.jsonl for one epoch (N / batch optimizer steps: the same data and the same number of
steps for every method at a given N), then measures held-out exact match and answer loss on the
same validation records. Each run happens in a fresh Python process, so its peak memory
(``ru_maxrss``, a process-lifetime peak) is its own. Notebook 04 runs a small grid live and loads
the full table this script wrote.

    python scripts/compare_lora_full.py                     # the committed table (data/results/)
    python scripts/compare_lora_full.py --fast --out /tmp/c # seconds per run: the test suite's
    python scripts/compare_lora_full.py --methods full lora-8 --sizes 32 --out runs/04_live

A method is ``full`` or ``lora-R`` (LoRA of rank R on every linear layer, alpha = 2R). The
rows (one per method and size, plus the untrained model) go to ``OUT/lora_vs_full.csv``, how
they were made (command, minutes, hardware, CPU load) to ``OUT/lora_vs_full.json``, and each
LoRA adapter to ``OUT/adapters/<method>_n<N>/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.core import runtime  # noqa: E402
from utils.training.trl_on_cpu import score_labelled_positions_only  # noqa: E402

DEFAULT_OUT = runtime.REPO_ROOT / "data" / "results"
DEFAULT_LR = {"full": 1e-4, "lora": 1e-3}  # full: notebook 02's sweep; LoRA: 10x, as usual for adapters
CSV_NAME, LOG_NAME = "lora_vs_full.csv", "lora_vs_full.json"
FIELDS = ["method", "rank", "n_train", "steps", "learning_rate", "trainable_params", "total_params",
          "seconds_per_step", "rss_before_train_mb", "peak_rss_mb", "cuda_peak_mb", "saved_mb",
          "exact_match", "answer_loss", "n_eval", "n_loss"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["full", "lora-2", "lora-8", "lora-32"],
                        help="full and/or lora-R for a LoRA of rank R")
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 1024],
                        help="training-set sizes N; each run is one epoch, N / batch steps")
    parser.add_argument("--batch-size", type=int, default=8, help="conversations per optimizer step")
    parser.add_argument("--lr-full", type=float, default=DEFAULT_LR["full"], help="full fine-tuning rate")
    parser.add_argument("--lr-lora", type=float, default=DEFAULT_LR["lora"], help="rate of every LoRA run")
    parser.add_argument("--n-eval", type=int, default=100, help="held-out messages for exact match")
    parser.add_argument("--n-loss", type=int, default=32, help="other held-out messages for the answer loss")
    parser.add_argument("--max-new-tokens", type=int, default=24, help="generation cap of exact match")
    parser.add_argument("--model", default=None, help="base model: None = bundled SmolLM2-135M-Instruct")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the CSV, the log and adapters")
    parser.add_argument("--no-untrained", action="store_true",
                        help="skip the untrained model's row (when the caller measured it already)")
    parser.add_argument("--fast", action="store_true",
                        help="the test suite's run: sizes 8, batch 4, 4+4 held-out messages")
    parser.add_argument("--single", default=None, help=argparse.SUPPRESS)  # one run, as JSON (internal)
    args = parser.parse_args(argv)
    if args.fast:  # sizes only: the code path is the same
        args.sizes, args.batch_size, args.n_eval, args.n_loss = [8], 4, 4, 4
    for method in args.methods:
        rank = method[5:] if method.startswith("lora-") else ""
        if method != "full" and not (rank.isdigit() and int(rank) > 0):
            parser.error(f"--methods: {method!r} is neither 'full' nor 'lora-R' with a positive rank R")
    for size in args.sizes:
        if size < args.batch_size or size % args.batch_size:
            parser.error(f"--sizes: {size} must be a positive multiple of --batch-size {args.batch_size}")
    return args


def run_specs(args: argparse.Namespace) -> list[dict]:
    """One spec per (size, method); the untrained model first (steps 0)."""
    common = {"batch_size": args.batch_size, "n_eval": args.n_eval, "n_loss": args.n_loss,
              "max_new_tokens": args.max_new_tokens, "model": args.model, "threads": args.threads,
              "seed": args.seed, "out": args.out}
    specs = [] if args.no_untrained else [{**common, "method": "untrained", "rank": 0, "n_train": 0,
                                           "learning_rate": 0.0}]
    for size in args.sizes:
        for method in args.methods:
            rank = 0 if method == "full" else int(method[5:])
            lr = args.lr_full if method == "full" else args.lr_lora
            specs.append({**common, "method": method, "rank": rank, "n_train": size, "learning_rate": lr})
    return specs


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    unit = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


def train_and_measure(spec: dict) -> dict:
    """Train one method in this process and measure it; meant to run in a fresh process."""
    import psutil
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import SFTConfig, SFTTrainer

    from utils.core import models
    from utils.course_data import sft_data

    hf_logging.set_verbosity_error()
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    runtime.seed_everything(spec["seed"])
    data = runtime.REPO_ROOT / "data" / "sft"
    train = sft_data.load_split(data / "train.jsonl")[:spec["n_train"]]
    val = sft_data.load_split(data / "validation.jsonl")
    eval_records, loss_records = val[:spec["n_eval"]], val[spec["n_eval"]:spec["n_eval"] + spec["n_loss"]]
    device = runtime.pick_device()
    model, tokenizer = models.load_model(spec["model"], quiet=True)
    row = {key: spec[key] for key in ("method", "rank", "n_train", "learning_rate")}
    row.update(steps=spec["n_train"] // spec["batch_size"], n_eval=len(eval_records),
               n_loss=len(loss_records), seconds_per_step=None, saved_mb=None, cuda_peak_mb=None)
    if spec["method"] != "untrained":
        config = SFTConfig(
            output_dir=tempfile.mkdtemp(prefix="compare_lora_full_"), max_steps=row["steps"],
            per_device_train_batch_size=spec["batch_size"], learning_rate=spec["learning_rate"],
            lr_scheduler_type="constant",  # runs of different length stay comparable step by step
            max_length=128, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
            activation_checkpointing=False,  # TRL's default; a 135M model needs no memory saving
            **runtime.mixed_precision_args(device), dataloader_pin_memory=False,
            seed=spec["seed"],
        )
        lora = None
        if spec["method"] != "full":
            lora = LoraConfig(r=spec["rank"], lora_alpha=2 * spec["rank"], lora_dropout=0.0,
                              target_modules="all-linear", task_type="CAUSAL_LM")
        trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora,
                             train_dataset=Dataset.from_list(sft_data.to_prompt_completion(train)))
        trainer.remove_callback(PrinterCallback)
        model = trainer.model
        row["rss_before_train_mb"] = psutil.Process().memory_info().rss / 2**20
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        trainer.train()
        row["seconds_per_step"] = (time.perf_counter() - start) / row["steps"]
        row["peak_rss_mb"] = peak_rss_mb()  # before evaluation, so the peak is training's
        if device == "cuda":
            row["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        saved = (Path(spec["out"]) / "adapters" / f"{spec['method']}_n{spec['n_train']}" if lora
                 else Path(tempfile.mkdtemp(prefix="full_model_")))
        model.save_pretrained(str(saved))  # a PeftModel saves only its adapter
        row["saved_mb"] = sum(p.stat().st_size for p in saved.iterdir() if p.suffix == ".safetensors") / 2**20
        if not lora:
            shutil.rmtree(saved)  # the full copy was saved only to measure its size
        del trainer
    else:
        row["rss_before_train_mb"] = psutil.Process().memory_info().rss / 2**20
        row["peak_rss_mb"] = peak_rss_mb()
    row["trainable_params"] = models.count_parameters(model, trainable_only=True) if row["steps"] else 0
    row["total_params"] = models.count_parameters(model)
    row["exact_match"] = sft_data.exact_match(model, tokenizer, eval_records, spec["max_new_tokens"])
    row["answer_loss"] = sft_data.answer_loss(model, tokenizer, loss_records)
    return row


def run_in_subprocess(spec: dict) -> dict:
    """``train_and_measure(spec)`` in a fresh Python process; returns its row."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--single", json.dumps(spec)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"run {spec['method']} n={spec['n_train']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def hardware() -> str:
    if runtime.pick_device() == "cuda":
        return runtime.describe_device()
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    score_labelled_positions_only()  # TRL's vocabulary head only where a label is, on the CPU too
    args = parse_args(argv)
    if args.single:
        print(json.dumps(train_and_measure(json.loads(args.single))))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, rows = time.perf_counter(), []
    loads = [os.getloadavg()[0]]
    for spec in run_specs(args):
        row = run_in_subprocess(spec)
        rows.append(row)
        loads.append(os.getloadavg()[0])
        print(f"{row['method']:>9} n={row['n_train']:<5} steps={row['steps']:<4} exact match "
              f"{row['exact_match']:.2f} answer loss {row['answer_loss']:.3f} "
              f"peak {row['peak_rss_mb']:.0f} MB",
              flush=True)
    with open(out / CSV_NAME, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()})
    given = argv if argv is not None else sys.argv[1:]
    log = {"command": "python scripts/compare_lora_full.py " + " ".join(given),
           "minutes": round((time.perf_counter() - start) / 60, 1), "hardware": hardware(),
           "load_average_range": [round(min(loads), 1), round(max(loads), 1)],
           "torch_threads": args.threads, "batch_size": args.batch_size,
           "learning_rates": {"full": args.lr_full, "lora": args.lr_lora}, "lora_targets": "all-linear",
           "lora_alpha": "2 x rank", "schedule": "constant, no warm-up", "epochs": 1}
    (out / LOG_NAME).write_text(json.dumps(log, indent=1) + "\n")
    print(f"{len(rows)} runs in {log['minutes']} min; wrote {out / CSV_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
