"""utils.evaluation.draft_arena: games from per-pick hits, and the baselines on a picker's own picks."""

import pandas as pd

from utils.evaluation import draft_arena


def test_games_follow_top1_then_top3():
    keys = {"set": "QLT", "draft_id": "d", "pack_number": 1, "pick_number": 1}
    hits = pd.DataFrame([keys | {"picker": "a", "top1": 1, "top3": 1},
                         keys | {"picker": "b", "top1": 0, "top3": 1},
                         keys | {"picker": "c", "top1": 0, "top3": 0}])
    games = draft_arena.games_from_hits(hits).set_index(["player_a", "player_b"])["score_a"]
    assert games[("a", "b")] == 1 and games[("a", "c")] == 1 and games[("b", "c")] == 1


def test_baselines_play_exactly_the_pickers_picks():
    folder = draft_arena.Path(__file__).resolve().parents[1] / "adapters" / "draft_picker"
    llm = draft_arena.read_llm_hits(folder)
    llm = llm.groupby("set").head(5)
    hits = draft_arena.baseline_hits(llm)
    for _, table in hits.groupby("picker"):
        assert sorted(map(tuple, table[["set"] + draft_arena.KEYS].to_numpy().tolist())) == \
            sorted(map(tuple, llm[["set"] + draft_arena.KEYS].to_numpy().tolist()))
