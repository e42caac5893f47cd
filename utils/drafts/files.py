"""17lands draft data: read ``draft_data_public`` files into pick records and convert them to JSONL.

17lands publishes one row per pick made by a user of its tracker, under CC BY 4.0, at
https://17lands-public.s3.amazonaws.com/analysis_data/draft_data/ (files named
``draft_data_public.<SET>.<FORMAT>.csv.gz``), with the card list ``cards.csv`` under
``analysis_data/cards/``. Facts of the format this module relies on (see https://www.17lands.com/public_datasets):

- leading columns ``expansion, event_type, draft_id, draft_time, rank, event_match_wins,
  event_match_losses, pack_number, pick_number, pick, pick_maindeck_rate, pick_sideboard_in_rate``;
  newer files add ``user_n_games_bucket`` and ``user_game_win_rate_bucket``, pick-two drafts add
  ``pick_2``. Positions vary between files, so every column is found by its header name;
- one ``pack_card_<card name>`` column per card of the set (copies of the card in the pack shown)
  and one ``pool_<card name>`` column (copies already taken; earlier picks only), integer counts;
- ``pack_number`` and ``pick_number`` count from 0; a pack has 13 or 14 picks depending on the set;
  some drafts lack their early picks, so nothing here assumes a draft starts at pick 0;
- card names may hold commas (the header quotes them), apostrophes, hyphens and " // ".

A pick record is a plain dict, the unit the course trains and evaluates on::

    {"draft_id": "a1b2", "expansion": "QLT", "pack_number": 1, "pick_number": 1,
     "pack": ["Gull", "Gull", "Tide // Ebb"], "pool": [], "pick": "Tide // Ebb"}

Numbers are 1-based, ``pack`` and ``pool`` repeat a name once per copy, in the file's column
order. Optional columns present in the file are kept too: ``event_type``, ``rank``,
``event_match_wins``, ``event_match_losses``, ``user_n_games_bucket``, ``user_game_win_rate_bucket``
and ``pick_2`` (None where blank).

Example:
    >>> from utils.drafts import files as drafts
    >>> picks = drafts.draft_picks_from_17lands("data/drafts/draft_data_public.QLT.PremierDraft.csv.gz",
    ...                                         max_drafts=2)
    >>> len({p["draft_id"] for p in picks}), picks[0]["pick_number"], picks[1]["pool"] == [picks[0]["pick"]]
    (2, 1, True)

Command line, to prepare a real file for a GPU run::

    python -m utils.drafts convert draft_data_public.MKM.PremierDraft.csv.gz mkm.jsonl --max-drafts 5000
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from utils.core.jsonl import write_jsonl

DRAFTS_DIR = Path(__file__).resolve().parents[2] / "data" / "drafts"
LEADING_COLUMNS = ("expansion", "event_type", "draft_id", "draft_time", "rank", "event_match_wins",
                   "event_match_losses", "pack_number", "pick_number", "pick", "pick_maindeck_rate",
                   "pick_sideboard_in_rate")
REQUIRED_COLUMNS = ("expansion", "draft_id", "pack_number", "pick_number", "pick")
OPTIONAL_TEXT = ("event_type", "rank", "pick_2")
OPTIONAL_NUMBERS = ("event_match_wins", "event_match_losses", "user_n_games_bucket",
                    "user_game_win_rate_bucket")
PACK_PREFIX, POOL_PREFIX = "pack_card_", "pool_"
CARDS_COLUMNS = ("id", "expansion", "name", "rarity", "color_identity", "mana_value", "types",
                 "is_booster")
DEFAULT_CHUNKSIZE = 5_000  # rows per pandas chunk: a few hundred MB of a real file never sit in memory


class DraftFileError(ValueError):
    """A draft file breaks the 17lands format; the message names the file, row and column."""


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a plain or gzipped text file (detected from its first bytes, not its name).

    Example:
        >>> with open_text("data/drafts/cards.csv") as f:
        ...     f.readline().startswith("id,")
        True
    """
    path = Path(path)
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", newline="") if gzipped else path.open("r", newline="")


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV file (quoted names with commas come back whole).

    Example:
        >>> read_header("data/drafts/cards.csv")[:3]
        ['id', 'expansion', 'name']
    """
    try:
        with open_text(path) as f:
            header = next(csv.reader(f), None)
    except (UnicodeDecodeError, EOFError, OSError) as error:
        raise DraftFileError(f"{path}: line 1: cannot read the header ({error}); check that the file "
                             "is a complete CSV or .csv.gz download.") from error
    if not header:
        raise DraftFileError(f"{path}: line 1: the file is empty; expected a CSV header line.")
    return header


def card_columns(header: list[str], prefix: str) -> dict[str, str]:
    """Map each ``<prefix><card name>`` column to its card name, in header order.

    Example:
        >>> card_columns(["pick", "pack_card_Salt, Gull", "pool_Salt, Gull"], "pack_card_")
        {'pack_card_Salt, Gull': 'Salt, Gull'}
    """
    return {col: col[len(prefix):] for col in header if col.startswith(prefix)}


def check_header(header: list[str], path: str | Path) -> None:
    """Raise DraftFileError naming the first required column the header lacks.

    Example:
        >>> check_header(["draft_id"], "x.csv")
        Traceback (most recent call last):
        ...
        utils.drafts.files.DraftFileError: x.csv: line 1 (header): missing column 'expansion'; ...
    """
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise DraftFileError(f"{path}: line 1 (header): missing column '{column}'; a 17lands "
                                 f"draft_data_public file has {', '.join(LEADING_COLUMNS)}. Check "
                                 "that this is a draft file (not a game or replay file).")
    for prefix in (PACK_PREFIX, POOL_PREFIX):
        if not card_columns(header, prefix):
            raise DraftFileError(f"{path}: line 1 (header): no '{prefix}<card name>' columns; a "
                                 "17lands draft file has one per card of the set.")


def _where(path: str | Path, index: int, column: str) -> str:
    """'file: data row N (line N+1), column 'c'' for a 0-based data row index."""
    return f"{path}: data row {index + 1} (line {index + 2}), column '{column}'"


def whole_numbers(frame: pd.DataFrame, path: str | Path) -> np.ndarray:
    """The frame's cells as a non-negative int matrix; the first bad cell raises DraftFileError.

    Example:
        >>> whole_numbers(pd.DataFrame({"pool_Gull": ["0", "2"]}), "x.csv").ravel().tolist()
        [0, 2]
    """
    if all(pd.api.types.is_integer_dtype(t) for t in frame.dtypes):  # the usual case: no parsing
        values = frame.to_numpy(dtype=np.int64)
        if (values >= 0).all():
            return values
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        row, col = np.unravel_index(np.argmax(bad), bad.shape)
        raise DraftFileError(f"{_where(path, frame.index[row], frame.columns[col])}: "
                             f"{frame.iat[row, col]!r} is not a whole number >= 0; counts and "
                             "pack/pick numbers must be integers. Fix or drop that row.")
    return values.astype(np.int64)


def names_per_row(names: np.ndarray, counts: np.ndarray) -> list[list[str]]:
    """For each row of a (rows, cards) count matrix, the card names repeated once per copy.

    Example:
        >>> names_per_row(np.array(["Gull", "Eel"]), np.array([[2, 1], [0, 0]]))
        [['Gull', 'Gull', 'Eel'], []]
    """
    rows, cols = np.nonzero(counts)  # row-major: each row's cards in column order
    copies = counts[rows, cols]
    flat = np.repeat(names[cols], copies).tolist()
    ends = np.cumsum(counts.sum(axis=1)).tolist()
    starts = ([0] + ends)[:len(ends)]
    return [flat[start:end] for start, end in zip(starts, ends, strict=True)]


def _check_picks(picks: pd.Series, pack_names: np.ndarray, pack: np.ndarray, column: str,
                 path: str | Path, need: np.ndarray | None = None) -> np.ndarray:
    """The pack column index of each pick; raises naming the first row whose pick is not in its pack."""
    position = {name: i for i, name in enumerate(pack_names)}
    index = np.array([position.get(name, -1) for name in picks], dtype=np.int64)
    have = np.where(index >= 0, pack[np.arange(len(index)), np.maximum(index, 0)], 0)
    need = np.ones(len(index), dtype=np.int64) if need is None else need
    bad = np.flatnonzero(have < need)
    if len(bad):
        row = bad[0]
        raise DraftFileError(f"{_where(path, picks.index[row], column)}: the pick {picks.iat[row]!r} "
                             "is not among the cards of its pack (pack_card_* counts on that row); "
                             "the row is corrupt or the columns belong to another set.")
    return index


def optional_values(column: pd.Series, numeric: bool) -> list:
    """An optional column's cells as Python values: blank -> None; numbers -> int or float when
    ``numeric`` (cells that do not parse stay text).

    Example:
        >>> optional_values(pd.Series(["", "3", "0.52", "n/a"]), numeric=True)
        [None, 3, 0.52, 'n/a']
    """
    raw = column.astype(str).tolist()
    if not numeric:
        return [value or None for value in raw]
    parsed = pd.to_numeric(column, errors="coerce").tolist()
    return [None if text == "" else text if number != number else
            int(number) if float(number).is_integer() else float(number)
            for text, number in zip(raw, parsed, strict=True)]


def records_from_chunk(chunk: pd.DataFrame, header: list[str], path: str | Path) -> list[dict]:
    """Pick records for the rows of one chunk, validated; see the module docstring for the fields."""
    pack_cols, pool_cols = card_columns(header, PACK_PREFIX), card_columns(header, POOL_PREFIX)
    pack_names, pool_names = np.array(list(pack_cols.values())), np.array(list(pool_cols.values()))
    numbers = whole_numbers(chunk[["pack_number", "pick_number"]], path)
    pack = whole_numbers(chunk[list(pack_cols)], path)
    pool = whole_numbers(chunk[list(pool_cols)], path)
    picks = chunk["pick"].astype(str)
    _check_picks(picks, pack_names, pack, "pick", path)
    if "pick_2" in chunk:
        second = chunk["pick_2"].astype(str)
        given = (second != "").to_numpy()
        need = 1 + (second.to_numpy() == picks.to_numpy())  # the same card twice needs two copies
        _check_picks(second[given], pack_names, pack[given], "pick_2", path, need[given])
    extras = {c: optional_values(chunk[c], c in OPTIONAL_NUMBERS)
              for c in OPTIONAL_TEXT + OPTIONAL_NUMBERS if c in chunk}
    draft_ids, expansions = chunk["draft_id"].astype(str).tolist(), chunk["expansion"].astype(str).tolist()
    packs, pools, numbers = names_per_row(pack_names, pack), names_per_row(pool_names, pool), numbers + 1
    records = []
    for i, pick in enumerate(picks.tolist()):
        record = {"draft_id": draft_ids[i], "expansion": expansions[i],
                  "pack_number": int(numbers[i, 0]), "pick_number": int(numbers[i, 1]),
                  "pack": packs[i], "pool": pools[i], "pick": pick}
        records.append(record | {column: values[i] for column, values in extras.items()})
    return records


def _rows_within(draft_ids: pd.Series, seen: set[str], max_drafts: int | None) -> int:
    """How many leading rows of a chunk belong to the first ``max_drafts`` drafts (updates ``seen``)."""
    if max_drafts is None:
        return len(draft_ids)
    for i, draft_id in enumerate(draft_ids):
        if draft_id not in seen:
            if len(seen) >= max_drafts:
                return i
            seen.add(draft_id)
    return len(draft_ids)


def iter_draft_picks(path: str | Path, max_drafts: int | None = None,
                     chunksize: int = DEFAULT_CHUNKSIZE) -> Iterator[dict]:
    """Yield pick records from a 17lands draft file, reading ``chunksize`` rows at a time.

    Rows of one draft are consecutive in 17lands files, so reading stops at the first row of draft
    number ``max_drafts + 1``: the rest of the file is never read (or validated).

    Example:
        >>> first = next(iter_draft_picks("data/drafts/draft_data_public.QLT.PremierDraft.csv.gz"))
        >>> (first["pack_number"], first["pick_number"], first["pool"])
        (1, 1, [])
    """
    header = read_header(path)
    check_header(header, path)
    seen: set[str] = set()
    for chunk in read_chunks(path, header, chunksize):
        keep = _rows_within(chunk["draft_id"], seen, max_drafts)
        yield from records_from_chunk(chunk.iloc[:keep], header, path)
        if keep < len(chunk):
            return


def read_chunks(path: str | Path, header: list[str], chunksize: int) -> Iterator[pd.DataFrame]:
    """The file's rows, ``chunksize`` at a time: card counts parsed as numbers where they are, the
    other columns as text; a file that cannot be parsed raises DraftFileError.

    Example:
        >>> path = "data/drafts/draft_data_public.QGO.PremierDraft.csv.gz"
        >>> len(next(read_chunks(path, read_header(path), chunksize=10)))
        10
    """
    text = {c: str for c in header if not c.startswith((PACK_PREFIX, POOL_PREFIX))}
    try:
        with open_text(path) as f, pd.read_csv(f, chunksize=chunksize, dtype=text, na_filter=False,
                                               low_memory=False) as reader:
            yield from reader
    except (pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError) as error:
        raise DraftFileError(f"{path}: the file cannot be parsed as CSV ({error}); check that it "
                             "downloaded completely (gzip -t FILE) and is a 17lands CSV.") from error


def draft_picks_from_17lands(path: str | Path, max_drafts: int | None = None,
                             chunksize: int = DEFAULT_CHUNKSIZE) -> list[dict]:
    """All pick records of the first ``max_drafts`` drafts (all drafts when None) of a 17lands file.

    Example:
        >>> picks = draft_picks_from_17lands("data/drafts/draft_data_public.QLT.PremierDraft.csv.gz", 1)
        >>> picks[1]["pool"] == [picks[0]["pick"]]
        True
    """
    return list(iter_draft_picks(path, max_drafts=max_drafts, chunksize=chunksize))


def read_cards(path: str | Path, expansion: str | None = None) -> pd.DataFrame:
    """The 17lands ``cards.csv`` card list (optionally one expansion), checked for its columns.

    Example:
        >>> sorted(set(read_cards("data/drafts/cards.csv", "QLT")["rarity"]))
        ['common', 'mythic', 'rare', 'uncommon']
    """
    cards = pd.read_csv(path, dtype={"name": str, "color_identity": str, "types": str},
                        keep_default_na=False)
    missing = [c for c in CARDS_COLUMNS if c not in cards.columns]
    if missing:
        raise DraftFileError(f"{path}: line 1 (header): missing column(s) {missing}; a 17lands "
                             f"cards.csv has {', '.join(CARDS_COLUMNS)}.")
    if expansion is not None:
        cards = cards[cards["expansion"] == expansion].reset_index(drop=True)
    return cards


def convert(path: str | Path, out: str | Path, max_drafts: int | None = None,
            chunksize: int = DEFAULT_CHUNKSIZE) -> int:
    """Convert a 17lands draft file to pick-record JSONL (written atomically by
    ``utils.core.jsonl.write_jsonl``, read back with ``read_jsonl``); returns the number of picks.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "picks.jsonl"
        >>> convert("data/drafts/draft_data_public.QLT.PremierDraft.csv.gz", out, max_drafts=1)
        42
    """
    return write_jsonl(iter_draft_picks(path, max_drafts=max_drafts, chunksize=chunksize), out)


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.drafts convert FILE OUT.jsonl [--max-drafts N]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m utils.drafts",
                                     description="Prepare 17lands draft data for fine-tuning.")
    commands = parser.add_subparsers(dest="command", required=True)
    conv = commands.add_parser("convert", help="write one JSON pick record per line")
    conv.add_argument("file", help="draft_data_public.<SET>.<FORMAT>.csv or .csv.gz")
    conv.add_argument("out", help="output .jsonl path (written only when the whole input is valid)")
    conv.add_argument("--max-drafts", type=int, default=None, help="stop after this many drafts")
    conv.add_argument("--chunksize", type=int, default=DEFAULT_CHUNKSIZE, help="rows read at a time")
    args = parser.parse_args(argv)
    if args.max_drafts is not None and args.max_drafts < 1:
        parser.error(f"--max-drafts {args.max_drafts}: give a positive number of drafts (or leave it out).")
    try:
        count = convert(args.file, args.out, args.max_drafts, args.chunksize)
    except (DraftFileError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {count} picks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
