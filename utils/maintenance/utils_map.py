"""The map in utils/README.md: the utils modules each notebook imports, and what each module holds.

Both tables are built from the repository: the notebooks' code cells, parsed with ``ast`` (shell
and magic lines are set aside, but a ``python -m utils...`` they run counts), and the first line of
each module's docstring, grouped by subpackage in course order. tests/test_utils_map.py fails when
the README and the repository disagree.

    python -m utils.maintenance.utils_map           # rewrite the tables between the README's markers
    python -m utils.maintenance.utils_map --check   # only say which rows are out of date

Example:
    >>> from utils.maintenance.utils_map import modules_in_cell
    >>> modules_in_cell("from utils.core import runtime\\nfrom utils.drafts.files import read_cards\\n"
    ...                 "!python -m utils.drafts convert in.csv.gz out.jsonl\\n%matplotlib inline")
    ['utils.core.runtime', 'utils.drafts', 'utils.drafts.files']
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

from utils.core.runtime import REPO_ROOT

UTILS_DIR = REPO_ROOT / "utils"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
README = UTILS_DIR / "README.md"
START, END = "<!-- utils-map:start -->", "<!-- utils-map:end -->"
COMMAND = "python -m utils.maintenance.utils_map"
COURSE_ORDER = ("core", "course_data", "instruction_data", "training", "generation", "evaluation",
                "drafts", "production", "maintenance")
RUN_MODULE = re.compile(r"-m\s+(utils(?:\.\w+)*)")  # python -m utils.x.y in a shell line
SENTENCE_END = re.compile(r"[.?!](?=\s|$)")
ROW_NAME = re.compile(r"^(?:\|\s*|#+\s*)`([^`]+)`")  # the name a table row or heading starts with


def is_utils(name: str) -> bool:
    return name.split(".")[0] == "utils"


def module_file(name: str, utils_dir: Path = UTILS_DIR) -> Path | None:
    """The file of module ``name`` (``utils.x.y``: utils/x/y.py or utils/x/y/__init__.py), or None."""
    base = utils_dir.joinpath(*name.split(".")[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def course_key(name: str) -> tuple[int, str]:
    """Sort key: ``utils`` itself, then the subpackages in course order (others last), then name."""
    parts = name.split(".")
    if len(parts) == 1:
        return -1, name
    return (COURSE_ORDER.index(parts[1]) if parts[1] in COURSE_ORDER else len(COURSE_ORDER)), name


def imported_modules(node: ast.AST, utils_dir: Path = UTILS_DIR) -> set[str]:
    """The utils modules one ast node imports, or runs as ``[sys.executable, "-m", "utils.x"]``."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if is_utils(alias.name)}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and is_utils(node.module or ""):
        # from utils.x import y: y is a module (utils.x.y) or a name defined in utils.x
        return {f"{node.module}.{alias.name}" if module_file(f"{node.module}.{alias.name}", utils_dir)
                else node.module for alias in node.names}
    if isinstance(node, (ast.List, ast.Tuple)):
        words = [item.value if isinstance(item, ast.Constant) else None for item in node.elts]
        return {word for flag, word in zip(words, words[1:], strict=False)
                if flag == "-m" and isinstance(word, str) and is_utils(word)}
    return set()


def modules_in_cell(source: str, utils_dir: Path = UTILS_DIR) -> list[str]:
    """The utils modules a code cell imports or runs with ``python -m``, sorted. Lines starting with
    ``!`` or ``%`` are shell or magics, not Python: only the modules they run are kept."""
    if source.lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
        return sorted(set(RUN_MODULE.findall(source)), key=course_key)
    found, python = set(), []
    for line in source.splitlines():
        code = line.lstrip()
        if code.startswith(("!", "%")):
            found.update(RUN_MODULE.findall(code))
            line = line[:len(line) - len(code)] + "pass"  # keeps an indented block valid
        python.append(line)
    for node in ast.walk(ast.parse("\n".join(python))):
        found |= imported_modules(node, utils_dir)
    return sorted(found, key=course_key)


def notebook_modules(path: Path, utils_dir: Path = UTILS_DIR) -> list[str]:
    """Every utils module a notebook's code cells import or run, in course order."""
    found = set()
    for number, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
        if cell.cell_type == "code":
            try:
                found.update(modules_in_cell(cell.source, utils_dir))
            except SyntaxError as error:
                raise ValueError(f"{path.name}, cell {number}: not valid Python ({error.msg}, "
                                 f"line {error.lineno}); fix the cell.") from None
    return sorted(found, key=course_key)


