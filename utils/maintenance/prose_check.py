"""Checks that what a notebook's prose says is what its outputs show.

A number stated in a markdown cell must appear in an output of the same notebook, or in its code,
at the precision the prose states ("0.46" is backed by a printed 0.457; "46%" by 0.457 or 45.7),
unless its sentence cites a source (a link, a paper, a named release). Numbers the runner writes
(the timing line between TIMING_START and TIMING_END) come from the benchmark and are skipped.
Small integers (below 10) are skipped: they count things ("two steps", "section 3"); so are
sections of exercises and references, which state givens and sources.

    python -m utils.maintenance.prose_check            # list every unbacked number
    python -m utils.maintenance.prose_check --ratchet  # rewrite tests/prose_ratchet.json (maintainers)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat

from utils.core.runtime import REPO_ROOT

TIMING_START, TIMING_END = "<!-- timing:start -->", "<!-- timing:end -->"
RATCHET = REPO_ROOT / "tests" / "prose_ratchet.json"
NUMBER = re.compile(r"(?<![\w.-])[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|(?<![\w.-])[-−]?\d+(?:\.\d+)?%?")
# A sentence that cites its source: a link, a paper (et al., arXiv, a year in parentheses), a release.
CITATION = re.compile(r"\]\(|https?://|arXiv|et al\.|\(\w[^()]*\b(19|20)\d\d\)|\b(19|20)\d\d\)|"
                      r"\bv?\d+\.\d+\.\d+\b|\breleases?\b|\bpaper\b|\bdocs?\b|\bdocumentation\b",
                      re.IGNORECASE)
# Exercise premises and reference lists state givens and sources, not results of the notebook.
GIVEN_SECTIONS = re.compile(r"exercise|solution|reference|further reading", re.IGNORECASE)
SKIPPED = [re.compile(p, re.DOTALL | re.MULTILINE) for p in (
    re.escape(TIMING_START) + ".*?" + re.escape(TIMING_END),  # written by the runner
    r"```.*?```", r"`[^`\n]*`",  # code: names such as utils.core or gpt-4o, not claims
    r"\$\$.*?\$\$", r"\$[^$\n]+\$",  # formulas
    r"<[^>\n]+>",  # HTML tags and their attributes
    r"\]\([^)]*\)",  # link targets
    r"^#+ [^\n]*$",  # headings number sections
)]


class Unbacked(NamedTuple):
    """One number in prose that no output or code of its notebook shows."""

    cell: int
    number: str
    sentence: str

    def describe(self, notebook: str) -> str:
        """Example:
        >>> Unbacked(4, "0.81", "The win rate is 0.81.").describe("05_dpo")
        "05_dpo, cell 4: '0.81' in: The win rate is 0.81."
        """
        return f"{notebook}, cell {self.cell}: {self.number!r} in: {self.sentence}"


def parse_number(text: str) -> tuple[float, int, bool]:
    """A number as written: its value, its decimals and whether it is a percentage.

    Example:
        >>> parse_number("1,094"), parse_number("45.7%"), parse_number("−0.03")
        ((1094.0, 0, False), (45.7, 1, True), (-0.03, 2, False))
    """
    percent = text.endswith("%")
    digits = text.rstrip("%").replace(",", "").replace("−", "-")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits), decimals, percent


def numbers_in(text: str) -> list[tuple[float, int]]:
    """Every number in ``text`` (outputs and code) as (value, decimals); a percentage also
    counts as its fraction, so a printed "45.7%" backs a prose 0.457.

    Example:
        >>> numbers_in("top-1: 0.457, 1,094 kept, 45%")
        [(0.457, 3), (1094.0, 0), (45.0, 0), (0.45, 2)]
    """
    found = []
    for match in NUMBER.finditer(text):
        value, decimals, percent = parse_number(match.group())
        found.append((value, decimals))
        if percent:
            found.append((round(value / 100, decimals + 2), decimals + 2))
    return found


def is_backed(number: str, shown: set[tuple[float, int]]) -> bool:
    """True when some shown number, rounded to the prose's precision, equals the prose number.

    A prose percentage is also backed by a fraction (46% by 0.457).

    Example:
        >>> shown = set(numbers_in("accuracy 0.457"))
        >>> is_backed("0.46", shown), is_backed("46%", shown), is_backed("0.47", shown)
        (True, True, False)
    """
    value, decimals, percent = parse_number(number)
    targets = [value] + ([value / 100] if percent else [])
    for target, places in zip(targets, [decimals, decimals + 2], strict=False):
        for shown_value, shown_places in shown:
            if shown_places >= places and abs(round(shown_value, places) - target) < 10 ** -(places + 3):
                return True
    return False


def _sentences(markdown: str) -> list[str]:
    for pattern in SKIPPED:
        markdown = pattern.sub(" ", markdown)
    return [s.strip() for s in re.split(r"(?<=[.!?;:])\s+|\n\s*[-*\d]+[.)]?\s+|\n\n", markdown) if s.strip()]


def _shown_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            for key, value in output.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    parts.append(value)
    return "\n".join(parts)


def unbacked_numbers(path: str | Path) -> list[Unbacked]:
    """Every number in the notebook's markdown that its outputs and code do not show.

    Example:
        >>> import nbformat, pathlib, tempfile
        >>> nb = nbformat.v4.new_notebook(cells=[
        ...     nbformat.v4.new_markdown_cell("Accuracy rose to 0.46, then 0.99. Adam came in 2015."),
        ...     nbformat.v4.new_code_cell("print(acc)", outputs=[
        ...         nbformat.v4.new_output("stream", text="0.457\\n")])])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.ipynb"; nbformat.write(nb, path)
        >>> [u.number for u in unbacked_numbers(path)]
        ['0.99']
    """
    nb = nbformat.read(path, as_version=4)
    shown = set(numbers_in(_shown_text(nb)))
    found = []
    section = ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        headings = re.findall(r"^#+ (.*)$", cell.source, flags=re.MULTILINE)
        section = headings[-1] if headings else section
        if GIVEN_SECTIONS.search(section):
            continue
        for sentence in _sentences(cell.source):
            if CITATION.search(sentence):
                continue
            for match in NUMBER.finditer(sentence):
                value, decimals, percent = parse_number(match.group())
                if decimals == 0 and not percent and abs(value) < 10 or _is_year(match, sentence):
                    continue
                if not is_backed(match.group(), shown):
                    found.append(Unbacked(index, match.group(), " ".join(sentence.split())))
    return found


def _is_year(match: re.Match, sentence: str) -> bool:
    """A publication year as references write it: "Name, *Title*, 2021." or "(2024)"."""
    if not re.fullmatch(r"(19|20)\d\d", match.group()):
        return False
    before, after = sentence[:match.start()].rstrip(), sentence[match.end():].lstrip()
    return before.endswith((",", "(")) or after[:1] in {"", ".", ";", ":", ")"}


def read_ratchet(path: Path = RATCHET) -> dict[str, list[str]]:
    """The checked-in list of unbacked numbers per notebook, which may only shrink."""
    return json.loads(path.read_text()) if path.exists() else {}


def ratchet_entries(unbacked: list[Unbacked]) -> list[str]:
    """The ratchet's form of a notebook's unbacked numbers: sorted number strings, one per use.

    Example:
        >>> ratchet_entries([Unbacked(3, "0.8", "x"), Unbacked(1, "12", "y"), Unbacked(5, "0.8", "z")])
        ['0.8', '0.8', '12']
    """
    return sorted(u.number for u in unbacked)


def main(argv: list[str] | None = None) -> int:
    """List every unbacked number, or with --ratchet rewrite the ratchet file from them."""
    from utils.maintenance.notebook_runner import list_notebooks

    parser = argparse.ArgumentParser(prog="python -m utils.maintenance.prose_check", description=__doc__)
    parser.add_argument("--ratchet", action="store_true", help=f"rewrite {RATCHET.name} from today's run")
    args = parser.parse_args(argv)
    ratchet = {}
    for path in list_notebooks():
        unbacked = unbacked_numbers(path)
        ratchet[path.stem] = ratchet_entries(unbacked)
        for item in unbacked:
            print(item.describe(path.stem))
    print(f"{sum(map(len, ratchet.values()))} unbacked numbers in {len(ratchet)} notebooks", file=sys.stderr)
    if args.ratchet:
        RATCHET.write_text(json.dumps(ratchet, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
