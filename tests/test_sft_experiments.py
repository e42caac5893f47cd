"""scripts/sft_experiments.py in fast mode on a tiny random Llama: every study's rows are written as
runs finish, shared runs happen once, a rerun skips what is done, and each row carries what the
notebooks pair and plot (per-order correctness, the facts check, the held-out curve)."""

import json

import pytest
from tiny_models import load_script


@pytest.fixture(scope="module")
def fast_run(tiny_llama_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft_experiments")
    script = load_script("sft_experiments")
    args = ["--fast", "--model", str(tiny_llama_dir), "--studies", "size_noise", "masking", "overfit",
            "--out", str(out)]
    assert script.main(args) == 0
    first = (out / "runs.jsonl").read_text().splitlines()
    assert script.main(args) == 0  # the rerun finds every run done
    return script, out, [json.loads(line) for line in first]


def test_studies_write_one_row_per_distinct_run(fast_run):
    script, out, rows = fast_run
    assert len((out / "runs.jsonl").read_text().splitlines()) == len(rows)  # nothing re-run
    keys = [script.run_key(row, script.device_of(row)) for row in rows]
    assert len(keys) == len(set(keys))
    size_noise = {(r["n_train"], r["noise"]) for r in rows if r["study"] == "size_noise" and r["steps"]}
    assert size_noise == {(8, 0.0), (8, 0.3), (16, 0.0), (16, 0.3)}
    assert sum(r["method"] == "untrained" for r in rows) == 1  # shared by every study
    masking = [r for r in rows if r["study"] == "masking"]
    assert [r["completion_only"] for r in masking] == [False]  # the answer-only run is size_noise's


def test_rows_hold_what_the_notebooks_pair_and_plot(fast_run):
    _, _, rows = fast_run
    for row in rows:
        assert len(row["correct"]) == row["n_eval"] == 6 and set(row["correct"]) <= {"0", "1"}
        assert row["exact_match"] == row["correct"].count("1") / 6
        assert len(row["facts_correct"]) == 6 and 0 <= row["facts_accuracy"] <= 1
        assert row["device"] == "cpu" and row["answer_loss"] > 0
        if row["steps"]:
            assert len(row["train_loss"]) == row["steps"] and row["seconds_per_step"] > 0
            assert row["trainable_params"] > 0
    overfit = next(r for r in rows if r["study"] == "overfit")
    assert [step for step, _, _ in overfit["curve"]] == [2, 4]


def test_meta_appends_one_entry_per_invocation(fast_run):
    _, out, _ = fast_run
    invocations = json.loads((out / "meta.json").read_text())["invocations"]
    assert len(invocations) == 2
    assert invocations[0]["command"].startswith("python scripts/sft_experiments.py --fast")
    assert "no GPU used" in invocations[0]["hardware"] and invocations[0]["skipped"] == []


def test_noisy_records_are_the_stated_share(fast_run):
    from utils.instruction_data.data_quality import breaks_format

    script, _, _ = fast_run
    clean = script.training_records({**script.BASE, "n_train": 100, "noise": 0.0})
    noisy = script.training_records({**script.BASE, "n_train": 100, "noise": 0.3})
    assert len(clean) == len(noisy) == 100
    assert not any(map(breaks_format, clean))
    assert sum(map(breaks_format, noisy)) == 15  # off-format 10% and truncated 5% (wrong answers parse)
