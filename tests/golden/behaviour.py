"""What each built-in method writes on scikit-learn digits at a fixed seed: the golden record of its behaviour.

``record(folder)`` condenses digits with DM, ATOM, ECHO, DCGM and LD3M (CPU, one thread, a few iterations, IPC 1;
LD3M on a tiny latent diffusion prior trained here first) and returns, per method, the sha256 of every data file
of the artifact and every tensor in its safetensors files. ``python tests/golden/behaviour.py [METHOD ...]`` writes
them to ``tests/golden/`` (``<method>.safetensors`` and its entry of ``digests.json``); ``tests/test_behaviour.py``
runs ``record`` again and compares. Rewrite the golden files only for a deliberate change of behaviour, and say why in the commit
and the test.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
ITERATIONS = 6  # crosses ECHO's network change (every 5 iterations) and several momentum steps
OPTIONS = {
    "dm": {"batch_real": 16},
    "atom": {"batch_real": 16},
    "echo": {"batch_real": 16, "lr_img": 3.0},
    "dcgm": {"batch_real": 16, "latent_dim": 16, "embed_dim": 8, "width": 8, "lambda_inter": 0.1},
    "ld3m": {"batch_real": 8, "steps": 3, "chunk": 5},
}
METHODS = tuple(OPTIONS)


def _ld3m_prior(real, folder: Path) -> Path:
    from condensed_data.condense.priors import LDMPriorConfig, train_ldm_prior

    config = LDMPriorConfig(
        autoencoder_iterations=3, denoiser_iterations=3, batch_size=8, image_size=8, width=8, denoiser_width=16
    )
    return train_ldm_prior(real, folder / "prior", config=config, progress=False)


def record(
    folder: Path, methods: tuple[str, ...] = METHODS
) -> dict[str, tuple[dict[str, str], dict[str, torch.Tensor]]]:
    """Condense digits with each of ``methods`` under ``folder``; per method, (file digests, tensors)."""
    from condensed_data.condense.driver import CondenseConfig, condense
    from condensed_data.data import load_dataset

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        real = load_dataset("digits", "train")
        results = {}
        for method in methods:
            options = dict(OPTIONS[method])
            if method == "ld3m":
                options["prior"] = str(_ld3m_prior(real, folder))
            config = CondenseConfig(
                method=method,
                dataset="digits",
                ipc=1,
                iterations=ITERATIONS,
                seed=0,
                options=options,
                evaluate=False,
                precision="fp32",  # PyTorch's stock kernels, as when the records were made
            )
            out = folder / method
            condense(config, out, real=real, progress=False)
            results[method] = _read(out)
    finally:
        torch.set_num_threads(threads)
    return results


def _read(artifact: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    digests, tensors = {}, {}
    for path in sorted(artifact.rglob("*.safetensors")):
        name = path.relative_to(artifact).as_posix()
        if name.startswith("diffusion/") and not name.endswith("latents.safetensors"):
            continue  # the frozen prior's copy: the prior's training, not the method, wrote it
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        tensors.update({f"{name}::{key}": value for key, value in load_file(path).items()})
    return digests, tensors


def load_golden(method: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The committed record of ``method``."""
    digests = json.loads((HERE / "digests.json").read_text())
    return digests[method], load_file(HERE / f"{method}.safetensors")


def main(methods: tuple[str, ...] = METHODS) -> None:
    """Rewrite the golden files of ``methods`` (all by default; ``python tests/golden/behaviour.py echo`` for one),
    leaving the other methods' records as they are."""
    import tempfile

    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose among {', '.join(METHODS)}")
    with tempfile.TemporaryDirectory() as tmp:
        results = record(Path(tmp), methods)
    path = HERE / "digests.json"
    digests = json.loads(path.read_text()) if path.exists() else {}
    for method, (files, tensors) in results.items():
        save_file({k: v.contiguous() for k, v in tensors.items()}, HERE / f"{method}.safetensors")
        digests[method] = files
    path.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    print(json.dumps({m: digests[m] for m in results}, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or METHODS)
