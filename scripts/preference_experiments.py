"""The comparisons of notebook 05, run at full size: pair types, beta, SimPO and best-of-n, several seeds.

Every run trains LoRA adapters on SmolLM2-135M-Instruct with the shipped preference pairs
(``data/preference/train.jsonl``, built by ``utils.course_data.preference_data``) and answers the
same held-out arithmetic problems greedily (questions no pair uses). Each row records, per
held-out problem, whether the answer is correct and whether it is concise (at most
``CONCISE_WORDS`` words), its word count, the cloze result on the course's multiple-choice facts
(the forgetting check), the training margins, the time per step and the peak memory, so the
notebook can pair runs problem by problem.

Studies (``--studies``; rows are cached by their settings, so a run two studies share happens once):

- ``pair_type``: DPO (beta 0.1) on concision pairs against DPO on correctness pairs.
- ``best_of_n``: the untrained model, 16 sampled answers per problem, the judge's pick among the
  first n for n = 1, 2, 4, 8, 16, and the tokens generated.
- ``simpo``: SimPO (TRL's CPO trainer, ``loss_type="simpo"``, ``cpo_alpha=0``) on concision pairs.
- ``beta``: DPO on concision pairs with beta 0.1 against beta 1.0.

    python scripts/preference_experiments.py --out data/results/preference_experiments   # committed
    python scripts/preference_experiments.py --fast --out /tmp/prefs                       # the tests' run

Rows go to ``OUT/runs.jsonl`` as each run ends (a rerun with the same ``--out`` skips the runs
already there); each invocation (command, minutes, hardware) is appended to ``OUT/meta.json``.
``--budget-minutes`` stops starting new runs after that long.
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

STUDIES = ("pair_type", "best_of_n", "simpo", "beta")
SEEDS = (0, 1, 2)
BASE = {"method": "dpo", "pair_type": "concision", "beta": 0.1, "steps": 20, "lr": 2e-4, "seed": 0}
BATCH_SIZE, LORA_RANK, MAX_NEW_TOKENS = 8, 16, 24
SIMPO = {"beta": 2.0, "simpo_gamma": 1.0}  # SimPO paper's range: beta 2-2.5, gamma / beta about 0.5
BEST_OF = (1, 2, 4, 8, 16)
TEMPERATURE = 0.8


def study_specs(study: str, fast: bool, seeds: tuple[int, ...] = SEEDS) -> list[dict]:
    """The runs of one study, as dicts of BASE's keys plus "study"."""
    seeds = seeds[:1] if fast else seeds
    runs = [{"method": "untrained"}] if study == "pair_type" else []
    for seed in seeds:
        if study == "pair_type":
            runs += [{"pair_type": t, "seed": seed} for t in ("concision", "correctness")]
        elif study == "simpo":
            runs += [{"method": "simpo", "beta": SIMPO["beta"], "seed": seed}]
        elif study == "beta":
            runs += [{"beta": b, "seed": seed} for b in (0.1, 1.0)]
    if study == "best_of_n":
        runs = [{"method": "best_of_n"}]
    specs = []
    for run in runs:
        spec = {**BASE, "steps": 3 if fast else BASE["steps"], **run, "study": study}
        if spec["method"] in ("untrained", "best_of_n"):
            spec.update(pair_type="none", beta=0.0, steps=0, lr=0.0, seed=0)
        specs.append(spec)
    return specs


def run_key(spec: dict, device: str) -> str:
    """The settings that decide a run's result (not the study that asked for it), and the device type."""
    return json.dumps({**{k: spec[k] for k in BASE}, "device": device}, sort_keys=True)


def finished_runs(rows_path: Path) -> dict[str, dict]:
    """The rows already in ``runs.jsonl`` by run key (a rerun skips them)."""
    rows = experiment_runs.read_rows(rows_path)
    return {run_key(row, row["device"]): row for row in rows}


