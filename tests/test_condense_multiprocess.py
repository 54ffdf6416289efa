"""Condensation over 2 gloo CPU processes (torchrun --standalone picks a free port): the same set as 1 process,
SIGKILL and resume, refused checkpoints, and data-parallel gradient averaging for shared representations."""

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from distributed_toy import CONFIG, NAME, SharedDecoder, real
from safetensors.torch import load_file
from test_condense_checkpoint import _wait_for

from condensed_data.cli import main
from condensed_data.condense.driver import checkpoint_path, condense
from condensed_data.condense.registry import register, unregister

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and gloo on Linux"),
]

TESTS = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
}
CLI = ["-m", "condensed_data.cli", "condense", "--dataset", "digits", "--ipc", "1", "--set", "batch_real=16"]
CLI += ["--no-eval", "--checkpoint-every", "3"]


def _torchrun(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*TORCHRUN, *args], env=ENV, capture_output=True, text=True, timeout=300, **kw)


def _descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            found += [child, *_descendants(child)]
    return found


def _sha(folder: Path) -> str:
    return hashlib.sha256((folder / "images.safetensors").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Uninterrupted runs of 15 iterations: one process (in this one) and two (torchrun)."""
    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*CLI[2:], "--iterations", "15", "-o", str(root / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    done = _torchrun(*CLI, "--iterations", "15", "-o", str(root / "two"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("wrote ") == 1, done.stdout  # the main process reports, once
    return root


def test_two_processes_give_the_single_process_set(runs):
    two, one = load_file(runs / "two" / "images.safetensors"), load_file(runs / "one" / "images.safetensors")
    assert torch.equal(two["labels"], one["labels"])
    # Every process draws the whole random stream and uses its classes' part, so the sets agree up to the
    # rounding of convolutions run on 5 instead of 10 images (bit-identical in some settings, not in all).
    torch.testing.assert_close(two["images"], one["images"], rtol=0, atol=1e-5)


def test_two_processes_killed_with_sigkill_resume_to_the_same_set(runs, tmp_path):
    out = tmp_path / "two"
    args = [*TORCHRUN, *CLI, "--iterations", "15", "-o", str(out)]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(checkpoint_path(out), proc)
    finally:
        # torchrun starts its workers in sessions of their own: kill them by pid, then the launcher.
        for pid in [*_descendants(proc.pid), proc.pid]:
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    assert torch.load(checkpoint_path(out), weights_only=True)["iteration"] < 15 and not out.exists()
    done = _torchrun(*CLI, "--iterations", "15", "-o", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert _sha(out) == _sha(runs / "two")  # exact: same data file bytes as the uninterrupted 2-process run


def test_two_processes_refuse_a_corrupt_or_foreign_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "a"
    # A genuine single-process checkpoint of an ipc-1 run (the export fails, so the final checkpoint stays).
    monkeypatch.setattr(
        "condensed_data.condense.driver.save_artifact", lambda *a, **k: (_ for _ in ()).throw(OSError("x"))
    )
    with pytest.raises(OSError):
        main(["-v", *CLI[2:], "--iterations", "5", "-o", str(out)])
    assert checkpoint_path(out).exists()
    done = _torchrun(*CLI, "--iterations", "5", "--ipc", "2", "-o", str(out), "--resume")
    assert done.returncode != 0 and done.stderr.count("(ipc: ") == 1, done.stderr  # reported once
    checkpoint_path(out).write_bytes(b"not a checkpoint")
    done = _torchrun(*CLI, "--iterations", "5", "-o", str(out), "--resume")
    assert done.returncode != 0 and done.stderr.count("cannot be read") == 1, done.stderr


def test_data_parallel_shared_representation_averages_gradients(tmp_path, single_thread):
    """A shared decoder (sharding="data"): 2 processes with half the real batch each equal 1 with all of it."""
    register(NAME, SharedDecoder)
    try:
        condense(CONFIG, tmp_path / "one", real=real(), progress=False)
    finally:
        unregister(NAME)
    done = _torchrun(str(TESTS / "distributed_toy.py"), str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr
    one, two = load_file(tmp_path / "one" / "images.safetensors"), load_file(tmp_path / "two" / "images.safetensors")
    assert not torch.equal(one["images"], SharedDecoder(real(), ipc=2, generator=_init()).synthetic()[0])  # it moved
    torch.testing.assert_close(two["images"], one["images"], rtol=1e-5, atol=1e-6)  # same up to summation order


def _init():
    from condensed_data.condense.loop import initial_generator

    return initial_generator(CONFIG.seed)
