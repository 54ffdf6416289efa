"""Loading benchmark: images/s of streamed webdataset shards vs the in-memory set, and the time to resume mid-epoch.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/loading.py

A synthetic ``tensors`` artifact of 50,000 28x28 grayscale images (10 classes, seeded random pixels) is exported to
npy shards of 5,000 samples; both are read for one shuffled epoch through a DataLoader with batch 256 and 2 workers:

  in-memory    CondensedDataset (map-style, all images in one tensor), DataLoader(shuffle=True)
  webdataset   CondensedIterableDataset(shuffle=True) over the shards (each worker opens only its shards)

The same images as a real training split (a ``RealDataset``) and as class-bucketed real shards
(``write_real_shards``, npy, 5,000 per shard) are read the way condensation and evaluation read them, in one
thread: ``--draws`` draws of 64 random images of every class (``sample_per_class``), and one pass over the split in
batches of 256 (``batches``):

  real-in-memory   RealDataset
  real-shards      ShardedRealSource over the shards (index read and shards verified once, before timing)

Resume: a ``stateful_loader`` is iterated to half an epoch, its ``state_dict()`` taken, a new loader built from a new
dataset object, ``load_state_dict()`` called, and the time to its first batch measured (for both paths). The one-off
costs (sha256 of every file when a dataset is opened, the export) are recorded too. Records go to
benchmarks/results/loading.json.
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

IMAGES, CLASSES, SHAPE, SHARD_SIZE, BATCH, WORKERS = 50_000, 10, (1, 28, 28), 5_000, 256, 2
DATASET = "synthetic-50k-28x28"


def make_set(folder: Path) -> None:
    from condensed_data.artifact.folder import save_artifact
    from condensed_data.artifact.manifest import Manifest, MethodSpec, Recipe, SourceInfo
    from condensed_data.seeding import make_generator
    from condensed_data.sources.tensors import save_tensors

    g = make_generator(0)
    images = torch.rand((IMAGES, *SHAPE), generator=g)
    labels = torch.arange(CLASSES).repeat_interleave(IMAGES // CLASSES)
    manifest = Manifest(
        kind="tensors",
        method=MethodSpec(name="synthetic"),
        source=SourceInfo(name=DATASET, split="train", num_samples=IMAGES, fingerprint="sha256:" + "0" * 64),
        classes=tuple(str(i) for i in range(CLASSES)),
        images_per_class=IMAGES // CLASSES,
        image_shape=SHAPE,
        recipe=Recipe(mean=(0.5,), std=(0.25,)),
        seed=0,
    )
    save_artifact(folder, manifest, lambda tmp: save_tensors(tmp, images, labels))


def epoch_rate(loader) -> float:
    start, n = time.perf_counter(), 0
    for images, _ in loader:
        n += images.shape[0]
    assert n == IMAGES, n
    return n / (time.perf_counter() - start)


def resume_seconds(make) -> float:
    """Seconds from a new loader + load_state_dict (state taken at half an epoch) to its first batch."""
    loader = make()
    for i, _ in enumerate(loader):
        if i + 1 == IMAGES // BATCH // 2:
            break
    state = loader.state_dict()
    del loader
    start = time.perf_counter()
    resumed = make()
    resumed.load_state_dict(state)
    next(iter(resumed))
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", type=int, default=50, help="timed draws of the real-data cases")
    draws = p.parse_args().draws
    from condensed_data import CondensedDataset, CondensedIterableDataset
    from condensed_data.dataset.resumable import stateful_loader
    from condensed_data.interop.export import export_webdataset

    torch.set_num_threads(1)
    budget = {"images": IMAGES, "batch_size": BATCH, "workers": WORKERS, "shard_size": SHARD_SIZE, "format": "npy"}
    base = {"benchmark": "loading", "dataset": DATASET, "budget": budget}
    records = []

    def record(method: str, metric: str, value: float) -> None:
        r = stamp(
            {**base, "method": method, "metric": metric, "value": round(value) if value >= 100 else round(value, 3)}
        )
        print(f"{method:<11} {metric:<28} {r['value']}", flush=True)
        records.append(r)

    with tempfile.TemporaryDirectory(prefix="bench-loading-") as tmp:
        tensors, shards = Path(tmp) / "tensors", Path(tmp) / "shards"
        make_set(tensors)
        start = time.perf_counter()
        export_webdataset(tensors, shards, shard_size=SHARD_SIZE)
        record("webdataset", "export_seconds", time.perf_counter() - start)

        start = time.perf_counter()
        memory = CondensedDataset(tensors)
        record("in-memory", "open_seconds", time.perf_counter() - start)
        start = time.perf_counter()
        stream = CondensedIterableDataset(shards, shuffle=True, seed=0)
        record("webdataset", "open_seconds", time.perf_counter() - start)

        loader = torch.utils.data.DataLoader(memory, batch_size=BATCH, shuffle=True, num_workers=WORKERS)
        record("in-memory", "images_per_second", epoch_rate(loader))
        loader = torch.utils.data.DataLoader(stream, batch_size=BATCH, num_workers=WORKERS)
        record("webdataset", "images_per_second", epoch_rate(loader))

        def make_memory():
            return stateful_loader(CondensedDataset(tensors, verify=False), batch_size=BATCH, shuffle=True, seed=0,
                                   num_workers=WORKERS)  # fmt: skip

        def make_stream():
            ds = CondensedIterableDataset(shards, shuffle=True, seed=0, verify=False)
            return stateful_loader(ds, batch_size=BATCH, num_workers=WORKERS)

        record("in-memory", "seconds_to_resume", resume_seconds(make_memory))
        record("webdataset", "seconds_to_resume", resume_seconds(make_stream))

        from condensed_data.data import RealDataset, ShardedRealSource, write_real_shards

        images, labels = memory.tensors()
        real = RealDataset(images, labels, classes=list(memory.classes), name=DATASET, split="train")
        start = time.perf_counter()
        write_real_shards(real, Path(tmp) / "real-shards", shard_size=SHARD_SIZE)
        record("real-shards", "export_seconds", time.perf_counter() - start)
        sharded = ShardedRealSource(Path(tmp) / "real-shards")
        sharded.sample_per_class(1, generator=torch.Generator().manual_seed(0))  # verify the shards once
        for method, source in (("real-in-memory", real), ("real-shards", sharded)):
            g = torch.Generator().manual_seed(0)
            start = time.perf_counter()
            for _ in range(draws):
                source.sample_per_class(64, generator=g)
            record(method, "draw_images_per_second", draws * 64 * CLASSES / (time.perf_counter() - start))
            start = time.perf_counter()
            n = sum(len(y) for _, y in source.batches(BATCH))
            record(method, "pass_images_per_second", n / (time.perf_counter() - start))
    print("saved", save("loading", records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
