"""Memory benchmark: condensing an image folder that does not fit in memory, read lazily, beside the in-memory path.

    .venv/bin/python benchmarks/real_folder_memory.py                  # 100 classes x 300 PNGs of 3x128x128
    .venv/bin/python benchmarks/real_folder_memory.py --device cuda    # the condensation on a GPU
    .venv/bin/python benchmarks/real_folder_memory.py --classes 3 --per-class 8 --size 16 --iterations 2 \\
        --memory-classes 2 --root /tmp/tiny-folder --no-save          # a check that the script runs

The folder (``--root``, default ``$CONDENSED_DATA_HOME/benchmarks/real-folder-<classes>x<per-class>-<size>``) is
generated when absent: smooth random class patterns plus noise, saved as PNG (about 1.5 GB at the default size;
the float32 tensor of the whole split would be 5.9 GB). Each case runs in a fresh subprocess, so its peak resident
memory (``ru_maxrss``) is its own:

  folder          DM, IPC 1, on ``folder:ROOT`` (ImageFolderSource, cache "none", ``--workers`` decoding threads):
                  the index and statistics pass (cached afterwards; timed apart), then ``--iterations`` iterations
  folder-shard    the same as one process of ``--shards`` class-sharded processes (reads only its classes)
  memory          DM, IPC 1, on the first ``--memory-classes`` classes read into memory (from_image_folder), with
                  the peak of the whole split extrapolated from it (the whole split does not fit: that is the point)

Two records per case (``"benchmark": "memory"``, ``"setting": {"source": CASE}``, metrics ``seconds_per_iteration``
and ``peak_rss_mib``) go to
benchmarks/results/real_folder_memory.json unless ``--no-save``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

CASES = ("folder", "folder-shard", "memory")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(root: Path, *, classes: int, per_class: int, size: int) -> None:
    """Write ``classes`` x ``per_class`` RGB PNGs of ``size`` x ``size`` under ``root/train/<class>/`` (if absent)."""
    import numpy as np
    from PIL import Image

    done = root / "train" / ".complete"
    if done.exists():
        return
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / "train" / f"class{c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        pattern = rng.normal(0.5, 0.2, (3, 8, 8))
        for i in range(per_class):
            coarse = np.clip(pattern + rng.normal(0, 0.1, pattern.shape), 0, 1)
            image = np.kron(coarse, np.ones((size // 8, size // 8))) + rng.normal(0, 0.05, (3, size, size))
            pixels = (np.clip(image, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
            Image.fromarray(pixels).save(folder / f"{i:04d}.png")
        print(f"generated class {c + 1}/{classes}", end="\r", flush=True)
    done.write_text("")
    print()


def _condense(real, *, iterations: int, batch_real: int, device: str, shards: int) -> float:
    """Seconds per DM iteration (IPC 1) after one warm-up iteration."""
    import torch

    from condensed_data.condense.registry import get_method
    from condensed_data.seeding import make_generator

    cls = get_method("dm")
    config = cls.config_class.from_dict({"batch_real": batch_real})
    method = cls(real.to(device), ipc=1, config=config, device=device, generator=make_generator(0))
    if shards > 1:
        method.shard(0, shards)
    opt, g = method.make_optimizer(), make_generator(1)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    start = 0.0
    for i in range(iterations + 1):
        if i == 1:
            sync()
            start = time.perf_counter()
        loss = method.loss(iteration=i, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync()
    return (time.perf_counter() - start) / iterations


def run_case(case: str, args: argparse.Namespace) -> list[dict]:
    from condensed_data.data import ImageFolderSource, from_image_folder

    train = Path(args.root) / "train"
    budget = {"iterations_timed": args.iterations, "batch_real": args.batch_real, "workers": args.workers}
    record = {"benchmark": "memory", "dataset": f"folder {args.classes}x{args.per_class} 3x{args.size}x{args.size}"}
    record.update(method="dm", ipc=1, arch="convnet", precision="fp32")
    if case == "memory":
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:  # a folder of the first classes only
            for name in sorted(p.name for p in train.iterdir() if p.is_dir())[: args.memory_classes]:
                shutil.copytree(train / name, Path(tmp) / name)
            start = time.perf_counter()
            real = from_image_folder(tmp)
            load_seconds = time.perf_counter() - start
        seconds = _condense(real, iterations=args.iterations, batch_real=args.batch_real, device=args.device, shards=1)
        split_gib = args.classes * args.per_class * 3 * args.size**2 * 4 / 2**30
        record.update(budget={**budget, "classes_in_memory": args.memory_classes})
        record.update(load_seconds=round(load_seconds, 1), whole_split_float32_gib=round(split_gib, 2))
    else:
        start = time.perf_counter()
        real = ImageFolderSource(train, cache="none", workers=args.workers)
        load_seconds = time.perf_counter() - start
        shards = args.shards if case == "folder-shard" else 1
        seconds = _condense(
            real, iterations=args.iterations, batch_real=args.batch_real, device=args.device, shards=shards
        )
        record.update(budget={**budget, "shards": shards}, index_seconds=round(load_seconds, 1))
    record["setting"] = {"source": case}
    peak = round(_peak_mib())
    return [
        {**record, "metric": "seconds_per_iteration", "value": round(seconds, 4), "peak_rss_mib": peak},
        {**record, "metric": "peak_rss_mib", "value": peak},
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="the image folder (generated when absent)")
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--per-class", type=int, default=300)
    p.add_argument("--size", type=int, default=128, help="image side (a multiple of 8)")
    p.add_argument("--iterations", type=int, default=5, help="timed DM iterations per case")
    p.add_argument("--batch-real", type=int, default=64, help="real images per class per iteration")
    p.add_argument("--workers", type=int, default=4, help="decoding threads of the folder source")
    p.add_argument("--shards", type=int, default=4, help="processes of the folder-shard case")
    p.add_argument("--memory-classes", type=int, default=10, help="classes the in-memory case reads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--case", choices=CASES, action="append", help="run only these cases (repeatable)")
    p.add_argument("--no-save", action="store_true", help="print the records only")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.root is None:
        from condensed_data.data.paths import data_home

        tag = f"real-folder-{args.classes}x{args.per_class}-{args.size}"
        args.root = str(data_home() / "benchmarks" / tag)
    if args.child:
        print(json.dumps(run_case(args.case[0], args)))
        return
    generate(Path(args.root), classes=args.classes, per_class=args.per_class, size=args.size)
    records = []
    forwarded = [a for a in sys.argv[1:] if a != "--no-save"]
    forwarded = [a for i, a in enumerate(forwarded) if a != "--case" and (i == 0 or forwarded[i - 1] != "--case")]
    for case in args.case or CASES:
        command = [sys.executable, __file__, *forwarded, "--root", args.root, "--child", "--case", case]
        out = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ})
        if out.returncode != 0:
            raise SystemExit(f"case {case} failed:\n{out.stderr}")
        found = [stamp(r, args.device) for r in json.loads(out.stdout.strip().splitlines()[-1])]
        print(f"{case:<13} {found[0]['value']} s/iteration, peak RSS {found[0]['peak_rss_mib']} MiB", flush=True)
        records.extend(found)
    if not args.no_save:
        print("saved", save("real_folder_memory", records))


if __name__ == "__main__":
    main()
