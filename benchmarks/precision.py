"""Does bf16 autocast change evaluation accuracy? Evaluate one artifact with both precisions, same seeds.

    .venv/bin/python benchmarks/precision.py out/bench/fashion-mnist-dm-ipc10 --eval-epochs 300 --eval-models 3

Records (one per precision) go to benchmarks/results/precision.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

from condensed_data import CondensedDataset  # noqa: E402
from condensed_data.data import load_dataset  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig, evaluate  # noqa: E402
from condensed_data.runtime import tune_cpu_allocator  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path")
    p.add_argument("--eval-epochs", type=int, default=300)
    p.add_argument("--eval-models", type=int, default=3)
    args = p.parse_args()
    tune_cpu_allocator()
    ds = CondensedDataset(args.path)
    m = ds.manifest
    test = load_dataset(m.source.name, "test")
    images, labels = ds.tensors()
    records = []
    for precision in ("fp32", "bf16"):
        cfg = EvalConfig(epochs=args.eval_epochs, models=args.eval_models, precision=precision)
        [e] = evaluate(images, labels, test, config=cfg, seed=0, progress=True, normalization=m.recipe)
        records.append(
            stamp(
                {
                    "benchmark": "precision",
                    "dataset": m.source.name,
                    "method": m.method.name,
                    "ipc": m.images_per_class,
                    "arch": e.arch,
                    "precision": precision,
                    "accuracy_mean": round(e.accuracy_mean, 4),
                    "accuracy_std": round(e.accuracy_std, 4),
                    "models": e.models,
                    "budget": {"eval_epochs": args.eval_epochs},
                }
            )
        )
        print(f"{precision}: {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} %", flush=True)
    print("saved", save("precision", records))


if __name__ == "__main__":
    main()
