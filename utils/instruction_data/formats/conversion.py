"""Converting a file: read it, validate it, convert every record and write the output atomically.

By default nothing is written unless every record is valid and converts. With ``skip_invalid``
the records that are valid and convert are written, and every other one is listed in the side
file ``OUT.dropped.jsonl`` (see ``sifting``); when none is left, nothing is written. The input is
never modified, and never overwritten even with ``force``.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.jsonl").write_text('{"instruction": "Hi", "output": "Yo"}\\n{"instruction": ""}\\n')
    >>> done = convert_file(folder / "in.jsonl", folder / "out.jsonl", "messages", skip_invalid=True)
    >>> done.records, [d.number for d in done.dropped], done.dropped_file.name
    (1, [2], 'out.jsonl.dropped.jsonl')
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from utils.instruction_data.formats.converters import convert_record
from utils.instruction_data.formats.files import read_records, validate_loaded, write_records
from utils.instruction_data.formats.schema import FormatError, Problem, check_target, plural
from utils.instruction_data.formats.sifting import Dropped, side_file, sift_records, write_dropped


class Conversion(NamedTuple):
    """What ``convert_file`` did: records written, source format, target, duplicate records kept,
    and (with ``skip_invalid``) the records dropped and the side file that lists them."""

    records: int
    source_format: str
    target: str
    duplicates: int
    dropped: tuple[Dropped, ...] = ()
    dropped_file: Path | None = None


def convert_file(source: str | Path, target: str | Path, to: str, force: bool = False,
                 skip_invalid: bool = False) -> Conversion:
    """Convert the records of ``source`` ``to`` a target format and write them to ``target``.

    Nothing is written unless every record is valid and converts; the FormatError then lists every
    problem. With ``skip_invalid`` the others are dropped instead and listed in ``target``'s side
    file; ``records`` and ``len(dropped)`` say how many were kept and dropped. ``source`` is never
    modified, and never overwritten even with ``force``.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "in.jsonl").write_text('{"instruction": "Hi", "output": "Hello"}\\n')
        >>> convert_file(folder / "in.jsonl", folder / "out.jsonl", "openai").records
        1
    """
    source, target = Path(source), Path(target)
    check_target(to)
    side = side_file(target) if skip_invalid else None
    _check_outputs(source, target, side, force)
    if to == "openai" and target.suffix == ".json":
        raise ValueError(f"{target}: OpenAI's fine-tuning upload takes JSONL; name the output .jsonl.")
    loaded = read_records(source)
    sifted = sift_records(loaded, validate_loaded(loaded))
    converted, failed = _convert_each(sifted.kept, to, loaded.unit)
    repeated = set(sifted.duplicates)  # duplicates are reported, never a reason to stop
    stopping = [p for p in sifted.report.problems if p not in repeated]
    stopping += [p for d in failed for p in d.problems]
    if stopping and not (skip_invalid and converted):
        raise FormatError(_refusal(source, target, stopping, skip_invalid, kept=len(converted)))
    records = [record for _, record in converted]
    written = {number for number, _ in converted}
    duplicates = sum(p.number in written for p in sifted.duplicates)
    dropped = sorted(sifted.dropped + failed, key=lambda d: d.number)
    if side is None:
        write_records(records, target, force)
    else:
        _write_with_side_file(records, target, dropped, side, force)
    return Conversion(len(records), sifted.report.format, to, duplicates, tuple(dropped), side)


def _check_outputs(source: Path, target: Path, side: Path | None, force: bool) -> None:
    """Refuse before reading anything: an output that is the input, or that exists without force."""
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a folder; create it first.")
    for path, what in [(target, ""), (side, " (the side file of dropped records, named after OUT)")]:
        if path is None or not path.exists():
            continue
        if source.exists() and source.samefile(path):
            raise FileExistsError(f"{path}{what} is the input file; convert never overwrites its input. "
                                  "Choose another output name.")
        if not force:
            raise FileExistsError(f"{path}{what} exists; pass --force to replace it, or choose another "
                                  "output name.")


def _convert_each(kept: list[tuple[int, object]], to: str,
                  unit: str) -> tuple[list[tuple[int, dict]], list[Dropped]]:
    """Each valid record converted (with its number), and a Dropped for each with no form in ``to``."""
    converted, failed = [], []
    for number, record in kept:
        try:
            converted.append((number, convert_record(record, to)))
        except FormatError as err:
            failed.append(Dropped(number, unit, [Problem(number, unit, err.field, str(err))], record))
    return converted, failed


def _refusal(source: Path, target: Path, problems: list[Problem], skip_invalid: bool, kept: int) -> str:
    """Every problem on its own line, then why nothing was written and what to do."""
    lines = [p.describe(str(source)) for p in sorted(problems, key=Problem.place)]
    count = plural(len(problems), "problem")
    if skip_invalid:
        return "\n".join(lines + [f"nothing written: no record is valid ({count}); fix them and "
                                  "convert again."])
    hint = (f", or pass --skip-invalid (skip_invalid=True) to write the {plural(kept, 'valid record')} "
            f"and list the others in {side_file(target)}") if kept else ""
    return "\n".join(lines + [f"nothing written: {count}; fix them and convert again{hint}."])


def _write_with_side_file(records: list[dict], target: Path, dropped: list[Dropped], side: Path,
                          force: bool) -> None:
    """The side file first, so an output never stands without the list of what it left out; if
    the output then fails, the new side file goes too, so that a rerun is not refused for it."""
    write_dropped(dropped, side, force)
    try:
        write_records(records, target, force)
    except BaseException:
        side.unlink(missing_ok=True)
        raise
