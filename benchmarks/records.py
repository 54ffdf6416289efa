"""Benchmark records: one JSON file per benchmark under benchmarks/results/, each a list of records.

A record is replaced (not duplicated) when a new one has the same identity (``IDENTITY``): benchmark, dataset,
method, ipc, arch, labels, metric, steps, threads, precision, seed, budget, device, and for a selection sweep the
setting swept (``{"lr_img": 100}``, selection.py). ``labels`` is the labels kind a record's runs trained with
(``"hard"`` or ``"soft"``), written by the DD-Ranking records (ranking.json); the other records are hard-label runs
and write none. The seed is the run's condensation seed (``--seeds`` of accuracy.py and selection.py; the
evaluation networks' seed stays fixed, so records at several seeds show the condensation's spread; the
artifact's seed for the accuracies of a saved artifact, from
evaluate_artifact.py and ld3m_decode.py; every random draw of the run derives from it), so rerunning a benchmark at
another seed adds a record beside the others instead of replacing one, and the tables show the spread over seeds.
A record without a ``"seed"`` field counts as seed 0: the other benchmarks use fixed seeds and write none. (The
records of accuracy.json and superseded/lr_sweep.json written before the seed joined the identity were all made at
the default seed 0, and carry ``"seed": 0`` explicitly.)

Where a record was scored matters: accuracy records are test accuracies; selection records carry
``"scored_on": "validation"`` (images held out of the train split), the only records hyperparameters are chosen
from. results/superseded/ keeps records of an older protocol that a table still shows, labelled as such, and that
run.py does not rerun (lr_sweep.json: ECHO's ``lr_img`` chosen on test accuracy).

``save`` writes to ``RESULTS`` (benchmarks/results/) unless given another folder.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import platform
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
IDENTITY = (
    "benchmark",
    "dataset",
    "method",
    "ipc",
    "arch",
    "labels",
    "metric",
    "steps",
    "threads",
    "precision",
    "seed",
    "budget",
    "device",
    "setting",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + ", "
    except OSError:
        pass
    return ""


def device_name(device: str = "cpu") -> str:
    """The GPU's name, or the CPU's model, core count and architecture (timings differ across CPU models)."""
    if device.startswith("cuda"):
        import torch  # here, so that reading records (benchmarks/table.py) does not need torch

        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({_cpu_model()}{os.cpu_count()} cores, {platform.machine()})"


def command() -> str:
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", os.path.relpath(sys.argv[0]), *sys.argv[1:]])


def stamp(record: dict, device: str = "cpu") -> dict:
    return {**record, "device": device_name(device), "date": datetime.date.today().isoformat(), "command": command()}


def artifact_accuracy(manifest, evaluation, *, method: str, eval_epochs: int, seconds: float, **budget) -> dict:
    """An accuracy record (stamped) for ``evaluation`` of a saved artifact, with the artifact's own seed and
    condensation budget (iterations and batch_real from its manifest) plus ``eval_epochs`` and any extra ``budget``
    keys."""
    config = manifest.method.config
    record = {
        "benchmark": "accuracy",
        "dataset": manifest.source.name,
        "method": method,
        "ipc": manifest.images_per_class,
        "arch": evaluation.arch,
        "accuracy_mean": round(evaluation.accuracy_mean, 4),
        "accuracy_std": round(evaluation.accuracy_std, 4),
        "models": evaluation.models,
        "precision": evaluation.protocol["precision"],
        "seed": manifest.seed,
        "budget": {
            "iterations": config["iterations"],
            "batch_real": config["batch_real"],
            "eval_epochs": eval_epochs,
            **budget,
        },  # fmt: skip
        "wall_seconds": round(seconds, 1),
    }
    return stamp(record)


def seed_of(record: dict) -> int:
    """The record's seed; 0 for a record without one (see the module docstring)."""
    return record.get("seed", 0)


def identity(record: dict, *, seed: bool = True) -> str:
    """The record's identity as a string; ``seed=False`` leaves the seed out (the records of one run over seeds)."""
    key = {k: record.get(k) for k in IDENTITY if k != "seed"}
    if seed:
        key["seed"] = seed_of(record)
    return json.dumps(key, sort_keys=True)


def save(name: str, new: list[dict], results: Path | None = None) -> Path:
    """Merge ``new`` records into ``<results>/<name>.json`` (default ``RESULTS``; atomic write, under a lock).

    A stored record with the identity of a new one (seed included) is replaced; every other record is kept.
    """
    folder = Path(results) if results is not None else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    # Benchmarks run side by side on a 2-core machine: a lock keeps one run's merge from dropping another's records.
    with open(folder / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = json.loads(path.read_text()) if path.exists() else []
        keys = {identity(r) for r in new}
        records = [r for r in records if identity(r) not in keys] + new
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(records, indent=2) + "\n")
        os.replace(tmp, path)
    return path
