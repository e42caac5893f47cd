"""utils.drafts.files: the 17lands draft-file loader and the convert command, on small files in tmp_path."""

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from utils.core.jsonl import read_jsonl
from utils.drafts import files as drafts
from utils.drafts import simulation as sim
from utils.drafts.files import DraftFileError, draft_picks_from_17lands

REPO_ROOT = Path(__file__).resolve().parent.parent

CARDS = ["Salt, the Gull", "Tallow's Wick", "Eel-Herder", "Kindle // Quench"]
LEADING = list(drafts.LEADING_COLUMNS)


def row(draft_id, pack_number, pick_number, pick, pack, pool=None, **extra):
    """One 17lands row as a dict; ``pack``/``pool`` map card name -> count (absent = 0)."""
    pool = pool or {}
    values = {"expansion": "TST", "event_type": "PremierDraft", "draft_id": draft_id,
              "draft_time": "2026-01-02 03:04:05", "rank": "gold", "event_match_wins": 3,
              "event_match_losses": 3, "pack_number": pack_number, "pick_number": pick_number,
              "pick": pick, "pick_maindeck_rate": 1.0, "pick_sideboard_in_rate": 0.0}
    values |= {f"pack_card_{c}": pack.get(c, 0) for c in CARDS}
    values |= {f"pool_{c}": pool.get(c, 0) for c in CARDS}
    return values | extra


