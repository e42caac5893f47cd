"""utils.core.panels: the busy state, errors inside the panel and the layout parts, without a browser."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import pytest

from utils.core import panels

matplotlib.use("Agg")


def test_count_text_agrees_in_number():
    assert panels.count_text(1, "token", "keep") == "1 token keeps"
    assert panels.count_text(2, "token", "keep") == "2 tokens keep"
    assert panels.count_text(0, "sample") == "0 samples"
    assert panels.count_text(49152, "token") == "49,152 tokens"


def test_run_busy_disables_buttons_and_reports_the_result():
    status, error, button = panels.status_line(), panels.error_area(), widgets.Button()
    error.value = "an old error"
    seen = {}

    def work():
        seen["disabled"], seen["status"] = button.disabled, status.value
        return 3

    assert panels.run_busy(work, status, error, [button], done_text=lambda r, s: f"{r} done") == 3
    assert seen == {"disabled": True, "status": panels.BUSY_TEXT}
    assert not button.disabled and status.value == "3 done" and error.value == ""
    panels.run_busy(lambda: None, status, error)
    assert status.value.startswith("done in ")


def test_run_busy_shows_the_error_and_stays_usable():
    status, error, button = panels.status_line(), panels.error_area(), widgets.Button()

    def broken():
        raise KeyError("temperature")

    assert panels.run_busy(broken, status, error, [button]) is None
    assert "KeyError: &#x27;temperature&#x27;" in error.value and "traceback" in error.value
    assert status.value == panels.FAILED_TEXT and not button.disabled
    assert panels.run_busy(lambda: 1, status, error, [button]) == 1
    assert error.value == ""  # the next success clears it


def test_run_busy_escapes_html_in_messages():
    status, error = panels.status_line(), panels.error_area()
    panels.run_busy(lambda: int("<b>"), status, error)
    assert "&lt;b&gt;" in error.value and "ValueError" in error.value


def test_controls_never_update_per_keystroke_and_carry_their_classes():
    control = panels.slider("min_p", 0.0, 0.5, 0.01, 0.1)
    assert isinstance(control, widgets.FloatSlider) and not control.continuous_update
    assert "course-slider-min_p" in control._dom_classes
    assert control.layout.width == "auto" and control.description == "min p"  # 100% + margin overflows
    assert control.style.description_width == panels.DESCRIPTION_WIDTH
    assert isinstance(panels.slider("n", 1, 8, 1, 3), widgets.IntSlider)
    box = panels.text_box("Hi", "prompt", "course-prompt")
    assert not box.continuous_update and "course-prompt" in box._dom_classes
    assert "course-status" in panels.status_line()._dom_classes
    assert "course-error" in panels.error_area()._dom_classes


def test_controls_grid_wraps_to_the_cell_width():
    grid = panels.controls_grid([widgets.IntSlider(), widgets.IntSlider()])
    assert grid.layout.grid_template_columns == "repeat(auto-fill, minmax(300px, 1fr))"
    assert len(grid.children) == 2


def test_show_figure_puts_a_png_in_the_image_and_closes_the_figure():
    box, image = panels.figure_area("course-figure")
    assert "course-figure" in box._dom_classes and box.children == (image,)
    figure, _ = plt.subplots()
    panels.show_figure(image, figure)
    assert image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(figure.number)


def test_course_panel_text_and_hint(capsys):
    panel = panels.CoursePanel([widgets.Label("x")], "course-demo", "Demo: run the notebook.")
    assert {"course-panel", "course-demo"} <= set(panel._dom_classes)
    assert repr(panel) == "Demo: run the notebook."
    panel._ipython_display_()  # outside a notebook, display prints the text forms
    shown = capsys.readouterr().out
    assert "course-kernel-hint" in panels.KERNEL_HINT and "<IPython.core.display.HTML object>" in shown


@pytest.mark.parametrize("error, text", [(ValueError("bad"), "ValueError: bad"),
                                         (RuntimeError(""), "RuntimeError: ")])
def test_error_text(error, text):
    assert panels.error_text(error) == text
