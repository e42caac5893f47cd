"""The sampling explorer's panel: a thin ipywidgets layer over the plain functions of
``utils.generation.sampling_explorer`` (``explore``, ``cumulative_mass``, ``step``, ``compare``),
built from the course's panel parts (``utils.core.panels``: busy state, errors shown in the panel,
a layout that fits a Colab cell). The browser test (tests/test_browser_explorer.py) drives it in
JupyterLab; tests/test_sampling_explorer.py drives its callbacks from Python.

Example:
    >>> from utils.core.models import load_model
    >>> from utils.generation.sampling_panel import explorer_panel
    >>> model, tokenizer = load_model()
    >>> explorer_panel(model, tokenizer)  # a notebook shows the sliders; plain text shows this
    Sampling explorer: run the notebook to use the sliders.
"""

from __future__ import annotations

import html

from utils.core.panels import count_text
from utils.generation.sampling_explorer import (
    KNOBS,
    SLIDERS,
    Comparison,
    ExplorerView,
    StepView,
    compare,
    completions_text,
    explore,
    plot_before_after,
    plot_cumulative_mass,
    settings_label,
    step,
)

NO_SAMPLES = "No samples yet: press <b>Sample</b> to draw n completions with these settings."
STALE = "Settings changed since these samples; press <b>Sample</b> to draw new ones."


def samples_html(completions: list[dict], header: str, stale: bool = False) -> str:
    """The sampled completions as the panel shows them, with a note when they are stale."""
    note = f'<div style="color:#a15c00">{STALE}</div>' if stale else ""
    body = html.escape(completions_text(completions))
    return (f"{note}<div>{html.escape(header)}</div>"
            f'<div style="white-space:pre-wrap;font-family:monospace">{body}</div>')


def numbers_html(view: ExplorerView, show_top: int) -> str:
    """The numbers under the figure: what survives, where top-p cuts, the top token, the risers
    and the table itself."""
    top = view.table.iloc[0]
    risers = view.table[view.table["moved"] == "rose"]
    lines = [f"{view.kept_text()}.",
             (f"Top-p {view.mass.top_p:g} alone keeps {count_text(view.mass.kept, 'token')}."
              if view.mass else ""),
             f"Most likely now: {top['token']} ({top['before']:.2f} → {top['after']:.2f}).",
             (f"Rose into the top {show_top}: " + ", ".join(
                 f"{row.token} (rank {row.rank_before:,} → {row.rank_after})" for row in risers.itertuples())
              + ".") if len(risers) else ""]
    shown = view.table.assign(before=view.table["before"].map("{:.3f}".format),
                              after=view.table["after"].map("{:.3f}".format))
    return (f"<div>{html.escape(' '.join(line for line in lines if line))}</div>"
            + shown.drop(columns="token_id").to_html(index=False, border=0, escape=True))


