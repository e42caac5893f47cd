"""DPO with LoRA from a YAML config: notebook 05's run as a script, read by TRL's parser.

Keys of the config are fields of ``DataArguments`` below, TRL's ``DPOConfig`` and TRL's
``ModelConfig`` (``use_peft: true`` and the ``lora_*`` keys make the LoRA adapter). Flags on the
command line win over the file.

    python scripts/train_dpo.py --config configs/dpo.yaml
    python scripts/train_dpo.py --config configs/dpo.yaml --max_steps 2 --output_dir runs/dpo_try
    torchrun --nproc_per_node 2 scripts/train_dpo.py --config configs/dpo.yaml --gradient_accumulation_steps 2

The main process saves the adapter (a few MB, not the base model) and ``training_log.json`` (loss,
reward accuracy and margin per step, global batch, processes, seconds) in ``output_dir``. With
``--report_to mlflow`` the trainer logs to an MLflow store while it trains, and the script adds the
config, the adapter and ``training_log.json`` to that run, as ``scripts/train_sft.py`` describes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datasets  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import PrinterCallback, TrainerCallback  # noqa: E402
from trl import DPOConfig, DPOTrainer, ModelConfig, TrlParser, get_peft_config  # noqa: E402

from scripts.train_sft import (  # noqa: E402
    LOG_FILE,
    cpu_processes_flag,
    finish_tracking,
    global_batch_size,
    start_tracking,
    tracked_run_id,
    write_log,
)
from utils.core import models, runtime  # noqa: E402
from utils.course_data import preference_data  # noqa: E402
from utils.training.trl_on_cpu import score_labelled_positions_only  # noqa: E402

LOGGED = ("loss", "rewards/accuracies", "rewards/margins")  # what training_log.json keeps per step


@dataclass
class DataArguments:
    train_file: str = field(default="data/preference/train.jsonl",
                            metadata={"help": "prompt/chosen/rejected JSONL "
                                                  "(utils.course_data.preference_data)"})
    n_train: int | None = field(default=None,
                                metadata={"help": "pairs to train on; default max_steps x global batch"})


def main(argv: list[str] | None = None, callbacks: tuple[TrainerCallback, ...] = ()) -> Path:
    """Train as the config and flags say; ``callbacks`` are extra ``TrainerCallback``s (a test's probe)."""
    score_labelled_positions_only()  # TRL's vocabulary head only where a label is, on the CPU too
    parser = TrlParser((DataArguments, DPOConfig, ModelConfig))
    argv = cpu_processes_flag(list(sys.argv[1:] if argv is None else argv))
    argv = runtime.mixed_precision_flags(argv, runtime.pick_device())  # bf16 where the chip has it
    data_args, config, model_args = parser.parse_args_and_config(argv)
    datasets.disable_progress_bars()
    pairs = preference_data.load_pairs(runtime.REPO_ROOT / data_args.train_file)  # validated on load
    n_train = data_args.n_train or config.max_steps * global_batch_size(config)
    if n_train > len(pairs):
        raise ValueError(f"n_train={n_train} pairs wanted but {data_args.train_file} holds {len(pairs)}; "
                         "lower max_steps or the batch size, or set n_train")
    tracked = start_tracking(config)  # with --report_to mlflow, the trainer logs while it trains
    model, tokenizer = models.load_model(model_args.model_name_or_path, device="cpu", quiet=True)
    train = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs[:n_train]])
    # with a LoRA adapter the reference model is the base model itself (adapter switched off)
    trainer = DPOTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=train,
                         peft_config=get_peft_config(model_args), callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    output = Path(config.output_dir)
    if trainer.is_world_process_zero():
        trainer.save_model(str(output))  # with use_peft: adapter_model.safetensors + adapter_config.json
        curves = {key: [{"step": h["step"], key: h[key]} for h in trainer.state.log_history if key in h]
                  for key in LOGGED[1:]}
        run_id = tracked_run_id() if tracked else None
        model_name = model_args.model_name_or_path or models.DEFAULT_MODEL
        path = write_log(trainer, config, {"train_seconds": seconds, "n_train": n_train, "beta": config.beta,
                                           "model": model_name, "data": asdict(data_args),
                                           "mlflow_run_id": run_id, **curves})
        if run_id:
            finish_tracking(run_id, output, argv, {"model_name_or_path": model_name, "n_train": n_train,
                                                   "train_file": data_args.train_file,
                                                   "global_batch": global_batch_size(config)}, "train_dpo.py")
        print(f"{config.max_steps} DPO steps, global batch {global_batch_size(config)} on "
              f"{config.world_size} process(es), {seconds:.0f} s; adapter saved to {output}")
        return path
    return output / LOG_FILE


if __name__ == "__main__":
    main()
