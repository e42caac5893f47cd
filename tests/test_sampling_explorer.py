"""utils.generation.sampling_explorer and sampling_panel: the functions the widgets call, their
figures, and the panel driven from Python without a browser."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text
from tiny_models import tiny_llama
from transformers import GenerationConfig, LogitsProcessorList, TopPLogitsWarper

from utils.generation import sampling_explorer
from utils.generation.sampling import FrequencyPresencePenalty
from utils.generation.sampling_explorer import (
    SLIDERS,
    build_processors,
    compare,
    cumulative_mass,
    encode,
    explore,
    kept_text,
    plot_before_after,
    plot_cumulative_mass,
    sample_completions,
    settings_label,
    step,
    token_table,
)
from utils.generation.sampling_panel import explorer_panel

matplotlib.use("Agg")

PROMPT = "Name a fruit."
EVERY_KNOB = {"temperature": 0.65, "top_p": 0.85, "top_k": 40, "min_p": 0.05, "frequency_penalty": -1.5,
              "presence_penalty": 1.75, "repetition_penalty": 1.35}


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    model = tiny_llama(tokenizer, hidden_size=32, intermediate_size=64, heads=4, kv_heads=2,
                       max_positions=256)
    # sharpen the random head so the distribution has a clear top, like a trained model's
    model.lm_head.weight.data *= 40
    return model


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_text_inside(figure: plt.Figure) -> None:
    """Every visible text of ``figure``, drawn by Agg, lies inside the figure (nothing cut): each
    title, label and legend text one by one, and each axes with the tick labels it draws."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    ticks = {id(label) for ax in figure.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in axis.get_major_ticks() + axis.get_minor_ticks()
             for label in (tick.label1, tick.label2)}
    texts = [t for t in figure.findobj(Text)
             if t.get_visible() and t.get_text().strip() and id(t) not in ticks]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    boxes += [(f"axes {index} with its tick labels", ax.get_tightbbox(renderer))
              for index, ax in enumerate(figure.axes)]
    assert len(boxes) > len(figure.axes)
    for text, box in boxes:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, (
            f"{text!r} at {box} runs off a {width:.0f}x{height:.0f} figure")


# ---- the plain functions -------------------------------------------------------------------------

def test_explore_returns_table_figure_and_completions(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, PROMPT, temperature=0.7, top_p=0.9, n=2,
                   max_tokens=4, show_top=8, seed=0)
    assert list(view.table.columns) == ["token", "token_id", "before", "after", "rank_before",
                                        "rank_after", "moved"]
    assert len(view.table) == 8  # temperature and top-p keep the order: no token rises
    assert view.table["before"].is_monotonic_decreasing
    assert view.figure.axes[0].get_title().startswith("T=0.7, top-p=0.9")
    assert len(view.completions) == 2
    assert all(c["finish_reason"] in {"stop", "length"} for c in view.completions)
    assert "[0]" in view.completions_text()


def test_explore_default_settings_change_nothing(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, PROMPT, n=0)
    torch.testing.assert_close(torch.tensor(view.table["after"].values),
                               torch.tensor(view.table["before"].values))
    assert view.kept_tokens == tiny_model.config.vocab_size
    assert view.completions == []
    assert (view.table["moved"] == "").all()


def test_explore_greedy_and_top_k_cut_the_distribution(tiny_model, tokenizer):
    greedy = explore(tiny_model, tokenizer, PROMPT, temperature=0.0, n=0)
    assert greedy.kept_tokens == 1
    assert greedy.kept_text() == "1 token keeps a non-zero probability"
    assert greedy.table["after"].iloc[0] == pytest.approx(1.0)
    top3 = explore(tiny_model, tokenizer, PROMPT, top_k=3, n=0)
    assert top3.kept_tokens == 3
    assert top3.table["after"].iloc[:3].sum() == pytest.approx(1.0, abs=1e-5)


def test_explore_temperature_flattens(tiny_model, tokenizer):
    cold = explore(tiny_model, tokenizer, PROMPT, temperature=0.5, n=0)
    hot = explore(tiny_model, tokenizer, PROMPT, temperature=1.8, n=0)
    assert cold.table["after"].iloc[0] > cold.table["before"].iloc[0]
    assert hot.table["after"].iloc[0] < hot.table["before"].iloc[0]


