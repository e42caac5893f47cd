"""Sifting a file: which records are kept and which are dropped, for ``--skip-invalid``.

A record is dropped when it has a problem that stops it (bad JSON, a missing or malformed field, a
format other than the file's); a duplicate is kept, as ``convert`` always did. Each dropped record
goes, in file order, into a side file next to the output, ``OUT.dropped.jsonl``: one JSON object
per dropped record, keyed by its place (``"line"`` in a JSONL file, ``"element"`` in a JSON array),
with the ``field`` and ``reason`` of its first problem, its ``other_problems`` and the ``record`` as
read (a line that is not JSON comes as its ``text`` instead).

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.jsonl"
    >>> _ = path.write_text('{"instruction": "Hi", "chosen": "Hello", "rejected": "Go."}\\n'
    ...                     '{"instruction": "Hi", "chosen": "Same", "rejected": "Same"}\\n')
    >>> sifted = sift_file(path)
    >>> len(sifted.kept), sifted.dropped[0].entry()["reason"]
    (1, "identical to 'chosen': a preference pair needs two different answers.")
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from utils.core.jsonl import write_jsonl
from utils.instruction_data.formats.files import (
    FileReport,
    Loaded,
    duplicate_problems,
    read_records,
    validate_loaded,
)
from utils.instruction_data.formats.schema import Problem

SIDE_SUFFIX = ".dropped.jsonl"


class Dropped(NamedTuple):
    """A record left out: its number and unit, every problem, and the record as read (or the text
    of a line that is not JSON, with ``record`` None)."""

    number: int
    unit: str
    problems: list[Problem]
    record: object = None
    text: str | None = None

    def entry(self) -> dict:
        """The side file's object for this record.

        Example:
            >>> problem = Problem(4, "line", "output", "missing; add it.")
            >>> Dropped(4, "line", [problem], {"instruction": "Hi"}).entry()
            {'line': 4, 'field': 'output', 'reason': 'missing; add it.', 'other_problems': [],
             'record': {'instruction': 'Hi'}}
        """
        first, *others = self.problems
        entry = {self.unit: self.number, "field": first.field, "reason": first.message,
                 "other_problems": [{"field": p.field, "reason": p.message} for p in others]}
        return entry | ({"text": self.text} if self.text is not None else {"record": self.record})


class Sifted(NamedTuple):
    """A validated file sifted: its report, the records kept (number, record), those dropped, and
    the duplicate problems (kept records, reported but not dropped)."""

    report: FileReport
    kept: list[tuple[int, object]]
    dropped: list[Dropped]
    duplicates: list[Problem]


def sift_records(loaded: Loaded, report: FileReport) -> Sifted:
    """Split ``loaded`` by ``report`` (from ``validate_loaded``): a record with any problem but
    duplication is dropped; a problem tied to no record (an empty file, a broken JSON array) keeps
    nothing, since then there are no records.

    Example:
        >>> records = [(1, {"instruction": "Hi", "output": "Yo"}), (2, {"instruction": "Yo"})]
        >>> loaded = Loaded(records, "line", [])
        >>> sifted = sift_records(loaded, validate_loaded(loaded))
        >>> [n for n, _ in sifted.kept], [d.number for d in sifted.dropped]
        ([1], [2])
    """
    duplicates = duplicate_problems(loaded)
    repeated = set(duplicates)  # a set, so a file with many duplicates is not sifted in square time
    stopping: dict[int, list[Problem]] = {}
    for problem in report.problems:
        if problem not in repeated and problem.unit == loaded.unit:
            stopping.setdefault(problem.number, []).append(problem)
    kept = [(n, record) for n, record in loaded.records if n not in stopping]
    dropped = [Dropped(n, loaded.unit, stopping[n], record) for n, record in loaded.records if n in stopping]
    dropped += [Dropped(n, loaded.unit, stopping[n], None, text) for n, text in loaded.unparsed]
    return Sifted(report, kept, sorted(dropped, key=lambda d: d.number), duplicates)


def sift_file(path: str | Path, expect: str | None = None) -> Sifted:
    """Read, validate and sift a file without changing it: what ``--skip-invalid`` would keep.

    ``convert`` may drop more: a valid record with no form in its target (see ``convert_file``).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = path.write_text('{"instruction": "Hi", "output": "Yo"}\\n{"instruction": "Hi"\\n')
        >>> [(d.number, d.text) for d in sift_file(path).dropped]
        [(2, '{"instruction": "Hi"')]
    """
    loaded = read_records(path)
    return sift_records(loaded, validate_loaded(loaded, expect))


def side_file(target: str | Path) -> Path:
    """Where the dropped records of an output go: next to it, its name plus ``.dropped.jsonl``.

    Example:
        >>> side_file("runs/dpo.json").name
        'dpo.json.dropped.jsonl'
    """
    target = Path(target)
    return target.with_name(target.name + SIDE_SUFFIX)


def write_dropped(dropped: list[Dropped], path: str | Path, force: bool = False) -> int:
    """Write the side file atomically (FileExistsError when it exists and ``force`` is False);
    returns how many records it lists.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl.dropped.jsonl"
        >>> write_dropped([Dropped(2, "line", [Problem(2, "line", "", "bad JSON")], None, "{")], path)
        1
    """
    return write_jsonl((d.entry() for d in dropped), path, overwrite=force)
