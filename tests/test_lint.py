import shutil
import subprocess
import sys

from utils.core.runtime import REPO_ROOT


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or f"{sys.prefix}/bin/ruff"
    result = subprocess.run([ruff, "check", "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
