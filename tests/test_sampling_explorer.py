"""utils.generation.sampling_explorer: the function the widgets call, and
the panel built without a browser."""

from __future__ import annotations

import matplotlib
import pytest
import torch
from tiny_models import tiny_llama

from utils.generation.sampling_explorer import SLIDERS, build_processors, encode, explore, explorer_panel

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    model = tiny_llama(tokenizer, hidden_size=32, intermediate_size=64, heads=4, kv_heads=2,
                       max_positions=256)
    # sharpen the random head so the distribution has a clear top, like a trained model's
    model.lm_head.weight.data *= 40
    return model


def test_explore_returns_table_figure_and_completions(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, "Name a fruit.", temperature=0.7, top_p=0.9, n=2,
                   max_tokens=4, show_top=8, seed=0)
    assert list(view.table.columns) == ["token", "token_id", "before", "after"]
    assert len(view.table) == 8
    assert view.table["before"].is_monotonic_decreasing
    assert view.figure.axes[0].get_title().startswith("T=0.7, top-p=0.9")
    assert len(view.completions) == 2
    assert all(c["finish_reason"] in {"stop", "length"} for c in view.completions)
    assert "[0]" in view.completions_text()


def test_explore_default_settings_change_nothing(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, "Name a fruit.", n=0)
    torch.testing.assert_close(torch.tensor(view.table["after"].values),
                               torch.tensor(view.table["before"].values))
    assert view.kept_tokens == tiny_model.config.vocab_size
    assert view.completions == []


def test_explore_greedy_and_top_k_cut_the_distribution(tiny_model, tokenizer):
    greedy = explore(tiny_model, tokenizer, "Name a fruit.", temperature=0.0, n=0)
    assert greedy.kept_tokens == 1
    assert greedy.table["after"].iloc[0] == pytest.approx(1.0)
    top3 = explore(tiny_model, tokenizer, "Name a fruit.", top_k=3, n=0)
    assert top3.kept_tokens == 3
    assert top3.table["after"].iloc[:3].sum() == pytest.approx(1.0, abs=1e-5)


def test_explore_temperature_flattens(tiny_model, tokenizer):
    cold = explore(tiny_model, tokenizer, "Name a fruit.", temperature=0.5, n=0)
    hot = explore(tiny_model, tokenizer, "Name a fruit.", temperature=1.8, n=0)
    assert cold.table["after"].iloc[0] > cold.table["before"].iloc[0]
    assert hot.table["after"].iloc[0] < hot.table["before"].iloc[0]


def test_frequency_penalty_counts_the_answer_so_far(tiny_model, tokenizer):
    """The answer so far counts as generated: explore's 'after' column is the softmax of the
    logits minus count x penalty over the answer's tokens (and nothing for the prompt's)."""
    answer = "apple apple apple pear"
    ids, prompt_length = encode(tokenizer, "Name a fruit.", answer)
    assert ids.shape[1] > prompt_length
    with torch.no_grad():
        logits = tiny_model(input_ids=ids).logits[0, -1].float()
    counts = torch.bincount(ids[0, prompt_length:], minlength=logits.shape[0]).float()
    assert counts.max() >= 2  # some token of the answer repeats
    expected = (logits - 1.5 * counts).softmax(-1)
    view = explore(tiny_model, tokenizer, "Name a fruit.", answer_so_far=answer, frequency_penalty=1.5, n=0)
    torch.testing.assert_close(torch.tensor(view.table["after"].values),
                               expected[view.table["token_id"].tolist()].double(), rtol=1e-4, atol=1e-6)


def test_build_processors_order_and_greedy():
    names = [type(p).__name__ for p in build_processors(5, temperature=0.7, top_p=0.9, top_k=20,
                                                       frequency_penalty=0.5, repetition_penalty=1.2)]
    assert names == ["RepetitionPenaltyLogitsProcessor", "FrequencyPresencePenalty",
                     "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper"]
    greedy = build_processors(5, temperature=0.0)
    scores = greedy(torch.zeros(1, 6, dtype=torch.long), torch.tensor([[0.1, 2.0, 0.3]]))
    assert torch.isinf(scores[0, [0, 2]]).all() and scores[0, 1] == 2.0


def test_explore_rejects_bad_settings(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="frequency_penalty must lie in"):
        explore(tiny_model, tokenizer, "Hi", frequency_penalty=3.0, n=0)


def test_panel_callback_runs_without_a_browser(tiny_model, tokenizer):
    panel = explorer_panel(tiny_model, tokenizer, prompt="Name a fruit.", temperature=0.5, n=2,
                           max_tokens=3)
    assert set(panel.controls) == {"prompt", "answer_so_far", *SLIDERS}
    assert panel.controls["temperature"].value == 0.5
    panel.controls["top_k"].value = 2  # what moving the slider does
    view = panel.redraw(sample=True)  # what pressing the button does
    assert view.kept_tokens == 2
    assert len(view.completions) == 2
    plot_area, text_area = panel.children[1].children[1], panel.children[3]
    assert plot_area.outputs  # the figure was drawn into the output area
    assert "2 tokens keep a non-zero probability" in text_area.outputs[0]["text"]


def test_panel_rejects_unknown_settings(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="unknown explorer settings \\['temprature'\\]"):
        explorer_panel(tiny_model, tokenizer, temprature=0.5)
