"""Notebook 06 (sampling parameters), executed once in fast mode: the claims its prose makes."""

from __future__ import annotations


def test_sampling_notebook_runs(notebook_runs):
    run = notebook_runs("06")
    assert run.result.ok, run.result.error
    assert run.results, "the notebook recorded no results"


def test_greedy_keeps_one_token_and_top_p_adapts(notebook_runs):
    results = notebook_runs("06").results
    assert results["greedy_kept_tokens"] == 1
    # the model is unsure about the fruit, so top-p 0.5 keeps more tokens than top-k 3
    assert 3 < results["top_p_half_kept_tokens"] < 49_152


def test_temperature_trades_repetition_for_unlikely_text(notebook_runs):
    results = notebook_runs("06").results
    nll = results["nll_by_temperature"]
    distinct = results["distinct2_by_temperature"]
    assert results["temperatures"] == sorted(results["temperatures"])
    assert nll[-1] > nll[0] + 1.0  # the hottest samples are far less likely under the model
    assert distinct[-1] >= distinct[0]


def test_penalties_lower_repetition_and_strong_ones_break_lists(notebook_runs):
    """Fast mode samples only a handful of prompts, so only directions that hold by a wide margin
    are asserted: every penalty lowers the repetition rate on average, and the strongest
    multiplicative penalty leaves no more valid numbered lists than no penalty does."""
    results = notebook_runs("06").results
    settings = results["penalty_settings"]
    repetition = dict(zip(settings, results["repetition_by_setting"], strict=True))
    valid = dict(zip(settings, results["valid_list_share"], strict=True))
    strongest_repetition = [name for name in settings if name.startswith("repetition")][-1]
    for name in settings:
        if name.startswith(("frequency", "presence", "repetition")):
            assert repetition[name] < repetition["no penalty"], name
    assert valid[strongest_repetition] <= valid["no penalty"]
    low, high = results["repetition_change_vs_none"][settings.index(strongest_repetition)][1:]
    assert low <= high < 0  # the paired interval of the strongest penalty lies below zero


def test_short_max_tokens_reports_length(notebook_runs):
    results = notebook_runs("06").results
    assert results["short_max_tokens_finish"] == ["length"] * 4


def test_chat_completion_by_hand_matches_the_api(notebook_runs):
    results = notebook_runs("06").results
    assert results["anatomy_matches_chat_completion"]
    assert results["usage_by_hand"] == results["usage_api"]
    assert results["banned_token_absent"]


def test_experiments_reuse_shared_settings(notebook_runs):
    """5 temperatures + 10 list settings + 3 JSON settings + 6 new grid cells (3 share the
    temperature sweep's top-p 1): shared settings are sampled once."""
    results = notebook_runs("06").results
    assert results["settings_measured"] == 24
    (hot_t, hot_p), (cold_t, cold_p) = results["twin_settings"]
    assert hot_t > cold_t and hot_p < cold_p
