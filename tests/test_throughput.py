"""utils.maintenance.throughput: matmul peaks, model FLOPs per step, and the trainer meter."""

import json

import pytest
import torch
from datasets import Dataset
from transformers import Trainer, TrainingArguments
from transformers import trainer as trainer_module

from tests.tiny_models import tiny_llama
from utils.maintenance import throughput


def test_peak_is_a_positive_rate():
    assert throughput.matmul_peak_gflops(torch.float32, size=128, seconds=0.05) > 0


def test_flops_count_gradients_only_where_they_are():
    full = throughput.step_flops(10, 0, weights=100, trainable_weights=100)
    frozen = throughput.step_flops(10, 0, weights=100, trainable_weights=0)
    reference_pass = throughput.step_flops(0, 10, weights=100, trainable_weights=100)
    assert (full, frozen, reference_pass) == (6000, 4000, 2000)


def test_meter_counts_every_token_of_every_step(tokenizer, tmp_path):
    log = tmp_path / "meter.jsonl"
    model = tiny_llama(tokenizer, hidden_size=16, intermediate_size=32)
    data = Dataset.from_list([{"input_ids": [5, 6, 7, 8, 9], "labels": [5, 6, 7, 8, 9]}] * 8)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=2,
                             report_to="none", use_cpu=True, bf16=False, disable_tqdm=True)
    meter = throughput.ThroughputMeter(log)
    Trainer(model=model.train(), args=args, train_dataset=data, callbacks=[meter]).train()
    line = json.loads(log.read_text())
    assert line["steps"] == 3 and line["tokens_with_grad"] == 3 * 2 * 5 and line["tokens_without_grad"] == 0
    weights = throughput.matmul_parameters(model)[0]
    assert line["flops"] == 30 * 6 * weights and line["precision"] == "fp32"
    summary = throughput.summarise([line], {"fp32": 100.0})
    assert summary["train_tokens_per_s"] == round(30 / line["seconds"])
    assert summary["train_peak_share"] == pytest.approx(line["flops"] / line["seconds"] / 1e9 / 100, abs=0.01)


def test_meter_is_added_only_when_the_benchmark_asks(monkeypatch):
    monkeypatch.delenv(throughput.LOG_ENV, raising=False)
    assert not throughput.meter_trainers_from_env()
    monkeypatch.setattr(trainer_module, "DEFAULT_CALLBACKS", list(trainer_module.DEFAULT_CALLBACKS))
    monkeypatch.setenv(throughput.LOG_ENV, "somewhere.jsonl")
    assert throughput.meter_trainers_from_env() and throughput.meter_trainers_from_env()
    assert trainer_module.DEFAULT_CALLBACKS.count(throughput.ThroughputMeter) == 1


def test_summary_of_nothing_is_empty():
    assert throughput.summarise([], {"fp32": 1.0}) == {}