def write_csv(path, rows, columns=None, compress=False):
    """Write rows with csv.writer (which quotes the header names holding commas)."""
    columns = columns or list(rows[0])
    opener = gzip.open if compress else open
    with opener(path, "wt", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for values in rows:
            writer.writerow([values.get(c, "") for c in columns])
    return path


def two_picks(draft_id="d1"):
    first_pack = {"Salt, the Gull": 1, "Eel-Herder": 2, "Kindle // Quench": 1}
    return [row(draft_id, 0, 0, "Salt, the Gull", first_pack),
            row(draft_id, 0, 1, "Eel-Herder", {"Eel-Herder": 2, "Tallow's Wick": 1},
                {"Salt, the Gull": 1})]


def test_quoted_names_with_commas_and_one_based_numbers(tmp_path):
    path = write_csv(tmp_path / "d.csv", two_picks())
    assert '"pack_card_Salt, the Gull"' in path.read_text().splitlines()[0]  # quoted in the header
    first, second = draft_picks_from_17lands(path)
    assert first["pick"] == "Salt, the Gull" and first["expansion"] == "TST"
    assert (first["pack_number"], first["pick_number"]) == (1, 1)  # 0-based in the file
    assert (second["pack_number"], second["pick_number"]) == (1, 2)
    assert first["pool"] == [] and second["pool"] == ["Salt, the Gull"]
    assert "Kindle // Quench" in first["pack"] and "Tallow's Wick" in second["pack"]


def test_duplicate_counts_are_expanded(tmp_path):
    rows = [row("d1", 1, 4, "Eel-Herder", {"Eel-Herder": 2, "Tallow's Wick": 1},
                {"Salt, the Gull": 3, "Kindle // Quench": 1})]
    (record,) = draft_picks_from_17lands(write_csv(tmp_path / "d.csv", rows))
    assert sorted(record["pack"]) == ["Eel-Herder", "Eel-Herder", "Tallow's Wick"]
    assert sorted(record["pool"]) == ["Kindle // Quench"] + ["Salt, the Gull"] * 3
    assert (record["pack_number"], record["pick_number"]) == (2, 5)


def test_draft_missing_its_early_picks_keeps_its_pool(tmp_path):
    rows = [row("late", 0, 2, "Eel-Herder", {"Eel-Herder": 1, "Tallow's Wick": 1},
                {"Salt, the Gull": 1, "Kindle // Quench": 1})] + two_picks("full")
    picks = draft_picks_from_17lands(write_csv(tmp_path / "d.csv", rows))
    assert [(p["draft_id"], p["pick_number"]) for p in picks] == [("late", 3), ("full", 1), ("full", 2)]
    assert sorted(picks[0]["pool"]) == ["Kindle // Quench", "Salt, the Gull"]


@pytest.mark.parametrize("name", ["d.csv.gz", "no_suffix.csv"])
def test_gzip_is_read_whatever_the_name(tmp_path, name):
    plain = draft_picks_from_17lands(write_csv(tmp_path / "plain.csv", two_picks()))
    gzipped = write_csv(tmp_path / name, two_picks(), compress=True)
    assert gzipped.read_bytes()[:2] == b"\x1f\x8b"
    assert draft_picks_from_17lands(gzipped) == plain


def test_chunked_reading_stops_after_max_drafts(tmp_path):
    rows = two_picks("a") + two_picks("b") + two_picks("c")
    rows[-1]["pool_Eel-Herder"] = "oops"  # a bad row in draft c, which max_drafts=2 never reaches
    path = write_csv(tmp_path / "d.csv", rows)
    picks = draft_picks_from_17lands(path, max_drafts=2, chunksize=1)
    assert [p["draft_id"] for p in picks] == ["a", "a", "b", "b"]
    assert len(draft_picks_from_17lands(path, max_drafts=1, chunksize=3)) == 2
    with pytest.raises(DraftFileError, match="data row 6"):  # reading everything does reach it
        draft_picks_from_17lands(path, chunksize=1)


def test_columns_are_found_by_name_in_any_order(tmp_path):
    rows = two_picks()
    reordered = list(reversed(list(rows[0])))
    usual = draft_picks_from_17lands(write_csv(tmp_path / "a.csv", rows))
    backwards = draft_picks_from_17lands(write_csv(tmp_path / "b.csv", rows, columns=reordered))
    assert backwards[0]["pack"] == usual[0]["pack"][::-1]  # lists follow the file's column order
    for record in usual + backwards:
        record["pack"].sort()
    assert usual == backwards


def test_newer_optional_columns_present_or_absent(tmp_path):
    old = draft_picks_from_17lands(write_csv(tmp_path / "old.csv", two_picks()))
    assert "user_n_games_bucket" not in old[0] and "pick_2" not in old[0]
    assert (old[0]["event_type"], old[0]["rank"], old[0]["event_match_wins"]) == ("PremierDraft", "gold", 3)
    rows = [r | {"user_n_games_bucket": 50, "user_game_win_rate_bucket": 0.56} for r in two_picks()]
    rows[1]["user_game_win_rate_bucket"] = ""
    new = draft_picks_from_17lands(write_csv(tmp_path / "new.csv", rows))
    assert new[0]["user_n_games_bucket"] == 50 and new[0]["user_game_win_rate_bucket"] == 0.56
    assert new[1]["user_game_win_rate_bucket"] is None
    assert [{k: v for k, v in r.items() if not k.startswith("user_")} for r in new] == old


def test_pick_two_column(tmp_path):
    rows = [r | {"pick_2": ""} for r in two_picks()]
    rows[0]["pick_2"] = "Eel-Herder"
    rows[1]["pick_2"] = "Eel-Herder"  # same card as the pick: fine, the pack holds two copies
    picks = draft_picks_from_17lands(write_csv(tmp_path / "p2.csv", rows))
    assert [p["pick_2"] for p in picks] == ["Eel-Herder", "Eel-Herder"]
    rows[0]["pick_2"] = "Tallow's Wick"  # not in the first pack
    with pytest.raises(DraftFileError, match=r"data row 1 \(line 2\), column 'pick_2'"):
        draft_picks_from_17lands(write_csv(tmp_path / "bad.csv", rows))


def test_missing_column_is_named(tmp_path):
    rows = two_picks()
    columns = [c for c in rows[0] if c != "pick_number"]
    with pytest.raises(DraftFileError, match=r"line 1 \(header\): missing column 'pick_number'"):
        draft_picks_from_17lands(write_csv(tmp_path / "d.csv", rows, columns=columns))
    columns = [c for c in rows[0] if not c.startswith("pool_")]
    with pytest.raises(DraftFileError, match="no 'pool_<card name>' columns"):
        draft_picks_from_17lands(write_csv(tmp_path / "e.csv", rows, columns=columns))


def test_pick_not_in_pack_names_row_and_column(tmp_path):
    rows = two_picks()
    rows[1]["pick"] = "Kindle // Quench"  # the second pack has no Kindle // Quench
    with pytest.raises(DraftFileError, match=r"data row 2 \(line 3\), column 'pick'.*'Kindle // Quench'"):
        draft_picks_from_17lands(write_csv(tmp_path / "d.csv", rows))
    rows[1]["pick"] = "Not A Card"
    with pytest.raises(DraftFileError, match="column 'pick'"):
        draft_picks_from_17lands(write_csv(tmp_path / "e.csv", rows))


@pytest.mark.parametrize("column, value", [("pack_card_Tallow's Wick", "x"), ("pool_Salt, the Gull", "1.5"),
                                           ("pool_Eel-Herder", "-1"), ("pick_number", "two"),
                                           ("pool_Eel-Herder", "")])
def test_bad_count_names_row_and_column(tmp_path, column, value):
    rows = two_picks()
    rows[1][column] = value
    with pytest.raises(DraftFileError, match=rf"data row 2 \(line 3\), column '{column}'"):
        draft_picks_from_17lands(write_csv(tmp_path / "d.csv", rows))


def test_truncated_gzip_is_an_error(tmp_path):
    rows = [r for d in range(300) for r in two_picks(f"draft-{d}")]
    whole = write_csv(tmp_path / "d.csv.gz", rows, compress=True).read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DraftFileError, match=r"cannot be parsed.*gzip -t"):
        draft_picks_from_17lands(tmp_path / "cut.csv.gz", chunksize=50)


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DraftFileError, match="line 1: the file is empty"):
        draft_picks_from_17lands(tmp_path / "empty.csv")


