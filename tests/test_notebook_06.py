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


def test_penalties_do_not_raise_repetition(notebook_runs):
    results = notebook_runs("06").results
    by_frequency = results["repetition_by_frequency_penalty"]
    assert results["frequency_penalties"][0] == 0.0
    assert by_frequency[-1] <= by_frequency[0]
    assert results["repetition_by_repetition_penalty"][-1] <= results["repetition_by_repetition_penalty"][0]


def test_short_max_tokens_reports_length(notebook_runs):
    results = notebook_runs("06").results
    assert results["short_max_tokens_finish"] == ["length"] * 4


def test_experiments_reuse_shared_settings(notebook_runs):
    """5 temperatures + 8 penalty settings + 6 new grid cells: shared settings are sampled once."""
    results = notebook_runs("06").results
    assert results["settings_measured"] == 19
    (hot_t, hot_p), (cold_t, cold_p) = results["twin_settings"]
    assert hot_t > cold_t and hot_p < cold_p
