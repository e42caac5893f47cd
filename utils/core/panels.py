"""The parts every course widget panel shares: a busy state, errors shown inside the panel, a
control grid that fits a Colab cell, figures as images, and a hint for a reader without a kernel.

A panel is a thin ipywidgets layer over plain functions. Its callbacks go through ``run_busy``,
which disables the buttons and says "working…" while the work runs, and shows an exception's type
and message in the panel's error area instead of losing it in the kernel's log.

CSS classes (``add_class``) are the contract with the browser test: the root has ``course-panel``,
the error area ``course-error``, the status line ``course-status``, each slider
``course-slider-<name>``.

Example:
    >>> status, error = status_line(), error_area()
    >>> def work():
    ...     raise ValueError("top_k must be at least 0, got -1.")
    >>> run_busy(work, status, error) is None  # the error is shown, not raised
    True
    >>> error_text(ValueError("top_k must be at least 0, got -1."))
    'ValueError: top_k must be at least 0, got -1.'
    >>> status.value
    'failed: see the error below'
    >>> count_text(1, "token", "keep"), count_text(3, "token", "keep")
    ('1 token keeps', '3 tokens keep')
"""

from __future__ import annotations

import html
import io
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

import ipywidgets as widgets
import matplotlib.pyplot as plt

Result = TypeVar("Result")

BUSY_TEXT = "working…"
FAILED_TEXT = "failed: see the error below"
# Shown beside a panel; hidden by CSS as soon as a live panel renders. A reopened notebook has no
# widget models ("Error displaying widget: model not found"), so the hint stays and says what to do.
KERNEL_HINT = ('<div class="course-kernel-hint" style="color:#666;font-size:90%">'
               "This panel needs a running kernel. If you see <i>Error displaying widget: model not "
               "found</i>, run this cell again.</div>"
               "<style>body:has(.course-panel) .course-kernel-hint {display: none;}</style>")
GRID_COLUMNS = "repeat(auto-fill, minmax(300px, 1fr))"  # 2 columns from ~620 px, 1 below
DESCRIPTION_WIDTH = "140px"  # room for "repetition penalty", the longest label so far
# Children take width "auto", not "100%": ipywidgets adds a 2 px margin to every widget, so 100%
# overflows the parent by 4 px and the browser adds a sideways scrollbar (the browser test saw it).


def count_text(count: int, noun: str, verb: str = "") -> str:
    """``count`` with ``noun`` (an s unless the count is one) and, optionally, ``verb`` agreeing.

    Example:
        >>> count_text(1, "token", "keep"), count_text(0, "sample")
        ('1 token keeps', '0 samples')
    """
    phrase = f"{count:,} {noun}{'' if count == 1 else 's'}"
    return f"{phrase} {verb}{'s' if count == 1 else ''}" if verb else phrase


def error_text(error: BaseException) -> str:
    """An exception as a student reads it: its type, a colon and its message.

    Example:
        >>> error_text(KeyError("temperature"))
        "KeyError: 'temperature'"
    """
    return f"{type(error).__name__}: {error}"


def error_html(error: BaseException) -> str:
    """``error_text`` in red, with the traceback folded away under it."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return (f'<div style="color:#b00020;white-space:pre-wrap"><b>{html.escape(error_text(error))}</b>'
            f"<details><summary>traceback</summary><pre>{html.escape(trace)}</pre></details></div>")


def status_line(text: str = "") -> widgets.HTML:
    """The one-line status (class ``course-status``): "working…", then what the work did."""
    line = widgets.HTML(value=text, layout=widgets.Layout(min_height="1.5em"))
    line.add_class("course-status")
    return line


def error_area() -> widgets.HTML:
    """Where a callback's error appears (class ``course-error``); empty while all is well."""
    area = widgets.HTML(value="", layout=widgets.Layout(width="auto"))
    area.add_class("course-error")
    return area