def test_min_p_keeps_tokens_above_a_share_of_the_top(tiny_model, tokenizer):
    """min-p keeps a token when its probability (after temperature) is at least min_p times the
    top token's: computed by hand here."""
    ids, prompt_length = encode(tokenizer, PROMPT)
    with torch.no_grad():
        probs = (tiny_model(input_ids=ids).logits[0, -1].float() / 0.8).softmax(-1)
    expected = int((probs >= 0.2 * probs.max()).sum())
    view = explore(tiny_model, tokenizer, PROMPT, temperature=0.8, min_p=0.2, n=0)
    assert view.kept_tokens == expected
    assert "min-p=0.2" in view.label


def test_frequency_penalty_counts_the_answer_so_far(tiny_model, tokenizer):
    """The answer so far counts as generated: explore's 'after' column is the softmax of the
    logits minus count x penalty over the answer's tokens (and nothing for the prompt's)."""
    answer = "apple apple apple pear"
    ids, prompt_length = encode(tokenizer, PROMPT, answer)
    assert ids.shape[1] > prompt_length
    with torch.no_grad():
        logits = tiny_model(input_ids=ids).logits[0, -1].float()
    counts = torch.bincount(ids[0, prompt_length:], minlength=logits.shape[0]).float()
    assert counts.max() >= 2  # some token of the answer repeats
    expected = (logits - 1.5 * counts).softmax(-1)
    view = explore(tiny_model, tokenizer, PROMPT, answer_so_far=answer, frequency_penalty=1.5, n=0)
    torch.testing.assert_close(torch.tensor(view.table["after"].values),
                               expected[view.table["token_id"].tolist()].double(), rtol=1e-4, atol=1e-6)


def test_build_processors_order_and_greedy():
    names = [type(p).__name__ for p in build_processors(5, temperature=0.7, top_p=0.9, top_k=20,
                                                       frequency_penalty=0.5, repetition_penalty=1.2,
                                                       min_p=0.1)]
    assert names == ["RepetitionPenaltyLogitsProcessor", "FrequencyPresencePenalty",
                     "TemperatureLogitsWarper", "TopKLogitsWarper", "TopPLogitsWarper", "MinPLogitsWarper"]
    greedy = build_processors(5, temperature=0.0, min_p=0.3)
    scores = greedy(torch.zeros(1, 6, dtype=torch.long), torch.tensor([[0.1, 2.0, 0.3]]))
    assert torch.isinf(scores[0, [0, 2]]).all() and scores[0, 1] == 2.0


def test_build_processors_match_the_order_generate_uses(tiny_model):
    """The installed transformers builds the same list, in the same order, for the same settings
    (the frequency/presence penalty goes in as generate's ``logits_processor``)."""
    config = GenerationConfig(do_sample=True, temperature=0.7, top_k=20, top_p=0.9, min_p=0.1,
                              repetition_penalty=1.2)
    penalty = FrequencyPresencePenalty(0.5, 0.0, 5)
    theirs = tiny_model._get_logits_processor(generation_config=config, input_ids_seq_length=5,
                                              logits_processor=LogitsProcessorList([penalty]))
    ours = build_processors(5, temperature=0.7, top_p=0.9, top_k=20, frequency_penalty=0.5,
                            repetition_penalty=1.2, min_p=0.1)
    assert [type(p).__name__ for p in theirs] == [type(p).__name__ for p in ours]


def test_explore_rejects_bad_settings(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="frequency_penalty must lie in"):
        explore(tiny_model, tokenizer, "Hi", frequency_penalty=3.0, n=0)
    with pytest.raises(ValueError, match="min_p must lie in"):
        explore(tiny_model, tokenizer, "Hi", min_p=1.5, n=0)


def test_token_table_shows_the_tokens_that_rise_into_the_top(tokenizer):
    before = torch.tensor([0.4, 0.3, 0.2, 0.06, 0.04])
    after = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4])  # penalties pushed 0 and 1 down
    table = token_table(tokenizer, before, after, show_top=2)
    assert table["token_id"].tolist() == [4, 3, 1, 0]  # both tops, sorted by the rank after
    assert table["rank_after"].tolist() == [1, 2, 4, 5]
    assert table["rank_before"].tolist() == [5, 4, 2, 1]
    assert table["moved"].tolist() == ["rose", "rose", "fell", "fell"]
    steady = token_table(tokenizer, before, before, show_top=3)
    assert steady["token_id"].tolist() == [0, 1, 2] and (steady["moved"] == "").all()


