"""utils.drafts.simulation: fictional sets, pack passing, human-like drafters, 17lands-format files."""

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from utils.drafts import simulation as sim
from utils.drafts.files import draft_picks_from_17lands, read_cards, read_header

REPO_ROOT = Path(__file__).resolve().parent.parent

DRAFTS_DIR = Path(__file__).resolve().parent.parent / "data" / "drafts"


@pytest.fixture(scope="module")
def qlt():
    return sim.simulate_drafts("QLT", 40, seed=5)


@pytest.mark.parametrize("code", sorted(sim.SETS))
def test_card_names_exercise_the_loader_edge_cases(code):
    names = sim.set_cards(code)["name"]
    assert names.is_unique and len(names) == 90
    for mark in (",", "'", "-", " // "):
        assert names.str.contains(mark, regex=False).any(), f"{code} has no name with {mark!r}"


def test_the_two_sets_differ():
    qlt, qgo = sim.set_cards("QLT"), sim.set_cards("QGO")
    assert not set(qlt["name"]) & set(qgo["name"])
    assert not set(qlt["id"]) & set(qgo["id"])
    assert (sim.SETS["QLT"].pack_size, sim.SETS["QGO"].pack_size) == (14, 13)
    assert list(qlt.columns) == ["id", "expansion", "name", "rarity", "color_identity", "mana_value",
                                 "types", "is_booster"]


def test_packs_hold_the_slots_of_their_set():
    rng = np.random.default_rng(0)
    for code, spec in sim.SETS.items():
        cards = sim.set_cards(code)
        packs = sim.make_packs(cards, spec, 400, rng)
        rare = cards["rarity"].isin(["rare", "mythic"]).to_numpy()
        assert (packs.sum(axis=1) == spec.pack_size).all()
        if spec.wildcards == 0:
            assert packs.max() == 1 and (packs[:, rare].sum(axis=1) == 1).all()
        else:  # the wildcard slot sometimes repeats a card
            assert packs.max() == 2
        mythic_share = packs[:, (cards["rarity"] == "mythic").to_numpy()].sum() / 400
        assert 0.05 < mythic_share < 0.25  # one rare slot in eight is a mythic


def test_packs_pass_left_right_left(qlt):
    size = qlt.spec.pack_size
    one_hot = np.eye(len(qlt.cards), dtype=int)
    for pack_number, giver_offset in ((0, -1), (1, +1), (2, -1)):  # left = to the next seat index
        for t in range(pack_number * size + 1, (pack_number + 1) * size):
            for seat in range(sim.SEATS):
                giver = (seat + giver_offset) % sim.SEATS
                handed_on = qlt.seen[:, giver, t - 1] - one_hot[qlt.picks[:, giver, t - 1]]
                assert (qlt.seen[:, seat, t] == handed_on).all(), (pack_number, t, seat)
    opened = qlt.seen[:, :, ::size].sum(axis=-1)
    assert (opened == size).all()  # each pack starts full, three times


def test_pools_hold_exactly_the_earlier_picks(qlt):
    for t in (0, 1, 20, 41):
        expected = np.stack([np.bincount(p, minlength=90) for p in qlt.picks[:, 0, :t]])
        assert (qlt.pool0[:, t] == expected).all()
    assert (qlt.seen[:, 0][np.arange(40)[:, None], np.arange(42), qlt.picks[:, 0]] > 0).all()


def test_better_cards_go_earlier(qlt):
    size = qlt.spec.pack_size
    position = np.broadcast_to(np.arange(qlt.picks.shape[2]) % size, qlt.picks.shape)
    taken = np.bincount(qlt.picks.ravel(), minlength=90)
    average = np.bincount(qlt.picks.ravel(), position.ravel(), minlength=90) / np.maximum(taken, 1)
    rho = spearmanr(qlt.quality[taken > 0], average[taken > 0]).statistic
    assert rho < -0.8


def on_colour_share(drafts, picks):
    """Share of coloured picks at pick indices ``picks`` that fit the pool's two main colours then."""
    colours = sim.colour_matrix(drafts.cards)
    hits = []
    for d in range(drafts.picks.shape[0]):
        for seat in range(sim.SEATS):
            for t in picks:
                card = drafts.picks[d, seat, t]
                if colours[card].any():
                    pool = np.bincount(drafts.picks[d, seat, :t], minlength=len(colours)) @ colours
                    off = np.argsort(-pool, kind="stable")[2:]
                    hits.append(not colours[card, off].any())
    return np.mean(hits)


def test_colour_commitment_grows_and_picks_stay_noisy(qlt):
    early, late = on_colour_share(qlt, range(1, 6)), on_colour_share(qlt, range(28, 38))
    assert late > early + 0.15, (early, late)
    quality = np.where(qlt.seen[:, :, 0] > 0, qlt.quality, -np.inf)
    best_first = (qlt.picks[:, :, 0] == quality.argmax(axis=-1)).mean()
    assert 0.2 < best_first < 0.9  # quality leads, noise makes drafters disagree


def test_frame_is_read_back_by_the_loader(tmp_path):
    drafts = sim.simulate_drafts("QGO", 3, seed=1)
    frame = sim.drafts_frame(drafts, seed=1, missing_first_picks=0.0)
    path = sim.write_gzip_csv(frame, tmp_path / sim.draft_file_name("QGO"))
    picks = draft_picks_from_17lands(path)
    assert len(picks) == 3 * 39 and len({p["draft_id"] for p in picks}) == 3
    assert [p["pick_number"] for p in picks[:14]] == list(range(1, 14)) + [1]
    assert [len(p["pack"]) for p in picks[:13]] == list(range(13, 0, -1))
    names = drafts.cards["name"].to_numpy()
    assert [p["pick"] for p in picks[:39]] == names[drafts.picks[0, 0]].tolist()
    assert picks[38]["pool"] == sorted(picks[38]["pool"], key=list(names).index)
    assert sorted(picks[38]["pool"]) == sorted(p["pick"] for p in picks[:38])
    assert "pick_2" not in picks[0] and picks[0]["user_game_win_rate_bucket"] is not None


