"""The sampling explorer (notebook 06) driven in a real JupyterLab in headless Chromium.

test_explorer_in_jupyterlab runs notebook 06 up to the cell tagged ``explorer``, moves a
slider, types a prompt, samples, and holds the panel to the course's widget rules: it reacts,
shows no error, cuts no label at 1024 px, and raises nothing in the browser or the log console.
test_checks_catch_a_raising_callback_and_a_cut_label proves those checks bite, on a small panel
built to fail them.

Needs Chromium (/usr/bin/chromium or $COURSE_CHROMIUM) and the playwright package; skips without
them, unless COURSE_REQUIRE_BROWSER=1 (CI), where it fails and says how to install them.
"""

from __future__ import annotations

import textwrap
import time

import nbformat
from browser_lab import (
    REPO_ROOT,
    cut_elements,
    lab_session,
    panel,
    require_browser,
    text_of,
    wait_for_change,
    wait_for_status,
)

NOTEBOOK = REPO_ROOT / "notebooks" / "06_sampling_parameters.ipynb"
EXPLORER_TAG = "explorer"  # the tag of the cell that displays the panel


def set_readout(root, slider_class: str, value: str) -> None:
    """Type ``value`` into a slider's editable readout and press Enter (sliders use
    continuous_update=False: the kernel hears of it on Enter, as on a handle's release)."""
    readout = root.locator(f".{slider_class} .widget-readout")
    readout.fill(value)
    readout.press("Enter")


def test_explorer_in_jupyterlab():
    require_browser()
    with lab_session(NOTEBOOK, upto_tag=EXPLORER_TAG, name="sampling-explorer") as lab:
        failed = lab.cell_errors()  # a cell that failed stops Run All before the panel
        assert not failed, "a cell of the notebook failed:\n" + "\n".join(failed)
        root = panel(lab.page, "course-explorer")
        assert "course-panel" in (root.get_attribute("class") or "")
        figure = root.locator(".course-figure img").first
        numbers = root.locator(".course-numbers").first
        samples = root.locator(".course-samples").first
        error = root.locator(".course-error").first
        figure.wait_for(state="attached", timeout=60_000)
        wait_for_status(root)
        old_src, old_numbers = figure.get_attribute("src"), text_of(numbers)
        assert old_numbers, "the panel shows no numbers"

        # a slider: the figure and the numbers follow it
        lab.wait_for_kernel_work(lambda: set_readout(root, "course-slider-temperature", "0.3"))
        src = wait_for_change(figure, old_src, attribute="src", error=error)
        after_slider = wait_for_change(numbers, old_numbers, error=error)
        wait_for_status(root)

        # the prompt: applied when the box loses focus (continuous_update=False), the figure follows
        prompt = root.locator(".course-prompt textarea, .course-prompt input").first
        lab.wait_for_kernel_work(lambda: (prompt.fill("Name one vegetable."), prompt.blur()))
        wait_for_change(figure, src, attribute="src", error=error)
        wait_for_change(numbers, after_slider, error=error)
        wait_for_status(root)

        # the button: sampled completions appear
        old_samples = text_of(samples)
        lab.wait_for_kernel_work(lambda: root.locator(".course-sample-button").first.click(),
                                 timeout=180)
        completions = wait_for_change(samples, old_samples, timeout=120, error=error)
        assert completions.strip(), "the sample button showed no completions"
        wait_for_status(root)

        shot = lab.screenshot(root, "sampling-explorer")
        assert shot.stat().st_size > 0
        cut = cut_elements(root)
        assert not cut, "elements of the panel are cut at 1024 px:\n" + "\n".join(cut)
        assert text_of(error) == "", f"the panel shows an error: {text_of(error)}"
        errors = lab.errors()
        assert not errors, "errors while the panel was used:\n" + "\n".join(errors)


# A small panel that breaks the rules on purpose: one slider's label is far too long to fit, and
# its button's callback adds a widget whose view the browser cannot load (a front-end error), then
# raises (the panel shows the error, then lets it go on to the kernel).
FIXTURE_PANEL = textwrap.dedent('''\
    import ipywidgets as widgets
    from IPython.display import display
    from traitlets import Unicode


    class BrokenView(widgets.DOMWidget):
        _view_module = Unicode("course-no-such-module").tag(sync=True)
        _view_name = Unicode("NoSuchView").tag(sync=True)


    status = widgets.Label("ready").add_class("course-status")
    error = widgets.HTML("").add_class("course-error")
    numbers = widgets.HTML("k = 3").add_class("course-numbers")
    short = widgets.IntSlider(3, min=0, max=10, description="k",
                              continuous_update=False).add_class("course-slider-k")
    long = widgets.FloatSlider(0.5, min=0, max=1, continuous_update=False,
                               description="a description far too long for the width of its label"
                               ).add_class("course-slider-long")
    button = widgets.Button(description="sample").add_class("course-sample-button")


    def on_k(change):
        numbers.value = f"k = {change['new']}"


    def on_click(_button):
        status.value = "busy…"
        root.children += (BrokenView(),)
        try:
            raise ValueError("the fixture callback fails on purpose")
        except ValueError as err:
            error.value = f"{type(err).__name__}: {err}"
            raise
        finally:
            status.value = "failed"


    short.observe(on_k, names="value")
    button.on_click(on_click)
    root = widgets.VBox([short, long, numbers, button, status, error])
    root.add_class("course-panel").add_class("course-fixture")
    display(root)
''')


def test_checks_catch_a_raising_callback_and_a_cut_label(tmp_path):
    require_browser()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    cell = nbformat.v4.new_code_cell(FIXTURE_PANEL)
    cell.metadata["tags"] = ["panel"]
    notebook.cells = [cell, nbformat.v4.new_code_cell("print('after the tagged cell: not run')")]
    path = tmp_path / "fixture_panel.ipynb"
    nbformat.write(notebook, path)

    with lab_session(path, upto_tag="panel", name="fixture-panel") as lab:
        root = panel(lab.page, "course-fixture")
        assert lab.errors() == []  # a clean start: the checks see nothing before the click

        # the driver works the widgets: a slider's readout reaches the kernel and comes back
        numbers = root.locator(".course-numbers")
        lab.wait_for_kernel_work(lambda: set_readout(root, "course-slider-k", "7"))
        assert wait_for_change(numbers, "k = 3") == "k = 7"

        # the cut label is found, and only that one
        cut = cut_elements(root)
        assert any("far too long" in line for line in cut), cut
        assert not any('"k"' in line or '"sample"' in line for line in cut), cut

        # the click: the raising callback shows in the panel's error area and in the log console,
        # the view that cannot load in the browser console
        lab.wait_for_kernel_work(lambda: root.locator(".course-sample-button").click())
        assert "ValueError" in wait_for_change(root.locator(".course-error"), "")
        deadline = time.monotonic() + 15
        while not (lab.log_errors() and lab.console) and time.monotonic() < deadline:
            time.sleep(0.3)
        errors = lab.errors()
        assert any(e.startswith("log: ") and "fails on purpose" in e for e in errors), errors
        assert any(e.startswith("console: ") and "course-no-such-module" in e for e in errors), errors
