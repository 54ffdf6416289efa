"""Artifact bytes: a DCGM generator artifact vs the pixel set of the same images per class.

    .venv/bin/python benchmarks/artifact_size.py [--artifact out/bench/fashion-mnist-dcgm-ipc10 ...]

Computed (from parameter counts, float32): the default generator (``ConditionalGenerator``, latent 64, label
embedding 32, width 32) + codes (``classes * ipc * 64`` floats) + labels, vs pixels (``classes * ipc * C * H * W``
floats) + labels, for 10 classes at 1x28x28 (Fashion-MNIST), and 100 and 1000 classes at 3x32x32 and 3x128x128,
at IPC 1, 10 and 50. Measured: the bytes of the files of a Fashion-MNIST generator artifact (``--artifact``, each
exported to tensors to compare; default: one written with a randomly initialized generator at each IPC).
Records go to benchmarks/results/artifact_size.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generator_loading import make_generator_artifact  # noqa: E402
from records import save, stamp  # noqa: E402

IPCS = (1, 10, 50)
SETTINGS = [(10, (1, 28, 28), "fashion-mnist")] + [
    (k, (3, s, s), f"{k} classes {s}x{s}") for k in (100, 1000) for s in (32, 128)
]
LATENT = 64


def computed(classes: int, shape: tuple[int, int, int], ipc: int) -> tuple[int, int]:
    """(generator artifact bytes, pixel set bytes) of the data tensors, float32 values and int64 labels."""
    from condensed_data.models.generator import ARCHITECTURE, ConditionalGeneratorConfig, parameter_count

    config = ConditionalGeneratorConfig(num_classes=classes, image_shape=shape, latent_dim=LATENT).to_dict()
    n = classes * ipc
    c, h, w = shape
    return 4 * parameter_count(ARCHITECTURE, config) + 4 * n * LATENT + 8 * n, 4 * n * c * h * w + 8 * n


def measured(folder: Path, tmp: Path) -> tuple[int, int, int]:
    """(ipc, generator artifact data bytes, tensors artifact data bytes) from the files on disk."""
    from condensed_data.artifact.folder import read_manifest
    from condensed_data.interop.export import export_tensors

    def data_bytes(m) -> int:
        return sum(e.size for name, e in m.files.items() if name != "preview.png")

    generator = read_manifest(folder)
    tensors = export_tensors(folder, tmp / f"{folder.name}-tensors")
    return generator.images_per_class, data_bytes(generator), data_bytes(tensors)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifact", action="append", default=[], help="Fashion-MNIST DCGM artifact(s) to measure")
    args = p.parse_args()
    records = []

    def record(dataset: str, method: str, ipc: int, metric: str, value: int) -> None:
        records.append(stamp({"benchmark": "artifact_size", "dataset": dataset, "method": method, "ipc": ipc,
                              "metric": metric, "value": value}))  # fmt: skip

    print(f"{'setting':<22} {'ipc':>4} {'generator MB':>13} {'pixels MB':>10} {'ratio':>7}")
    for classes, shape, name in SETTINGS:
        for ipc in IPCS:
            gen, pix = computed(classes, shape, ipc)
            record(name, "dcgm", ipc, "computed_bytes", gen)
            record(name, "pixels", ipc, "computed_bytes", pix)
            print(f"{name:<22} {ipc:>4} {gen / 1e6:>13.3f} {pix / 1e6:>10.3f} {gen / pix:>7.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-size-") as tmp:
        tmp = Path(tmp)
        folders = [Path(a) for a in args.artifact]
        if not folders:
            for ipc in IPCS:
                make_generator_artifact(tmp / f"random-ipc{ipc}", ipc)
                folders.append(tmp / f"random-ipc{ipc}")
        for folder in folders:
            ipc, gen, pix = measured(folder, tmp)
            record("fashion-mnist", "dcgm", ipc, "file_bytes", gen)
            record("fashion-mnist", "pixels", ipc, "file_bytes", pix)
            print(f"files fashion-mnist    {ipc:>4} {gen / 1e6:>13.3f} {pix / 1e6:>10.3f} {gen / pix:>7.2f}")
    print("saved", save("artifact_size", records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
