"""Supervised fine-tuning from a YAML config: notebook 02's run as a script, read by TRL's parser.

Every key of the config is a field of one of three dataclasses: ``DataArguments`` below (which
data), TRL's ``SFTConfig`` (how to train: the ``TrainingArguments`` of transformers plus TRL's own)
and TRL's ``ModelConfig`` (which model, LoRA or not). Flags on the command line win over the file.

    python scripts/train_sft.py --config configs/sft.yaml
    python scripts/train_sft.py --config configs/sft.yaml --max_steps 3 --output_dir runs/sft_try
    torchrun --nproc_per_node 2 scripts/train_sft.py --config configs/sft.yaml --per_device_train_batch_size 4
    accelerate launch --config_file configs/accelerate/ddp.yaml scripts/train_sft.py --config configs/sft.yaml
    MLFLOW_EXPERIMENT_NAME=lr_sweep python scripts/train_sft.py --config configs/sft.yaml --report_to mlflow \
        --learning_rate 2e-5 --run_name sft_lr_2e-5 --output_dir runs/sft_lr_2e-5

The training data is one pass over ``max_steps`` x global batch records, where the global batch is
per-device batch x gradient accumulation x processes, so runs with the same global batch see the
same records. The main process saves the model and ``training_log.json`` (loss per step, global
batch, processes, seconds) in ``output_dir``.

With ``--report_to mlflow`` the trainer's own ``MLflowCallback`` logs every ``TrainingArguments``
field and the loss of each logged step to an MLflow store while it trains: the local store under
``runs/mlruns/`` unless ``MLFLOW_TRACKING_URI`` names another (``utils.production.tracking``),
experiment ``MLFLOW_EXPERIMENT_NAME`` (default ``course``), tags from ``MLFLOW_TAGS`` (JSON), run
name ``--run_name`` (default: the output folder's name). After training the script adds the config
file, ``training_log.json`` and the other files of ``output_dir`` under 50 MB (an adapter, not a
full model's weights) to that run, and writes its id into ``training_log.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datasets  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import PrinterCallback, TrainerCallback  # noqa: E402
from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser, get_peft_config  # noqa: E402

from utils.core import models, runtime  # noqa: E402
from utils.course_data import sft_data  # noqa: E402
from utils.production import tracking  # noqa: E402
from utils.training.trl_on_cpu import score_labelled_positions_only  # noqa: E402

LOG_FILE = "training_log.json"


@dataclass
class DataArguments:
    train_file: str = field(default="data/sft/train.jsonl",
                            metadata={"help": "chat-messages JSONL (utils.course_data.sft_data), "
                                                  "under the repository"})
    n_train: int | None = field(default=None,
                                metadata={"help": "records to train on; default max_steps x global batch"})


def global_batch_size(config) -> int:
    """Records per optimizer step over all processes: per-device batch x accumulation x processes."""
    return config.per_device_train_batch_size * config.gradient_accumulation_steps * config.world_size


def write_log(trainer, config, extra: dict) -> Path:
    """``training_log.json``: the loss per step and what a reader needs to compare runs."""
    steps = [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]
    log = {"steps": steps, "global_batch": global_batch_size(config), "processes": config.world_size,
           "per_device_train_batch_size": config.per_device_train_batch_size,
           "gradient_accumulation_steps": config.gradient_accumulation_steps,
           "device": str(config.device), **extra}
    path = Path(config.output_dir) / LOG_FILE
    path.write_text(json.dumps(log, indent=2))
    return path


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def cpu_processes_flag(argv: list[str]) -> list[str]:
    """Several processes and no CUDA GPU: add ``--use_cpu true`` so that accelerate joins them in one
    gloo process group (without it, each CPU process would train alone on its own copy)."""
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if several and not torch_has_cuda() and "--use_cpu" not in argv:
        return [*argv, "--use_cpu", "true"]
    return argv


def start_tracking(config) -> bool:
    """With ``mlflow`` in ``report_to``: name the run after ``output_dir`` unless ``--run_name`` did,
    and on the main process open the store the trainer's callback will log to. False otherwise."""
    if "mlflow" not in config.report_to:
        return False
    config.run_name = config.run_name or Path(config.output_dir).name
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"MLflow store: {tracking.use_trainer_store()}")
    return True


