"""Train the course's draft-pick adapter: LoRA SFT of SmolLM2-135M-Instruct on simulated QLT picks.

Notebook 07 trains a few steps live to show the mechanics, then evaluates the adapter this script
saves (committed under adapters/draft_picker/). The adapter is stored in float16 to stay small.

    python scripts/train_draft_picker.py                        # the committed run
    python scripts/train_draft_picker.py --format names --out runs/draft_picker_names
    python scripts/train_draft_picker.py --fast --out /tmp/dp   # seconds: the test suite's run

Picks come from the training drafts of ``split_by_draft(test_fraction=0.2, seed=0)`` (the same
split as the notebook), shuffled, one pass (no pick is seen twice). ``--time-limit-min`` stops
training early on a slow machine; the log records the steps actually done, the minutes taken and
the hardware, which the notebook prints beside the adapter's numbers. ``--eval-picks`` held-out picks
are scored at the end (the notebook does the full evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import draft_baselines, draft_prompts, drafts, runtime  # noqa: E402
from utils.draft_simulation import course_draft_file  # noqa: E402
from utils.models import load_model  # noqa: E402

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]  # attention only: ~0.9M weights, 1.8 MB in fp16
ADAPTER_WEIGHTS = "adapter_model.safetensors"
LOG_FILE = "training_log.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--format", default="annotated", choices=draft_prompts.FORMATS,
                        help="prompt format (utils.draft_prompts)")
    parser.add_argument("--steps", type=int, default=None,
                        help="optimizer steps (default 300; 4 with --fast)")
    parser.add_argument("--batch-size", type=int, default=4, help="picks per step")
    parser.add_argument("--lr", type=float, default=2e-3, help="learning rate (LoRA tolerates 1e-3 to 2e-3)")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    parser.add_argument("--model", default=None, help="base model: None = bundled SmolLM2-135M-Instruct")
    parser.add_argument("--drafts", default=None, help="17lands-format draft file (default: QLT course file)")
    parser.add_argument("--max-drafts", type=int, default=None, help="read at most this many drafts")
    parser.add_argument("--train-picks", type=int, default=None,
                        help="distinct training picks (default steps x batch: one pass, none repeated)")
    parser.add_argument("--eval-picks", type=int, default=200, help="held-out picks scored at the end")
    parser.add_argument("--time-limit-min", type=float, default=None, help="stop training after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(runtime.REPO_ROOT / "adapters" / "draft_picker"))
    parser.add_argument("--fast", action="store_true",
                        help="a seconds-long run for tests: 4 steps, batch 2, 4 eval picks")
    args = parser.parse_args(argv)
    if args.fast:  # sizes only: the code path is the same
        args.batch_size, args.eval_picks = 2, 4
        args.max_drafts = args.max_drafts or 10
    args.steps = args.steps if args.steps is not None else (4 if args.fast else 300)
    for name in ("steps", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    return args


def training_records(args: argparse.Namespace) -> tuple[list[dict], list[dict], dict]:
    """Shuffled training picks (steps x batch of them, or all there are), held-out picks, card info."""
    path = Path(args.drafts) if args.drafts else course_draft_file("QLT")
    records = drafts.draft_picks_from_17lands(path, max_drafts=args.max_drafts)
    cards = drafts.read_cards(path.parent / "cards.csv", records[0]["expansion"])
    train, test = draft_baselines.split_by_draft(records, test_fraction=0.2, seed=0)
    random.Random(args.seed).shuffle(train)
    random.Random(args.seed + 1).shuffle(test)
    n_train = args.train_picks or args.steps * args.batch_size
    return train[:n_train], test[:args.eval_picks], draft_prompts.card_info(cards)


class TimeLimit(TrainerCallback):
    """Stops training once ``minutes`` have passed (None: never)."""

    def __init__(self, minutes: float | None):
        self.minutes, self.start = minutes, time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.minutes is not None and time.perf_counter() - self.start > 60 * self.minutes:
            control.should_training_stop = True


def save_adapter_fp16(model, out: Path) -> int:
    """Save the LoRA weights in float16 plus adapter_config.json; returns the weight file's bytes."""
    from peft import get_peft_model_state_dict

    out.mkdir(parents=True, exist_ok=True)
    weights = get_peft_model_state_dict(model)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in weights.items()}
    save_file(state, str(out / ADAPTER_WEIGHTS))
    model.peft_config["default"].save_pretrained(str(out))
    return (out / ADAPTER_WEIGHTS).stat().st_size


def train(args: argparse.Namespace) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    runtime.seed_everything(args.seed)
    train_records, test_records, info = training_records(args)
    model, tokenizer = load_model(args.model, quiet=True)
    examples = [draft_prompts.pick_example(r, args.format, info) for r in train_records]
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="draft_picker_"), max_steps=args.steps,
        per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
        # constant after warm-up: a time limit may cut the run short
        lr_scheduler_type="constant_with_warmup", warmup_steps=max(1, args.steps // 50),
        max_length=1024, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        activation_checkpointing=False, bf16=False, **runtime.mixed_precision_args(runtime.pick_device()),
        dataloader_pin_memory=False, seed=args.seed,
    )
    lora = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                      target_modules=LORA_TARGETS, task_type="CAUSAL_LM")
    timer = TimeLimit(args.time_limit_min)
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora,
                         train_dataset=Dataset.from_list(examples), callbacks=[timer])
    trainer.train()
    minutes = (time.perf_counter() - timer.start) / 60
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    out = Path(args.out)
    size = save_adapter_fp16(trainer.model, out)
    trainer.model.eval()
    hits = draft_prompts.pick_hits(
        test_records, lambda r: draft_prompts.llm_ranking(trainer.model, tokenizer, r, args.format, info))
    log = {
        "command": "python scripts/train_draft_picker.py " + " ".join(sys.argv[1:]),
        "format": args.format, "steps_done": trainer.state.global_step, "steps_planned": args.steps,
        "batch_size": args.batch_size, "learning_rate": args.lr, "lora_rank": args.rank,
        "lora_targets": LORA_TARGETS, "training_picks": trainer.state.global_step * args.batch_size,
        "minutes": round(minutes, 1), "losses": losses, "adapter_bytes": size,
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores" if runtime.pick_device() == "cpu"
        else runtime.describe_device(),
        "torch_threads": torch.get_num_threads(),
        "eval_picks": len(hits),
        "eval_top1": float(hits["top1"].mean()) if len(hits) else None,
        "eval_top3": float(hits["top3"].mean()) if len(hits) else None,
    }
    (out / LOG_FILE).write_text(json.dumps(log, indent=1) + "\n")
    return log


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = train(args)
    print(f"{log['steps_done']} steps in {log['minutes']} min; loss {log['losses'][0]:.3f} -> "
          f"{log['losses'][-1]:.3f}; held-out top-1 {log['eval_top1']} on {log['eval_picks']} picks; "
          f"adapter {log['adapter_bytes'] / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