def notebook_table(notebook_dir: Path = NOTEBOOK_DIR, utils_dir: Path = UTILS_DIR) -> dict[str, list[str]]:
    """``{notebook name: [utils modules it imports]}`` for every notebooks/NN_*.ipynb, in order."""
    return {path.stem: notebook_modules(path, utils_dir)
            for path in sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))}


def module_names(utils_dir: Path = UTILS_DIR) -> list[str]:
    """Every module and package under ``utils_dir`` as a dotted name (``__main__`` files aside)."""
    names = []
    for path in utils_dir.rglob("*.py"):
        parts = path.relative_to(utils_dir.parent).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        in_packages = all((utils_dir.parent.joinpath(*parts[:i]) / "__init__.py").is_file()
                          for i in range(1, len(parts)))
        if parts[-1] != "__main__" and in_packages and all(p.isidentifier() for p in parts):
            names.append(".".join(parts))
    return sorted(names, key=course_key)


def summary(path: Path) -> str:
    """The first line of a module's docstring, run on to the end of its sentence when it wraps
    (read with ``ast``, so nothing is imported)."""
    doc = (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
    if not doc:
        return "(no docstring)"
    first_line = doc.splitlines()[0]
    paragraph = " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())
    end = SENTENCE_END.search(paragraph, len(first_line) - 1)
    return paragraph[:end.end()].strip() if end else paragraph


def module_table(utils_dir: Path = UTILS_DIR) -> dict[str, dict[str, str]]:
    """``{group: {module: first docstring line}}``: a group is a subpackage (``utils.core``, its own
    row first) or ``utils`` for the top-level modules; groups in course order."""
    table: dict[str, dict[str, str]] = {}
    for name in module_names(utils_dir):
        parts, path = name.split("."), module_file(name, utils_dir)
        top_level = len(parts) == 1 or (len(parts) == 2 and path.name != "__init__.py")
        group = "utils" if top_level else ".".join(parts[:2])
        table.setdefault(group, {})[name] = summary(path)
    if len(table.get("utils", {})) == 1:  # the package alone, no top-level module: no group
        del table["utils"]
    return table


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(notebooks: dict[str, list[str]], modules: dict[str, dict[str, str]]) -> str:
    """Both tables as Markdown, the block that goes between the README's markers."""
    lines = ["## Notebooks and the utils modules they import", "",
             "| notebook | utils modules it imports |", "|---|---|"]
    lines += [f"| `{name}` | {', '.join(f'`{m}`' for m in used) or '(none)'} |"
              for name, used in notebooks.items()]
    lines += ["", "## What each module holds"]
    for group, rows in modules.items():
        lines += ["", f"### `{group}`: {cell(rows[group])}", "", "| module | what it holds |", "|---|---|"]
        lines += [f"| `{name}` | {cell(text)} |" for name, text in rows.items() if name != group]
    return "\n".join(lines) + "\n"


def build(notebook_dir: Path = NOTEBOOK_DIR, utils_dir: Path = UTILS_DIR) -> str:
    """The map of the repository as it is now, rendered."""
    return render(notebook_table(notebook_dir, utils_dir), module_table(utils_dir))


def readme_block(text: str) -> str:
    """What a README holds between the markers (ValueError if they are missing)."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"utils/README.md needs the lines {START} and {END}; the map goes between them.")
    return text[start + len(START):end].strip("\n") + "\n"


def rows_by_name(block: str) -> dict[str, str]:
    """Each table row and heading of a rendered block, keyed by the name it starts with."""
    return {match.group(1): line for line in block.splitlines() if (match := ROW_NAME.match(line))}


def stale_names(readme_text: str, fresh: str) -> list[str]:
    """The notebooks and modules whose rows differ between the README and the ``fresh`` block."""
    old, new = rows_by_name(readme_block(readme_text)), rows_by_name(fresh)
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def write_readme(path: Path = README, fresh: str | None = None) -> bool:
    """Put the fresh map between the markers of ``path``; True if the file changed."""
    text = path.read_text(encoding="utf-8")
    readme_block(text)  # checks the markers
    start, end = text.find(START) + len(START), text.find(END)
    updated = text[:start] + "\n" + (fresh or build()) + text[end:]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Regenerate the map in utils/README.md.")
    parser.add_argument("--check", action="store_true", help="only report out-of-date rows; exit 1 if any")
    args = parser.parse_args(argv)
    fresh = build()
    if args.check:
        text = README.read_text(encoding="utf-8")
        stale = stale_names(text, fresh) or ([] if readme_block(text) == fresh else ["(row order)"])
        print(f"utils/README.md is out of date for: {', '.join(stale)}; run `{COMMAND}`." if stale
              else "utils/README.md is up to date.")
        return 1 if stale else 0
    print("utils/README.md updated." if write_readme(README, fresh) else "utils/README.md was up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