def trainer_for(spec: dict, model, tokenizer, pairs: list[dict]):
    """TRL's DPOTrainer or (SimPO) CPOTrainer with a LoRA adapter, as notebook 05 sets them up."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import PrinterCallback

    device = runtime.pick_device()
    common = dict(output_dir=tempfile.mkdtemp(prefix="preference_experiments_"), max_steps=spec["steps"],
                  per_device_train_batch_size=BATCH_SIZE, learning_rate=spec["lr"],
                  lr_scheduler_type="constant",
                  logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, seed=spec["seed"],
                  dataloader_pin_memory=False, beta=spec["beta"], **runtime.mixed_precision_args(device))
    lora = LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, target_modules="all-linear",
                      task_type="CAUSAL_LM")
    data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in pairs])
    if spec["method"] == "simpo":
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        # CPOConfig turns activation checkpointing on by default: off, as for DPO, so steps compare
        config = CPOConfig(loss_type="simpo", cpo_alpha=0.0, simpo_gamma=SIMPO["simpo_gamma"], max_length=256,
                           activation_checkpointing=False, remove_unused_columns=False, **common)
        trainer = CPOTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora,
                             train_dataset=data)
    else:
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(activation_checkpointing=False, **common)
        trainer = DPOTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora,
                             train_dataset=data)
    trainer.remove_callback(PrinterCallback)
    return trainer


def train(spec: dict, model, tokenizer, pairs: list[dict]):
    """Train as ``spec`` says; returns the trained model and its log (margins, time, memory)."""
    import torch

    from utils.training.memory_accounting import reset_peak_rss, rss_mb

    trainer = trainer_for(spec, model, tokenizer, pairs)
    cuda = runtime.pick_device() == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    reset_peak_rss()
    before = rss_mb()["now"]
    start = time.perf_counter()
    trainer.train()
    log = [h for h in trainer.state.log_history if "rewards/margins" in h and "loss" in h]
    result = {"seconds_per_step": (time.perf_counter() - start) / spec["steps"],
              "peak_rss_mb": round(rss_mb()["peak"]), "rss_before_mb": round(before),
              "margins": [round(h["rewards/margins"], 4) for h in log],
              "train_loss": [round(h["loss"], 4) for h in log]}
    if cuda:
        result["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return trainer.model, result


def bits(values) -> str:
    return "".join("1" if v else "0" for v in values)


def score_greedy(model, tokenizer, problems: list[dict], questions: list[dict]) -> dict:
    """Per-problem correct / concise / words of the greedy answers, and the cloze facts."""
    from utils.course_data import preference_data as prefs
    from utils.evaluation.multiple_choice import cloze_correct

    prompts = [prefs.prompt_messages(p) for p in problems]
    answers = [a[0] for a in prefs.generate(model, tokenizer, prompts, MAX_NEW_TOKENS, batch_size=100)]
    scores = [prefs.judge(a, p) for a, p in zip(answers, problems, strict=True)]
    facts = cloze_correct(model, tokenizer, questions, batch_size=64)
    return {"correct": bits(s > 0 for s in scores), "concise": bits(prefs.word_count(a) <= prefs.CONCISE_WORDS
                                                                   for a in answers),
            "words": [prefs.word_count(a) for a in answers], "facts_correct": bits(facts),
            "n_eval": len(problems), "share_correct": sum(s > 0 for s in scores) / len(scores),
            "share_concise_correct": sum(s == 2 for s in scores) / len(scores),
            "facts_accuracy": sum(facts) / len(facts), "example_answers": answers[:4],
            "mean_tokens": sum(answer_tokens(tokenizer, a) for a in answers) / len(answers)}


def answer_tokens(tokenizer, answer: str) -> int:
    """Tokens generated for an answer: its tokens and the end of turn, at most the budget."""
    return min(len(tokenizer(answer, add_special_tokens=False)["input_ids"]) + 1, MAX_NEW_TOKENS)


def best_of_n(model, tokenizer, problems: list[dict], seed: int = 0) -> dict:
    """The judge's pick among the first n of 16 sampled answers, per problem, and their token cost."""
    from utils.course_data import preference_data as prefs

    samples = prefs.sample_answers(model, tokenizer, problems, n=max(BEST_OF), temperature=TEMPERATURE,
                                   max_new_tokens=MAX_NEW_TOKENS, seed=seed, batch_size=64)
    row = {"temperature": TEMPERATURE}
    for n in BEST_OF:
        picked = [max(s[:n], key=lambda a, p=p: prefs.judge(a, p))
                  for s, p in zip(samples, problems, strict=True)]
        scores = [prefs.judge(a, p) for a, p in zip(picked, problems, strict=True)]
        row[f"bon{n}_correct"] = bits(s > 0 for s in scores)
        row[f"bon{n}_concise_correct"] = bits(s == 2 for s in scores)
    tokens = [[answer_tokens(tokenizer, a) for a in s] for s in samples]
    for n in BEST_OF:
        row[f"bon{n}_mean_tokens"] = sum(sum(t[:n]) for t in tokens) / len(tokens)
    row["example_samples"] = samples[0][:4]
    return row


_BASE_MODEL: dict = {}


