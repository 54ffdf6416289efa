"""Accuracy benchmark: condense with a method, evaluate it and the random-real baseline, record both.

    .venv/bin/python benchmarks/accuracy.py --method dm --ipc 10 --iterations 1000 --batch-real 64 \
        --eval-epochs 300 --eval-models 3

Headline rows come from several condensation seeds: ``--seeds 0,1,2`` condenses (and evaluates) once per seed, one
record per seed, and the accuracy table shows the mean ± std over them. The seed moves the initial images and the
run's random stream; the evaluation networks' seed stays fixed (``CondenseConfig.eval_seed``), so the spread over
seeds is the condensation's. Records go to benchmarks/results/accuracy.json with their seed (``--seeds``, default
0): a run at another seed adds records beside the others. Each artifact goes to out/bench/DATASET-LABEL-ipcIPC
(``-seedN`` appended for a seed other than 0).

Soft labels and DD-Ranking's metrics (records in benchmarks/results/ranking.json, one per set and network, keyed by
the labels kind: soft- and hard-label rows are never mixed, and soft-label runs write nothing to accuracy.json):

    .venv/bin/python benchmarks/accuracy.py --method dm --ipc 10 --iterations 1000 --labels soft --temperature 4 \
        --teacher-epochs 20 --real-epochs 50 --eval-epochs 300 --eval-models 3

``--labels soft`` labels the condensed set (and the random-real baseline's images) with a teacher's tempered
probabilities and records IOR (improvement over random real images trained the same way) and HLR (hard-label
recovery: the whole real train split's hard-label accuracy minus the set's), as fractions; ``--ranking`` records
the same for a hard-label run (beside its accuracy.json records). The full-real run (``--real-epochs``) is cached on
disk, so it is trained once per dataset, protocol and seed. The artifact of a soft-label run goes to
out/bench/DATASET-LABEL-soft-ipcIPC.
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
from condensed_data.data import load_dataset  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig  # noqa: E402
from condensed_data.evaluate.ranking import rank  # noqa: E402
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
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "auto", "bf16"],
        help="the condensation's precision (default fp32, as every record before 2026-12-03); recorded in the budget",
    )
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
    p.add_argument("--labels", default="hard", choices=["hard", "soft"], help="soft: a teacher's probabilities")
    p.add_argument("--temperature", type=float, default=None, help="soft labels: the teacher's temperature (4)")
    p.add_argument("--teacher-arch", default=None, help="soft labels: the teacher's network (convnet)")
    p.add_argument(
        "--teacher-epochs", type=int, default=None, help="soft labels: the teacher's epochs on real data (20)"
    )
    p.add_argument("--ranking", action="store_true", help="also record IOR and HLR (always with --labels soft)")
    p.add_argument("--real-epochs", type=int, default=50, help="IOR/HLR: epochs of the full-real run (cached)")
    args = p.parse_args()
    if args.labels == "hard" and soft_options(args, given=True):
        p.error("--temperature, --teacher-arch and --teacher-epochs describe soft labels: add --labels soft")
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
        records = run(args, options, eval_cfg, seed)
        if records:  # a soft-label run records into ranking.json only
            print("saved", save("accuracy", records))


def run(args: argparse.Namespace, options: dict, eval_cfg: EvalConfig, seed: int) -> list[dict]:
    """Condense and evaluate at one condensation ``seed``; the records of the set and of the baseline."""
    cfg = CondenseConfig(
        method=args.method,
        dataset=args.dataset,
        ipc=args.ipc,
        iterations=args.iterations,
        seed=seed,
        options=options,
        precision=args.precision,
        eval=eval_cfg,
        device=args.device,
        checkpoint_every=0,
        baseline=not args.no_baseline,
        **soft_options(args),
    )
    label = args.label or args.method
    kind = "-soft" if args.labels == "soft" else ""
    out = Path("out/bench") / f"{args.dataset}-{label}{kind}-ipc{args.ipc}{f'-seed{seed}' if seed else ''}"
    train, test = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    start = time.perf_counter()
    result = condense(cfg, out, overwrite=True, progress=True, real=train, test=test)
    seconds = time.perf_counter() - start
    budget = {"iterations": args.iterations, "batch_real": args.batch_real, "eval_epochs": args.eval_epochs}
    if args.options:
        budget["options"] = sorted(args.options)
    if args.precision != "fp32":
        budget["precision"] = args.precision
    if args.labels == "soft" or args.ranking:
        save_ranking(args, cfg, result, train, test, label, budget, seed)
    if args.labels == "soft":
        return []  # soft-label accuracies live in ranking.json only, never beside the hard-label rows
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


def soft_options(args: argparse.Namespace, *, given: bool = False) -> dict:
    """The CondenseConfig options of --labels soft (the teacher options given, with ``given``)."""
    chosen = {k: getattr(args, k) for k in ("temperature", "teacher_arch", "teacher_epochs")}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if given or args.labels != "soft":
        return chosen if given else {}
    return {"labels": "soft", **chosen}


def save_ranking(args, cfg: CondenseConfig, result, train, test, label: str, budget: dict, seed: int) -> None:
    """DD-Ranking's metrics of the condensed set on every evaluated network, into ranking.json."""
    import dataclasses

    from condensed_data.dataset.condensed import CondensedDataset

    images, labels = CondensedDataset(result.folder).tensors()  # as stored: soft (N, K) or hard (N,)
    labeller, budget = None, {**budget, "real_epochs": args.real_epochs}
    if args.labels == "soft":
        import condensed_data.condense.soft_labels as soft

        teacher = soft.teacher_network(train, cfg.teacher, device=args.device)  # the one that labelled the set
        options = {"temperature": cfg.temperature, "mean": train.mean, "std": train.std, "device": args.device}

        def labeller(x):
            return soft.soft_labels(teacher, x, **options)

        budget.update(temperature=cfg.temperature, teacher_arch=cfg.teacher_arch, teacher_epochs=cfg.teacher_epochs)
    records = []
    for e in result.evaluations:
        start = time.perf_counter()
        r = rank(images, labels, train, test, ipc=args.ipc, config=dataclasses.replace(cfg.eval, arch=e.arch),
                 real_epochs=args.real_epochs, seed=cfg.eval_seed, device=args.device, progress=True,
                 normalization=result.manifest.recipe, labeller=labeller, known=result.evaluations + result.baseline)  # fmt: skip
        record = {"benchmark": "ranking", "dataset": args.dataset, "method": label, "ipc": args.ipc, "arch": e.arch,
                  "labels": r.labels, "models": e.models, "precision": e.protocol["precision"], "seed": seed,
                  "budget": budget, "wall_seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        runs = {"accuracy": r.condensed, "random_accuracy": r.random_real, "hard_accuracy": r.condensed_hard,
                "full_real_accuracy": r.full_real}  # fmt: skip
        for name, run in runs.items():
            record[f"{name}_mean"], record[f"{name}_std"] = round(run.accuracy_mean, 4), round(run.accuracy_std, 4)
        record.update(ior=round(r.ior, 4), hlr=round(r.hlr, 4))
        records.append(stamp(record, args.device))
        print(f"{label:<12} ipc={args.ipc} {e.arch} ({r.labels} labels): IOR {r.ior:+.4f}, HLR {r.hlr:+.4f}")
    print("saved", save("ranking", records))


if __name__ == "__main__":
    main()