def test_explore_table_with_penalties_is_the_union_of_both_tops(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, PROMPT, answer_so_far="Neigh Neigh RNAs RNAs Samsung",
                   frequency_penalty=2.0, presence_penalty=2.0, n=0, show_top=6)
    table = view.table
    risers = table[table["moved"] == "rose"]
    assert len(table) == 6 + len(risers)
    assert table["rank_after"].is_monotonic_increasing
    assert ((risers["rank_before"] > 6) & (risers["rank_after"] <= 6)).all()
    assert set(table.loc[table["rank_before"] <= 6, "token_id"]) <= set(table["token_id"])


def test_cumulative_mass_matches_transformers_top_p(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, PROMPT, top_p=0.3, n=0)
    assert view.mass.kept == view.kept_tokens  # only top-p cuts here
    ids, _ = encode(tokenizer, PROMPT)
    with torch.no_grad():
        logits = tiny_model(input_ids=ids).logits[:, -1].float()
    assert view.mass.kept == int((TopPLogitsWarper(0.3)(ids, logits.clone()) > -torch.inf).sum())
    curve = view.mass.table
    assert curve["cumulative"].is_monotonic_increasing
    assert curve["cumulative"].iloc[-1] == pytest.approx(1.0, abs=1e-4)
    assert curve["cumulative"].iloc[view.mass.kept - 2] < 0.3 <= curve["cumulative"].iloc[view.mass.kept - 1]
    with pytest.raises(ValueError, match="top_p must lie in"):
        cumulative_mass(torch.tensor([0.5, 0.5]), top_p=0.0)


def test_cumulative_mass_figure_is_log_scaled_with_the_cut(tiny_model, tokenizer):
    view = explore(tiny_model, tokenizer, PROMPT, top_p=0.3, n=0)
    figure = plot_cumulative_mass(view.mass, view.label)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_title().startswith(f"top-p 0.3 keeps {view.mass.kept}")
    assert any(line.get_ydata()[0] == 0.3 for line in ax.get_lines())  # the top-p line
    assert figure.legends and ax.get_legend() is None  # legend off the data


def test_sampling_is_seeded_and_takes_min_p(tiny_model, tokenizer):
    first = sample_completions(tiny_model, tokenizer, PROMPT, n=2, max_tokens=4, seed=1, temperature=1.2)
    again = sample_completions(tiny_model, tokenizer, PROMPT, n=2, max_tokens=4, seed=1, temperature=1.2)
    assert [c["token_ids"] for c in first] == [c["token_ids"] for c in again]
    # min-p 1 keeps only the top token: sampling becomes greedy, and the model's config is restored
    greedy = sample_completions(tiny_model, tokenizer, PROMPT, n=1, max_tokens=4, temperature=0.0)
    cut = sample_completions(tiny_model, tokenizer, PROMPT, n=3, max_tokens=4, seed=1, min_p=1.0,
                             temperature=1.5)
    assert all(c["token_ids"] == greedy[0]["token_ids"] for c in cut)
    assert tiny_model.generation_config.min_p is None


def test_step_takes_a_rank_a_token_or_a_sample(tiny_model, tokenizer):
    top = step(tiny_model, tokenizer, PROMPT, rank=1, top_k=5)
    view = explore(tiny_model, tokenizer, PROMPT, top_k=5, n=0)
    assert top.token_id == view.table["token_id"][0] and top.token == view.table["token"][0]
    assert top.probability == pytest.approx(view.table["after"][0])
    assert top.answer_so_far == tokenizer.decode([top.token_id])
    # the returned table is the distribution after the new token
    following = explore(tiny_model, tokenizer, PROMPT, top.answer_so_far, top_k=5, n=0)
    assert top.table["token_id"].tolist() == following.table["token_id"].tolist()
    assert top.kept_tokens == 5
    second = step(tiny_model, tokenizer, PROMPT, top.answer_so_far, rank=2, top_k=5)
    assert second.token_id == following.table["token_id"][1]
    assert second.answer_so_far.startswith(top.answer_so_far)
    sampled = [step(tiny_model, tokenizer, PROMPT, seed=7, temperature=1.5).token_id for _ in range(2)]
    assert sampled[0] == sampled[1]
    forced = step(tiny_model, tokenizer, PROMPT, "A", token_id=tokenizer.eos_token_id)
    assert forced.finished and forced.answer_so_far == "A"


