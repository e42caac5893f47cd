"""The comparisons of notebooks 02-04, run at full size: several seeds, 300 held-out orders.

Every run fine-tunes SmolLM2-135M-Instruct with TRL's SFTTrainer on level-3 orders
(``utils.course_data.order_ladder``: quantities in words and idioms, a distracting sentence, half
of them corrected) and scores it on the same held-out orders, drawn from names, items and
phrasings no training record uses. Each run records its exact match per held-out order (so the
notebooks can pair runs order by order), its answer loss, the cloze accuracy on the course's
multiple-choice facts (the forgetting check), its time per step and its peak memory.

Studies (``--studies``; rows are cached by their settings, so runs that two studies share, such as
full fine-tuning on 800 clean records, happen once):

- ``size_noise`` (notebook 03): 50, 200 and 800 records, clean or 30% noisy, one step budget.
- ``lora_full`` (notebook 04): full fine-tuning against LoRA rank 8 at the same three sizes.
- ``rank`` (notebook 04): LoRA ranks 2, 8 and 32 with alpha = 2r, and rank 32 with rsLoRA's
  alpha / sqrt(r) scaling.
- ``masking`` (notebook 02): loss on the answer only against loss on every token.
- ``lr`` (notebook 02): learning rates 3e-5, 1e-4 and 1e-3.
- ``overfit`` (notebook 02): 16 records for many epochs, held-out loss every few steps.
- ``qlora`` (notebook 04): LoRA rank 8 on the 4-bit (NF4) model; CUDA with bitsandbytes only.

    python scripts/sft_experiments.py --out data/results/sft_experiments   # the committed results
    python scripts/sft_experiments.py --fast --out /tmp/sft                 # the test suite's run

Rows go to ``OUT/runs.jsonl`` as each run ends (a stopped run keeps what it finished; a rerun
with the same ``--out`` skips the runs already there), each with the hardware it ran on; how each
invocation was made (command, minutes, hardware) is appended to ``OUT/meta.json``.
``--budget-minutes`` stops starting new runs after that long; the studies run in the order given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.core import runtime  # noqa: E402
from utils.training import experiment_runs  # noqa: E402

STUDIES = ("size_noise", "lora_full", "rank", "masking", "lr", "overfit", "qlora")
SEEDS = (0, 1, 2)
BASE = {"method": "full", "rank": 0, "rslora": False, "n_train": 800, "noise": 0.0, "lr": 1e-4,
        "completion_only": True, "steps": 100, "seed": 0, "curve_every": 0}
LORA_LR = 1e-3  # adapters train best at about 10x full fine-tuning's rate (notebook 04)
NOISE_SHARES = {"wrong answer": 0.15, "off-format": 0.10, "truncated": 0.05}  # 30% of records


def study_specs(study: str, fast: bool, seeds: tuple[int, ...] = SEEDS) -> list[dict]:
    """The runs of one study: dicts of BASE's keys (the untrained model is one row per study)."""
    sizes = (8, 16) if fast else (50, 200, 800)
    seeds = seeds[:1] if fast else seeds
    big = sizes[-1]
    runs = [{"method": "untrained", "steps": 0}]
    for seed in seeds:
        if study == "size_noise":
            runs += [{"n_train": n, "noise": noise, "seed": seed} for n in sizes for noise in (0.0, 0.3)]
        elif study == "lora_full":
            runs += [{"n_train": n, "method": m, **_lora(m), "seed": seed}
                     for n in sizes for m in ("full", "lora")]
        elif study == "rank":
            runs += [{"n_train": big, "method": "lora", "rank": r, "lr": LORA_LR, "seed": seed}
                     for r in ((2, 32) if fast else (2, 8, 32))]
            runs += [{"n_train": big, "method": "lora", "rank": r, "rslora": True, "lr": LORA_LR,
                      "seed": seed} for r in (32,)]
        elif study == "masking":
            runs += [{"n_train": big, "completion_only": c, "seed": seed} for c in (True, False)]
        elif study == "lr":
            runs += [{"n_train": big, "lr": lr, "seed": seed} for lr in (3e-5, 1e-4, 1e-3)]
        elif study == "overfit":
            runs += [{"n_train": 16, "steps": 160 if not fast else 4, "lr": 3e-4, "seed": seed,
                      "curve_every": 10 if not fast else 2}]
        elif study == "qlora":
            runs += [{"n_train": big, "method": m, **_lora(m), "seed": seed} for m in ("lora", "qlora")]
    specs = []
    for run in runs:
        spec = {**BASE, "steps": 4 if fast else BASE["steps"], **run, "study": study}
        if spec["method"] == "untrained":
            spec.update(n_train=0, seed=0, lr=0.0, noise=0.0)
        if spec not in specs:
            specs.append(spec)
    return specs


