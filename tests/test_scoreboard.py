"""The draft scoreboard: baselines that say what they know, clustered intervals, the ceiling row,
and the evaluation command on a set the generator wrote."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from utils.drafts import baselines as base
from utils.drafts import files, scoreboard
from utils.drafts import simulation as sim

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_identity_baselines_cannot_rate_an_unseen_set_and_the_column_ranker_can():
    frame = sim.drafts_frame(sim.simulate_drafts("QLT", 60, seed=4), seed=4)
    path = sim.write_gzip_csv(frame, Path(tempfile.mkdtemp()) / "d.csv.gz")
    train = files.draft_picks_from_17lands(path)
    unseen = files.draft_picks_from_17lands(sim.course_draft_file("QGO"), max_drafts=60)
    cards = pd.concat([sim.set_cards("QLT"), sim.set_cards("QGO")])
    rankers = scoreboard.baseline_rankers(train, cards)
    table = scoreboard.accuracy_table(scoreboard.hits_table(unseen, rankers), versus="card-columns ranker",
                                      n_resamples=300).set_index("picker")
    assert table.loc["pick rate", "top1"] < table.loc["card-columns ranker", "top1"]
    assert table.loc["pick rate", "diff low"] > 0  # the column ranker beats it, drafts resampled
    assert (table["top1 low"] <= table["top1"]).all() and (table["top1"] <= table["top1 high"]).all()


def test_ceiling_row_sits_above_every_baseline():
    records = base.split_by_draft(files.draft_picks_from_17lands(sim.course_draft_file("QLT"), max_drafts=80),
                                  test_fraction=0.25, seed=0)
    ceiling = scoreboard.read_ceiling(sim.course_draft_file("QLT").parent, "QLT")
    hits = scoreboard.hits_table(records[1], scoreboard.baseline_rankers(records[0], sim.set_cards("QLT")),
                                 ceiling)
    table = scoreboard.accuracy_table(hits, n_resamples=200).set_index("picker")
    assert table.loc["simulator ceiling", "top1"] > table.drop("simulator ceiling")["top1"].max()


def test_evaluation_command_scores_a_generated_set(tmp_path):
    out = tmp_path / "qab"
    made = subprocess.run([sys.executable, "-m", "utils.drafts.simulation", "--new-set", "QAB",
                           "--drafts", "30", "--out", str(out)], cwd=REPO_ROOT, capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    result = subprocess.run([sys.executable, "scripts/evaluate_draft_picker.py", "--set", "QAB", "--set-dir",
                             str(out), "--picks", "200", "--out", str(tmp_path / "hits.csv")],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "set QAB: 200 picks" in result.stdout and "simulator ceiling" in result.stdout
    hits = pd.read_csv(tmp_path / "hits.csv")
    assert set(hits["picker"]) >= {"random", "rarity", "card-columns ranker"} and len(hits) == 5 * 200


def test_evaluation_command_scores_the_picks_a_training_run_listed(tmp_path):
    records = files.draft_picks_from_17lands(sim.course_draft_file("QGO"), max_drafts=3)
    listed = pd.DataFrame([{"set": "QGO", "draft_id": r["draft_id"], "pack_number": r["pack_number"],
                            "pick_number": r["pick_number"], "top1": 0, "top3": 0, "choice": r["pack"][0]}
                           for r in records[:7]])
    listed.to_csv(tmp_path / "eval_hits.csv", index=False)
    command = [sys.executable, "scripts/evaluate_draft_picker.py", "--set", "QGO", "--picks-from"]
    result = subprocess.run(command + [str(tmp_path / "eval_hits.csv")], cwd=REPO_ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert "set QGO: 7 picks" in result.stdout
    listed.assign(draft_id="no-such-draft").to_csv(tmp_path / "wrong.csv", index=False)
    wrong = subprocess.run(command + [str(tmp_path / "wrong.csv")], cwd=REPO_ROOT, capture_output=True,
                           text=True)
    assert wrong.returncode != 0 and "7 of the 7 listed picks are not among the records" in wrong.stderr


def test_listed_records_follow_the_hits_order_and_name_a_missing_pick():
    records = [{"draft_id": d, "pack_number": 1, "pick_number": p, "pick": f"{d}{p}"}
               for d in "ab" for p in (1, 2)]
    hits = pd.DataFrame({"draft_id": ["b", "a", "b"], "pack_number": [1, 1, 1], "pick_number": [2, 1, 1]})
    assert [r["pick"] for r in scoreboard.listed_records(hits, records)] == ["b2", "a1", "b1"]
    with pytest.raises(ValueError, match=r"1 of the 2 listed picks .* \('c', 1, 1\)"):
        scoreboard.listed_records(pd.DataFrame({"draft_id": ["a", "c"], "pack_number": [1, 1],
                                                "pick_number": [1, 1]}), records)
