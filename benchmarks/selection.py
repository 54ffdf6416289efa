"""Hyperparameter selection on a validation split: sweep one option of a method, never looking at the test set.

    .venv/bin/python benchmarks/selection.py --method echo --option lr_img --values 10,30,100,300 --ipc 10 \
        --validation 1000 --seeds 0,1,2 --iterations 300 --batch-real 64 --eval-epochs 150 --eval-models 2

For every value and seed, the method condenses the train split minus ``--validation`` images per class (the same
held-out images for every run: ``CondenseConfig.validation``) with ``--set OPTION=VALUE`` and the fixed ``--set``
options, and the set is scored on the held-out images. ``--option`` is any method option ``--set`` takes, dotted for
a group (``lr_img``, ``objective_options.power``, ``lambda_intra``, ``factor``, ...); values are JSON (``4``,
``0.5``, ``true``, ``"linear"``) or plain text.

Records go to benchmarks/results/selection.json, one per (value, seed), each with ``"setting"`` (``{OPTION: VALUE}``)
and ``"scored_on": "validation"``; the docs' selection table shows every value's mean over seeds and marks the chosen
one (the highest mean). Artifacts go to out/selection/METHOD-OPTION-VALUE-seedS; a folder that already holds a finished
run with the same settings is recorded as is instead of being condensed again, so the runs of a sweep can be split
across processes (one invocation per value or per seed) and the sweep recorded afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

from condensed_data.artifact.folder import read_manifest  # noqa: E402
from condensed_data.artifact.manifest import Evaluation  # noqa: E402
from condensed_data.condense.driver import CondenseConfig, condense  # noqa: E402
from condensed_data.evaluate.protocol import EvalConfig  # noqa: E402
from condensed_data.runtime import tune_cpu_allocator  # noqa: E402


def parse_value(text: str) -> object:
    """A ``--values`` entry or a ``--set`` value: JSON if it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def nested(pairs: list[tuple[str, object]]) -> dict:
    """Method options from ``(key, value)`` pairs; a dotted key ``a.b`` sets ``options["a"]["b"]``."""
    options: dict = {}
    for key, value in pairs:
        *parents, leaf = key.split(".")
        target = options
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return options


def _lookup(config: dict, key: str) -> object:
    for part in key.split("."):
        if not isinstance(config, dict) or part not in config:
            return None
        config = config[part]
    return config


def _finished(folder: Path, method: str, seed: int, pairs: list[tuple[str, object]], validation, eval_cfg):
    """The convnet evaluation stored in ``folder`` if it is a finished run with these settings, else None."""
    if not (folder / "condensed.json").is_file():
        return None
    m = read_manifest(folder)
    held = m.source.validation
    if m.method.name != method or m.seed != seed or held is None or held.per_class != validation:
        return None
    if any(_lookup(m.method.config, key) != value for key, value in pairs):
        return None
    for e in m.evaluation:
        if (e.subject, e.arch, e.models, e.protocol["epochs"]) == ("condensed", "convnet", eval_cfg.models,
                                                                   eval_cfg.epochs):  # fmt: skip
            return e
    return None


def record(args: argparse.Namespace, value: object, seed: int, e: Evaluation) -> dict:
    budget = {"iterations": args.iterations, "batch_real": args.batch_real, "eval_epochs": args.eval_epochs,
              "validation": args.validation}  # fmt: skip
    if args.options:
        budget["options"] = sorted(args.options)
    return stamp(
        {
            "benchmark": "selection",
            "dataset": args.dataset,
            "method": args.method,
            "ipc": args.ipc,
            "arch": "convnet",
            "setting": {args.option: value},
            "scored_on": "validation",
            "accuracy_mean": round(e.accuracy_mean, 4),
            "accuracy_std": round(e.accuracy_std, 4),
            "models": e.models,
            "precision": e.protocol["precision"],
            "seed": seed,
            "budget": budget,
        },
        args.device,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True)
    p.add_argument("--option", required=True, help="the method option swept, e.g. lr_img or objective_options.power")
    p.add_argument("--values", required=True, help="comma-separated values of --option (JSON or text)")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--ipc", type=int, default=10)
    p.add_argument("--validation", type=int, default=1000, help="images per class held out to score on")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated condensation seeds (default 0,1,2)")
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--batch-real", type=int, default=64)
    p.add_argument("--eval-epochs", type=int, default=150)
    p.add_argument("--eval-models", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="a fixed method option (JSON value) for every run, e.g. --set objective_options.channel=false")  # fmt: skip
    args = p.parse_args()
    fixed = [(k, parse_value(v)) for k, _, v in (pair.partition("=") for pair in args.options)]
    if any(k == args.option for k, _ in fixed):
        p.error(f"--option {args.option} is also given with --set; the sweep sets it")
    values = [parse_value(v) for v in args.values.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    tune_cpu_allocator()
    eval_cfg = EvalConfig(epochs=args.eval_epochs, models=args.eval_models)
    records = []
    for value in values:
        for seed in seeds:
            pairs = [("batch_real", args.batch_real), *fixed, (args.option, value)]
            slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{args.option}-{value}")
            folder = Path("out/selection") / f"{args.method}-{slug}-seed{seed}"
            e = _finished(folder, args.method, seed, pairs, args.validation, eval_cfg)
            if e is None:
                cfg = CondenseConfig(
                    method=args.method,
                    dataset=args.dataset,
                    ipc=args.ipc,
                    iterations=args.iterations,
                    seed=seed,
                    options=nested(pairs),
                    eval=eval_cfg,
                    checkpoint_every=0,
                    baseline=False,
                    device=args.device,
                    validation=args.validation,
                    precision="fp32",
                )  # fmt: skip (fp32: as recorded)
                condense(cfg, folder, overwrite=True, progress=True)
                e = _finished(folder, args.method, seed, pairs, args.validation, eval_cfg)
            else:
                print(f"{folder}: a finished run with these settings; recording it")
            records.append(record(args, value, seed, e))
            print(f"{args.method} {args.option}={value} seed {seed}: validation accuracy "
                  f"{100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} %")  # fmt: skip
    print("saved", save("selection", records))


if __name__ == "__main__":
    main()
