"""The documentation site builds, offline and strictly (a broken link, reference, docstring or hook fails it), and
the getting-started page's first example runs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import require

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    require("mkdocs", "pip install -e '.[docs]'")
    require("material", "pip install -e '.[docs]'")
    require("mkdocstrings_handlers.python", "pip install -e '.[docs]'")
    site = tmp_path / "site"
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    cli = (site / "reference" / "cli" / "index.html").read_text()
    assert "usage: condensed-data condense" in cli and "cli-reference" not in cli  # the hook rendered the parser
    api = (site / "api" / "loading" / "index.html").read_text()
    assert "from_pretrained" in api  # mkdocstrings rendered the docstrings


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages and all(page in nav for page in pages), sorted(p for p in pages if p not in nav)


def test_getting_started_example_runs(tmp_path, monkeypatch, single_thread):
    require("sklearn", "pip install -e '.[digits]'")
    page = (DOCS / "getting-started.md").read_text()
    code = re.search(r"## A first example.*?```python\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "getting-started.md", "exec"), scope)
    assert len(scope["ds"]) == 10 and tuple(scope["image"].shape) == (1, 8, 8)
    assert (tmp_path / "out" / "digits-dm-ipc1" / "condensed.json").is_file()