def explorer_panel(model, tokenizer, prompt: str = "Name three fruits.", answer_so_far: str = "",
                   show_top: int = 12, seed: int = 0, **values):
    """The ipywidgets panel over ``explore``, ``cumulative_mass``, ``step`` and ``compare``: text
    boxes for the prompt and the answer so far, one slider per knob of ``SLIDERS`` (start values
    from ``values``) and a seed, a Sample button, and tabs for the views. Moving a slider redraws
    the distribution; Sample draws n completions, which stay until the next Sample.

    ``panel.redraw()``, ``panel.sample()``, ``panel.take_step(...)``, ``panel.pin()`` and
    ``panel.sample_compare()`` do what the widgets do; ``panel.controls`` and ``panel.parts`` hold
    the widgets."""
    import ipywidgets as widgets

    from utils.core import panels

    unknown = set(values) - set(SLIDERS)
    if unknown:
        raise ValueError(f"unknown explorer settings {sorted(unknown)}; known: {sorted(SLIDERS)}.")
    controls = {"prompt": panels.text_box(prompt, "prompt", "course-prompt"),
                "answer_so_far": panels.text_box(answer_so_far, "answer so far", "course-answer",
                                                 placeholder="(optional) the start of the answer")}
    for name, (low, high, step_size, default) in SLIDERS.items():
        controls[name] = panels.slider(name, low, high, step_size, values.get(name, default))
    controls["seed"] = widgets.IntText(value=seed, description="seed", continuous_update=False,
                                       style={"description_width": panels.DESCRIPTION_WIDTH},
                                       layout=widgets.Layout(width="auto"))
    controls["seed"].add_class("course-seed")

    def button(text: str, css_class: str, tooltip: str) -> widgets.Button:
        made = widgets.Button(description=text, tooltip=tooltip, layout=widgets.Layout(width="auto"))
        made.add_class(css_class)
        return made

    parts = {"status": panels.status_line(), "error": panels.error_area(),
             "sample_button": button("Sample", "course-sample-button", "draw n completions"),
             "numbers": widgets.HTML(), "samples": widgets.HTML(NO_SAMPLES),
             "step_answer": widgets.HTML(), "step_choice": widgets.Dropdown(
                 description="token", layout=widgets.Layout(width="auto", min_width="260px")),
             "step_top": button("Take top", "course-step-top", "append the most likely token"),
             "step_sample": button("Sample one", "course-step-sample", "append a sampled token"),
             "step_take": button("Take", "course-step-take", "append the chosen token"),
             "step_restart": button("Restart", "course-step-restart", "back to the answer box"),
             "compare_pin": button("Pin as A", "course-compare-pin", "keep these settings as A"),
             "compare_sample": button("Sample both", "course-compare-sample", "n samples each, same seed"),
             "compare_text": widgets.HTML()}
    for name, css_class in (("numbers", "course-numbers"), ("samples", "course-samples"),
                            ("step_answer", "course-step-answer"), ("step_choice", "course-step-choice"),
                            ("compare_text", "course-compare-text")):
        parts[name].add_class(css_class)
    for name, css_class in (("figure", "course-figure"), ("mass_figure", "course-mass-figure"),
                            ("step_figure", "course-step-figure"),
                            ("compare_figure", "course-compare-figure")):
        parts[f"{name}_box"], parts[name] = panels.figure_area(css_class)
    buttons = [parts[name] for name in parts if name.endswith(("button", "_top", "_sample", "_take",
                                                               "_restart", "_pin"))]
    state = {"view": None, "sampled_with": None, "step_answer": answer_so_far, "steps": 0,
             "pinned": None}

    def knobs() -> dict:
        return {name: controls[name].value for name in KNOBS}

    def sample_settings() -> dict:
        return {name: control.value for name, control in controls.items()}

    def run(work, done_text=None):
        return panels.run_busy(work, parts["status"], parts["error"], buttons, done_text=done_text)

    def mark_samples() -> None:
        if state["sampled_with"] is not None:
            completions, header, settings = state["sampled_with"]
            parts["samples"].value = samples_html(completions, header, stale=settings != sample_settings())

    def show_tab() -> None:
        view, tab = state["view"], tabs.selected_index
        if tab == 1 and view is not None:
            panels.show_figure(parts["mass_figure"], plot_cumulative_mass(view.mass, view.label))
        elif tab == 2:
            show_step(explore(model, tokenizer, controls["prompt"].value, state["step_answer"], n=0,
                              show_top=show_top, **knobs()))
        elif tab == 3:
            show_compare(n=0)

    def show_step(view) -> None:
        table = view.table
        panels.show_figure(parts["step_figure"], plot_before_after(table, settings_label(**knobs())))
        kept = table[table["after"] > 0].sort_values("rank_after")
        parts["step_choice"].options = [(f"{row.token}  {row.after:.2f}", row.token_id)
                                        for row in kept.itertuples()]
        parts["step_answer"].value = (f"<b>answer so far</b> ({count_text(state['steps'], 'step')}): "
                                      f"<code>{html.escape(state['step_answer']) or '(empty)'}</code>")

    def show_compare(n: int) -> Comparison:
        pair = compare(model, tokenizer, state["pinned"], knobs(), controls["prompt"].value,
                       controls["answer_so_far"].value, n=n, max_tokens=controls["max_tokens"].value,
                       seed=controls["seed"].value, show_top=show_top)
        panels.show_figure(parts["compare_figure"], pair.figure)
        text = f"A (pinned): {pair.labels[0]}. B (the sliders): {pair.labels[1]}."
        if n:
            text += "".join(f"\n{side}, seed {controls['seed'].value}:\n{completions_text(samples)}"
                            for side, samples in zip("AB", pair.completions, strict=True))
        parts["compare_text"].value = f'<div style="white-space:pre-wrap">{html.escape(text)}</div>'
        return pair

    def redraw(sample: bool = False) -> ExplorerView | None:
        def work() -> ExplorerView:
            settings = sample_settings()
            view = explore(model, tokenizer, settings["prompt"], settings["answer_so_far"],
                           n=settings["n"] if sample else 0, max_tokens=settings["max_tokens"],
                           show_top=show_top, seed=settings["seed"], **knobs())
            state["view"] = view
            panels.show_figure(parts["figure"], view.figure)
            parts["numbers"].value = numbers_html(view, show_top)
            if sample:
                header = (f"{count_text(len(view.completions), 'sample')} ({view.label}; "
                          f"max {settings['max_tokens']} tokens; seed {settings['seed']}):")
                state["sampled_with"] = (view.completions, header, settings)
            mark_samples()
            show_tab()
            return view

        def done(view: ExplorerView, seconds: float) -> str:
            what = count_text(len(view.completions), "sample") if sample else view.kept_text()
            return f"{what} ({seconds:.1f} s)"

        return run(work, done)

    def take_step(how: str | int = "top") -> StepView | None:
        """``"top"``, ``"sample"`` or a token id: what the step tab's buttons do."""
        def work() -> StepView:
            if how is None:
                raise ValueError("choose a token in the list first.")
            choice = {"rank": 1} if how == "top" else {"seed": controls["seed"].value + state["steps"]} \
                if how == "sample" else {"token_id": how}
            taken = step(model, tokenizer, controls["prompt"].value, state["step_answer"],
                         show_top=show_top, **choice, **knobs())
            state["step_answer"], state["steps"] = taken.answer_so_far, state["steps"] + 1
            show_step(taken)
            return taken

        return run(work, lambda taken, s: (f"took {taken.token} (p={taken.probability:.2f})"
                                           + ("; the answer ended" if taken.finished else "")))

    def restart_steps() -> None:
        state["step_answer"], state["steps"] = controls["answer_so_far"].value, 0
        run(show_tab)

    def pin() -> None:
        state["pinned"] = knobs()
        run(show_tab)

    def sample_compare() -> Comparison | None:
        return run(lambda: show_compare(n=controls["n"].value))

    state["pinned"] = knobs()  # A starts as the opening settings; "Pin as A" replaces it
    tabs = widgets.Tab([widgets.VBox([parts["figure_box"], parts["numbers"]]),
                        parts["mass_figure_box"],
                        widgets.VBox([parts["step_answer"],
                                      widgets.HBox([parts[name] for name in ("step_top", "step_sample",
                                                    "step_choice", "step_take", "step_restart")],
                                                   layout=widgets.Layout(flex_flow="row wrap")),
                                      parts["step_figure_box"]]),
                        widgets.VBox([widgets.HBox([parts["compare_pin"], parts["compare_sample"]]),
                                      parts["compare_text"], parts["compare_figure_box"]])],
                       titles=["Before/after", "Cumulative", "Step", "Compare"],
                       layout=widgets.Layout(width="auto"))
    parts["tabs"] = tabs
    for name in ("prompt", "answer_so_far", *KNOBS):
        controls[name].observe(lambda _change: redraw(sample=False), names="value")
    for name in ("prompt", "answer_so_far"):
        controls[name].observe(lambda _change: restart_steps(), names="value")
    for name in ("n", "max_tokens", "seed"):
        controls[name].observe(lambda _change: mark_samples(), names="value")
    tabs.observe(lambda _change: run(show_tab), names="selected_index")
    parts["sample_button"].on_click(lambda _button: redraw(sample=True))
    parts["step_top"].on_click(lambda _button: take_step("top"))
    parts["step_sample"].on_click(lambda _button: take_step("sample"))
    parts["step_take"].on_click(lambda _button: take_step(parts["step_choice"].value))
    parts["step_restart"].on_click(lambda _button: restart_steps())
    parts["compare_pin"].on_click(lambda _button: pin())
    parts["compare_sample"].on_click(lambda _button: sample_compare())

    panel = panels.CoursePanel(
        [controls["prompt"], controls["answer_so_far"],
         panels.controls_grid([controls[name] for name in (*SLIDERS, "seed")]),
         widgets.HBox([parts["sample_button"], parts["status"]],
                      layout=widgets.Layout(align_items="center", grid_gap="12px")),
         parts["error"], parts["samples"], tabs],
        "course-explorer", "Sampling explorer: run the notebook to use the sliders.")
    panel.controls, panel.parts = controls, parts  # so a test, or a notebook cell, can drive it
    panel.redraw, panel.sample = redraw, lambda: redraw(sample=True)
    panel.take_step, panel.pin, panel.sample_compare = take_step, pin, sample_compare
    redraw(sample=False)
    return panel