def run_busy(work: Callable[[], Result], status: widgets.HTML, error: widgets.HTML,
             buttons: Sequence[widgets.Button] = (), busy_text: str = BUSY_TEXT,
             done_text: Callable[[Result, float], str] | None = None) -> Result | None:
    """Run ``work()`` the way a panel's callback should: clear ``error``, disable ``buttons`` and
    show ``busy_text`` in ``status`` while it runs; then show ``done_text(result, seconds)`` (by
    default "done in 0.3 s") and return the result, or, when it raises, show the exception's type
    and message in ``error`` and return None. The buttons come back enabled either way.

    Example:
        >>> status, error = status_line(), error_area()
        >>> run_busy(lambda: 42, status, error, done_text=lambda r, s: f"got {r}")
        42
        >>> status.value, error.value
        ('got 42', '')
    """
    error.value = ""
    status.value = html.escape(busy_text)
    for button in buttons:
        button.disabled = True
    start = time.perf_counter()
    try:
        result = work()
    except Exception as caught:  # noqa: BLE001 - a panel shows every error instead of losing it
        error.value = error_html(caught)
        status.value = FAILED_TEXT
        return None
    finally:
        for button in buttons:
            button.disabled = False
    seconds = time.perf_counter() - start
    status.value = html.escape(done_text(result, seconds) if done_text else f"done in {seconds:.1f} s")
    return result


def slider(name: str, low: float, high: float, step: float, value: float,
           description: str | None = None) -> widgets.FloatSlider | widgets.IntSlider:
    """A slider that works on release (``continuous_update=False``), fills its grid cell, keeps a
    fixed label width and carries the class ``course-slider-<name>``. Int steps give an IntSlider.

    Example:
        >>> control = slider("top_k", 0, 100, 1, 5)
        >>> type(control).__name__, control.continuous_update, control._dom_classes
        ('IntSlider', False, ('course-slider-top_k',))
    """
    kind = widgets.IntSlider if isinstance(step, int) else widgets.FloatSlider
    control = kind(value=value, min=low, max=high, step=step, continuous_update=False,
                   description=description or name.replace("_", " "),
                   style={"description_width": DESCRIPTION_WIDTH},
                   layout=widgets.Layout(width="auto", min_width="0"))
    control.add_class(f"course-slider-{name}")
    return control


def text_box(value: str, description: str, css_class: str, placeholder: str = "") -> widgets.Textarea:
    """A full-width two-line text box (class ``css_class``) that reports its value when the
    student leaves it, not at every keystroke (``continuous_update=False``)."""
    box = widgets.Textarea(value=value, description=description, placeholder=placeholder, rows=2,
                           continuous_update=False, style={"description_width": DESCRIPTION_WIDTH},
                           layout=widgets.Layout(width="auto"))
    box.add_class(css_class)
    return box


def controls_grid(children: Sequence[widgets.Widget]) -> widgets.GridBox:
    """Controls in a CSS grid of cells at least 300 px wide: two columns in a Colab cell or a
    1024 px JupyterLab, one in a narrow window, so no label or readout is ever squeezed."""
    return widgets.GridBox(list(children), layout=widgets.Layout(
        grid_template_columns=GRID_COLUMNS, grid_gap="2px 16px", width="auto"))


def figure_png(figure: plt.Figure, dpi: int = 100) -> bytes:
    """``figure`` as PNG bytes (its own size, so a constrained layout keeps every text inside)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_area(css_class: str) -> tuple[widgets.Box, widgets.Image]:
    """A full-width box (class ``css_class``) holding an image that scales down with the cell."""
    image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width="820px",
                                                              height="auto", margin="0"))
    box = widgets.Box([image], layout=widgets.Layout(width="auto"))
    box.add_class(css_class)
    return box, image


def show_figure(image: widgets.Image, figure: plt.Figure) -> None:
    """Put ``figure`` into ``image`` and close it (a panel redraws often; figures must not pile up)."""
    image.value = figure_png(figure)
    plt.close(figure)


class CoursePanel(widgets.VBox):
    """A panel's root (classes ``course-panel`` plus its own): plain text says to run the notebook,
    and a notebook shows a hint beside it that only stays visible when the widget cannot render."""

    def __init__(self, children: Sequence[widgets.Widget], css_class: str, plain_text: str):
        super().__init__(list(children), layout=widgets.Layout(width="auto", max_width="1000px"))
        self.add_class("course-panel")
        self.add_class(css_class)
        self.plain_text = plain_text

    def __repr__(self) -> str:  # the text a reader without a kernel (GitHub, nbviewer) sees
        return self.plain_text

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(KERNEL_HINT))
        bundle = self._repr_mimebundle_() if callable(self._repr_mimebundle_) else None
        display(bundle or {"text/plain": repr(self)}, raw=True)  # a closed widget: text only
