"""The notebooks in notebooks/ run top to bottom, each in a fresh kernel, in a temporary working directory.

Their cells assert what they show (accuracies, identical tensors, the contract test), so a failing cell fails the
test with the cell's traceback. The kernel is ipykernel's ``python3``, which jupyter_client starts with this
interpreter (``sys.executable``), so the notebooks see the same installed packages as the tests.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from helpers import require, unavailable

nbformat = require("nbformat")
nbclient = require("nbclient")
require("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT = 300  # seconds for a whole notebook; each takes well under a minute of one core


def _fashion_mnist_missing() -> str | None:
    from condensed_data.data.fashion_mnist import candidate_dirs, find_split_files

    for split in ("train", "test"):
        if not any(find_split_files(d, split) for d in candidate_dirs()):
            return f"Fashion-MNIST {split} split not found (make data, or sudo apt-get install dataset-fashion-mnist)"
    return None


def _hub_servers_missing() -> str | None:
    if shutil.which("git") is None:
        return "git is not installed (the local Hub servers keep repositories in git)"
    try:
        import olah  # noqa: F401
    except ImportError:
        return "olah is not installed (pip install -e '.[dev]')"
    return None


# What each notebook needs beyond the dev extra; missing needs skip it with the reason (fail it under CI).
NEEDS = {
    "01_swap_into_training_loop": _fashion_mnist_missing,
    "02_condense_and_evaluate": _fashion_mnist_missing,
    "03_publish_and_pull": _hub_servers_missing,
}


def test_every_notebook_is_stored_without_outputs():
    assert NOTEBOOKS, "no notebooks found in notebooks/"
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{path.name} is stored with outputs; clear them (Jupyter: Edit > Clear Outputs of All Cells)"
                )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch):
    missing = NEEDS.get(path.stem, lambda: None)()
    if missing:
        unavailable(missing)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' tempfile.mkdtemp() folders land here too
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + TIMEOUT
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        # nbclient's timeout is per cell: give each cell what is left of the notebook's budget.
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
