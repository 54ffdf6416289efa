"""Checkpoints: written on SIGINT/SIGTERM and after the last iteration, refused when corrupt or foreign; a run
killed with SIGKILL resumes to the same files."""

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from typing import ClassVar

import pytest
import torch
from condensed_data_plugins.dm import DM

import condensed_data.condense.driver as condense_module
from condensed_data.cli import main
from condensed_data.condense.driver import (
    CondensationError,
    CondensationInterrupted,
    CondenseConfig,
    checkpoint_path,
    condense,
)
from condensed_data.condense.registry import register, unregister
from condensed_data.testing import tiny_real_dataset


class _Signalled(DM):
    """DM that sends itself the planned signals at the planned iterations."""

    name = "signalled"
    plan: ClassVar[list[tuple[int, int]]] = []

    def loss(self, *, iteration, generator):
        for at, signum in _Signalled.plan:
            if at == iteration:
                signal.raise_signal(signum)  # delivered to this thread, handled before the next line
        return super().loss(iteration=iteration, generator=generator)


@pytest.fixture
def signalled():
    register("signalled", _Signalled)
    yield _Signalled
    _Signalled.plan = []
    unregister("signalled")


def run(out, *, resume=False, **kw):
    cfg = CondenseConfig(
        **{
            "method": "signalled",
            "dataset": "tiny",
            "ipc": 2,
            "iterations": 6,
            "options": {"batch_real": 6},
            "evaluate": False,
            "checkpoint_every": 0,
            "precision": "fp32",
            **kw,
        }
    )
    return condense(cfg, out, real=tiny_real_dataset(per_class=12), progress=False, resume=resume)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_finishes_the_iteration_checkpoints_and_resumes(signum, signalled, tmp_path, single_thread):
    reference = run(tmp_path / "ref").manifest.files
    before = signal.getsignal(signum)
    signalled.plan = [(2, signum)]
    out = tmp_path / "a"
    with pytest.raises(CondensationInterrupted, match=r"after iteration 3 of 6.*--resume") as info:
        run(out)  # checkpoint_every=0: the signal still writes one
    assert info.value.signum == signum and info.value.iteration == 3
    assert signal.getsignal(signum) is before  # handlers restored
    assert torch.load(checkpoint_path(out), weights_only=True)["iteration"] == 3 and not out.exists()
    signalled.plan = []
    assert run(out, resume=True).manifest.files == reference


def test_second_sigint_stops_at_once(signalled, tmp_path, single_thread):
    # The second SIGINT hands over to the handler that was there before: Python's KeyboardInterrupt here. A process
    # started in the background by a non-interactive shell inherits SIGINT ignored (and then the second SIGINT is
    # rightly ignored too), so install Python's handler for the test.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        signalled.plan = [(2, signal.SIGINT), (2, signal.SIGINT)]
        with pytest.raises(KeyboardInterrupt):
            run(tmp_path / "a")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def _crash_at_export(monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(condense_module, "save_artifact", crash)


def test_last_iteration_is_checkpointed_so_a_resume_goes_straight_to_export(signalled, tmp_path, monkeypatch):
    reference = run(tmp_path / "ref").manifest.files
    out = tmp_path / "a"
    with monkeypatch.context() as m:
        _crash_at_export(m)
        with pytest.raises(OSError, match="disk full"):
            run(out, checkpoint_every=4)  # 6 iterations: checkpoints at 4 and after the last
    assert torch.load(checkpoint_path(out), weights_only=True)["iteration"] == 6
    assert run(out, resume=True, checkpoint_every=4).manifest.files == reference
    assert not checkpoint_path(out).exists()


def test_foreign_corrupt_or_incomplete_checkpoints_are_refused(signalled, tmp_path, monkeypatch):
    out = tmp_path / "a"
    with monkeypatch.context() as m:
        _crash_at_export(m)
        with pytest.raises(OSError):
            run(out, checkpoint_every=3)
    ckpt = checkpoint_path(out)
    good = ckpt.read_bytes()
    with pytest.raises(CondensationError, match=r"belongs to another run \(method: '\w+' in the checkpoint, 'dm' now"):
        run(out, method="dm", resume=True, checkpoint_every=3)
    with pytest.raises(CondensationError, match=r"\(ipc: \d+ in the checkpoint, 3 now\)"):
        run(out, ipc=3, resume=True, checkpoint_every=3)
    with pytest.raises(CondensationError, match=r"precision: 'fp32' in the checkpoint, 'auto' now.*--precision fp32"):
        run(out, resume=True, checkpoint_every=3, precision="auto")
    ckpt.write_bytes(good[: len(good) // 2])  # half-written (what an atomic write never leaves)
    with pytest.raises(CondensationError, match="cannot be read"):
        run(out, resume=True, checkpoint_every=3)
    state = torch.load(io.BytesIO(good), weights_only=True)
    torch.save({"identity": state["identity"]}, ckpt)
    with pytest.raises(CondensationError, match="incomplete"):
        run(out, resume=True, checkpoint_every=3)
    state["method"] = {"param.0": torch.zeros(1, 1, 8, 8)}
    torch.save(state, ckpt)
    with pytest.raises(CondensationError, match="does not fit"):
        run(out, resume=True, checkpoint_every=3)


CLI = ["condense", "--dataset", "digits", "--ipc", "1", "--iterations", "60", "--set", "batch_real=16", "--no-eval"]
CLI += ["--checkpoint-every", "5"]


def _sha(folder) -> str:
    return hashlib.sha256((folder / "images.safetensors").read_bytes()).hexdigest()


def _wait_for(path, proc, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended before its first checkpoint: {proc.communicate()}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


@pytest.mark.slow
def test_cli_killed_with_sigkill_resumes_to_the_same_files(tmp_path, single_thread):
    assert main([*CLI, "-o", str(tmp_path / "ref")]) == 0
    out = tmp_path / "a"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "condensed_data.cli", *CLI, "-o", str(out)], env=env)
    _wait_for(checkpoint_path(out), proc)
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    assert torch.load(checkpoint_path(out), weights_only=True)["iteration"] < 60 and not out.exists()
    checkpoint_path(out).with_name(checkpoint_path(out).name + ".tmp").write_bytes(b"half a checkpoint")
    assert main([*CLI, "-o", str(out), "--resume"]) == 0
    assert _sha(out) == _sha(tmp_path / "ref")


@pytest.mark.slow
def test_cli_sigterm_exits_with_a_resume_hint(tmp_path):
    out = tmp_path / "a"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "condensed_data.cli", *CLI, "-o", str(out)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    _wait_for(checkpoint_path(out), proc)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM after iteration" in err and "--resume" in err
    assert torch.load(checkpoint_path(out), weights_only=True)["iteration"] < 60
