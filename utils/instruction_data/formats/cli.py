"""The command line, ``python -m utils.instruction_data.formats validate|convert`` (usage: the package
docstring). Exit status 0 when all is well, 1 when a problem stopped it, 2 for a usage error.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.jsonl"
    >>> _ = path.write_text('{"instruction": "Hi", "output": "Hello"}\\n')
    >>> main(["validate", str(path)])  # doctest: +ELLIPSIS
    /...a.jsonl: 1 record (alpaca), no problems.
    0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from utils.instruction_data.formats.conversion import convert_file
from utils.instruction_data.formats.schema import FORMATS, TARGETS, plural
from utils.instruction_data.formats.sifting import sift_file

DESCRIPTION = ("Instruction-data formats: detect them, validate them, convert between them, from Python "
               "or a shell.")
SKIP_HELP = ("write the valid records and drop the others, listing each on stderr and in "
             "OUT.dropped.jsonl (refused if it exists, unless --force)")
FORCE_HELP = "replace OUT (and with --skip-invalid OUT.dropped.jsonl) if it exists; never IN"
DRY_SKIP_HELP = "also say how many records convert --skip-invalid would keep and drop (writes nothing)"


def main(argv: list[str] | None = None) -> int:
    """The command line (see the package docstring); returns the exit status.

    Example:
        >>> main(["validate", "no_such_file.jsonl"])
        1
    """
    args = _parser().parse_args(argv)
    try:
        return _validate_command(args) if args.command == "validate" else _convert_command(args)
    except (OSError, ValueError) as err:
        filename = getattr(err, "filename", None)
        message = f"{err.strerror}: {filename}" if getattr(err, "strerror", None) and filename else err
        print(f"error: {message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m utils.instruction_data.formats", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="report every problem of FILE; change nothing")
    validate.add_argument("file", type=Path)
    validate.add_argument("--expect", choices=FORMATS, help="the format every record should have")
    validate.add_argument("--skip-invalid", action="store_true", help=DRY_SKIP_HELP)
    convert = commands.add_parser("convert", help="convert IN to OUT in another format")
    convert.add_argument("source", metavar="IN", type=Path)
    convert.add_argument("target", metavar="OUT", type=Path)
    convert.add_argument("--to", required=True, choices=TARGETS)
    convert.add_argument("--force", action="store_true", help=FORCE_HELP)
    convert.add_argument("--skip-invalid", action="store_true", help=SKIP_HELP)
    return parser


def _validate_command(args: argparse.Namespace) -> int:
    sifted = sift_file(args.file, args.expect)
    report = sifted.report
    for problem in report.problems:
        print(problem.describe(str(args.file)))
    print(f"{args.file}: {plural(report.records, 'record')} ({report.format or 'no valid format'}), "
          f"{plural(len(report.problems), 'problem').replace('0 problems', 'no problems')}.")
    if not args.skip_invalid:
        return 1 if report.problems else 0
    # The dry run of convert --skip-invalid: its exit status says whether convert would write.
    print(f"{args.file}: --skip-invalid would keep {plural(len(sifted.kept), 'record')} and drop "
          f"{len(sifted.dropped)} (convert may drop more: records its target format has no place for).")
    return 0 if sifted.kept else 1


def _convert_command(args: argparse.Namespace) -> int:
    done = convert_file(args.source, args.target, args.to, args.force, args.skip_invalid)
    if not args.skip_invalid:
        kept = (f"; kept {plural(done.duplicates, 'duplicate')} (validate lists them)"
                if done.duplicates else "")
        print(f"converted {plural(done.records, 'record')} from {args.source} ({done.source_format}) to "
              f"{args.target} ({done.target}){kept}.")
        return 0
    for dropped in done.dropped:
        for problem in dropped.problems:
            print(problem.describe(str(args.source)), file=sys.stderr)
    print(f"wrote {plural(done.records, 'record')} to {args.target}; dropped {len(done.dropped)} "
          f"(see {done.dropped_file})")
    if done.duplicates:
        print(f"kept {plural(done.duplicates, 'duplicate')} (validate lists them).")
    return 0