def test_step_rejects_bad_choices(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="not both"):
        step(tiny_model, tokenizer, PROMPT, token_id=5, rank=1)
    with pytest.raises(ValueError, match="rank must be at least 1"):
        step(tiny_model, tokenizer, PROMPT, rank=0)
    with pytest.raises(ValueError, match="unknown explorer settings"):
        step(tiny_model, tokenizer, PROMPT, rank=1, temprature=0.5)


def test_compare_puts_two_settings_side_by_side(tiny_model, tokenizer):
    pair = compare(tiny_model, tokenizer, {"temperature": 0.5}, {"top_k": 3}, PROMPT, n=2,
                   max_tokens=3, seed=4)
    assert list(pair.table.columns) == ["token", "token_id", "before", "a", "b"]
    assert pair.kept_tokens == (tiny_model.config.vocab_size, 3)
    assert (pair.table["b"] > 0).sum() == 3 and pair.table["before"].is_monotonic_decreasing
    assert pair.labels[1] == "T=1, top-p=1, top-k=3" and len(pair.figure.axes) == 2
    same = compare(tiny_model, tokenizer, {"top_k": 3}, {"top_k": 3}, PROMPT, n=2, max_tokens=3, seed=4)
    assert same.completions[0] == same.completions[1] == pair.completions[1]  # one seed for both


def test_every_figure_keeps_its_text_inside(tiny_model, tokenizer):
    """With every knob set the settings label is long; titles wrap and legends sit outside the
    axes, so nothing is cut at the figure's edge."""
    view = explore(tiny_model, tokenizer, PROMPT, "Neigh Neigh RNAs", n=0, **EVERY_KNOB)
    assert len(view.label) > 60
    assert_text_inside(view.figure)
    assert_text_inside(plot_cumulative_mass(view.mass, view.label))
    assert_text_inside(plot_before_after(step(tiny_model, tokenizer, PROMPT, rank=1, **EVERY_KNOB).table,
                                         view.label))
    assert_text_inside(compare(tiny_model, tokenizer, EVERY_KNOB, {**EVERY_KNOB, "top_k": 2}, PROMPT).figure)
    assert view.figure.get_size_inches()[0] * 100 <= 900  # drawn at ~800 px: readable at 900


def test_labels_and_plurals():
    assert settings_label(**EVERY_KNOB) == ("T=0.65, top-p=0.85, top-k=40, min-p=0.05, freq=-1.5, "
                                            "pres=1.75, rep=1.35")
    assert kept_text(1) == "1 token keeps a non-zero probability"
    assert kept_text(2) == "2 tokens keep a non-zero probability"


# ---- the panel, driven from Python ---------------------------------------------------------------

@pytest.fixture
def panel(tiny_model, tokenizer):
    return explorer_panel(tiny_model, tokenizer, prompt=PROMPT, temperature=0.5, n=2, max_tokens=3)


def classes(widget) -> set[str]:
    return set(widget._dom_classes)


def test_panel_carries_the_dom_contract(panel):
    parts, controls = panel.parts, panel.controls
    assert set(controls) == {"prompt", "answer_so_far", "seed", *SLIDERS}
    assert {"course-panel", "course-explorer"} <= classes(panel)
    expected = {"error": "course-error", "status": "course-status", "figure_box": "course-figure",
                "numbers": "course-numbers", "samples": "course-samples",
                "sample_button": "course-sample-button"}
    for name, css_class in expected.items():
        assert css_class in classes(parts[name]), name
    assert "course-prompt" in classes(controls["prompt"])
    assert "course-answer" in classes(controls["answer_so_far"])
    assert "course-seed" in classes(controls["seed"])
    for name in SLIDERS:
        assert f"course-slider-{name}" in classes(controls[name])
    assert repr(panel) == "Sampling explorer: run the notebook to use the sliders."


