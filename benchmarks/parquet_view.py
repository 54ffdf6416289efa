"""What the 8-bit Parquet view loses: accuracy trained on the exact tensors vs on the view's decoded PNG images.

    condensed-data condense --method dm --dataset digits --ipc 10 --iterations 200 --no-eval \
        --output out/bench/digits-dm-ipc10-view
    .venv/bin/python benchmarks/parquet_view.py out/bench/digits-dm-ipc10-view --eval-epochs 150 --eval-models 3

Both trainings use the same protocol, architecture, normalization and seed (the artifact's); the only difference is
the images: ``images.safetensors`` (float32) or ``data/train-*.parquet`` decoded back to the pixel range (8-bit,
clipped to ``value_space.pixel_range``). The record (benchmark ``parquet_view`` in
benchmarks/results/parquet_view.json) holds both accuracies, their difference, and the largest pixel change.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

from condensed_data import CondensedDataset  # noqa: E402
from condensed_data.artifact.view import read_view  # noqa: E402
from condensed_data.data import load_dataset  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig, evaluate  # noqa: E402
from condensed_data.runtime import tune_cpu_allocator  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="artifact folder of kind tensors (with its Parquet view)")
    p.add_argument("--arch", default="convnet")
    p.add_argument("--eval-epochs", type=int, default=300)
    p.add_argument("--eval-models", type=int, default=3)
    p.add_argument("--eval-precision", default="fp32")
    p.add_argument("--results", default=None, help="records folder (default benchmarks/results)")
    args = p.parse_args()
    tune_cpu_allocator()
    if not Path(args.path, "condensed.json").is_file():
        raise SystemExit(
            f"{args.path} is not an artifact: make one first, e.g. `condensed-data condense --method dm --dataset "
            f"digits --ipc 10 --iterations 200 --no-eval --output {args.path}`"
        )
    ds = CondensedDataset(args.path)  # verifies every file, the view included
    m = ds.manifest
    exact_images, exact_labels = ds.tensors()
    view_images, view_labels = read_view(ds.folder, m)
    if not (view_labels.shape == exact_labels.shape and view_images.shape == exact_images.shape):
        raise SystemExit(f"{args.path}: the Parquet view does not match images.safetensors in shape")
    cfg = EvalConfig(epochs=args.eval_epochs, models=args.eval_models, precision=args.eval_precision)
    test = load_dataset(m.source.name, "test")
    start = time.perf_counter()
    results = {}
    for name, images, labels in (("exact", exact_images, exact_labels), ("view", view_images, view_labels)):
        (results[name],) = evaluate(
            images, labels, test, config=cfg, archs=[args.arch], seed=m.seed, progress=False,
            normalization=(m.recipe.mean, m.recipe.std),
        )  # fmt: skip
        e = results[name]
        print(f"{name:<6} {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} % ({e.models} models)")
    seconds = time.perf_counter() - start
    exact, view = results["exact"], results["view"]
    config = m.method.config
    record = {
        "benchmark": "parquet_view",
        "dataset": m.source.name,
        "method": m.method.name,
        "ipc": m.images_per_class,
        "arch": args.arch,
        "metric": "accuracy",
        "precision": cfg.precision,
        "seed": m.seed,
        "budget": {
            "iterations": config.get("iterations"),
            "eval_epochs": cfg.epochs,
            "eval_models": cfg.models,
        },
        "exact_accuracy_mean": round(exact.accuracy_mean, 4),
        "exact_accuracy_std": round(exact.accuracy_std, 4),
        "view_accuracy_mean": round(view.accuracy_mean, 4),
        "view_accuracy_std": round(view.accuracy_std, 4),
        "exact_accuracies": [round(a, 4) for a in exact.accuracies],
        "view_accuracies": [round(a, 4) for a in view.accuracies],
        "loss_points": round(100 * (exact.accuracy_mean - view.accuracy_mean), 2),
        "max_pixel_change": round(float((exact_images - view_images).abs().max()), 4),
        "out_of_range_fraction": round(
            float(
                ((exact_images < m.value_space.pixel_range[0]) | (exact_images > m.value_space.pixel_range[1]))
                .float()
                .mean()
            ),
            4,
        ),
        "wall_seconds": round(seconds, 1),
        "artifact_command": (
            f"condensed-data condense --method {m.method.name} --dataset {m.source.name} --ipc {m.images_per_class}"
            f" --iterations {config.get('iterations')} --seed {m.seed} --no-eval --output {args.path}"
        ),
    }
    print(
        f"8-bit view loses {record['loss_points']:+.2f} points; largest pixel change {record['max_pixel_change']}, "
        f"{100 * record['out_of_range_fraction']:.1f}% of values outside the pixel range (clipped)"
    )
    print("saved", save("parquet_view", [stamp(record)], Path(args.results) if args.results else None))


if __name__ == "__main__":
    main()
