"""Generator-backed vs tensor-backed loading inside the same training loop (DCGM's loader-cost figure).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generator_loading.py [--artifact out/bench/fashion-mnist-dcgm-ipc50]

A generator artifact of Fashion-MNIST's shape (10 classes, 1x28x28) is either given (``--artifact``, e.g. a DCGM
run) or made with a randomly initialized generator of the default architecture (the cost per image is the
architecture's, not the weights'). Three sets of ``--images`` images each are read for ``--epochs`` shuffled epochs by
``DataLoader(batch_size=256, num_workers=2)`` while a ConvNet-3 takes one SGD step per batch:

  tensors           the fresh-mode set of epoch 0 exported to a tensors artifact (stored pixels)
  generator-fresh   CondensedDataset(mode="fresh", samples_per_class=images/10): a new set every epoch
  generator-fixed   the stored codes, repeated (``ConcatDataset``) to the same number of images per epoch

Recorded per variant: images/s of the whole loop (loading + training step) and the slowdown vs tensors.
Records go to benchmarks/results/generator_loading.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

CLASSES, SHAPE, BATCH, WORKERS = 10, (1, 28, 28), 256, 2


def make_generator_artifact(folder: Path, ipc: int) -> None:
    from condensed_data.artifact.folder import save_artifact
    from condensed_data.artifact.manifest import Manifest, MethodSpec, Recipe, SourceInfo
    from condensed_data.models.generator import (
        ConditionalGenerator,
        ConditionalGeneratorConfig,
        save_codes,
        save_generator,
    )
    from condensed_data.nn.init import build
    from condensed_data.seeding import make_generator

    g = make_generator(0)
    config = ConditionalGeneratorConfig(num_classes=CLASSES, image_shape=SHAPE)
    net = build(lambda: ConditionalGenerator(config), generator=g)
    codes = torch.randn((CLASSES * ipc, config.latent_dim), generator=g)
    labels = torch.arange(CLASSES).repeat_interleave(ipc)

    def write(tmp: Path) -> None:
        save_generator(tmp / "generator", net)
        save_codes(tmp / "generator", codes, labels)

    manifest = Manifest(
        kind="generator",
        method=MethodSpec(name="dcgm"),
        source=SourceInfo(name="fashion-mnist", split="train", num_samples=60000, fingerprint="sha256:" + "0" * 64),
        classes=tuple(str(i) for i in range(CLASSES)),
        images_per_class=ipc,
        image_shape=SHAPE,
        recipe=Recipe(mean=(0.2860,), std=(0.3530,)),
        seed=0,
    )
    save_artifact(folder, manifest, write)


def train_epochs(dataset, epochs: int) -> float:
    """Images/s of ``epochs`` shuffled epochs, each batch taking one SGD step of a ConvNet-3."""
    from condensed_data.nn import get_network
    from condensed_data.seeding import make_generator

    net = get_network("convnet", channels=1, num_classes=CLASSES, image_size=SHAPE[1:], generator=make_generator(0))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=BATCH, shuffle=True, num_workers=WORKERS, generator=make_generator(1)
    )
    n, start = 0, time.perf_counter()
    for epoch in range(epochs):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(net((images - 0.2860) / 0.3530), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += images.shape[0]
    return n / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifact", default=None, help="a generator artifact (default: a random one of the same shape)")
    p.add_argument("--images", type=int, default=10_000, help="images per epoch (default 10,000)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per variant (default 2)")
    p.add_argument("--ipc", type=int, default=50, help="stored codes per class of the made-up artifact")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the training loop (default 1)")
    args = p.parse_args()
    from condensed_data import CondensedDataset
    from condensed_data.interop.export import export_tensors

    torch.set_num_threads(args.threads)
    per_class = args.images // CLASSES
    budget = {"images": per_class * CLASSES, "epochs": args.epochs, "batch_size": BATCH, "workers": WORKERS}
    base = {"benchmark": "generator_loading", "dataset": "fashion-mnist", "arch": "convnet", "budget": budget}
    records, rates = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-genload-") as tmp:
        artifact = Path(args.artifact) if args.artifact else Path(tmp) / "generator"
        if not args.artifact:
            make_generator_artifact(artifact, args.ipc)
        fresh = CondensedDataset(artifact, mode="fresh", samples_per_class=per_class)
        export_tensors(fresh, Path(tmp) / "tensors")
        fixed = CondensedDataset(artifact)
        repeats = max(1, round(per_class * CLASSES / len(fixed)))
        variants = {
            "tensors": CondensedDataset(Path(tmp) / "tensors"),
            "generator-fresh": CondensedDataset(artifact, mode="fresh", samples_per_class=per_class),
            "generator-fixed": torch.utils.data.ConcatDataset([fixed] * repeats),
        }
        for name, dataset in variants.items():
            rates[name] = train_epochs(dataset, args.epochs)
            records.append(stamp({**base, "method": name, "metric": "images_per_second", "value": round(rates[name])}))
            print(f"{name:<16} {rates[name]:8.0f} images/s (loading + ConvNet-3 step)", flush=True)
    for name in ("generator-fresh", "generator-fixed"):
        slowdown = rates["tensors"] / rates[name] - 1
        records.append(stamp({**base, "method": name, "metric": "slowdown_vs_tensors", "value": round(slowdown, 3)}))
        print(f"{name:<16} {100 * slowdown:+.1f}% time per epoch vs tensors")
    print("saved", save("generator_loading", records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
