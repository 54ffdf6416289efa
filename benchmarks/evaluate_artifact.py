"""Evaluate saved artifacts on one or more architectures and record the accuracies (cross-architecture figures).

    .venv/bin/python benchmarks/evaluate_artifact.py out/bench/fashion-mnist-atom-ipc10 \
        --archs resnet18,vgg11,alexnet,mlp --eval-epochs 300 --eval-models 3

Records go to benchmarks/results/accuracy.json with the artifact's own condensation budget (iterations and
batch_real from its manifest), so they sit beside the records benchmarks/accuracy.py wrote for the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import artifact_accuracy, save  # noqa: E402

from condensed_data import CondensedDataset  # noqa: E402
from condensed_data.data import load_dataset  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig, evaluate  # noqa: E402
from condensed_data.runtime import tune_cpu_allocator  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="artifact folders")
    p.add_argument("--archs", default="resnet18,vgg11,alexnet,mlp", help="comma-separated architectures")
    p.add_argument("--eval-epochs", type=int, default=300)
    p.add_argument("--eval-models", type=int, default=3)
    p.add_argument("--eval-precision", default="auto")
    args = p.parse_args()
    tune_cpu_allocator()
    archs = [a.strip() for a in args.archs.split(",") if a.strip()]
    cfg = EvalConfig(epochs=args.eval_epochs, models=args.eval_models, precision=args.eval_precision)
    for path in args.paths:
        ds = CondensedDataset(path)
        m = ds.manifest
        if m.label_kind == "soft":  # accuracy.json holds hard-label rows only; soft ones go to ranking.json
            p.error(f"{path} has soft labels: use benchmarks/accuracy.py --labels soft (records in ranking.json)")
        test = load_dataset(m.source.name, "test")
        images, labels = ds.tensors()
        start = time.perf_counter()
        results = evaluate(
            images, labels, test, config=cfg, archs=archs, seed=m.seed, progress=True,
            normalization=m.recipe,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        records = [
            artifact_accuracy(m, e, method=m.method.name, eval_epochs=cfg.epochs, seconds=seconds) for e in results
        ]
        for r in records:
            print(
                f"{r['method']:<8} ipc={r['ipc']} {r['arch']:<10} {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} %"
            )
        print("saved", save("accuracy", records))


if __name__ == "__main__":
    main()