def test_panel_starts_with_a_figure_numbers_and_a_sample_hint(panel):
    parts = panel.parts
    assert parts["figure"].value[:4] == b"\x89PNG" and parts["figure_box"].children == (parts["figure"],)
    assert "keep a non-zero probability" in parts["numbers"].value
    assert "press <b>Sample</b>" in parts["samples"].value
    assert parts["error"].value == "" and "keep" in parts["status"].value
    assert parts["sample_button"].description == "Sample"


def test_panel_controls_never_work_per_keystroke(panel):
    for control in panel.controls.values():
        assert control.continuous_update is False, control.description


def test_panel_slider_redraws_the_figure_and_numbers(panel):
    figure, numbers = panel.parts["figure"].value, panel.parts["numbers"].value
    panel.controls["top_k"].value = 2  # what moving the slider does
    assert panel.parts["figure"].value != figure and panel.parts["numbers"].value != numbers
    assert "2 tokens keep a non-zero probability" in panel.parts["numbers"].value
    panel.controls["top_k"].value = 1
    assert "1 token keeps a non-zero probability" in panel.parts["numbers"].value


def test_panel_samples_stay_until_the_next_sample(panel):
    view = panel.sample()  # what pressing the button does
    assert len(view.completions) == 2
    samples = panel.parts["samples"].value
    assert "[0]" in samples and "[1]" in samples and "Settings changed" not in samples
    figure = panel.parts["figure"].value
    panel.controls["n"].value = 4
    panel.controls["max_tokens"].value = 5
    assert "Settings changed" in panel.parts["samples"].value  # kept, marked stale
    assert view.completions_text().split("\n")[0].split(") ", 1)[1] in panel.parts["samples"].value
    assert panel.parts["figure"].value == figure  # n and max tokens do not redraw
    panel.controls["n"].value, panel.controls["max_tokens"].value = 2, 3
    assert "Settings changed" not in panel.parts["samples"].value  # back where they were drawn
    again = panel.sample()
    assert [c["token_ids"] for c in again.completions] == [c["token_ids"] for c in view.completions]


def test_panel_error_is_shown_and_the_panel_stays_usable(panel, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the model ran out of fruit")

    monkeypatch.setattr(sampling_explorer, "sample_completions", broken)
    assert panel.sample() is None
    assert "RuntimeError: the model ran out of fruit" in panel.parts["error"].value
    assert "failed" in panel.parts["status"].value and not panel.parts["sample_button"].disabled
    monkeypatch.undo()
    assert len(panel.sample().completions) == 2
    assert panel.parts["error"].value == ""


def test_panel_is_busy_while_sampling(panel, monkeypatch):
    seen = {}
    real = sampling_explorer.sample_completions

    def spy(*args, **kwargs):
        seen["disabled"] = panel.parts["sample_button"].disabled
        seen["status"] = panel.parts["status"].value
        return real(*args, **kwargs)

    monkeypatch.setattr(sampling_explorer, "sample_completions", spy)
    panel.sample()
    assert seen == {"disabled": True, "status": "working…"}
    assert "2 samples" in panel.parts["status"].value


def test_panel_tabs_step_and_compare(panel):
    tabs = panel.parts["tabs"]
    tabs.selected_index = 1
    assert panel.parts["mass_figure"].value[:4] == b"\x89PNG"
    tabs.selected_index = 2
    assert panel.parts["step_choice"].options  # the kept tokens to pick from
    taken = panel.take_step("top")
    assert taken.answer_so_far in panel.parts["step_answer"].value
    chosen = panel.parts["step_choice"].options[1][1]
    assert panel.take_step(chosen).token_id == chosen and "2 steps" in panel.parts["step_answer"].value
    tabs.selected_index = 3
    assert "A (pinned): T=0.5" in panel.parts["compare_text"].value
    panel.controls["temperature"].value = 1.2
    pair = panel.sample_compare()
    assert pair.labels == ("T=0.5, top-p=1, top-k=off", "T=1.2, top-p=1, top-k=off")
    assert "seed 0" in panel.parts["compare_text"].value
    panel.pin()
    assert "A (pinned): T=1.2" in panel.parts["compare_text"].value


def test_panel_rejects_unknown_settings(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="unknown explorer settings \\['temprature'\\]"):
        explorer_panel(tiny_model, tokenizer, temprature=0.5)