def test_convert_writes_one_json_object_per_pick(tmp_path):
    source = write_csv(tmp_path / "d.csv.gz", two_picks("a") + two_picks("b"), compress=True)
    out = tmp_path / "out" / "picks.jsonl"
    assert drafts.main(["convert", str(source), str(out), "--max-drafts", "1"]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert list(first)[:7] == ["draft_id", "expansion", "pack_number", "pick_number", "pack", "pool", "pick"]
    assert first["pack"] == ["Salt, the Gull", "Eel-Herder", "Eel-Herder", "Kindle // Quench"]
    assert read_jsonl(out) == draft_picks_from_17lands(source, max_drafts=1)


def test_convert_leaves_no_partial_output(tmp_path, capsys):
    rows = two_picks("a") + two_picks("b")
    rows[3]["pick"] = "Kindle // Quench"
    source = write_csv(tmp_path / "d.csv", rows)
    out = tmp_path / "picks.jsonl"
    assert drafts.main(["convert", str(source), str(out), "--chunksize", "1"]) == 1
    assert "data row 4 (line 5), column 'pick'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]  # no output, no temp file
    out.write_text("previous run\n")
    assert drafts.main(["convert", str(source), str(out)]) == 1
    assert out.read_text() == "previous run\n"  # an existing file is left as it was


def test_convert_rejects_a_non_positive_max_drafts(tmp_path, capsys):
    with pytest.raises(SystemExit):
        drafts.main(["convert", "in.csv", str(tmp_path / "out.jsonl"), "--max-drafts", "0"])
    assert "give a positive number" in capsys.readouterr().err


def test_convert_command_line(tmp_path):
    source = write_csv(tmp_path / "d.csv", two_picks())
    out = tmp_path / "picks.jsonl"
    result = subprocess.run([sys.executable, "-m", "utils.drafts", "convert", str(source), str(out)],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "wrote 2 picks" in result.stdout and len(read_jsonl(out)) == 2


def test_read_cards_checks_columns(tmp_path):
    cards = drafts.read_cards(REPO_ROOT / "data" / "drafts" / "cards.csv", "QGO")
    assert set(cards["expansion"]) == {"QGO"}
    assert " // " in sim.SETS["QGO"].split_card and sim.SETS["QGO"].split_card in set(cards["name"])
    (tmp_path / "cards.csv").write_text("id,name\n1,Gull\n")
    with pytest.raises(DraftFileError, match="missing column.*expansion"):
        drafts.read_cards(tmp_path / "cards.csv")


def test_names_per_row_repeats_copies():
    assert drafts.names_per_row(np.array(["a", "b", "c"]), np.array([[0, 2, 1], [1, 0, 0]])) == [
        ["b", "b", "c"], ["a"]]
