"""Benchmark records: one JSON file per benchmark under benchmarks/results/, each a list of records.

A record is replaced (not duplicated) when a new one has the same identity: benchmark, dataset, method, ipc,
arch, metric, steps, threads, budget and device.
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

import torch

RESULTS = Path(__file__).resolve().parent / "results"
IDENTITY = (
    "benchmark",
    "dataset",
    "method",
    "ipc",
    "arch",
    "metric",
    "steps",
    "threads",
    "precision",
    "budget",
    "device",
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
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({_cpu_model()}{os.cpu_count()} cores, {platform.machine()})"


def command() -> str:
    return " ".join(shlex.quote(a) for a in [".venv/bin/python", os.path.relpath(sys.argv[0]), *sys.argv[1:]])


def stamp(record: dict, device: str = "cpu") -> dict:
    return {**record, "device": device_name(device), "date": datetime.date.today().isoformat(), "command": command()}


def artifact_accuracy(manifest, evaluation, *, method: str, eval_epochs: int, seconds: float, **budget) -> dict:
    """An accuracy record (stamped) for ``evaluation`` of a saved artifact, with the artifact's own condensation
    budget (iterations and batch_real from its manifest) plus ``eval_epochs`` and any extra ``budget`` keys."""
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
        "budget": {
            "iterations": config["iterations"],
            "batch_real": config["batch_real"],
            "eval_epochs": eval_epochs,
            **budget,
        },  # fmt: skip
        "wall_seconds": round(seconds, 1),
    }
    return stamp(record)


def _key(record: dict) -> str:
    return json.dumps({k: record.get(k) for k in IDENTITY}, sort_keys=True)


def save(name: str, new: list[dict]) -> Path:
    """Merge ``new`` records into ``results/<name>.json`` (atomic write, under a lock)."""
    path = RESULTS / f"{name}.json"
    # Benchmarks run side by side on a 2-core machine: a lock keeps one run's merge from dropping another's records.
    with open(RESULTS / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = json.loads(path.read_text()) if path.exists() else []
        keys = {_key(r) for r in new}
        records = [r for r in records if _key(r) not in keys] + new
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(records, indent=2) + "\n")
        os.replace(tmp, path)
    return path
