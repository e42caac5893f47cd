"""utils/README.md's map equals what the repository says, and the shape of utils/ stays simple."""

import ast

import nbformat

from utils.core.runtime import REPO_ROOT
from utils.maintenance import utils_map

UTILS_DIR = REPO_ROOT / "utils"
FIX = f"run `{utils_map.COMMAND}` and commit utils/README.md"


def test_readme_map_matches_notebooks_and_modules():
    readme = utils_map.README.read_text(encoding="utf-8")
    fresh = utils_map.build()
    stale = utils_map.stale_names(readme, fresh)
    assert not stale, f"utils/README.md is out of date for {', '.join(stale)}: {FIX}."
    assert utils_map.readme_block(readme) == fresh, f"utils/README.md's map differs in row order: {FIX}."


def write_package(folder, docstring, modules=()):
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(f'"""{docstring}"""\n')
    for name, text in modules:
        (folder / f"{name}.py").write_text(f'"""{text}"""\n')


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("from utils.x import y")]
                                        + [nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(notebook, path)


def tiny_repository(tmp_path):
    utils_dir, notebook_dir = tmp_path / "utils", tmp_path / "notebooks"
    write_package(utils_dir, "Helpers.")
    write_package(utils_dir / "core", "Machinery.\n\nMore text.", [("runtime", "Run-time switches.")])
    write_package(utils_dir / "drafts", "Draft picks.", [("files", "17lands files: read them\nand convert.")])
    (utils_dir / "drafts" / "__main__.py").write_text('"""The command."""\n')
    notebook_dir.mkdir()
    return utils_dir, notebook_dir


def test_a_notebook_importing_a_module_shows_up(tmp_path):
    utils_dir, notebook_dir = tiny_repository(tmp_path)
    write_notebook(notebook_dir / "00_intro.ipynb", "%matplotlib inline\nfrom utils.core import runtime",
                   "if True:\n    !python -m utils.drafts convert a.csv b.jsonl")
    write_notebook(notebook_dir / "01_next.ipynb", "import utils.drafts.files as drafts\nx = 1")
    write_notebook(notebook_dir / "notes.ipynb", "from utils.core import runtime")  # not a lesson
    assert utils_map.notebook_table(notebook_dir, utils_dir) == {
        "00_intro": ["utils.core.runtime", "utils.drafts"], "01_next": ["utils.drafts.files"]}
    block = utils_map.build(notebook_dir, utils_dir)
    assert "| `01_next` | `utils.drafts.files` |" in block
    assert "### `utils.core`: Machinery." in block
    assert "| `utils.drafts.files` | 17lands files: read them and convert. |" in block
    assert "__main__" not in block


def test_stale_rows_are_named(tmp_path):
    utils_dir, notebook_dir = tiny_repository(tmp_path)
    write_notebook(notebook_dir / "00_intro.ipynb", "from utils.core import runtime")
    readme = tmp_path / "README.md"
    readme.write_text(f"# utils\n\n{utils_map.START}\n{utils_map.END}\n")
    assert utils_map.write_readme(readme, utils_map.build(notebook_dir, utils_dir))
    write_notebook(notebook_dir / "00_intro.ipynb", "from utils.drafts.files import read_cards")
    fresh = utils_map.build(notebook_dir, utils_dir)
    assert utils_map.stale_names(readme.read_text(), fresh) == ["00_intro"]
    assert utils_map.write_readme(readme, fresh) and not utils_map.write_readme(readme, fresh)
    assert readme.read_text().startswith("# utils\n\n")  # the hand-written intro is kept


def test_shell_lines_and_subprocess_runs():
    cell = "%%bash\npython -m utils.drafts convert a b\n"
    assert utils_map.modules_in_cell(cell) == ["utils.drafts"]
    cell = ('subprocess.run([sys.executable, "-m", "utils.instruction_data.formats", "validate", path])\n'
            "!pip install x\nfrom utils.evaluation import metrics, ratings as r\n"
            "from utils.core.runtime import *")
    assert utils_map.modules_in_cell(cell) == [
        "utils.core.runtime", "utils.instruction_data.formats", "utils.evaluation.metrics",
        "utils.evaluation.ratings"]


def test_utils_top_level_stays_small():
    top = sorted(p.name for p in UTILS_DIR.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 3, (
        f"utils/ has {len(top)} top-level modules ({', '.join(top)}); move some into a subpackage")


def test_every_subpackage_has_a_one_line_summary():
    for init in sorted(UTILS_DIR.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        lines = doc.strip().splitlines()
        where = init.parent.relative_to(REPO_ROOT)
        assert lines and lines[0].strip(), f"{where}/__init__.py has no docstring; give it a one-line summary"
        assert len(lines) == 1 or not lines[1].strip(), (
            f"{where}/__init__.py: the docstring's first line must be a one-line summary followed by a "
            f"blank line, got {lines[:2]}")
