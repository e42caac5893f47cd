"""Every notebook executes in fast mode, and every committed notebook is tidy and current."""

import csv
import re
from collections import Counter

import nbformat
import pytest

from utils.maintenance.notebook_runner import (
    BENCH_CSV,
    NOTEBOOK_DIR,
    code_stamp,
    list_notebooks,
    local_path_prefixes,
    timing_line,
)
from utils.maintenance.prose_check import RATCHET, TIMING_END, TIMING_START, read_ratchet, unbacked_numbers

NOTEBOOKS = list_notebooks()
MAX_BYTES = 3 * 2**20
ABSOLUTE_PATH = re.compile(r"(/home/|/Users/|/root/|/work/|/tmp/|/content/|[A-Z]:\\\\Users)")


def _outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def _texts(output):
    if output.output_type == "stream":
        return [output.text]
    if output.output_type == "error":
        return output.traceback
    return [v for k, v in output.get("data", {}).items() if k.startswith("text/") and isinstance(v, str)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(path, notebook_runs):
    run = notebook_runs(path.stem[:2])
    assert run.result.ok, f"{path.name} failed in fast mode:\n{run.result.error}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_come_from_current_code(path):
    nb = nbformat.read(path, as_version=4)
    course = nb.metadata.get("course", {})
    assert course.get("code_stamp") == code_stamp(nb), (
        f"{path.name}: its code changed since its outputs were made. Re-run it: "
        f"bash course.sh run {path.stem[:2]} --in-place")
    assert course.get("mode") == "lesson", f"{path.name}: commit lesson-mode outputs, not fast mode"
    assert any(cell.cell_type == "code" and cell.outputs for cell in nb.cells), "no outputs committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_tidy(path):
    nb = nbformat.read(path, as_version=4)
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 2**20:.1f} MB"
    assert "widgets" not in nb.metadata, f"{path.name} carries widget state in metadata.widgets"
    for output in _outputs(nb):
        assert output.output_type != "error", f"{path.name} has an error output: {output.get('ename')}"
        for text in _texts(output):
            found = ABSOLUTE_PATH.search(text)
            context = text[max(0, found.start() - 40):found.end() + 40] if found else ""
            assert not found, f"{path.name} leaks a local path: ...{context}..."
            for prefix, _ in local_path_prefixes():
                assert prefix not in text, f"{path.name} leaks {prefix}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    reference = nbformat.read(NOTEBOOK_DIR / "00_start_here.ipynb", as_version=4)
    setup = next(cell for cell in reference.cells if cell.cell_type == "code").source
    assert code_cells[0].source == setup, f"{path.name}: the first code cell must be the shared setup cell"
    assert any("parameters" in cell.metadata.get("tags", []) for cell in code_cells[:3]), (
        f"{path.name}: a cell tagged 'parameters' must follow the setup cell")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert any("Exercises" in cell.source for cell in nb.cells if cell.cell_type == "markdown")


# What a library prints that is not the lesson: Python warnings and library progress bars.
NOISE = re.compile(r"\b\w*Warning\b|warnings\.warn\(|Writing model shards|\d+%\|[^|\n]*\|[^\n]*(it/s|s/it|"
                   r"examples/s)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_carry_no_warnings_or_library_progress_bars(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for text in _texts(output):
                found = NOISE.search(text)
                line = text[text.rfind("\n", 0, found.start()) + 1:].split("\n", 1)[0] if found else ""
                assert not found, (f"{path.name}, cell {index} prints library noise: {line[:160]!r}. "
                                   "Silence it where it starts (utils.core.runtime.quiet_libraries), then "
                                   f"re-run: bash course.sh run {path.stem[:2]} --in-place")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_timing_line_comes_from_the_benchmark(path):
    with open(BENCH_CSV) as handle:
        rows = {row["notebook"]: row for row in csv.DictReader(handle)}
    first = nbformat.read(path, as_version=4).cells[0].source
    assert TIMING_START in first and TIMING_END in first, (
        f"{path.name}: the first cell needs the timing markers {TIMING_START}{TIMING_END}")
    written = first.split(TIMING_START, 1)[1].split(TIMING_END, 1)[0]
    assert path.stem in rows, f"{path.name} has no row in {BENCH_CSV.name}: run bash course.sh bench"
    assert written == timing_line(rows[path.stem]), (
        f"{path.name}: its timing line differs from {BENCH_CSV.name}; do not type it by hand, run "
        f"bash course.sh bench {path.stem[:2]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_is_shown(path):
    """A ratchet: numbers unbacked today are listed in tests/prose_ratchet.json and may only go."""
    unbacked = unbacked_numbers(path)
    allowed = Counter(read_ratchet().get(path.stem, []))
    new = []
    for u in unbacked:
        if allowed[u.number] > 0:
            allowed[u.number] -= 1
        else:
            new.append(u)
    listed = "\n".join(u.describe(path.stem) for u in new)
    assert not new, ("numbers in the prose that no output or code of the notebook shows (print them in "
                     f"a results cell, or cite their source):\n{listed}")
    shown_now = Counter(read_ratchet().get(path.stem, [])) - Counter(u.number for u in unbacked)
    gone = sorted(shown_now.elements())
    assert not gone, (f"{path.stem}: these numbers are now shown or gone; remove them from "
                      f"tests/{RATCHET.name} (python -m utils.maintenance.prose_check --ratchet) so the list "
                      f"only shrinks: {gone}")