def test_some_drafts_lack_their_first_picks(tmp_path):
    drafts = sim.simulate_drafts("QLT", 4, seed=2)
    frame = sim.drafts_frame(drafts, seed=2, missing_first_picks=1.0)
    picks = draft_picks_from_17lands(sim.write_gzip_csv(frame, tmp_path / "d.csv.gz"))
    firsts = [p for i, p in enumerate(picks) if i == 0 or picks[i - 1]["draft_id"] != p["draft_id"]]
    assert len(firsts) == 4
    for first in firsts:
        assert 2 <= first["pick_number"] <= 4 and len(first["pool"]) == first["pick_number"] - 1


def test_event_records_follow_premier_draft_rules(qlt):
    frame = sim.drafts_frame(qlt, seed=5)
    per_draft = frame.groupby("draft_id")[["event_match_wins", "event_match_losses"]].first()
    wins, losses = per_draft["event_match_wins"], per_draft["event_match_losses"]
    assert ((wins == 7) | (losses == 3)).all() and (wins <= 7).all() and (losses <= 3).all()
    assert set(frame["rank"]) <= set(sim.RANKS)
    assert list(frame.columns[:12]) == ["expansion", "event_type", "draft_id", "draft_time", "rank",
                                        "event_match_wins", "event_match_losses", "pack_number",
                                        "pick_number", "pick", "pick_maindeck_rate", "pick_sideboard_in_rate"]


def test_same_seed_same_bytes(tmp_path):
    first = sim.write_course_drafts(tmp_path / "a", seed=3, n_drafts=2)
    again = sim.write_course_drafts(tmp_path / "b", seed=3, n_drafts=2)
    other = sim.write_course_drafts(tmp_path / "c", seed=4, n_drafts=2)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    qlt = [p.name for p in first].index(sim.draft_file_name("QLT"))
    assert first[qlt].read_bytes() != other[qlt].read_bytes()
    assert gzip.decompress(first[qlt].read_bytes()).startswith(b"expansion,event_type,draft_id")


def test_shipped_files_match_the_code():
    cards = read_cards(DRAFTS_DIR / sim.CARDS_FILE)
    expected = pd.concat([sim.set_cards(code) for code in sim.COURSE_SETS], ignore_index=True)
    assert cards["name"].tolist() == expected["name"].tolist()
    total = 0
    for code in sim.COURSE_SETS:
        spec = sim.SETS[code]
        path = sim.course_draft_file(code)
        total += path.stat().st_size
        header = read_header(path)
        names = sim.set_cards(code)["name"].tolist()
        assert [c for c in header if c.startswith("pack_card_")] == [f"pack_card_{n}" for n in names]
        picks = draft_picks_from_17lands(path, max_drafts=3)
        assert {p["expansion"] for p in picks} == {code}
        assert max(len(p["pack"]) for p in picks) == spec.pack_size
    assert total < 3_000_000
    with pytest.raises(KeyError, match="course's sets are"):
        sim.course_draft_file("XYZ")


def test_colour_fit_and_final_deck_known_values():
    colours = np.array([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [1.0, 1.0, 0, 0, 0], [0, 0, 0, 0, 0]])
    fit = sim.colour_affinity(np.array([4, 0, 0, 0]), colours)
    assert fit.tolist() == [1.0, 0.0, 1.0, 0.8]  # white pool: white fits, blue does not
    deck = sim.final_deck(np.array([3, 1, 1, 2]), np.array([0.5, 2.0, 1.0, -1.0]), colours, size=4)
    assert deck.tolist() == [2, 1, 1, 0]  # best four cards castable in the two main colours
    assert sim.play_event(0.0, np.random.default_rng(0)) == (0, 3)


def test_ceiling_is_the_top1_of_a_picker_that_knows_the_drafter():
    drafts = sim.simulate_drafts("QLT", 200, seed=8)
    colours = sim.colour_matrix(drafts.cards)
    rare = drafts.cards["rarity"].isin(["rare", "mythic"]).to_numpy(dtype=float)
    n_picks = drafts.seen.shape[2]
    hits = []
    for t in range(n_picks):  # the oracle: the argmax of the drafter's true choice probabilities
        values = sim.pick_values(drafts.pool0[:, t][:, None].astype(float), t / (n_picks - 1), drafts.quality,
                                 colours, rare, {k: v[:, :1] for k, v in drafts.drafters.items()})[:, 0]
        chance = sim.choice_probabilities(drafts.seen[:, 0, t], values, drafts.drafters["noise"][:, 0])
        hits.append(chance.argmax(-1) == drafts.picks[:, 0, t])
    assert abs(np.mean(hits) - drafts.best_chance.mean()) < 0.02
    assert (drafts.best_chance[:, -1] == 1).all()  # the last card of a pack is always taken


def test_new_set_command_writes_a_set_nobody_trained_on(tmp_path):
    out = tmp_path / "qab"
    command = [sys.executable, "-m", "utils.drafts.simulation", "--new-set", "QAB", "--out", str(out)]
    result = subprocess.run(command + ["--name", "Ash Bell", "--set-seed", "3", "--drafts", "4"],
                            cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    picks = draft_picks_from_17lands(out / sim.draft_file_name("QAB"))
    names = set(pd.read_csv(out / sim.CARDS_FILE)["name"])
    assert {p["pick"] for p in picks} <= names and not names & set(sim.set_cards("QLT")["name"])
    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "nothing is overwritten" in again.stderr
