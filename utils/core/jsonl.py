"""The course's one JSONL reader and writer.

Writes go through a temporary file in the target folder that is renamed into place, so a failed
write never leaves half a file and never touches an existing one; the file gets the permissions
the user's umask gives a new file (not mkstemp's private 0600).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


class JsonlError(ValueError):
    """A JSONL file with a line that is not one JSON object; the message names file and line."""


def write_atomic(path: str | Path, chunks: Iterable[str], overwrite: bool = True) -> None:
    """Write the text ``chunks`` to ``path`` through a temporary file renamed into place.

    Raises FileExistsError, naming the fix, when ``path`` exists and ``overwrite`` is False.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> write_atomic(path, ["a", "b\\n"]); path.read_text()
        'ab\\n'
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --force (force=True) to replace it, or choose "
                              "another output name.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for chunk in chunks:
                file.write(chunk)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_jsonl(records: Iterable[dict], path: str | Path, overwrite: bool = True) -> int:
    """Write one JSON object per line, atomically (see ``write_atomic``); return the count.

    Records are streamed, so a generator of millions of picks never sits in memory whole.

    Example:
        >>> import tempfile, pathlib
        >>> write_jsonl([{"pick": "Gull"}, {"pick": "Eel"}], pathlib.Path(tempfile.mkdtemp()) / "x.jsonl")
        2
    """
    count = 0

    def lines():
        nonlocal count
        for record in records:
            yield json.dumps(record, ensure_ascii=False) + "\n"
            count += 1

    write_atomic(path, lines(), overwrite=overwrite)
    return count


def read_jsonl(path: str | Path) -> list[dict]:
    """Read a JSONL file, skipping blank lines; a bad line raises JsonlError naming file and line.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
        >>> _ = path.write_text('{"a": 1}\\n\\n{"a": 2}\\n'); read_jsonl(path)
        [{'a': 1}, {'a': 2}]
        >>> _ = path.write_text('{"a": 1}\\n{"a": }\\n'); read_jsonl(path)
        Traceback (most recent call last):
        ...
        utils.core.jsonl.JsonlError: ...x.jsonl: line 2 is not valid JSON (Expecting value at column 7); ...
    """
    records = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise JsonlError(f"{path}: line {number} is not valid JSON ({error.msg} at column "
                                 f"{error.colno}); fix or remove that line.") from None
    return records
