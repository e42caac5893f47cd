"""Notebook 07's comparison at full size: base model, rejection-sampling SFT, GRPO (two betas), DPO.

Every method starts from the bundled SmolLM2-135M-Instruct, trains a LoRA adapter (rank 16 on every
linear layer, bf16 autocast where the CPU has it) and is scored on the same held-out arithmetic
problems (``verifiable_rewards.rl_splits``: no question shared with the training prompts or with
notebook 05's preference splits):

- ``base``: no training;
- ``rs_sft``: sample ``--rs-samples`` answers per training problem at temperature 0.8, keep the
  ones the checker accepts (``correctness_reward``), SFT on them (TRL ``SFTTrainer``);
- ``grpo``: TRL ``GRPOTrainer`` with reward = correctness + 0.5 x format, groups of 4 completions,
  4 prompts per step, at ``beta`` 0.0 (TRL's default: no reference model) and 0.1;
- ``dpo``: TRL ``DPOTrainer`` on ``data/preference/train.jsonl``, beta 0.1, as notebook 05 does.

Each row holds the per-problem 0/1 string of greedy correctness (``correct``: pass@1, greedy) and the
number of correct answers among ``--samples`` sampled at temperature 0.8 (``sampled_correct``, one
digit per problem: the unbiased pass@k of ``metrics.pass_at_k``), so methods pair problem by
problem; GRPO rows also hold the logged training curve.

    python scripts/rl_experiments.py                       # the committed results (40 min, 1 thread)
    python scripts/rl_experiments.py --fast --out /tmp/rl  # the test suite's run

Rows go to ``OUT/runs.jsonl`` as each run ends; a rerun with the same ``--out`` skips finished
runs. Each invocation (command, minutes, hardware) is appended to ``OUT/meta.json``.
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

RUNS = ({"method": "base"}, {"method": "grpo", "beta": 0.0}, {"method": "rs_sft"},
        {"method": "grpo", "beta": 0.1}, {"method": "dpo", "beta": 0.1})
LORA_RANK, LEARNING_RATE, TEMPERATURE = 16, 2e-4, 0.8
REWARD_WEIGHTS = (1.0, 0.5)  # correctness, format
CURVE_KEYS = ("reward", "reward_std", "completions/mean_length", "rewards/correctness_reward/mean",
              "rewards/format_reward/mean", "frac_reward_zero_std", "kl", "grad_norm", "step_time")


def run_key(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True)


def finished_runs(rows_path: Path) -> dict[str, dict]:
    rows = experiment_runs.read_rows(rows_path)
    return {row["key"]: row for row in rows}


def lora():
    from peft import LoraConfig

    return LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, target_modules="all-linear",
                      task_type="CAUSAL_LM")


def common_args(args, steps: int, batch: int) -> dict:
    return dict(output_dir=tempfile.mkdtemp(prefix="rl_experiments_"), max_steps=steps,
                per_device_train_batch_size=batch, learning_rate=LEARNING_RATE, lr_scheduler_type="constant",
                logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True, seed=args.seed,
                dataloader_pin_memory=False, **runtime.mixed_precision_args(runtime.pick_device()))


def train_grpo(model, tokenizer, train, beta: float, args):
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from utils.course_data import preference_data as prefs
    from utils.training import verifiable_rewards as vr

    config = GRPOConfig(num_generations=4, max_completion_length=32, temperature=TEMPERATURE, beta=beta,
                        reward_weights=list(REWARD_WEIGHTS), activation_checkpointing=False,
                        **common_args(args, args.grpo_steps, 16))
    data = Dataset.from_list([{"prompt": prefs.prompt_messages(p), "answer": p["answer"]} for p in train])
    trainer = GRPOTrainer(model=model, reward_funcs=[vr.correctness_reward, vr.format_reward], args=config,
                          train_dataset=data, processing_class=tokenizer, peft_config=lora())
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    curve = [{"step": h["step"], **{k: h[k] for k in CURVE_KEYS if k in h}}
             for h in trainer.state.log_history if "reward" in h]
    return trainer.model, {"curve": curve, "steps": args.grpo_steps}


def train_rs_sft(model, tokenizer, train, args):
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from utils.course_data import preference_data as prefs
    from utils.training import verifiable_rewards as vr

    prompts = [prefs.prompt_messages(p) for p in train]
    samples = prefs.generate(model, tokenizer, prompts, 32, n=args.rs_samples, temperature=TEMPERATURE,
                             seed=args.seed, batch_size=64)
    kept = [{"prompt": prompt, "completion": [{"role": "assistant", "content": s}]}
            for prompt, group, p in zip(prompts, samples, train, strict=True)
            for s in dict.fromkeys(group) if vr.correctness_reward([s], answer=[p["answer"]])[0]]
    if not kept:  # the checker accepted no sample (e.g. a tiny random model): nothing to fine-tune on
        return model, {"kept": 0, "sampled": len(train) * args.rs_samples, "steps": 0, "train_loss": []}
    config = SFTConfig(max_length=128, activation_checkpointing=False, **common_args(args, args.sft_steps, 8))
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora(),
                         train_dataset=Dataset.from_list(kept))
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    losses = [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h]
    return trainer.model, {"kept": len(kept), "sampled": len(train) * args.rs_samples,
                           "steps": args.sft_steps, "train_loss": losses}


def train_dpo(model, tokenizer, beta: float, args):
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer

    from utils.course_data import preference_data as prefs

    records = prefs.load_pairs(runtime.REPO_ROOT / "data" / "preference" / "train.jsonl")
    data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in records])
    config = DPOConfig(beta=beta, activation_checkpointing=False, **common_args(args, args.dpo_steps, 4))
    trainer = DPOTrainer(model=model, args=config, processing_class=tokenizer, peft_config=lora(),
                         train_dataset=data)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return trainer.model, {"pairs": len(records), "steps": args.dpo_steps}


def evaluate(model, tokenizer, held_out, args) -> dict:
    """Greedy correctness per problem, and the number correct among ``args.samples`` sampled answers."""
    from utils.course_data import preference_data as prefs
    from utils.evaluation.metrics import pass_at_k
    from utils.training import verifiable_rewards as vr

    model.eval()
    prompts, answers = [prefs.prompt_messages(p) for p in held_out], [p["answer"] for p in held_out]
    greedy = [g[0] for g in prefs.generate(model, tokenizer, prompts, 32, batch_size=64)]
    correct = vr.correctness_reward(greedy, answer=answers)
    sampled = prefs.generate(model, tokenizer, prompts, 32, n=args.samples, temperature=TEMPERATURE,
                             seed=args.seed + 1, batch_size=64)
    counts = [int(sum(vr.correctness_reward(group, answer=[a] * len(group)))) for group, a in
              zip(sampled, answers, strict=True)]
    n = args.samples
    return {"correct": "".join(str(int(c)) for c in correct), "pass1_greedy": sum(correct) / len(correct),
            "sampled_correct": "".join(str(c) for c in counts), "n_samples": n,
            "pass1_sampled": sum(pass_at_k(n, c, 1) for c in counts) / len(counts),
            f"pass{n}": sum(pass_at_k(n, c, n) for c in counts) / len(counts),
            "format_share": sum(vr.format_reward(greedy)) / len(greedy),
            "mean_words": sum(len(a.split()) for a in greedy) / len(greedy), "example_answers": greedy[:3]}


def measure(spec: dict, train, held_out, args) -> dict:
    from utils.core import models

    runtime.seed_everything(args.seed)
    model, tokenizer = models.load_model(args.model, quiet=True)
    start, log = time.perf_counter(), {}
    if spec["method"] == "grpo":
        model, log = train_grpo(model, tokenizer, train, spec["beta"], args)
    elif spec["method"] == "rs_sft":
        model, log = train_rs_sft(model, tokenizer, train, args)
    elif spec["method"] == "dpo":
        model, log = train_dpo(model, tokenizer, spec["beta"], args)
    train_minutes = (time.perf_counter() - start) / 60
    scores = evaluate(model, tokenizer, held_out, args)
    return {**spec, **log, "train_minutes": round(train_minutes, 2), **scores,
            "n_eval": len(held_out), "n_train": len(train), "hardware": experiment_runs.hardware()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    experiment_runs.add_common_arguments(parser, "rl_experiments")
    parser.add_argument("--n-eval", type=int, default=200, help="held-out problems")
    parser.add_argument("--n-train", type=int, default=320, help="training prompts")
    parser.add_argument("--grpo-steps", type=int, default=80, help="GRPO steps of 4 prompts x 4 completions")
    parser.add_argument("--sft-steps", type=int, default=40, help="SFT steps of 8 kept answers")
    parser.add_argument("--dpo-steps", type=int, default=20, help="DPO steps of 4 pairs")
    parser.add_argument("--rs-samples", type=int, default=4, help="samples per training problem")
    parser.add_argument("--samples", type=int, default=4, help="samples per held-out problem (pass@k)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.fast:
        args.n_eval, args.n_train, args.grpo_steps, args.sft_steps, args.dpo_steps = 6, 8, 1, 1, 1
        args.rs_samples, args.samples = 2, 2
    return args


def main(argv: list[str] | None = None) -> int:
    from utils.training import verifiable_rewards as vr
    from utils.training.trl_on_cpu import score_labelled_positions_only

    runtime.quiet_libraries()
    score_labelled_positions_only()
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, held_out = vr.rl_splits(args.n_train, args.n_eval)
    rows_path, start, skipped = out / "runs.jsonl", time.perf_counter(), []
    settings = {k: getattr(args, k) for k in ("n_eval", "n_train", "grpo_steps", "sft_steps", "dpo_steps",
                                              "rs_samples", "samples", "seed")}
    for run in RUNS:
        spec = {**run, "settings": settings}
        key = run_key(spec)
        if key in finished_runs(rows_path):
            continue
        if args.budget_minutes and time.perf_counter() - start > 60 * args.budget_minutes:
            skipped.append(f"{run}: budget reached")
            continue
        row = {"key": key, **measure(spec, train, held_out, args)}
        experiment_runs.append_row(rows_path, row)
        print(f"{row['method']:>7} beta={row.get('beta', '-')} pass@1 greedy {row['pass1_greedy']:.3f} "
              f"sampled {row['pass1_sampled']:.3f} pass@{args.samples} {row[f'pass{args.samples}']:.3f} "
              f"train {row['train_minutes']:.1f} min", flush=True)
    given = argv if argv is not None else sys.argv[1:]
    meta = {"command": " ".join(["python scripts/rl_experiments.py", *given]),
            "minutes": round((time.perf_counter() - start) / 60, 1), "hardware": experiment_runs.hardware(),
            "precision": runtime.precision(runtime.pick_device()), "settings": settings,
            "lora_rank": LORA_RANK, "learning_rate": LEARNING_RATE, "temperature": TEMPERATURE,
            "reward_weights": {"correctness": REWARD_WEIGHTS[0], "format": REWARD_WEIGHTS[1]},
            "held_out": f"{args.n_eval} arithmetic problems, no question shared with training or DPO pairs",
            "skipped": skipped}
    experiment_runs.append_invocation(out, meta)  # results can come from several invocations and machines
    print(f"{len(finished_runs(rows_path))} runs; {meta['minutes']} min; wrote {rows_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