def _lora(method: str) -> dict:
    return {"rank": 8, "lr": LORA_LR} if method in ("lora", "qlora") else {}


def run_key(spec: dict, device: str) -> str:
    """The settings that decide a run's result (not the study that asked for it), and the device
    type: runs compared with each other should come from the same kind of machine."""
    return json.dumps({**{k: spec[k] for k in BASE}, "device": device}, sort_keys=True)


def device_of(row: dict) -> str:
    """"cuda" or "cpu": the device type a row of runs.jsonl was measured on."""
    return row.get("device") or ("cuda" if row["hardware"].startswith("cuda") else "cpu")


def finished_runs(rows_path: Path) -> dict[str, dict]:
    """The rows already in ``runs.jsonl`` by run key (a rerun skips them)."""
    rows = experiment_runs.read_rows(rows_path)
    return {run_key(row, device_of(row)): row for row in rows}


def training_records(spec: dict) -> list[dict]:
    from utils.course_data import order_ladder
    from utils.instruction_data import data_quality

    clean = order_ladder.make_examples(max(spec["n_train"], 1) * 2, level=3, split="train", seed=spec["seed"])
    if not spec["noise"]:
        return clean[:spec["n_train"]]
    shares = {kind: share * spec["noise"] / 0.3 for kind, share in NOISE_SHARES.items()}
    records, _ = data_quality.make_noisy_set(clean, spec["n_train"], shares, seed=spec["seed"])
    return records


_BASE_MODEL: dict = {}  # loaded once; every run trains a copy


def load_base(spec: dict):
    """A fresh copy of the model to train: the bundled one, in 4 bits (NF4) for QLoRA."""
    import copy

    import torch

    from utils.core import models

    if spec["method"] != "qlora":
        if not _BASE_MODEL:
            # float32 master weights on every device, as on the CPU: Adam's small updates vanish
            # in bf16 weights, which would handicap full fine-tuning against LoRA's float32 adapters
            model, tokenizer = models.load_model(spec.get("model"), quiet=True, dtype=torch.float32)
            _BASE_MODEL.update(model=model, tokenizer=tokenizer)
        return copy.deepcopy(_BASE_MODEL["model"]), _BASE_MODEL["tokenizer"]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    folder = models.ensure_bundled_cache(quiet=True)
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=quant, dtype=torch.bfloat16)
    return model, AutoTokenizer.from_pretrained(folder)


