"""Train the course's draft pickers: LoRA fine-tuning of SmolLM2-135M-Instruct on simulated draft picks.

Notebook 08 trains a few steps live to show the mechanics, then evaluates the pickers this script
saved (committed under adapters/draft_picker/ and adapters/draft_picker_likelihood/; each folder's
README gives the exact command, time and hardware). Adapters are stored in float16 to stay small.

    python scripts/train_draft_picker.py --objective head --layers-from 15 --lr 1e-3 --extra-sets 3 \
        --time-limit-min 75 --eval-picks 600 --unseen-picks 600 --out runs/draft_picker_head
    python scripts/train_draft_picker.py --eval-only --eval-picks 600 --unseen-picks 600 \
        --out adapters/draft_picker                             # re-score a saved picker, no training
    python scripts/train_draft_picker.py --fast --out /tmp/dp   # seconds: the test suite's run

Three objectives:
- ``head``: one forward pass over the pick prompt in the ``text`` format (every card as a player
  reads it), a score per card read by a linear head from the hidden state at the end of that
  card's line, and the cross-entropy of the human's pick among the pack (``utils.drafts.pack_head``);
- ``pack-softmax``: the same cross-entropy, each card scored by the log-likelihood of its answer
  (``--scoring likelihood``) or by how much the adapter changed it (``ratio``: every card starts at 0),
  one pass over the prompt per scoring plus one per candidate answer (``draft_prompts.pack_softmax_loss``);
- ``sft``: TRL's SFTTrainer on prompt/completion records, the loss on the answer's tokens against
  the whole vocabulary (it never sees the other cards of the pack).

Picks come from the training drafts of ``split_by_draft(test_fraction=0.2, seed=0)`` (the same
split as the notebook), plus with ``--extra-sets N`` the drafts of N freshly generated sets (so a
card's name alone cannot carry its worth), shuffled, one pass (no pick is seen twice). ``--time-limit-min``
stops training early; the log records the steps actually done, the minutes and the hardware. At the
end ``--eval-picks`` held-out picks and ``--unseen-picks`` picks of the unseen set QGO are scored
with the weights as saved (float16), one row per pick in ``eval_hits.csv``, which the notebook loads.
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

import pandas as pd
import torch
from safetensors.torch import save_file
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.core import runtime  # noqa: E402
from utils.core.models import load_model  # noqa: E402
from utils.drafts import baselines as draft_baselines  # noqa: E402
from utils.drafts import card_text, pack_head
from utils.drafts import files as drafts
from utils.drafts import prompts as draft_prompts
from utils.drafts.simulation import (  # noqa: E402
    TEXT_FILE,
    course_draft_file,
    draft_file_name,
    generate_spec,
    write_new_set,
)
from utils.training.trl_on_cpu import score_labelled_positions_only  # noqa: E402

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]  # attention only: ~0.9M weights in all 30 layers
OBJECTIVES = ("pack-softmax", "sft", "head")
ADAPTER_WEIGHTS = "adapter_model.safetensors"
LOG_FILE = "training_log.json"
HITS_FILE = "eval_hits.csv"
UNSEEN_SET = "QGO"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--format", default="line", choices=draft_prompts.FORMATS,
                        help="prompt and answer format (utils.drafts.prompts)")
    parser.add_argument("--objective", default="pack-softmax", choices=OBJECTIVES,
                        help="pack-softmax: the pick against the pack's other cards, by answer "
                             "likelihood; head: the same choice by a head on the body, one pass per "
                             "pick (text format); sft: TRL SFT")
    parser.add_argument("--scoring", default="ratio", choices=tuple(draft_prompts.SCORINGS),
                        help="ratio: log-likelihood change from the base model; likelihood: the raw sum")
    parser.add_argument("--layers-from", type=int, default=0,
                        help="LoRA only on layers >= this (0 = all): no backward pass below it")
    parser.add_argument("--steps", type=int, default=None,
                        help="optimizer steps (default 300; 4 with --fast)")
    parser.add_argument("--batch-size", type=int, default=4, help="picks per step")
    parser.add_argument("--lr", type=float, default=6e-4,
                        help="learning rate (ratio scores: 3e-4 and 6e-4 learned in CPU trials, 2e-3 did "
                             "worse than uniform)")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    parser.add_argument("--model", default=None, help="base model: None = bundled SmolLM2-135M-Instruct")
    parser.add_argument("--drafts", default=None, help="17lands-format draft file (default: QLT course file)")
    parser.add_argument("--max-drafts", type=int, default=None, help="read at most this many drafts")
    parser.add_argument("--train-picks", type=int, default=None,
                        help="distinct training picks (default steps x batch: one pass, none repeated)")
    parser.add_argument("--eval-picks", type=int, default=200, help="held-out picks scored at the end")
    parser.add_argument("--unseen-picks", type=int, default=0,
                        help=f"picks of the unseen set {UNSEEN_SET} scored at the end")
    parser.add_argument("--time-limit-min", type=float, default=None, help="stop training after this")
    parser.add_argument("--extra-sets", type=int, default=0,
                        help="also train on this many new generated sets (their drafts mixed in), so "
                             "card names alone cannot carry a card's worth")
    parser.add_argument("--extra-drafts", type=int, default=200, help="simulated drafts per extra set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(runtime.REPO_ROOT / "adapters" / "draft_picker"))
    parser.add_argument("--eval-only", action="store_true",
                        help="no training: score the adapter already in --out, rewriting eval_hits.csv and "
                             "the evaluation fields of its training log")
    parser.add_argument("--fast", action="store_true",
                        help="a seconds-long run for tests: 4 steps, batch 2, 4 eval picks")
    args = parser.parse_args(argv)
    if args.fast:  # sizes only: the code path is the same
        args.batch_size, args.eval_picks, args.unseen_picks = 2, 4, min(args.unseen_picks, 2)
        args.max_drafts = args.max_drafts or 10
    args.steps = args.steps if args.steps is not None else (4 if args.fast else 300)
    if args.objective == "head":
        args.format = "text"  # the head reads each card's line: it needs the cards' text
    for name in ("steps", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.layers_from < 0:
        parser.error(f"--layers-from must be 0 or more, got {args.layers_from}")
    return args


def training_records(args: argparse.Namespace) -> tuple[list[dict], list[dict], dict]:
    """Shuffled training picks (steps x batch of them, or all there are), held-out picks, card info."""
    path = Path(args.drafts) if args.drafts else course_draft_file("QLT")
    records = drafts.draft_picks_from_17lands(path, max_drafts=args.max_drafts)
    train, test = draft_baselines.split_by_draft(records, test_fraction=0.2, seed=0)
    info = set_info(path, records[0]["expansion"])
    for extra_path in extra_sets(args.extra_sets, args.extra_drafts, args.seed):
        extra = drafts.draft_picks_from_17lands(extra_path, max_drafts=args.max_drafts)
        train += extra
        info |= set_info(extra_path, extra[0]["expansion"])
    random.Random(args.seed).shuffle(train)
    random.Random(args.seed + 1).shuffle(test)
    n_train = args.train_picks or args.steps * args.batch_size
    return train[:n_train], test[:args.eval_picks], info


def extra_sets(n: int, n_drafts: int, seed: int) -> list[Path]:
    """Draft files of ``n`` new generated training sets (codes QTA, QTB, ...), in a temporary folder:
    the generator's sets, which neither the held-out nor the unseen evaluation ever uses."""
    paths = []
    for i in range(n):
        spec = generate_spec(f"QT{chr(ord('A') + i)}", f"Training set {i + 1}", seed=1000 * (seed + 1) + i,
                             n_drafts=n_drafts)
        folder = Path(tempfile.mkdtemp(prefix=f"{spec.code}_"))
        paths.append(next(p for p in write_new_set(spec, folder) if p.name == draft_file_name(spec.code)))
    return paths


