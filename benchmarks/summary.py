"""The README's one results table: the best configuration of each method on Fashion-MNIST, next to the published
figures. Generated from the same records as the accuracy table (benchmarks/table.py writes it; the full tables and
their commands are on the documentation site's benchmarks page).

A method's rows are its own and those of its labelled variants (``dm-f2`` is DM with ``--set factor=2``,
``ld3m-steps5`` LD3M with 5 steps); per images-per-class the best ConvNet-3 test accuracy among them is shown, with
what made it: the variant, the iterations, the evaluation epochs and, for a GPU run, the device. Each run was
evaluated by its own budget, so the cells compare what each budget bought, not methods under one protocol.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tables import PUBLISHED, Results, accuracy_cell, runs  # noqa: E402

METHODS = ("random-real", "dm", "atom", "echo", "dcgm", "ld3m")
IPCS = (1, 10, 50)


def base_method(label: str) -> str | None:
    """The method a record's label belongs to (``dm-f2`` -> ``dm``), or None for another label."""
    return next((m for m in METHODS if label == m or label.startswith(m + "-")), None)


def _how(run: list[dict]) -> str:
    r = run[0]
    parts = [f"`{r['method']}`"] if r["method"] != base_method(r["method"]) else []
    if "iterations" in r["budget"]:
        parts.append(f"{r['budget']['iterations']:,} it.")
    parts.append(f"{r['budget']['eval_epochs']:,} ep.")
    if not r["device"].startswith("cpu"):
        parts.append(r["device"])
    return ", ".join(parts)


def best_table(res: Results) -> str:
    """Rows: methods; columns: our best run per images per class (accuracy and how it was made), then the
    published figures (citations, see tables.PUBLISHED)."""
    chosen: dict[tuple[str, int], list[dict]] = {}
    for run in runs(res("accuracy")):
        r = run[0]
        method = base_method(r["method"])
        if r["dataset"] != "fashion-mnist" or r["arch"] != "convnet" or method is None or r["ipc"] not in IPCS:
            continue
        if r.get("labels", "hard") != "hard":
            continue
        mean = sum(x["accuracy_mean"] for x in run) / len(run)
        best = chosen.get((method, r["ipc"]))
        if best is None or mean > sum(x["accuracy_mean"] for x in best) / len(best):
            chosen[(method, r["ipc"])] = run
    header = ["method", *(f"IPC {ipc} (%)" for ipc in IPCS), "published, IPC " + " / ".join(map(str, IPCS)) + " (%)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in METHODS:
        cells = [
            f"{accuracy_cell(chosen[(method, ipc)])} ({_how(chosen[(method, ipc)])})"
            if (method, ipc) in chosen
            else "–"
            for ipc in IPCS
        ]
        published = " / ".join(str(PUBLISHED.get((method, ipc), "–")) for ipc in IPCS)
        lines.append("| " + " | ".join([f"`{method}`", *cells, published]) + " |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[Results], str]] = {"best": best_table}
