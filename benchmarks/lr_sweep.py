"""Image learning-rate sweep: condense with each ``lr_img`` on a short budget, evaluate, record.

    .venv/bin/python benchmarks/lr_sweep.py --method echo --lrs 10,30,100,300 --ipc 10 --iterations 300 \
        --batch-real 64 --eval-epochs 150 --eval-models 2

Artifacts go to out/sweep/METHOD-lrLR (``-seedN`` appended for a ``--seed`` other than 0). A folder that already
holds a finished run with the same settings (method configuration, seed and evaluation protocol, read from its
manifest) is recorded as is instead of being condensed again, so the sweep can be split across processes (e.g.
by running the equivalent `condensed-data condense ... --set lr_img=LR --output out/sweep/METHOD-lrLR` commands side
by side) and recorded afterwards. Records go to benchmarks/results/lr_sweep.json, with the seed: a sweep at another
seed adds records.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

from condensed_data.artifact.folder import read_manifest  # noqa: E402
from condensed_data.artifact.manifest import Evaluation  # noqa: E402
from condensed_data.condense.driver import CondenseConfig, condense  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig  # noqa: E402
from condensed_data.runtime import tune_cpu_allocator  # noqa: E402


def _finished(folder: Path, method: str, seed: int, expected: dict, eval_cfg: EvalConfig) -> Evaluation | None:
    """The convnet evaluation stored in ``folder`` if it is a finished run with these settings, else None."""
    if not (folder / "condensed.json").is_file():
        return None
    m = read_manifest(folder)
    config = m.method.config
    if m.method.name != method or m.seed != seed or any(config.get(k) != v for k, v in expected.items()):
        return None
    for e in m.evaluation:
        if (e.subject, e.arch, e.models, e.protocol["epochs"]) == (
            "condensed",
            "convnet",
            eval_cfg.models,
            eval_cfg.epochs,
        ):
            return e
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True)
    p.add_argument("--lrs", required=True, help="comma-separated lr_img values")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--batch-real", type=int, default=64)
    p.add_argument("--eval-epochs", type=int, default=150)
    p.add_argument("--eval-models", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="base seed of every run (recorded; default 0)")
    args = p.parse_args()
    tune_cpu_allocator()
    eval_cfg = EvalConfig(epochs=args.eval_epochs, models=args.eval_models)
    records = []
    for lr in (float(x) for x in args.lrs.split(",")):
        folder = Path("out/sweep") / f"{args.method}-lr{lr:g}{f'-seed{args.seed}' if args.seed else ''}"
        expected = {"lr_img": lr, "batch_real": args.batch_real, "iterations": args.iterations}
        e = _finished(folder, args.method, args.seed, expected, eval_cfg)
        if e is None:
            cfg = CondenseConfig(
                method=args.method,
                dataset=args.dataset,
                ipc=args.ipc,
                iterations=args.iterations,
                seed=args.seed,
                options={"batch_real": args.batch_real, "lr_img": lr},
                eval=eval_cfg,
                checkpoint_every=0,
                baseline=False,
            )
            condense(cfg, folder, overwrite=True, progress=True)
            e = _finished(folder, args.method, args.seed, expected, eval_cfg)
        else:
            print(f"{folder}: a finished run with these settings; recording it")
        budget = {**expected, "eval_epochs": args.eval_epochs}
        records.append(
            stamp(
                {
                    "benchmark": "lr_sweep",
                    "dataset": args.dataset,
                    "method": args.method,
                    "ipc": args.ipc,
                    "arch": "convnet",
                    "accuracy_mean": round(e.accuracy_mean, 4),
                    "accuracy_std": round(e.accuracy_std, 4),
                    "models": e.models,
                    "precision": e.protocol["precision"],
                    "seed": args.seed,
                    "budget": budget,
                }
            )
        )
        print(f"{args.method} lr_img={lr:g}: {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} %")
    print("saved", save("lr_sweep", records))


if __name__ == "__main__":
    main()