def train(spec: dict, model, tokenizer, held_out: list[dict]):
    """Fine-tune ``model`` as ``spec`` says; returns the trained model and the training log."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PrinterCallback, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from utils.course_data import sft_data

    device = runtime.pick_device()
    config = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="sft_experiments_"), max_steps=spec["steps"],
        per_device_train_batch_size=8, learning_rate=spec["lr"], lr_scheduler_type="constant",
        completion_only_loss=spec["completion_only"], max_length=160, logging_steps=1,
        save_strategy="no", report_to="none", disable_tqdm=True, seed=spec["seed"],
        activation_checkpointing=False, dataloader_pin_memory=False, **runtime.mixed_precision_args(device))
    lora = None
    if spec["method"] in ("lora", "qlora"):
        lora = LoraConfig(r=spec["rank"], lora_alpha=2 * spec["rank"], use_rslora=spec["rslora"],
                          lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    records = sft_data.to_prompt_completion(training_records(spec))
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora,
                         train_dataset=Dataset.from_list(records))
    trainer.remove_callback(PrinterCallback)
    curve = []

    class HeldOutLoss(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if spec["curve_every"] and state.global_step % spec["curve_every"] == 0:
                held, seen = held_out[:100], training_records(spec)[:100]
                curve.append([state.global_step, sft_data.answer_loss(trainer.model, tokenizer, held),
                              sft_data.answer_loss(trainer.model, tokenizer, seen)])

    trainer.add_callback(HeldOutLoss())
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.train()
    log = {"seconds_per_step": (time.perf_counter() - start) / spec["steps"], "curve": curve,
           "train_loss": [round(e["loss"], 4) for e in trainer.state.log_history if "loss" in e],
           "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)}
    if device == "cuda":
        log["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return trainer.model, log


def measure(spec: dict, held_out: list[dict], questions: list[dict]) -> dict:
    """Train (unless untrained) and score one run; returns its row."""
    from utils.course_data import sft_data
    from utils.evaluation.multiple_choice import cloze_correct

    runtime.seed_everything(spec["seed"])
    model, tokenizer = load_base(spec)
    row = {**{k: v for k, v in spec.items() if k != "model"}, "device": runtime.pick_device(),
           "hardware": experiment_runs.hardware(), "seconds_per_step": None, "curve": [], "train_loss": [],
           "trainable_params": 0}
    if spec["method"] != "untrained":
        model, log = train(spec, model, tokenizer, held_out)
        row.update(log)
    model.eval()
    batch = 300 if runtime.pick_device() == "cuda" else 32
    answers = sft_data.generate_answers(model, tokenizer, held_out, max_new_tokens=32, batch_size=batch)
    correct = sft_data.score_answers(answers, held_out)
    facts = cloze_correct(model, tokenizer, questions, batch_size=batch)
    row.update(correct="".join("1" if c else "0" for c in correct), exact_match=sum(correct) / len(correct),
               n_eval=len(correct), answer_loss=sft_data.answer_loss(model, tokenizer, held_out),
               facts_correct="".join("1" if c else "0" for c in facts),
               facts_accuracy=sum(facts) / len(facts), example_answer=answers[0])
    return row


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", nargs="+", default=list(STUDIES), choices=STUDIES)
    experiment_runs.add_common_arguments(parser, "sft_experiments")
    parser.add_argument("--n-eval", type=int, default=300, help="held-out level-3 orders (unseen vocabulary)")
    parser.add_argument("--n-facts", type=int, default=200, help="multiple-choice facts for forgetting")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="training seeds")
    args = parser.parse_args(argv)
    if args.fast:
        args.n_eval, args.n_facts = 6, 6
    return args


def main(argv: list[str] | None = None) -> int:
    from utils.course_data import order_ladder
    from utils.evaluation.multiple_choice import make_questions
    from utils.training.trl_on_cpu import score_labelled_positions_only

    runtime.quiet_libraries()
    score_labelled_positions_only()
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    held_out = order_ladder.held_out(args.n_eval, level=3)
    questions = make_questions(args.n_facts, seed=7)
    rows_path, device = out / "runs.jsonl", runtime.pick_device()
    start = time.perf_counter()
    skipped = []
    for study in args.studies:
        if study == "qlora" and not _bitsandbytes_on_cuda():
            skipped.append("qlora: needs CUDA and bitsandbytes")
            continue
        for spec in study_specs(study, args.fast, tuple(args.seeds)):
            done = finished_runs(rows_path)  # re-read: another process may share the folder
            if run_key(spec, device) in done:
                continue
            if args.budget_minutes and time.perf_counter() - start > 60 * args.budget_minutes:
                skipped.append(f"{study}: budget reached")
                break
            try:
                row = measure({**spec, "model": args.model}, held_out, questions)
            except Exception as error:  # one failed run (e.g. QLoRA on a new driver) must not stop the rest
                what = f"{study} {spec['method']} r={spec['rank']} seed={spec['seed']}"
                skipped.append(f"{what}: {error!r}"[:300])
                print("FAILED", skipped[-1], flush=True)
                continue
            experiment_runs.append_row(rows_path, row)
            print(f"{study:>10} {row['method']:>9} r={row['rank']:<3} n={row['n_train']:<4} "
                  f"noise={row['noise']} answer-only={row['completion_only']} "
                  f"lr={row['lr']:g} seed={row['seed']} exact {row['exact_match']:.3f} "
                  f"facts {row['facts_accuracy']:.3f} {row['seconds_per_step'] or 0:.3f} s/step", flush=True)
    given = argv if argv is not None else sys.argv[1:]
    meta = {"command": "python scripts/sft_experiments.py " + " ".join(given),
            "minutes": round((time.perf_counter() - start) / 60, 1), "hardware": experiment_runs.hardware(),
            "precision": runtime.precision(runtime.pick_device()), "batch_size": 8,
            "held_out": f"{args.n_eval} level-3 orders, unseen names, items and phrasings",
            "facts": f"{args.n_facts} multiple-choice facts, cloze scoring", "skipped": skipped,
            "noise_shares": NOISE_SHARES, "schedule": "constant learning rate, no warm-up"}
    experiment_runs.append_invocation(out, meta)  # results can come from several invocations and machines
    print(f"{len(finished_runs(rows_path))} runs; {meta['minutes']} min; wrote {rows_path}")
    return 0


def _bitsandbytes_on_cuda() -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None


if __name__ == "__main__":
    sys.exit(main())
