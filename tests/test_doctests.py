"""Every ``>>>`` example in utils runs: one test per module, failing with doctest's own report.

Modules are discovered, not listed, so a new module is checked as soon as it exists; each one
(package ``__init__`` files aside) must document at least one example. Examples run from the
repository root (they use paths such as data/drafts/) and their temporary files land in tmp_path.
"""

import doctest
import importlib
import pkgutil
import tempfile

import pytest

import utils
from utils.core.runtime import REPO_ROOT

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def utils_modules() -> list[tuple[str, bool]]:
    """``(module name, is a package)`` for every module under utils/, ``__main__`` files aside."""
    found = pkgutil.walk_packages(utils.__path__, prefix="utils.")
    return sorted((m.name, m.ispkg) for m in found
                  if m.name.rsplit(".", 1)[-1] != "__main__" and m.name.replace(".", "").isidentifier())


MODULES = utils_modules()


def run_examples(module) -> tuple[int, int, str]:
    """``(examples attempted, failed, doctest's report)`` for one module's docstrings."""
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    report: list[str] = []
    for test in sorted(doctest.DocTestFinder().find(module), key=lambda t: t.name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    return result.attempted, result.failed, "".join(report)


def test_modules_are_found():
    names = [name for name, _ in MODULES]
    assert "utils.core.jsonl" in names and "utils.drafts.files" in names
    assert not any(name.endswith("__main__") for name in names)


@pytest.mark.parametrize("name, is_package", MODULES, ids=[name for name, _ in MODULES])
def test_docstring_examples(name, is_package, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO_ROOT)  # examples read paths such as data/drafts/cards.csv
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tempfile.mkdtemp() lands in tmp_path
    attempted, failed, report = run_examples(importlib.import_module(name))
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed:\n{report}"
    assert attempted > 0 or is_package, (
        f"{name} has no >>> example; add one to its module docstring (every module shows its use).")