def fresh_model(spec: dict):
    import copy

    from utils.core import models

    if not _BASE_MODEL:
        model, tokenizer = models.load_model(spec.get("model"), quiet=True)
        _BASE_MODEL.update(model=model, tokenizer=tokenizer)
    return copy.deepcopy(_BASE_MODEL["model"]), _BASE_MODEL["tokenizer"]


def measure(spec: dict, pairs: dict[str, list[dict]], problems: list[dict], questions: list[dict]) -> dict:
    """Train (unless untrained) and score one run; returns its row."""
    runtime.seed_everything(spec["seed"])
    model, tokenizer = fresh_model(spec)
    row = {**{k: v for k, v in spec.items() if k != "model"}, "device": runtime.pick_device(),
           "hardware": experiment_runs.hardware(), "batch_size": BATCH_SIZE, "lora_rank": LORA_RANK,
           "activation_checkpointing": False}
    if spec["method"] == "best_of_n":
        row.update(best_of_n(model, tokenizer, problems), n_eval=len(problems))
        return row
    if spec["method"] != "untrained":
        row["n_pairs"] = len(pairs[spec["pair_type"]])
        model, log = train(spec, model, tokenizer, pairs[spec["pair_type"]])
        row.update(log)
    model.eval()
    row.update(score_greedy(model, tokenizer, problems, questions))
    return row


def held_out_problems(n: int) -> list[dict]:
    """``n`` problems whose questions no shipped pair (train or validation) uses: notebook 05's set."""
    from utils.course_data import preference_data as prefs

    folder = runtime.REPO_ROOT / "data" / "preference"
    seen = {r["prompt"][-1]["content"] for split in ("train", "validation")
            for r in prefs.load_pairs(folder / f"{split}.jsonl")}
    return prefs.make_problems(n, seed=1000, exclude=seen)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", nargs="+", default=list(STUDIES), choices=STUDIES)
    experiment_runs.add_common_arguments(parser, "preference_experiments")
    parser.add_argument("--n-eval", type=int, default=300, help="held-out problems (questions no pair uses)")
    parser.add_argument("--n-facts", type=int, default=200, help="multiple-choice facts for forgetting")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="training seeds")
    args = parser.parse_args(argv)
    if args.fast:
        args.n_eval, args.n_facts = 6, 6
    return args


def main(argv: list[str] | None = None) -> int:
    from utils.course_data import preference_data as prefs
    from utils.evaluation.multiple_choice import make_questions

    runtime.quiet_libraries()
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = prefs.load_pairs(runtime.REPO_ROOT / "data" / "preference" / "train.jsonl")
    pairs = {t: [r for r in records if r.get("pair_type") == t] for t in prefs.PAIR_TYPES}
    if args.fast:
        pairs = {t: p[:16] for t, p in pairs.items()}
    problems, questions = held_out_problems(args.n_eval), make_questions(args.n_facts, seed=7)
    rows_path, device = out / "runs.jsonl", runtime.pick_device()
    start, skipped = time.perf_counter(), []
    for study in args.studies:
        for spec in study_specs(study, args.fast, tuple(args.seeds)):
            if run_key(spec, device) in finished_runs(rows_path):
                continue
            if args.budget_minutes and time.perf_counter() - start > 60 * args.budget_minutes:
                skipped.append(f"{study}: budget reached")
                break
            row = measure({**spec, "model": args.model}, pairs, problems, questions)
            experiment_runs.append_row(rows_path, row)
            print(f"{study:>9} {row['method']:>10} {row['pair_type']:>11} beta={row['beta']:<4} "
                  f"seed={row['seed']} "
                  f"correct {row.get('share_correct', float('nan')):.3f} "
                  f"concise+correct {row.get('share_concise_correct', float('nan')):.3f} "
                  f"{row.get('seconds_per_step') or 0:.2f} s/step", flush=True)
    given = argv if argv is not None else sys.argv[1:]
    meta = {"command": "python scripts/preference_experiments.py " + " ".join(given),
            "minutes": round((time.perf_counter() - start) / 60, 1), "hardware": experiment_runs.hardware(),
            "precision": runtime.precision(device), "batch_size": BATCH_SIZE, "lora_rank": LORA_RANK,
            "held_out": f"{args.n_eval} arithmetic problems, questions no shipped pair uses (seed 1000)",
            "facts": f"{args.n_facts} multiple-choice facts (make_questions seed 7), cloze scoring",
            "pairs": {t: len(p) for t, p in pairs.items()}, "simpo": SIMPO, "skipped": skipped,
            "schedule": "constant learning rate, no warm-up"}
    experiment_runs.append_invocation(out, meta)  # results can come from several invocations and machines
    print(f"{len(finished_runs(rows_path))} runs; {meta['minutes']} min; wrote {rows_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