def set_info(draft_file: Path, expansion: str) -> dict:
    """Card info for the prompts: cards.csv beside the draft file, joined with the cards' text
    (card_text.json beside it, Scryfall format) when there is one."""
    cards = drafts.read_cards(draft_file.parent / "cards.csv", expansion)
    text_file = draft_file.parent / TEXT_FILE
    return draft_prompts.card_info(cards, card_text.read_card_text(text_file) if text_file.exists() else None)


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


def lora_config(args: argparse.Namespace, n_layers: int):
    from peft import LoraConfig

    layers = None if args.layers_from == 0 else list(range(args.layers_from, n_layers))
    if layers == []:
        raise SystemExit(f"--layers-from {args.layers_from} leaves no layer to train "
                         f"(the model has {n_layers}).")
    return LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0, target_modules=LORA_TARGETS,
                      layers_to_transform=layers, task_type="CAUSAL_LM")


def train_sft(model, tokenizer, records, info, args, timer) -> tuple[object, list[float], int]:
    """TRL's SFTTrainer on prompt/completion records: the loss on the name's tokens."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    examples = [draft_prompts.pick_example(r, args.format, info) for r in records]
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="draft_picker_"), max_steps=args.steps,
        per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
        # constant after warm-up: a time limit may cut the run short
        lr_scheduler_type="constant_with_warmup", warmup_steps=max(1, args.steps // 50),
        max_length=1024, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        activation_checkpointing=False, **runtime.mixed_precision_args(runtime.pick_device()),
        dataloader_pin_memory=False, seed=args.seed,
    )
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                         peft_config=lora_config(args, model.config.num_hidden_layers),
                         train_dataset=Dataset.from_list(examples), callbacks=[timer])
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return trainer.model, losses, trainer.state.global_step


def train_pack_softmax(model, tokenizer, records, info, args, timer) -> tuple[object, list[float], int]:
    """AdamW on ``draft_prompts.pack_softmax_loss``, ``batch_size`` picks per step (gradients summed
    pick by pick: packs differ in size, so they are not padded into one batch)."""
    from peft import get_peft_model

    model = get_peft_model(model, lora_config(args, model.config.num_hidden_layers)).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    warmup = max(1, args.steps // 50)  # then constant: a time limit may cut the run short
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    losses = []
    for step in range(1, args.steps + 1):
        # one pass when there are steps x batch records; fewer records are cycled (tests)
        first = (step - 1) * args.batch_size
        batch = [records[i % len(records)] for i in range(first, first + args.batch_size)]
        total = 0.0
        for record in batch:
            with runtime.autocast(model):  # bf16 where the CPU has it, as the head trains
                loss = draft_prompts.pack_softmax_loss(model, tokenizer, record, args.format, info,
                                                       args.scoring) / len(batch)
            loss.backward()
            total += float(loss.detach())
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(total)
        print(f"step {step}: pack-softmax loss {total:.3f}", flush=True)
        if timer.minutes is not None and time.perf_counter() - timer.start > 60 * timer.minutes:
            break
    return model, losses, step


def train_head(model, tokenizer, records, info, args, timer) -> tuple[object, list[float], int]:
    """AdamW on ``pack_head.pick_loss``: one forward pass per pick over its text-format prompt, a
    batch of ``batch_size`` picks padded together, LoRA on the body and the head trained in full."""
    from peft import get_peft_model

    lora = get_peft_model(model, lora_config(args, model.config.num_hidden_layers))
    picker = pack_head.PackHead(lora).train()
    params = [p for p in picker.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    warmup = max(1, args.steps // 50)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    losses = []
    for step in range(1, args.steps + 1):
        first = (step - 1) * args.batch_size
        batch = [records[i % len(records)] for i in range(first, first + args.batch_size)]
        encoded = [pack_head.encode_pick(tokenizer, record, info) for record in batch]
        targets = [names.index(record["pick"]) for (_, names, _), record in zip(encoded, batch, strict=True)]
        with runtime.autocast(picker):
            loss = pack_head.pick_loss(picker([(ids, ends) for ids, _, ends in encoded]), targets)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        print(f"step {step}: pick loss {losses[-1]:.3f}", flush=True)
        if timer.minutes is not None and time.perf_counter() - timer.start > 60 * timer.minutes:
            break
    return picker, losses, step


def round_lora_to_fp16(model) -> None:
    """Round the trained weights to float16 in place, so the evaluation scores the adapter as saved."""
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.copy_(param.to(torch.float16).to(param.dtype))


def evaluation_hits(model, tokenizer, args, test_records, info) -> pd.DataFrame:
    """One row per scored pick: set, draft_id, pack_number, pick_number, top1, top3 and the card chosen."""
    model.eval()

    def hits(records, card_info, expansion):
        def ranking(record):
            if isinstance(model, pack_head.PackHead):
                return pack_head.head_ranking(model, tokenizer, record, card_info)
            return draft_prompts.llm_ranking(model, tokenizer, record, args.format, card_info, args.scoring)

        return draft_prompts.pick_hits(records, ranking).assign(set=expansion)

    tables = [hits(test_records, info, test_records[0]["expansion"])] if test_records else []
    if args.unseen_picks:
        path = course_draft_file(UNSEEN_SET)
        unseen = drafts.draft_picks_from_17lands(path, max_drafts=args.max_drafts)
        random.Random(args.seed + 2).shuffle(unseen)
        unseen_info = set_info(path, UNSEEN_SET)
        picks = unseen[:args.unseen_picks]
        tables.append(hits(picks, unseen_info, UNSEEN_SET))
    columns = ["set", "draft_id", "pack_number", "pick_number", "top1", "top3", "choice"]
    return pd.concat(tables)[columns] if tables else pd.DataFrame(columns=columns)


def evaluate(model, tokenizer, args, test_records, info) -> dict:
    """Score the held-out and unseen picks, write eval_hits.csv to --out, return the log's eval fields."""
    start = time.perf_counter()
    hits = evaluation_hits(model, tokenizer, args, test_records, info)
    hits.to_csv(Path(args.out) / HITS_FILE, index=False)
    held_out = hits[hits["set"] != UNSEEN_SET]
    return {
        "eval_torch_threads": torch.get_num_threads(),
        "eval_minutes": round((time.perf_counter() - start) / 60, 1),
        "eval_picks": len(held_out),
        "eval_top1": float(held_out["top1"].mean()) if len(held_out) else None,
        "eval_top3": float(held_out["top3"].mean()) if len(held_out) else None,
        "unseen_picks": int((hits["set"] == UNSEEN_SET).sum()),
    }


