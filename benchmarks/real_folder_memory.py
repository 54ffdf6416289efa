"""Scale benchmark: condensing an image folder that does not fit in memory, read lazily, beside the in-memory path.

    .venv/bin/python benchmarks/real_folder_memory.py                  # 100 classes x 300 PNGs of 3x128x128
    .venv/bin/python benchmarks/real_folder_memory.py --device cuda    # the condensation on a GPU
    .venv/bin/python benchmarks/real_folder_memory.py --classes 4 --per-class 8 --test-per-class 2 --size 16 \\
        --iterations 2 --subset-classes 2 --eval-epochs 2 --root /tmp/tiny-folder --no-save  # the script runs

The folder (``--root``, default ``$CONDENSED_DATA_HOME/benchmarks/real-folder-<classes>x<per-class>-<size>``) is
generated when absent: smooth random class patterns plus noise, saved as PNG under ``train/`` and ``test/`` (about
1.5 GB at the default size; the float32 tensor of the train split would be 5.9 GB). Each case runs in a fresh
subprocess, so its peak resident memory (``ru_maxrss``) is its own. Every case runs DM at IPC 1 for ``--iterations``
timed iterations (after one warm-up) on ``--net``:

  folder             ``folder:ROOT`` read lazily (ImageFolderSource, no cache, ``--workers`` decoding threads), the
                     next iteration's images read ahead (prefetching, the default for lazy sources); then the set
                     is evaluated (``--eval-epochs``, one model) on the test split, itself read lazily
  folder-no-prefetch the same without reading ahead: the draw's reading and decoding is on the critical path
  cached             the folder with the uint8 cache, every class preloaded: one process holding the whole split
  cached-shard       each of ``--shards`` class-sharded processes, one at a time, each preloading its own classes only
  subset-memory      the first ``--subset-classes`` classes read into memory (from_image_folder), for the speed of
                     the in-memory backend on a subset that fits
  subset-folder      the same classes read lazily (as ``folder``): the two backends side by side

Records (``"benchmark": "real-folder"``, ``"setting": {"source": CASE}`` plus ``"shard"`` for a sharded process; metrics
``seconds_per_iteration``, ``data_wait_share`` (the share of the timed iterations spent blocked on real images) and
``peak_rss_mib``) go to benchmarks/results/real_folder_memory.json unless ``--no-save``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

CASES = ("folder", "folder-no-prefetch", "cached", "cached-shard", "subset-memory", "subset-folder")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(root: Path, *, classes: int, per_class: int, test_per_class: int, size: int) -> None:
    """Write ``classes`` x ``per_class`` (train) and x ``test_per_class`` (test) RGB PNGs of ``size`` x ``size``
    under ``root/<split>/<class>/``, unless already there."""
    import numpy as np
    from PIL import Image

    done = root / ".complete"
    if done.exists():
        return
    rng = np.random.default_rng(0)
    for c in range(classes):
        pattern = rng.normal(0.5, 0.2, (3, 8, 8))
        for split, count in (("train", per_class), ("test", test_per_class)):
            folder = root / split / f"class{c:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                coarse = np.clip(pattern + rng.normal(0, 0.1, pattern.shape), 0, 1)
                image = np.kron(coarse, np.ones((size // 8, size // 8))) + rng.normal(0, 0.05, (3, size, size))
                pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
        print(f"generated class {c + 1}/{classes}", end="\r", flush=True)
    done.write_text("")
    print()


def _condense(real, args: argparse.Namespace, *, shard: tuple[int, int] | None, prefetch: bool | None):
    """DM at IPC 1: (the method, seconds per iteration, share of the time blocked on real images), timed after one
    warm-up iteration."""
    import torch

    from condensed_data.condense.registry import get_method
    from condensed_data.seeding import make_generator

    cls = get_method("dm")
    config = cls.config_class.from_dict({"batch_real": args.batch_real, "net": args.net})
    method = cls(real.to(args.device), ipc=1, config=config, device=args.device, generator=make_generator(0))
    if shard is not None:
        method.shard(*shard)
    if prefetch is not None:
        method.real_batches.prefetch = prefetch
    opt, g = method.make_optimizer(), make_generator(1)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    start = 0.0
    for i in range(args.iterations + 1):
        if i == 1:
            sync()
            start, method.real_batches.waited = time.perf_counter(), 0.0
        loss = method.loss(iteration=i, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync()
    seconds = time.perf_counter() - start
    method.close()
    return method, seconds / args.iterations, method.real_batches.waited / seconds


def _subset(train: Path, classes: int) -> Path:
    """A folder of the first ``classes`` class folders of ``train`` (symbolic links, made once)."""
    subset = train.parent / f"train-first-{classes}"
    if not subset.is_dir():
        staging = train.parent / f".{subset.name}.tmp"
        staging.mkdir(exist_ok=True)
        for name in sorted(p.name for p in train.iterdir() if p.is_dir())[:classes]:
            if not (staging / name).exists():
                (staging / name).symlink_to(train / name, target_is_directory=True)
        staging.rename(subset)
    return subset


def run_case(case: str, args: argparse.Namespace) -> list[dict]:
    from condensed_data.data import ImageFolderSource, from_image_folder, load_dataset

    train = Path(args.root) / "train"
    budget = {"iterations_timed": args.iterations, "batch_real": args.batch_real, "workers": args.workers}
    record = {
        "benchmark": "real-folder",
        "dataset": f"folder {args.classes}x{args.per_class} 3x{args.size}x{args.size}",
    }
    record.update(method="dm", ipc=1, arch=args.net, precision="fp32")
    setting: dict = {"source": case}
    extra: dict = {}
    shard, prefetch = None, None
    if case.startswith("subset"):
        subset = _subset(train, args.subset_classes)
        start = time.perf_counter()
        if case == "subset-memory":
            real = from_image_folder(subset)
        else:
            real = ImageFolderSource(subset, cache="none", workers=args.workers)
        extra["load_seconds"] = round(time.perf_counter() - start, 1)
        budget["classes"] = args.subset_classes
        extra["whole_split_float32_gib"] = round(args.classes * args.per_class * 3 * args.size**2 * 4 / 2**30, 2)
    else:
        cached = case.startswith("cached")
        start = time.perf_counter()
        real = ImageFolderSource(train, cache="all" if cached else "none", workers=args.workers)
        extra["index_seconds"] = round(time.perf_counter() - start, 1)
        if case == "cached-shard":
            shard = (args.rank, args.shards)
            setting.update(shard=args.rank, shards=args.shards)
        if cached:
            from condensed_data.condense.processes import class_block

            start = time.perf_counter()
            real.preload(None if shard is None else list(class_block(real.num_classes, *shard)))
            extra["preload_seconds"] = round(time.perf_counter() - start, 1)
        prefetch = False if case == "folder-no-prefetch" else None
    method, seconds, waiting = _condense(real, args, shard=shard, prefetch=prefetch)
    record["arch"] = method.config.net  # resolved by image size (convnet-d5 at 128 px)
    if case == "folder" and args.eval_epochs:
        from condensed_data.evaluate import EvalConfig, evaluate

        test = load_dataset(f"folder:{args.root}", "test")
        images, labels = method.synthetic()
        config = EvalConfig(arch=method.config.net, epochs=args.eval_epochs, models=1)
        start = time.perf_counter()
        (result,) = evaluate(
            images, labels, test, config=config, device=args.device, normalization=(real.mean, real.std)
        )
        extra.update(eval_seconds=round(time.perf_counter() - start, 1), eval_accuracy=round(result.accuracy_mean, 4))
        budget["eval_epochs"] = args.eval_epochs
    record.update(budget=budget, setting=setting, **extra)
    peak = round(_peak_mib())
    values = {"seconds_per_iteration": round(seconds, 4), "data_wait_share": round(waiting, 4), "peak_rss_mib": peak}
    return [{**record, "metric": metric, "value": value} for metric, value in values.items()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="the image folder (generated when absent)")
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--per-class", type=int, default=300)
    p.add_argument("--test-per-class", type=int, default=20)
    p.add_argument("--size", type=int, default=128, help="image side (a multiple of 8)")
    p.add_argument("--net", default="convnet", help="the matching and evaluation network")
    p.add_argument("--iterations", type=int, default=3, help="timed DM iterations per case")
    p.add_argument("--batch-real", type=int, default=8, help="real images per class per iteration")
    p.add_argument("--workers", type=int, default=2, help="decoding threads of the folder source")
    p.add_argument("--shards", type=int, default=2, help="processes of the cached-shard case")
    p.add_argument("--subset-classes", type=int, default=10, help="classes of the two subset cases")
    p.add_argument("--eval-epochs", type=int, default=10, help="epochs of the folder case's evaluation (0: none)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--case", choices=CASES, action="append", help="run only these cases (repeatable)")
    p.add_argument("--no-save", action="store_true", help="print the records only")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.root is None:
        from condensed_data.data.paths import data_home

        tag = f"real-folder-{args.classes}x{args.per_class}-{args.size}"
        args.root = str(data_home() / "benchmarks" / tag)
    if args.child:
        print(json.dumps(run_case(args.case[0], args)))
        return
    generate(
        Path(args.root),
        classes=args.classes,
        per_class=args.per_class,
        test_per_class=args.test_per_class,
        size=args.size,
    )
    records = []
    forwarded = [a for a in sys.argv[1:] if a != "--no-save"]
    forwarded = [a for i, a in enumerate(forwarded) if a != "--case" and (i == 0 or forwarded[i - 1] != "--case")]
    for case in args.case or CASES:
        for rank in range(args.shards if case == "cached-shard" else 1):
            command = [sys.executable, __file__, *forwarded, "--root", args.root, "--child", "--case", case]
            out = subprocess.run([*command, "--rank", str(rank)], capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"case {case} failed:\n{out.stderr}")
            found = [stamp(r, args.device) for r in json.loads(out.stdout.strip().splitlines()[-1])]
            shown = ", ".join(f"{r['metric']} {r['value']}" for r in found)
            print(f"{case:<18} {f'rank {rank}' if case == 'cached-shard' else '':<7} {shown}", flush=True)
            records.extend(found)
    if not args.no_save:
        print("saved", save("real_folder_memory", records))


if __name__ == "__main__":
    main()
