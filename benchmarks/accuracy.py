"""Accuracy benchmark: condense with a method, evaluate it and the random-real baseline, record both.

    .venv/bin/python benchmarks/accuracy.py --method dm --ipc 10 --iterations 1000 --batch-real 64 \
        --eval-epochs 300 --eval-models 3

Headline rows come from several condensation seeds: ``--seeds 0,1,2`` condenses (and evaluates) once per seed, one
record per seed, and the accuracy table shows the mean ± std over them. The seed moves the initial images and the
run's random stream; the evaluation networks' seed stays fixed (``CondenseConfig.eval_seed``), so the spread over
seeds is the condensation's. Records go to benchmarks/results/accuracy.json with their seed (``--seeds``, default
0): a run at another seed adds records beside the others. Each artifact goes to out/bench/DATASET-LABEL-ipcIPC
(``-seedN`` appended for a seed other than 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

from condensed_data.condense.driver import CondenseConfig, condense  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig  # noqa: E402
from condensed_data.runtime import tune_cpu_allocator  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="dm")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--ipc", type=int, required=True)
    p.add_argument("--iterations", type=int, required=True)
    p.add_argument("--batch-real", type=int, default=256)
    p.add_argument("--eval-epochs", type=int, default=1000)
    p.add_argument("--eval-models", type=int, default=3)
    p.add_argument("--eval-precision", default="auto")
    p.add_argument("--arch", default="convnet")
    p.add_argument("--seeds", default="0", help="comma-separated condensation seeds, one run each (default 0)")
    p.add_argument("--seed", type=int, default=None, help="one condensation seed (the same as --seeds N)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-baseline", action="store_true", help="skip random-real (it depends only on ipc and eval)")
    p.add_argument(
        "--set",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method option (JSON value), e.g. --set prior=out/priors/fashion-mnist-gan --set lambda_intra=0",
    )
    p.add_argument("--label", default=None, help="the records' method name (default --method), e.g. dcgm-no-intra")
    args = p.parse_args()
    options = {"batch_real": args.batch_real}
    for pair in args.options:
        key, _, raw = pair.partition("=")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    tune_cpu_allocator()
    eval_cfg = EvalConfig(
        arch=args.arch, epochs=args.eval_epochs, models=args.eval_models, precision=args.eval_precision
    )
    seeds = [args.seed] if args.seed is not None else [int(x) for x in args.seeds.split(",")]
    for seed in seeds:
        print("saved", save("accuracy", run(args, options, eval_cfg, seed)))


def run(args: argparse.Namespace, options: dict, eval_cfg: EvalConfig, seed: int) -> list[dict]:
    """Condense and evaluate at one condensation ``seed``; the records of the set and of the baseline."""
    cfg = CondenseConfig(
        method=args.method,
        dataset=args.dataset,
        ipc=args.ipc,
        iterations=args.iterations,
        seed=seed,
        options=options,
        eval=eval_cfg,
        device=args.device,
        checkpoint_every=0,
        baseline=not args.no_baseline,
    )
    label = args.label or args.method
    out = Path("out/bench") / f"{args.dataset}-{label}-ipc{args.ipc}{f'-seed{seed}' if seed else ''}"
    start = time.perf_counter()
    result = condense(cfg, out, overwrite=True, progress=True)
    seconds = time.perf_counter() - start
    budget = {"iterations": args.iterations, "batch_real": args.batch_real, "eval_epochs": args.eval_epochs}
    if args.options:
        budget["options"] = sorted(args.options)
    records = []
    for e in result.evaluations + result.baseline:
        records.append(
            stamp(
                {
                    "benchmark": "accuracy",
                    "dataset": args.dataset,
                    "method": label if e.subject == "condensed" else "random-real",
                    "ipc": args.ipc,
                    "arch": e.arch,
                    "accuracy_mean": round(e.accuracy_mean, 4),
                    "accuracy_std": round(e.accuracy_std, 4),
                    "models": e.models,
                    "precision": e.protocol["precision"],
                    "seed": seed,
                    # The baseline does not depend on the condensation budget, only on the evaluation.
                    "budget": budget if e.subject == "condensed" else {"eval_epochs": args.eval_epochs},
                    "wall_seconds": round(seconds, 1),
                },
                args.device,
            )
        )
        print(
            f"{records[-1]['method']:<12} ipc={args.ipc} {e.arch}: {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} %"
        )
    return records


if __name__ == "__main__":
    main()
