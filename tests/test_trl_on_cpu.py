"""utils.training.trl_on_cpu: TRL's vocabulary head scores only labelled positions on the CPU,
with the same losses as scoring every position."""

import pytest
from datasets import Dataset
from transformers import PrinterCallback
from trl import SFTConfig, SFTTrainer

from tests.tiny_models import tiny_llama
from utils.core import runtime
from utils.course_data import sft_data
from utils.training.trl_on_cpu import score_labelled_positions_only


def _losses(tokenizer, tmp_path, compact: bool) -> list[float]:
    score_labelled_positions_only(compact)
    records = sft_data.load_split(runtime.REPO_ROOT / "data" / "sft" / "train.jsonl")[:8]
    config = SFTConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4,
                       learning_rate=1e-3,
                       completion_only_loss=True, max_length=128, logging_steps=1, save_strategy="no",
                       report_to="none", disable_tqdm=True, activation_checkpointing=False, bf16=False,
                       use_cpu=True, dataloader_pin_memory=False, seed=0)
    trainer = SFTTrainer(model=tiny_llama(tokenizer, hidden_size=32, intermediate_size=64), args=config,
                         processing_class=tokenizer,
                         train_dataset=Dataset.from_list(sft_data.to_prompt_completion(records)))
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_compacting_labelled_positions_keeps_the_losses(tokenizer, tmp_path):
    try:
        every_position = _losses(tokenizer, tmp_path, compact=False)
        labelled_only = _losses(tokenizer, tmp_path, compact=True)
    finally:
        score_labelled_positions_only(True)  # the course's setting, for the tests that follow
    assert len(every_position) == 2
    assert labelled_only == pytest.approx(every_position, abs=1e-5)


def test_switching_off_restores_trls_rule():
    import trl.trainer.utils as trl_utils

    assert score_labelled_positions_only(True)
    assert trl_utils._use_triton(__import__("torch").device("cpu"))
    assert not score_labelled_positions_only(False)
    assert not trl_utils._use_triton(__import__("torch").device("cpu"))
    assert score_labelled_positions_only(True)  # and on again, once, however often it is called
    assert score_labelled_positions_only(True)
