"""Files of records: read them (JSONL or one JSON array), validate them whole, write them atomically.

Problems name the 1-based line of a JSONL file, or the 1-based element of a JSON array (the line,
for a syntax error in the array), and the field. Writing goes through the course's one writer,
``utils.core.jsonl``, so a failed write never leaves half a file.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.json"
    >>> write_records([{"prompt": "2+2?", "chosen": "4", "rejected": "5"}], path)
    >>> validate_file(path)
    FileReport(records=1, format='preference', problems=[])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from utils.core.jsonl import write_atomic, write_jsonl
from utils.instruction_data.formats.checks import detect_format, record_problems
from utils.instruction_data.formats.schema import FORMATS, FormatError, Problem


class FileReport(NamedTuple):
    """What ``validate_file`` found: how many records, their format (None if none valid), problems."""

    records: int
    format: str | None
    problems: list[Problem]


class Loaded(NamedTuple):
    """Records read from a file, each with its 1-based number, the unit of those numbers, the
    problems met while reading (bad JSON), and the text of each JSONL line that is not JSON (kept so
    that a dropped line can be shown as it was)."""

    records: list[tuple[int, object]]
    unit: str
    problems: list[Problem]
    unparsed: tuple[tuple[int, str], ...] = ()


def read_records(path: str | Path) -> Loaded:
    """The records of a JSONL file (numbered by line, blank lines skipped) or of a file holding one
    JSON array (it starts with ``[``; numbered by element), with a Problem for each bad JSON line.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = path.write_text('{"messages": []}\\n\\nnot json\\n')
        >>> loaded = read_records(path)
        >>> [n for n, _ in loaded.records], [p.number for p in loaded.problems]
        ([1], [3])
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text ({err.reason} at byte offset {err.start}); save "
                          "the file as UTF-8 and try again.") from err
    if text.lstrip().startswith("["):
        try:
            array = json.loads(text)
        except json.JSONDecodeError as err:
            return Loaded([], "element", [Problem(err.lineno, "line", "", _bad_json(err, array=True))])
        return Loaded(list(enumerate(array, start=1)), "element", [])
    records, problems, unparsed = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            problems.append(Problem(number, "line", "", _bad_json(err)))
            unparsed.append((number, line))
    return Loaded(records, "line", problems, tuple(unparsed))


def _bad_json(err: json.JSONDecodeError, array: bool = False) -> str:
    where = "the file starts with '[', so it is read as one JSON array" if array else (
        "each line of a JSONL file must hold one complete JSON object")
    return f"bad JSON: {err.msg} at column {err.colno} ({where})."


def validate_loaded(loaded: Loaded, expect: str | None = None) -> FileReport:
    """Every problem of loaded records: bad JSON, record problems, a record whose format differs
    from the first one's (or from ``expect``), duplicates (the later record names the earlier) and
    an empty file.

    Example:
        >>> loaded = Loaded([(1, {"instruction": "Hi", "output": ""})], "element", [])
        >>> validate_loaded(loaded).problems[0].describe("data.json")
        "data.json: element 1 of the array, field 'output': empty content; give the text or drop the record."
    """
    if expect is not None and expect not in FORMATS:
        raise ValueError(f"unknown format {expect!r}; use one of {', '.join(FORMATS)}.")
    problems, first = list(loaded.problems), None
    for number, record in loaded.records:
        found = record_problems(record, expect)
        kind = None if expect else _format_or_none(record)  # record_problems checks expect
        if kind and first is None:
            first = (kind, number)
        elif kind and kind != first[0]:
            found.insert(0, ("", f"record in {kind} format in a file of {first[0]} records (the "
                                 f"first at {loaded.unit} {first[1]}); keep one format per file."))
        problems += [Problem(number, loaded.unit, field, message) for field, message in found]
    problems = sorted(problems + duplicate_problems(loaded), key=Problem.place)
    if not loaded.records and not problems:
        problems.append(Problem(1, "line", "", "the file holds no records; add one JSON object per "
                                               "line, or one JSON array of objects."))
    return FileReport(len(loaded.records), expect or (first[0] if first else None), problems)


def duplicate_problems(loaded: Loaded) -> list[Problem]:
    """A Problem on each record whose content (any key order) repeats an earlier one, naming it.

    Example:
        >>> loaded = Loaded([(1, {"a": 1, "b": 2}), (2, {"b": 2, "a": 1})], "line", [])
        >>> duplicate_problems(loaded)[0].describe()
        'line 2: duplicate: identical content to line 1; keep one.'
    """
    seen, problems = {}, []
    for number, record in loaded.records:
        key = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if key in seen:
            problems.append(Problem(number, loaded.unit, "", f"duplicate: identical content to "
                                                             f"{loaded.unit} {seen[key]}; keep one."))
        seen.setdefault(key, number)
    return problems


def _format_or_none(record) -> str | None:
    try:
        return detect_format(record)
    except FormatError:
        return None


def validate_file(path: str | Path, expect: str | None = None) -> FileReport:
    """Read and validate a file without changing it; ``report.problems`` is [] when all is well.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
        >>> _ = path.write_text('{"instruction": "Hi", "output": "Hello"}\\n' * 2)
        >>> validate_file(path).problems[0].message
        'duplicate: identical content to line 1; keep one.'
    """
    return validate_loaded(read_records(path), expect)


def write_records(records: list[dict], path: str | Path, force: bool = False) -> None:
    """Write ``records`` as JSONL (a JSON array when ``path`` ends in .json) through a temporary
    file renamed into place, so a failure never leaves half a file; FileExistsError when ``path``
    exists and ``force`` is False.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
        >>> write_records([{"messages": []}], path)
        >>> path.read_text()
        '{"messages": []}\\n'
    """
    path = Path(path)
    if path.suffix == ".json":  # one indented array, which people read and other tools load whole
        write_atomic(path, [json.dumps(records, ensure_ascii=False, indent=2), "\n"], overwrite=force)
    else:
        write_jsonl(records, path, overwrite=force)
