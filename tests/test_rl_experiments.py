"""scripts/rl_experiments.py in fast mode on a tiny random Llama: one row per method, written as runs
finish, a rerun skips what is done, and each row carries what notebook 07 pairs and plots."""

import json

import pytest
from tiny_models import load_script


@pytest.fixture(scope="module")
def fast_run(tiny_llama_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("rl_experiments")
    script = load_script("rl_experiments")
    args = ["--fast", "--model", str(tiny_llama_dir), "--out", str(out)]
    assert script.main(args) == 0
    first = (out / "runs.jsonl").read_text().splitlines()
    assert script.main(args) == 0  # the rerun finds every run done
    return script, out, [json.loads(line) for line in first]


def test_one_row_per_method_and_a_rerun_adds_none(fast_run):
    script, out, rows = fast_run
    assert len((out / "runs.jsonl").read_text().splitlines()) == len(rows) == len(script.RUNS)
    assert [(r["method"], r.get("beta")) for r in rows] == [(r["method"], r.get("beta")) for r in script.RUNS]
    meta = json.loads((out / "meta.json").read_text())["invocations"]
    assert len(meta) == 2 and meta[0]["command"].startswith("python scripts/rl_experiments.py --fast")
    assert {"minutes", "hardware", "precision", "settings"} <= set(meta[0])


def test_rows_hold_per_problem_results_for_pairing(fast_run):
    _, _, rows = fast_run
    for row in rows:
        n, k = row["n_eval"], row["n_samples"]
        assert len(row["correct"]) == n and set(row["correct"]) <= {"0", "1"}
        assert len(row["sampled_correct"]) == n and all(0 <= int(c) <= k for c in row["sampled_correct"])
        assert row["pass1_greedy"] == row["correct"].count("1") / n
        assert 0 <= row["pass1_sampled"] <= row[f"pass{k}"] <= 1  # pass@k never below pass@1


def test_grpo_rows_log_the_curves_the_notebook_plots(fast_run):
    _, _, rows = fast_run
    grpo = [r for r in rows if r["method"] == "grpo"]
    assert {r["beta"] for r in grpo} == {0.0, 0.1}
    for row in grpo:
        assert len(row["curve"]) == row["steps"]
        logged = set(row["curve"][0])
        assert {"reward", "reward_std", "completions/mean_length", "frac_reward_zero_std"} <= logged
    assert "kl" in next(r for r in grpo if r["beta"] == 0.1)["curve"][0]  # logged only when beta > 0