def tracked_run_id() -> str:
    """The id of the MLflow run the trainer just logged (its callback has ended it)."""
    import mlflow

    run = mlflow.last_active_run()
    if run is None:
        raise RuntimeError("report_to names mlflow but no MLflow run was started; is the mlflow package "
                           "installed, and DISABLE_MLFLOW_INTEGRATION unset?")
    return run.info.run_id


def finish_tracking(run_id: str, output: Path, argv: list[str], params: dict, script: str) -> None:
    """Add the config file, ``output_dir``'s small files and the script's own params to the run."""
    config_file = [argv[argv.index("--config") + 1]] if "--config" in argv else []
    skipped = tracking.log_trainer_outputs(run_id, output, config_file, params, tags={"script": script})
    print(f"MLflow run {run_id}: outputs logged" + (f", not {', '.join(skipped)}" if skipped else ""))


def main(argv: list[str] | None = None, callbacks: tuple[TrainerCallback, ...] = ()) -> Path:
    """Train as the config and flags say; ``callbacks`` are extra ``TrainerCallback``s (a test's probe)."""
    score_labelled_positions_only()  # TRL's vocabulary head only where a label is, on the CPU too
    parser = TrlParser((DataArguments, SFTConfig, ModelConfig))
    argv = cpu_processes_flag(list(sys.argv[1:] if argv is None else argv))
    argv = runtime.mixed_precision_flags(argv, runtime.pick_device())  # bf16 where the chip has it
    data_args, config, model_args = parser.parse_args_and_config(argv)
    datasets.disable_progress_bars()  # preparing a few dozen records is instant; the bars are noise
    records = sft_data.load_split(runtime.REPO_ROOT / data_args.train_file)
    n_train = data_args.n_train or config.max_steps * global_batch_size(config)
    if n_train > len(records):
        raise ValueError(f"n_train={n_train} records wanted but {data_args.train_file} holds {len(records)}; "
                         "lower max_steps or the batch size, or set n_train")
    sft_data.validate_records(records[:n_train], source=data_args.train_file)  # names a bad record, field
    tracked = start_tracking(config)  # with --report_to mlflow, the trainer logs while it trains
    # load on the CPU in float32; the trainer moves the model to this process's device (cuda:<rank> on GPUs)
    model, tokenizer = models.load_model(model_args.model_name_or_path, device="cpu", quiet=True)
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer,
                         train_dataset=Dataset.from_list(sft_data.to_prompt_completion(records[:n_train])),
                         peft_config=get_peft_config(model_args), callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # the loss per step goes to training_log.json
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    output = Path(config.output_dir)
    if trainer.is_world_process_zero():
        trainer.save_model(str(output))  # the full model, or only the adapter with use_peft
        run_id = tracked_run_id() if tracked else None
        model_name = model_args.model_name_or_path or models.DEFAULT_MODEL
        path = write_log(trainer, config, {"train_seconds": seconds, "n_train": n_train, "model": model_name,
                                           "data": asdict(data_args), "mlflow_run_id": run_id})
        if run_id:
            finish_tracking(run_id, output, argv, {"model_name_or_path": model_name, "n_train": n_train,
                                                   "train_file": data_args.train_file,
                                                   "global_batch": global_batch_size(config)}, "train_sft.py")
        final = json.loads(path.read_text())["steps"][-1]["loss"]
        print(f"{config.max_steps} steps, global batch {global_batch_size(config)} on {config.world_size} "
              f"process(es), {seconds:.0f} s; final loss {final:.3f}; saved to {output}")
        return path
    return output / LOG_FILE


if __name__ == "__main__":
    main()