def evaluate_saved(args: argparse.Namespace) -> dict:
    """--eval-only: re-score the adapter in --out (as saved, float16) and update its training log."""
    from peft import PeftModel

    out = Path(args.out)
    if not (out / LOG_FILE).exists() or not (out / ADAPTER_WEIGHTS).exists():
        raise SystemExit(f"--eval-only needs an adapter made by this script in {out} ({ADAPTER_WEIGHTS} and "
                         f"{LOG_FILE}); train one first, or point --out at it.")
    log = json.loads((out / LOG_FILE).read_text())
    args.format, args.scoring = log["format"], log["scoring"]  # score it the way it was trained
    _, test_records, info = training_records(args)
    model, tokenizer = load_model(args.model, quiet=True)
    if log["objective"] == "head":
        model = pack_head.load_picker(model, out)
    else:
        model = PeftModel.from_pretrained(model, str(out))
    log |= evaluate(model, tokenizer, args, test_records, info)
    log["eval_command"] = "python scripts/train_draft_picker.py " + " ".join(sys.argv[1:])
    (out / LOG_FILE).write_text(json.dumps(log, indent=1) + "\n")
    return log


def train(args: argparse.Namespace) -> dict:
    runtime.seed_everything(args.seed)
    train_records, test_records, info = training_records(args)
    model, tokenizer = load_model(args.model, quiet=True)
    timer = TimeLimit(args.time_limit_min)
    fit = {"pack-softmax": train_pack_softmax, "sft": train_sft, "head": train_head}[args.objective]
    model, losses, steps_done = fit(model, tokenizer, train_records, info, args, timer)
    minutes = (time.perf_counter() - timer.start) / 60
    out = Path(args.out)
    lora = model.model if isinstance(model, pack_head.PackHead) else model
    size = save_adapter_fp16(lora, out)
    if isinstance(model, pack_head.PackHead):
        torch.save(model.head.state_dict(), out / pack_head.HEAD_FILE)
    round_lora_to_fp16(lora)
    log = {
        "command": "python scripts/train_draft_picker.py " + " ".join(sys.argv[1:]),
        "objective": args.objective, "scoring": args.scoring, "format": args.format,
        "steps_done": steps_done, "steps_planned": args.steps,
        "batch_size": args.batch_size, "learning_rate": args.lr, "lora_rank": args.rank,
        "lora_targets": LORA_TARGETS, "lora_layers_from": args.layers_from,
        "training_picks": steps_done * args.batch_size,
        "minutes": round(minutes, 1), "losses": losses, "adapter_bytes": size,
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores" if runtime.pick_device() == "cpu"
        else runtime.describe_device(),
        "torch_threads": torch.get_num_threads(),
    } | evaluate(model, tokenizer, args, test_records, info)
    (out / LOG_FILE).write_text(json.dumps(log, indent=1) + "\n")
    return log


def main(argv: list[str] | None = None) -> int:
    score_labelled_positions_only()  # TRL's vocabulary head only where a label is, on the CPU too
    args = parse_args(argv)
    if args.eval_only:
        log = evaluate_saved(args)
        print(f"re-scored {args.out}: held-out top-1 {log['eval_top1']} on {log['eval_picks']} picks, "
              f"{log['unseen_picks']} unseen picks, in {log['eval_minutes']} min")
        return 0
    log = train(args)
    print(f"{log['steps_done']} steps in {log['minutes']} min; loss {log['losses'][0]:.3f} -> "
          f"{log['losses'][-1]:.3f}; held-out top-1 {log['eval_top1']} on {log['eval_picks']} picks; "
          f"adapter {log['adapter_bytes'] / 1e6:.1f} MB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
