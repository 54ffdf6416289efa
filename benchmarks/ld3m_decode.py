"""Decode cost (and, optionally, accuracy) of an LD3M set at several DDIM step counts chosen at load time.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/ld3m_decode.py out/bench/fashion-mnist-ld3m-ipc10 --steps 2,5,10
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ld3m_decode.py out/bench/fashion-mnist-ld3m-ipc10 --steps 2,5 \
        --eval-epochs 300 --eval-models 3 --no-timing

For each step count ``S``: ``CondensedDataset(path, steps=S)`` (the model loads in the constructor, outside the
timing), then

  decode      the whole set decoded in this process (``tensors()``, blocks of 64; the median of three fresh datasets,
              after a warm-up): images/s and ms per image
  loader      one cold epoch through ``DataLoader(batch_size=64, num_workers=2)`` (each worker loads the model and
              decodes its blocks; worker start-up included): images/s

and, with ``--eval-epochs``, the decoded set's test accuracy under the evaluation protocol (the same seeds for
every ``S``). The set was condensed with its stored step count; fewer steps at load time trade quality for speed.
Timings go to benchmarks/results/ld3m_decode.json; accuracies to benchmarks/results/accuracy.json as method
``ld3m-decoded-S-steps`` (``--no-timing`` skips the timings, e.g. when the machine is busy).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import artifact_accuracy, save, stamp  # noqa: E402

from condensed_data import CondensedDataset  # noqa: E402
from condensed_data.data import load_dataset  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig, evaluate  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="an artifact of kind latent-diffusion")
    p.add_argument("--steps", default="2,5,10", help="comma-separated step counts")
    p.add_argument("--eval-epochs", type=int, default=0, help="also evaluate each decoded set (0: no)")
    p.add_argument("--eval-models", type=int, default=3)
    p.add_argument("--label", default=None, help="the records' set name (default: the artifact folder's name)")
    p.add_argument("--no-timing", action="store_true", help="only evaluate (timings need an otherwise idle machine)")
    args = p.parse_args()
    label = args.label or Path(args.path).name
    records, accuracy = [], []
    for steps in [int(s) for s in args.steps.split(",")]:
        CondensedDataset(args.path, steps=steps)[0]  # warm-up: first-call costs are not decoding
        times = []
        for _ in range(3):  # the median of three fresh datasets (empty caches)
            ds = CondensedDataset(args.path, steps=steps)
            start = time.perf_counter()
            images, labels = ds.tensors()
            times.append(time.perf_counter() - start)
        decode = sorted(times)[1]
        m = ds.manifest
        n = len(ds)
        if not args.no_timing:
            loader_ds = CondensedDataset(args.path, steps=steps)
            start = time.perf_counter()
            seen = sum(x.shape[0] for x, _ in torch.utils.data.DataLoader(loader_ds, batch_size=64, num_workers=2))
            loader = time.perf_counter() - start
            row = {
                "benchmark": "ld3m_decode",
                "dataset": m.source.name,
                "method": label,
                "ipc": m.images_per_class,
                "steps": steps,
                "condensed_steps": ds.source.stored_steps,
                "images": n,
                "threads": torch.get_num_threads(),
                "decode_images_per_second": round(n / decode, 1),
                "decode_ms_per_image": round(1000 * decode / n, 2),
                "loader_images_per_second": round(seen / loader, 1),
            }
            records.append(stamp(row))
            print(
                f"{label} steps={steps}: decode {row['decode_images_per_second']} img/s "
                f"({row['decode_ms_per_image']} ms/img), loader {row['loader_images_per_second']} img/s"
            )
        if args.eval_epochs:
            test = load_dataset(m.source.name, "test")
            cfg = EvalConfig(epochs=args.eval_epochs, models=args.eval_models)
            start = time.perf_counter()
            e = evaluate(images, labels, test, config=cfg, seed=m.seed, normalization=m.recipe)[0]
            record = artifact_accuracy(
                m,
                e,
                method=f"ld3m-decoded-{steps}-steps",
                eval_epochs=cfg.epochs,
                seconds=time.perf_counter() - start,
                decode_steps=steps,
            )
            accuracy.append(record)
            print(f"{record['method']} ipc={record['ipc']}: {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} %")
    if records:
        print("saved", save("ld3m_decode", records))
    if accuracy:
        print("saved", save("accuracy", accuracy))


if __name__ == "__main__":
    main()
