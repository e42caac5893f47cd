"""scripts/preference_experiments.py in fast mode on a tiny random Llama: one row per distinct run,
written as runs finish, a rerun skips what is done, and each row carries what notebook 05 pairs
and plots (per-problem correct and concise strings, the facts check, margins, time and memory)."""

import json

import pytest
from tiny_models import load_script


@pytest.fixture(scope="module")
def fast_run(tiny_llama_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("preference_experiments")
    script = load_script("preference_experiments")
    args = ["--fast", "--model", str(tiny_llama_dir), "--out", str(out)]
    assert script.main(args) == 0
    first = (out / "runs.jsonl").read_text().splitlines()
    assert script.main(args) == 0  # the rerun finds every run done
    return script, out, [json.loads(line) for line in first]


def test_studies_write_one_row_per_distinct_run(fast_run):
    script, out, rows = fast_run
    assert len((out / "runs.jsonl").read_text().splitlines()) == len(rows)  # nothing re-run
    keys = [script.run_key(row, row["device"]) for row in rows]
    assert len(keys) == len(set(keys))
    trained = {(r["method"], r["pair_type"], r["beta"]) for r in rows if r["steps"]}
    assert trained == {("dpo", "concision", 0.1), ("dpo", "correctness", 0.1), ("dpo", "concision", 1.0),
                       ("simpo", "concision", script.SIMPO["beta"])}
    assert [r["method"] for r in rows].count("untrained") == 1
    assert [r["method"] for r in rows].count("best_of_n") == 1


def test_rows_hold_what_the_notebook_pairs_and_plots(fast_run):
    script, _, rows = fast_run
    for row in rows:
        assert row["n_eval"] == 6 and row["device"] == "cpu"
        if row["method"] == "best_of_n":
            for n in script.BEST_OF:
                assert len(row[f"bon{n}_correct"]) == 6 and set(row[f"bon{n}_concise_correct"]) <= {"0", "1"}
            tokens = [row[f"bon{n}_mean_tokens"] for n in script.BEST_OF]
            assert tokens == sorted(tokens) and tokens[0] > 0  # n samples cost about n times the tokens
            continue
        for key in ("correct", "concise", "facts_correct"):
            assert len(row[key]) == 6 and set(row[key]) <= {"0", "1"}
        assert len(row["words"]) == 6 and row["mean_tokens"] > 0
        if row["steps"]:
            assert len(row["margins"]) == row["steps"] == 3 and row["seconds_per_step"] > 0
            assert row["peak_rss_mb"] > 0 and row["n_pairs"] == 16


def test_meta_appends_one_entry_per_invocation(fast_run):
    _, out, _ = fast_run
    invocations = json.loads((out / "meta.json").read_text())["invocations"]
    assert len(invocations) == 2
    assert invocations[0]["command"].startswith("python scripts/preference_experiments.py --fast")
    assert "no GPU used" in invocations[0]["hardware"] and invocations[0]["skipped"] == []
