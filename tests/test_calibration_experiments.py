"""scripts/calibration_experiments.py in fast mode on a tiny random Llama: one row per seed with the
per-item vectors the notebook reads, written as seeds finish, and a rerun skips finished seeds."""

import json

from tiny_models import load_script


def test_fast_run_writes_rows_the_notebook_reads(tiny_llama_dir, tmp_path):
    script = load_script("calibration_experiments")
    args = ["--fast", "--model", str(tiny_llama_dir), "--out", str(tmp_path)]
    assert script.main(args) == 0
    assert script.main(args) == 0  # the rerun finds the seed done
    rows = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    n = len(row["bucket"])
    for name in ("base", "trained"):
        assert len(row[f"{name}_correct"]) == n and set(row[f"{name}_correct"]) <= {"0", "1"}
        assert len(row[f"{name}_logit"]) == len(row[f"{name}_scaled"]) == len(row[f"{name}_stated"]) == n
        assert all(0 <= c <= 1 for c in row[f"{name}_logit"])
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert len(meta["invocations"]) == 2 and "minutes" in meta["invocations"][0]
