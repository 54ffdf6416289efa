"""The code base stays formatted and lint-clean (ruff, configured in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import unavailable

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["condensed_data", "plugins", "tests", "benchmarks", "notebooks", "docs"]
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff(args):
    if RUFF is None:
        unavailable("ruff is not installed (pip install -e '.[dev]')")
    out = subprocess.run([RUFF, *args, *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
