"""Linguistic calibration of notebook 09 at full size: the bundled model learns to state a confidence.

For each seed: the bundled SmolLM2-135M-Instruct answers training sums in four difficulty buckets
(``utils.evaluation.linguistic_calibration``); its accuracy per bucket becomes the
``Confidence: NN%`` of SFT records that keep its own results; a LoRA adapter is trained on them
with TRL's SFTTrainer; then base and trained model answer the same held-out sums. Each row holds,
per held-out sum, its bucket, whether base and trained model were right, the stated confidence,
and the logit-based confidence (probability of the result tokens) of both models at T = 1 and
after temperature scaling cross-fitted on the other half of the held-out sums.

    python scripts/calibration_experiments.py                   # the committed results (data/results/)
    python scripts/calibration_experiments.py --fast --out /tmp/cal   # the test suite's run

Rows go to ``OUT/runs.jsonl`` as each seed ends (a rerun with the same ``--out`` skips the seeds
already run with the same steps and sizes); the command, minutes and hardware of each invocation
are appended to ``OUT/meta.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from utils.core import models, runtime  # noqa: E402
from utils.course_data import preference_data as prefs  # noqa: E402
from utils.evaluation import linguistic_calibration as lc  # noqa: E402
from utils.training import experiment_runs  # noqa: E402


def bits(values) -> str:
    return "".join("1" if v else "0" for v in values)


def train(records: list[dict], args, seed: int):
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = models.load_model(args.model)
    device = runtime.pick_device()
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(), max_steps=args.steps, per_device_train_batch_size=args.batch,
        learning_rate=args.lr, lr_scheduler_type="constant", completion_only_loss=True, max_length=96,
        logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True,
        activation_checkpointing=False, **runtime.mixed_precision_args(device), dataloader_pin_memory=False,
        seed=seed)
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                         train_dataset=Dataset.from_list(records), peft_config=lora)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return trainer.model.eval(), tokenizer


def run_seed(seed: int, args, base, tokenizer, train_questions, held_out) -> dict:
    start = time.perf_counter()
    prompts = [lc.prompt_messages(q) for q in held_out]
    train_prompts = [lc.prompt_messages(q) for q in train_questions]
    train_replies = [a[0] for a in prefs.generate(base, tokenizer, train_prompts, 24)]
    right = [lc.is_correct(r, q) for r, q in zip(train_replies, train_questions, strict=True)]
    accuracy = lc.bucket_accuracy(train_questions, right)
    records = lc.calibration_records(train_questions, train_replies, accuracy)
    source = "the model's own results"
    if not records:  # a model that writes no number at all (the tests' tiny random model): keep the format
        references = [str(q["answer"]) for q in train_questions]
        records = lc.calibration_records(train_questions, references, accuracy)
        source = "reference results"
    trained, _ = train(records, args, seed)
    row = {"seed": seed, "steps": args.steps, "n_train": len(train_questions), "records": len(records),
           "records_from": source, "train_bucket_accuracy": accuracy,
           "bucket": [q["bucket"] for q in held_out]}
    for name, model in (("base", base), ("trained", trained)):
        replies = [a[0] for a in prefs.generate(model, tokenizer, prompts, 24)]
        correct = [lc.is_correct(r, q) for r, q in zip(replies, held_out, strict=True)]
        conf = lc.result_confidences(model, tokenizer, held_out, replies)
        scaled, fitted = lc.cross_fitted(conf, correct)
        stated = [lc.stated_confidence(r) for r in replies]
        at_one = conf[:, lc.TEMPERATURES.index(1.0)]
        row |= {f"{name}_correct": bits(correct), f"{name}_logit": np.round(at_one, 4).tolist(),
                f"{name}_scaled": np.round(scaled, 4).tolist(), f"{name}_fitted_T": fitted,
                f"{name}_stated": [s if s is None else round(s, 2) for s in stated],
                f"{name}_examples": replies[:8]}
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    experiment_runs.add_common_arguments(parser, "calibration_experiments", budget=False)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3], help="training seeds")
    parser.add_argument("--n-train", type=int, default=56, help="training sums per bucket")
    parser.add_argument("--n-eval", type=int, default=40, help="held-out sums per bucket")
    parser.add_argument("--steps", type=int, default=150, help="LoRA steps")
    parser.add_argument("--batch", type=int, default=8, help="records per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (constant)")
    args = parser.parse_args(argv)
    if args.fast:
        args.seeds, args.n_train, args.n_eval, args.steps = [0], 4, 3, 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runtime.quiet_libraries()
    runtime.seed_everything(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "runs.jsonl"
    done = {(row["seed"], row["steps"], row["n_train"], len(row["bucket"]))  # a run is its seed and sizes
            for row in experiment_runs.read_rows(rows_path)}
    held_out = lc.make_questions(args.n_eval, seed=1000)
    train_questions = lc.make_questions(args.n_train, seed=0, exclude={q["question"] for q in held_out})
    base, tokenizer = models.load_model(args.model)
    start = time.perf_counter()
    for seed in args.seeds:
        if (seed, args.steps, len(train_questions), len(held_out)) in done:
            continue
        runtime.seed_everything(seed)
        row = run_seed(seed, args, base, tokenizer, train_questions, held_out)
        row["hardware"] = experiment_runs.hardware()
        experiment_runs.append_row(rows_path, row)
        print(f"seed {seed}: {row['seconds']} s", flush=True)
    experiment_runs.append_invocation(out, {
        "command": "python scripts/calibration_experiments.py "
                   + " ".join(sys.argv[1:] if argv is None else argv),
        "minutes": round((time.perf_counter() - start) / 60, 1), "hardware": experiment_runs.hardware(),
        "held_out": f"{args.n_eval} sums per bucket (seed 1000)",
        "train": f"{args.n_train} sums per bucket (seed 0)",
        "training": f"LoRA r=16 all-linear, {args.steps} steps x {args.batch}, lr {args.lr}, constant"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
