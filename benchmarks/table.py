"""Render the README's benchmark figures from benchmarks/results/*.json: its tables and the figures in its prose.

    .venv/bin/python benchmarks/table.py          # rewrite every marked table and figure in README.md
    .venv/bin/python benchmarks/table.py --check  # exit 1 if any is out of date (and say which)

Two kinds of markers in the README, both filled in here:

    <!-- bench:NAME -->                         a table (TABLES[NAME]) and the commands that produced its records,
    ...                                        on the lines between the two markers
    <!-- /bench:NAME -->
    <!-- fig:NAME -->81.84<!-- /fig:NAME -->   one figure in a sentence (FIGURES[NAME]), opened and closed on one line

In both modes it is an error (exit 2, each one named) when the README has a marker this script does not know, an
entry here has no marker in the README, a marker is not closed, a figure's selection does not find exactly one run
in the records, or a claim the prose makes about the records (CLAIMS) is false or no longer in the README. A figure
may appear more than once. A figure is computed from records only (numbers are never written here), except the
published numbers (PUBLISHED), which are citations of the papers, not our measurements.

Records that differ only in their seed (benchmarks/records.py) are one run: tables and figures show the mean over
its seeds, and where there is more than one seed a table cell reads "mean ± std over N seeds" (the sample standard
deviation of the seeds' means); with one seed, "mean ± std" is over the evaluated models of that run.

--results DIR and --readme PATH point it at other records and another README (the tests use both).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import RESULTS, identity, seed_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# Published Fashion-MNIST test accuracies (%, ConvNet-3, 20,000 DM iterations): citations, not our measurements.
# Random real images: Zhao, Mopuri & Bilen, "Dataset Condensation with Gradient Matching", ICLR 2021, Table 1.
# DM: Zhao & Bilen, "Dataset Condensation with Distribution Matching", WACV 2023. Both were read as restated in the
# Fashion-MNIST rows of Table 1 of Zhang et al., "DANCE: Dual-View Distribution Alignment for Dataset
# Condensation", IJCAI 2024 (github.com/Hansong-Zhang/DANCE, figs/low_res.png).
PUBLISHED = {
    ("dm", 1): 70.7,
    ("dm", 10): 83.5,
    ("dm", 50): 88.1,
    ("random-real", 1): 51.4,
    ("random-real", 10): 73.8,
    ("random-real", 50): 82.5,
}


class Results:
    """The records of a results folder by benchmark name (``<folder>/<name>.json``; none when the file is missing)."""

    def __init__(self, folder: Path = RESULTS):
        self.folder = Path(folder)
        self._loaded: dict[str, list[dict]] = {}

    def __call__(self, name: str) -> list[dict]:
        if name not in self._loaded:
            path = self.folder / f"{name}.json"
            self._loaded[name] = json.loads(path.read_text()) if path.exists() else []
        return self._loaded[name]


def runs(records: list[dict]) -> list[list[dict]]:
    """The records grouped into runs (records that differ only in their seed), in the order first seen."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(identity(r, seed=False), []).append(r)
    return [sorted(g, key=seed_of) for g in groups.values()]


def _spread(values: list[float], spec: str) -> str:
    """One value as is; several (one per seed) as "mean ± std over N seeds"."""
    if len(values) == 1:
        return format(values[0], spec)
    return f"{statistics.fmean(values):{spec}} ± {statistics.stdev(values):{spec}} over {len(values)} seeds"


def _value(run: list[dict], field: str, spec: str = "", scale: float = 1) -> str:
    return _spread([scale * r[field] for r in run], spec)


def _accuracy(run: list[dict]) -> str:
    """ "mean ± std" over one run's models, or the mean over seeds ± std over seeds of several runs' means."""
    if len(run) == 1:
        return f"{100 * run[0]['accuracy_mean']:.2f} ± {100 * run[0]['accuracy_std']:.2f}"
    return _spread([100 * r["accuracy_mean"] for r in run], ".2f")


def _date(run: list[dict]) -> str:
    return ", ".join(sorted({r["date"] for r in run}))


def _budget(b: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in b.items())


def _markdown(header: list[str], cells: list[list[object]], records: list[dict]) -> str:
    """A markdown table, then the commands that produced its records."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in cells]
    commands = sorted({r["command"] for r in records})
    return "\n".join(lines + ["", "Commands:", ""] + [f"- `{c}`" for c in commands])


def _flat(groups: list[list[dict]]) -> list[dict]:
    return [r for run in groups for r in run]


# Tables ---------------------------------------------------------------------------------------------------------


def accuracy_table(res: Results) -> str:
    """ConvNet-3 accuracies; the same runs on other networks are in the cross-architecture table."""
    rows = sorted(
        runs([r for r in res("accuracy") if r["arch"] == "convnet"]),
        key=lambda run: (run[0]["dataset"], run[0]["ipc"], run[0]["method"] != "random-real", run[0]["method"]),
    )
    header = ["dataset", "method", "IPC", "network", "test accuracy (%)", "published (%)", "models", "budget"]
    header += ["precision", "device", "date"]
    cells = []
    for run in rows:
        r = run[0]
        pub = PUBLISHED.get((r["method"], r["ipc"])) if r["dataset"] == "fashion-mnist" else None
        cells.append([r["dataset"], r["method"], r["ipc"], r["arch"], _accuracy(run), "–" if pub is None else pub,
                      r["models"], _budget(r["budget"]), r["precision"], r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat(rows))


def cross_arch_table(res: Results) -> str:
    """Accuracy runs pivoted by architecture, for the sets evaluated on more than ConvNet-3."""
    records = res("accuracy")
    archs = ["convnet"] + sorted({r["arch"] for r in records} - {"convnet"})

    def condensed(r: dict) -> tuple:
        return r["dataset"], r["ipc"], r["method"], json.dumps(r["budget"], sort_keys=True), r["precision"]

    crossed = {condensed(r) for r in records if r["arch"] != "convnet"}
    shown = runs([r for r in records if condensed(r) in crossed])
    header = ["dataset", "IPC", "method", *archs, "models", "budget"]
    cells = []
    for key in sorted(crossed, key=lambda k: (k[0], k[1], k[2] != "random-real", k[2], k[3])):
        by_arch = {run[0]["arch"]: run for run in shown if condensed(run[0]) == key}
        models = sorted({r["models"] for run in by_arch.values() for r in run})
        cells.append([key[0], key[1], key[2], *(_accuracy(by_arch[a]) if a in by_arch else "–" for a in archs),
                      "/".join(map(str, models)), _budget(json.loads(key[3]))])  # fmt: skip
    return _markdown(header, cells, _flat(shown))


def lr_sweep_table(res: Results) -> str:
    rows = sorted(runs(res("lr_sweep")), key=lambda run: (run[0]["method"], run[0]["ipc"], run[0]["budget"]["lr_img"]))
    header = ["method", "IPC", "lr_img", "test accuracy (%)", "models", "budget"]
    cells = []
    for run in rows:
        r = run[0]
        budget = {k: v for k, v in r["budget"].items() if k != "lr_img"}
        cells.append(
            [r["method"], r["ipc"], f"{r['budget']['lr_img']:g}", _accuracy(run), r["models"], _budget(budget)]
        )
    return _markdown(header, cells, _flat(rows))


def speed_table(res: Results) -> str:
    rows = runs(res("speed"))
    header = ["case", "metric", "value", "precision", "peak RSS (MiB)", "timed", "device", "date"]
    cells = []
    for run in rows:
        r = run[0]
        name = f"{r['method']} ipc {r['ipc']}" if r["metric"] == "seconds_per_iteration" else r["method"]
        cells.append([name, r["metric"].replace("_", " "), _value(run, "value"), r["precision"],
                      _value(run, "peak_rss_mib"), _budget(r["budget"]), r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat(rows))


def precision_table(res: Results) -> str:
    rows = runs(res("precision"))
    header = ["set", "network", "precision", "test accuracy (%)", "models", "budget", "device", "date"]
    cells = [
        [f"{r['dataset']} {r['method']} ipc {r['ipc']}", r["arch"], r["precision"], _accuracy(run), r["models"],
         _budget(r["budget"]), r["device"], _date(run)]
        for run in rows
        for r in run[:1]
    ]  # fmt: skip
    return _markdown(header, cells, _flat(rows))


def loading_table(res: Results) -> str:
    rows = sorted(runs(res("loading")), key=lambda run: (run[0]["metric"], run[0]["method"]))
    header = ["path", "metric", "value", "budget", "device", "date"]
    cells = [
        [
            r["method"],
            r["metric"].replace("_", " "),
            _value(run, "value"),
            _budget(r["budget"]),
            r["device"],
            _date(run),
        ]
        for run in rows
        for r in run[:1]
    ]
    return _markdown(header, cells, _flat(rows))


def _without_checkpoints(run: list[dict], every: list[list[dict]]) -> list[dict] | None:
    """The run that differs from ``run`` only in writing no checkpoints."""
    r = run[0]
    for other in every:
        o = other[0]
        if o["metric"] == r["metric"] and o["device"] == r["device"] and o["budget"]["checkpoint_every"] == 0:
            if {**o["budget"], "checkpoint_every": r["budget"]["checkpoint_every"]} == r["budget"]:
                return other
    return None


def scale_table(res: Results) -> str:
    """Every scale record, the runs with a checkpoint after every iteration included: their last column sets their
    iteration time against the same run without checkpoints and against what their timed writes account for."""
    rows = sorted(
        runs(res("scale")),
        key=lambda run: (run[0]["metric"] != "seconds_per_iteration", run[0]["device"], json.dumps(run[0]["budget"])),
    )
    header = ["set", "processes x threads", "checkpoint every", "measured", "vs. no checkpoints", "timed", "device"]
    header += ["date"]
    cells = []
    for run in rows:
        r, b = run[0], run[0]["budget"]
        against = "–"
        if r["metric"] == "seconds_per_iteration":
            value = f"{_value(run, 'value', '.4f')} s per iteration"
            plain = _without_checkpoints(run, rows) if b["checkpoint_every"] else None
            if plain is not None:
                base = statistics.fmean(p["value"] for p in plain)
                against = f"{100 * (statistics.fmean(x['value'] for x in run) / base - 1):+.1f}% per iteration"
                if "seconds_per_checkpoint" in r:
                    writes = statistics.fmean(x["seconds_per_checkpoint"] for x in run) / b["checkpoint_every"]
                    against += f"; its timed writes account for {100 * writes / base:+.2f}%"
        else:
            value = (f"{_value(run, 'value', '.3f', 100)}% overhead "
                     f"({_value(run, 'seconds_per_checkpoint', '.4f')} s per checkpoint)")  # fmt: skip
        on_cpu = r["device"].startswith("cpu")
        procs = f"{b['processes']} x {b['threads_per_process']}" if on_cpu else f"{b['processes']} (one GPU each)"
        cells.append([f"{r['dataset']} {r['method']} ipc {r['ipc']}", procs, b["checkpoint_every"] or "never", value,
                      against, f"batch real {b['batch_real']}, iterations timed {b['iterations_timed']}",
                      r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat(rows))


def generator_loading_table(res: Results) -> str:
    rows = sorted(runs(res("generator_loading")), key=lambda run: (run[0]["metric"], run[0]["method"]))
    header = ["set", "metric", "value", "budget", "device", "date"]
    cells = []
    for run in rows:
        r = run[0]
        if r["metric"] == "images_per_second":
            value = _value(run, "value", ",.0f")
        else:
            value = f"{_value(run, 'value', '+.1f', 100)}%"
        cells.append([r["method"], r["metric"].replace("_", " "), value, _budget(r["budget"]), r["device"], _date(run)])
    return _markdown(header, cells, _flat(rows))


def artifact_size_table(res: Results) -> str:
    records = res("artifact_size")
    pairs: dict[tuple, dict] = {}
    for r in records:
        pairs.setdefault((r["metric"], r["dataset"], r["ipc"]), {})[r["method"]] = r["value"]
    header = ["setting", "IPC", "generator artifact (MB)", "pixel set (MB)", "generator / pixels", "how"]
    cells = []
    for (metric, dataset, ipc), v in sorted(
        pairs.items(), key=lambda kv: (kv[0][0] != "file_bytes", kv[0][1], kv[0][2])
    ):
        how = "files on disk" if metric == "file_bytes" else "parameter count (float32)"
        dcgm = f"{v['dcgm'] / 1e6:.3f}" if "dcgm" in v else "–"
        pixels = f"{v['pixels'] / 1e6:.3f}" if "pixels" in v else "–"
        ratio = f"{v['dcgm'] / v['pixels']:.3g}" if "dcgm" in v and "pixels" in v else "–"
        cells.append([dataset, ipc, dcgm, pixels, ratio, how])
    return _markdown(header, cells, records)


def ld3m_decode_table(res: Results) -> str:
    rows = sorted(
        runs(res("ld3m_decode")),
        key=lambda run: (run[0]["dataset"], run[0]["method"], run[0]["ipc"], run[0]["steps"]),
    )
    header = ["set", "IPC", "DDIM steps (condensed with)", "decode (img/s)", "decode (ms/img)"]
    header += ["DataLoader, 2 workers, cold epoch (img/s)", "threads", "device", "date"]
    cells = []
    for run in rows:
        r = run[0]
        cells.append([r["method"], r["ipc"], f"{r['steps']} ({r['condensed_steps']})",
                      _value(run, "decode_images_per_second"), _value(run, "decode_ms_per_image"),
                      _value(run, "loader_images_per_second"), r["threads"], r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat(rows))


TABLES: dict[str, Callable[[Results], str]] = {
    "accuracy": accuracy_table,
    "cross-arch": cross_arch_table,
    "lr-sweep": lr_sweep_table,
    "speed": speed_table,
    "precision": precision_table,
    "loading": loading_table,
    "scale": scale_table,
    "generator-loading": generator_loading_table,
    "artifact-size": artifact_size_table,
    "ld3m-decode": ld3m_decode_table,
}


# Figures in the prose -------------------------------------------------------------------------------------------


class FigureError(Exception):
    pass


Num = Callable[[Results], float]
Fig = Callable[[Results], str]


def _field(record: dict, key: str) -> object:
    value: object = record
    for part in key.split("__"):  # budget__iterations is record["budget"]["iterations"]
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


_MISSING = object()


def select(res: Results, bench: str, **where: object) -> list[dict]:
    """The records (one per seed) of the one run of ``bench`` whose fields match ``where`` (values or predicates)."""

    def matches(r: dict) -> bool:
        for key, want in where.items():
            value = _field(r, key)
            if value is _MISSING or not (want(value) if callable(want) else value == want):
                return False
        return True

    matched = runs([r for r in res(bench) if matches(r)])
    if len(matched) != 1:
        shown = {k: getattr(w, "__name__", w) for k, w in where.items()}
        raise FigureError(f"{bench}.json, {shown}: {len(matched)} runs match, not exactly one")
    return matched[0]


def cpu(device: str) -> bool:
    return device.startswith("cpu")


def gpu(device: str) -> bool:
    return not device.startswith("cpu")


def amd(device: str) -> bool:
    return device.startswith("cpu (AMD EPYC")


INTEL = "cpu (2 cores, x86_64)"  # the first CI machines' label: an Intel CPU with AMX, model not recorded


def mean(bench: str, field: str, scale: float = 1, **where: object) -> Num:
    """The mean over seeds of ``field`` (times ``scale``) of the one run that matches ``where``."""
    return lambda res: scale * statistics.fmean(r[field] for r in select(res, bench, **where))


def acc(**where: object) -> Num:
    """Fashion-MNIST ConvNet-3 test accuracy (%), the mean over seeds."""
    return mean("accuracy", "accuracy_mean", 100, dataset="fashion-mnist", arch="convnet", **where)


def acc_std(**where: object) -> Num:
    """The std over the evaluated models (%) of a run with one seed, the std over seeds of a run with several."""

    def std(res: Results) -> float:
        run = select(res, "accuracy", dataset="fashion-mnist", arch="convnet", **where)
        if len(run) == 1:
            return 100 * run[0]["accuracy_std"]
        return statistics.stdev(100 * r["accuracy_mean"] for r in run)

    return std


def acc_pm(**where: object) -> Fig:
    """Accuracy as the tables show it: "mean ± std" (and "over N seeds" where there are several)."""
    return lambda res: _accuracy(select(res, "accuracy", dataset="fashion-mnist", arch="convnet", **where))


def published(method: str, ipc: int) -> Num:
    return lambda res: PUBLISHED[(method, ipc)]


def minus(a: Num, b: Num) -> Num:
    return lambda res: a(res) - b(res)


def over(a: Num, b: Num) -> Num:
    return lambda res: a(res) / b(res)


def fmt(num: Num, spec: str, scale: float = 1) -> Fig:
    return lambda res: format(scale * num(res), spec)


def dm_budget(method: str, ipc: int, iterations: int | None = None) -> Num:
    """A run of the CPU budget of the accuracy table (64 real images per class; 500 iterations at IPC 1 and 10, 300
    at IPC 50 unless given); ``random-real`` is the CPU baseline."""
    if method == "random-real":
        return acc(method=method, ipc=ipc, device=cpu)
    its = iterations if iterations is not None else (300 if ipc == 50 else 500)
    return acc(method=method, ipc=ipc, device=cpu, budget__iterations=its, budget__batch_real=64)


def on_gpu(method: str, ipc: int = 10) -> Num:
    return acc(method=method, ipc=ipc, device=gpu)


def speed(method: str, device: object, batch_real: int | None = None) -> Num:
    where: dict[str, object] = {"method": method, "device": device}
    if batch_real is not None:
        where["budget__batch_real"] = batch_real
    return mean("speed", "value", **where)


def scale_run(processes: int, threads: int, every: int, device: object = cpu, field: str = "value") -> Num:
    return mean("scale", field, metric="seconds_per_iteration", device=device, budget__processes=processes,
                budget__threads_per_process=threads, budget__checkpoint_every=every)  # fmt: skip


def decode(steps: int, field: str = "decode_images_per_second", threads: int = 2) -> Num:
    return mean("ld3m_decode", field, method="ld3m", ipc=10, steps=steps, threads=threads)


def decode_seconds(steps: int, threads: int = 2) -> Num:
    """Seconds to decode the whole set: ms per image times its number of images."""
    return lambda res: statistics.fmean(
        r["decode_ms_per_image"] * r["images"] / 1000
        for r in select(res, "ld3m_decode", method="ld3m", ipc=10, steps=steps, threads=threads)
    )


def artifact_bytes(method: str, ipc: int, metric: str = "file_bytes", dataset: str = "fashion-mnist") -> Num:
    return mean("artifact_size", "value", method=method, ipc=ipc, metric=metric, dataset=dataset)


def crossover(res: Results) -> float:
    """The IPC at which a Fashion-MNIST generator artifact and the pixel set weigh the same on disk: a straight line
    through each one's measured sizes at IPC 10 and 50."""
    g10, g50 = artifact_bytes("dcgm", 10)(res), artifact_bytes("dcgm", 50)(res)
    p10, p50 = artifact_bytes("pixels", 10)(res), artifact_bytes("pixels", 50)(res)
    g_slope, p_slope = (g50 - g10) / 40, (p50 - p10) / 40
    return ((g10 - 10 * g_slope) - (p10 - 10 * p_slope)) / (p_slope - g_slope)


def max_random_real_gap(res: Results) -> float:
    """The largest distance (points) between a random-real ConvNet-3 row of ours and the published figure."""
    rows = [r for r in res("accuracy") if r["method"] == "random-real" and r["arch"] == "convnet"]
    gaps = [abs(100 * r["accuracy_mean"] - PUBLISHED[("random-real", r["ipc"])]) for r in rows]
    if not gaps:
        raise FigureError("accuracy.json: no random-real rows")
    return max(gaps)


def gpu_iteration_ms(pick: Callable) -> Num:
    def value(res: Results) -> float:
        rows = [r for r in res("speed") if r["metric"] == "seconds_per_iteration" and gpu(r["device"])]
        if not rows:
            raise FigureError("speed.json: no GPU iteration rows")
        return 1000 * pick(r["value"] for r in rows)

    return value


FIGURES: dict[str, Fig] = {
    # Accuracy, Fashion-MNIST, ConvNet-3, the CPU budget (64 real images per class, 500 iterations; 300 at IPC 50)
    **{
        f"acc-{m}-{ipc}": fmt(dm_budget(m, ipc), ".2f")
        for m in ("dm", "atom", "echo", "random-real")
        for ipc in (1, 10, 50)
    },
    "acc-dcgm-10": fmt(acc(method="dcgm", ipc=10), ".2f"),
    "acc-dcgm-10-pm": acc_pm(method="dcgm", ipc=10),
    "acc-dcgm-1-pm": acc_pm(method="dcgm", ipc=1),
    "acc-dcgm-50-pm": acc_pm(method="dcgm", ipc=50),
    "acc-dcgm-no-intra-10-pm": acc_pm(method="dcgm-no-intra", ipc=10),
    "acc-dcgm-no-inter-10-pm": acc_pm(method="dcgm-no-inter", ipc=10),
    "acc-ld3m-1": fmt(acc(method="ld3m", ipc=1), ".2f"),
    "acc-ld3m-1-pm": acc_pm(method="ld3m", ipc=1),
    "acc-ld3m-10": fmt(acc(method="ld3m", ipc=10), ".2f"),
    "acc-ld3m-10-pm": acc_pm(method="ld3m", ipc=10),
    "acc-ld3m-start-1": fmt(acc(method="ld3m-start", ipc=1), ".2f"),
    "acc-ld3m-start-10": fmt(acc(method="ld3m-start", ipc=10), ".2f"),
    "acc-ld3m-no-skip-1-pm": acc_pm(method="ld3m-no-skip", ipc=1),
    "acc-ld3m-steps2-1-pm": acc_pm(method="ld3m-steps2", ipc=1),
    "acc-ld3m-steps5-1-pm": acc_pm(method="ld3m-steps5", ipc=1),
    "acc-ld3m-decoded-5-pm": acc_pm(method="ld3m-decoded-5-steps", ipc=10),
    "acc-ld3m-decoded-2-pm": acc_pm(method="ld3m-decoded-2-steps", ipc=10),
    # Accuracy on the GPU (256 real images per class, 2,000 iterations, 1,000 evaluation epochs, 5 models)
    **{f"acc-{m}-10-gpu": fmt(on_gpu(m), ".2f") for m in ("dm", "atom", "echo", "random-real")},
    # Published figures (citations; see PUBLISHED)
    "pub-dm-1": fmt(published("dm", 1), ".1f"),
    "pub-dm-10": fmt(published("dm", 10), ".1f"),
    # Differences (percentage points)
    "gap-dm-10": fmt(minus(published("dm", 10), dm_budget("dm", 10)), ".1f"),
    "gap-dm-10-1500it": fmt(minus(published("dm", 10), dm_budget("dm", 10, 1500)), ".1f"),
    "gap-dm-50": fmt(minus(published("dm", 50), dm_budget("dm", 50)), ".1f"),
    "dm-50-over-random-real": fmt(minus(dm_budget("dm", 50), dm_budget("random-real", 50)), ".1f"),
    "random-real-vs-published": fmt(max_random_real_gap, ".1f"),
    "dcgm-10-over-random-real": fmt(minus(acc(method="dcgm", ipc=10), dm_budget("random-real", 10)), ".1f"),
    "dcgm-10-under-dm": fmt(minus(dm_budget("dm", 10), acc(method="dcgm", ipc=10)), ".1f"),
    "ld3m-1-over-start": fmt(minus(acc(method="ld3m", ipc=1), acc(method="ld3m-start", ipc=1)), ".0f"),
    "ld3m-10-over-random-real": fmt(minus(acc(method="ld3m", ipc=10), dm_budget("random-real", 10)), ".1f"),
    "ld3m-10-over-start": fmt(minus(acc(method="ld3m", ipc=10), acc(method="ld3m-start", ipc=10)), ".1f"),
    "ld3m-skip-gain": fmt(minus(acc(method="ld3m", ipc=1), acc(method="ld3m-no-skip", ipc=1)), "+.1f"),
    "ld3m-decoded-5-loss": fmt(minus(acc(method="ld3m", ipc=10), acc(method="ld3m-decoded-5-steps", ipc=10)), ".2f"),
    # bf16 autocast vs fp32, one set, the same seeds
    "precision-fp32": fmt(mean("precision", "accuracy_mean", 100, precision="fp32"), ".2f"),
    "precision-bf16": fmt(mean("precision", "accuracy_mean", 100, precision="bf16"), ".2f"),
    # Loading
    "stream-slowdown": fmt(
        over(
            mean("loading", "value", method="in-memory", metric="images_per_second"),
            mean("loading", "value", method="webdataset", metric="images_per_second"),
        ),
        ".0f",
    ),
    "gen-fresh-slowdown": fmt(
        mean("generator_loading", "value", 100, method="generator-fresh", metric="slowdown_vs_tensors"), ".1f"
    ),
    "gen-fixed-slowdown": fmt(
        mean("generator_loading", "value", 100, method="generator-fixed", metric="slowdown_vs_tensors"), ".1f"
    ),
    # Artifact size
    "size-dcgm-fmnist-1": fmt(artifact_bytes("dcgm", 1), ".3f", 1e-6),
    "size-crossover-fmnist": fmt(crossover, ".0f"),
    "size-dcgm-100x128-1": fmt(artifact_bytes("dcgm", 1, "computed_bytes", "100 classes 128x128"), ".3f", 1e-6),
    # LD3M decoding (IPC 10 set, 2 threads unless said)
    **{f"decode-{s}": fmt(decode(s), ".0f") for s in (2, 5, 10)},
    "decode-5-vs-10-time": fmt(over(decode(10), decode(5)), ".0f", 100),
    "decode-10-seconds": fmt(decode_seconds(10), ".1f"),
    "decode-10-ms": fmt(decode(10, "decode_ms_per_image"), ".0f"),
    # Speed (CPU: the Intel machine with AMX, then the AMD EPYC; GPU: the H200)
    "eval-auto-seconds": fmt(speed("eval-auto", INTEL), ".1f"),
    "eval-fp32-seconds": fmt(speed("eval-fp32", INTEL), ".1f"),
    "eval-plain-seconds": fmt(speed("eval-plain", INTEL), ".1f"),
    "eval-plain-vs-auto": fmt(over(speed("eval-plain", INTEL), speed("eval-auto", INTEL)), ".1f"),
    **{
        f"iter-{m}-{b}-{cpu_name}": fmt(speed(m, device, b), ".2f")
        for m in ("dm", "atom", "echo")
        for b in (64, 256)
        for cpu_name, device in (("intel", INTEL), ("amd", amd))
        if m == "dm" or cpu_name == "amd"
    },
    **{f"iter-atom-vs-dm-{b}-amd": fmt(over(speed("atom", amd, b), speed("dm", amd, b)), ".1f") for b in (64, 256)},
    "iter-gpu-min-ms": fmt(gpu_iteration_ms(min), ".0f"),
    "iter-gpu-max-ms": fmt(gpu_iteration_ms(max), ".0f"),
    # Multi-process condensation and checkpoints
    "scale-1x1": fmt(scale_run(1, 1, 0), ".2f"),
    "scale-1x2": fmt(scale_run(1, 2, 0), ".2f"),
    "scale-2x1": fmt(scale_run(2, 1, 0), ".2f"),
    "scale-2x1-vs-1x1": fmt(over(scale_run(1, 1, 0), scale_run(2, 1, 0)), ".1f"),
    "scale-2x1-vs-1x2": fmt(over(scale_run(1, 2, 0), scale_run(2, 1, 0)), ".2f"),
    "checkpoint-ms": fmt(
        mean("scale", "seconds_per_checkpoint", 1000, metric="checkpoint_overhead", device=cpu), ".0f"
    ),
    "checkpoint-overhead": fmt(mean("scale", "value", 100, metric="checkpoint_overhead", device=cpu), ".3f"),
    "scale-1x2-ckpt1": fmt(scale_run(1, 2, 1), ".2f"),
    "scale-1x2-ckpt1-slowdown": fmt(minus(over(scale_run(1, 2, 1), scale_run(1, 2, 0)), lambda res: 1), ".0f", 100),
    "scale-1x2-ckpt1-writes": fmt(
        over(scale_run(1, 2, 1, field="seconds_per_checkpoint"), scale_run(1, 2, 0)), ".2f", 100
    ),
    "scale-gpu-ms": fmt(scale_run(1, 2, 0, gpu), ".0f", 1000),
    "scale-gpu-ckpt1-ms": fmt(scale_run(1, 2, 1, gpu), ".1f", 1000),
}


# What the prose says about the records in words: a phrase of the README (``{NAME}`` stands for the figure marked
# NAME, whatever its value) and whether the records support it. ---------------------------------------------------

Claim = tuple[str, Callable[[Results], bool]]


def _gt(a: Num, b: Num) -> Callable[[Results], bool]:
    return lambda res: a(res) > b(res)


def _within(a: Num, b: Num, noise: Callable[[Results], float]) -> Callable[[Results], bool]:
    return lambda res: abs(a(res) - b(res)) <= noise(res)


def _all(*checks: Callable[[Results], bool]) -> Callable[[Results], bool]:
    return lambda res: all(c(res) for c in checks)


def _best_lr(res: Results) -> bool:
    rows = [r for r in res("lr_sweep") if r["method"] == "echo"]
    return bool(rows) and max(rows, key=lambda r: r["accuracy_mean"])["budget"]["lr_img"] == 100


def _precision_noise(res: Results) -> float:
    return sum(100 * statistics.fmean(r["accuracy_std"] for r in run) for run in runs(res("precision")))


def _both_std(a: dict, b: dict) -> Callable[[Results], float]:
    return lambda res: acc_std(**a)(res) + acc_std(**b)(res)


CLAIMS: list[Claim] = [
    (
        "DM reaches the published figure ({acc-dm-1} vs {pub-dm-1})",
        lambda res: not _gt(published("dm", 1), dm_budget("dm", 1))(res),
    ),
    ("the gap closes with iterations", _gt(dm_budget("dm", 10, 1500), dm_budget("dm", 10))),
    ("ECHO beats DM at IPC 10 ({acc-echo-10} vs {acc-dm-10}", _gt(dm_budget("echo", 10), dm_budget("dm", 10))),
    ("IPC 50 ({acc-echo-50} vs {acc-dm-50}", _gt(dm_budget("echo", 50), dm_budget("dm", 50))),
    (
        "ties it at IPC 1 ({acc-echo-1} vs {acc-dm-1}, within ECHO's spread)",
        _within(dm_budget("echo", 1), dm_budget("dm", 1), acc_std(method="echo", ipc=1, device=cpu)),
    ),
    ("ATOM beats DM at IPC 1 ({acc-atom-1} vs {acc-dm-1})", _gt(dm_budget("atom", 1), dm_budget("dm", 1))),
    ("barely at IPC 50 ({acc-atom-50} vs {acc-dm-50})", _gt(dm_budget("atom", 50), dm_budget("dm", 50))),
    ("but not at IPC 10 ({acc-atom-10} vs {acc-dm-10})", _gt(dm_budget("dm", 10), dm_budget("atom", 10))),
    (
        "the order holds: ECHO {acc-echo-10-gpu}, DM {acc-dm-10-gpu}",
        _all(
            _gt(on_gpu("echo"), on_gpu("dm")),
            _gt(on_gpu("dm"), on_gpu("atom")),
            _gt(on_gpu("atom"), on_gpu("random-real")),
        ),
    ),
    ("(100, now ECHO's default)", _best_lr),
    (
        "The ablations are within the noise of the full method",
        _all(
            _within(
                acc(method="dcgm-no-intra", ipc=10),
                acc(method="dcgm", ipc=10),
                _both_std({"method": "dcgm-no-intra", "ipc": 10}, {"method": "dcgm", "ipc": 10}),
            ),
            _within(
                acc(method="dcgm-no-inter", ipc=10),
                acc(method="dcgm", ipc=10),
                _both_std({"method": "dcgm-no-inter", "ipc": 10}, {"method": "dcgm", "ipc": 10}),
            ),
        ),
    ),
    (
        "below both DM ({acc-dm-50}) and random real images ({acc-random-real-50})",
        _all(
            _gt(dm_budget("dm", 50), acc(method="dcgm", ipc=50)),
            _gt(dm_budget("random-real", 50), acc(method="dcgm", ipc=50)),
        ),
    ),
    (
        "well inside the 20% aim",
        lambda res: all(r["value"] < 0.2 for r in res("generator_loading") if r["metric"] == "slowdown_vs_tensors"),
    ),
    (
        "scores {acc-ld3m-start-1}, below random real images",
        _gt(dm_budget("random-real", 1), acc(method="ld3m-start", ipc=1)),
    ),
    (
        "below both DM ({acc-dm-10} after 500 iterations) and DCGM ({acc-dcgm-10})",
        _all(
            _gt(dm_budget("dm", 10), acc(method="ld3m", ipc=10)),
            _gt(acc(method="dcgm", ipc=10), acc(method="ld3m", ipc=10)),
        ),
    ),
    (
        "{acc-ld3m-steps2-1-pm}, {acc-ld3m-steps5-1-pm} and {acc-ld3m-1-pm}, within noise of each other",
        _all(
            *(
                _within(
                    acc(method=a, ipc=1),
                    acc(method=b, ipc=1),
                    _both_std({"method": a, "ipc": 1}, {"method": b, "ipc": 1}),
                )
                for a, b in (("ld3m-steps2", "ld3m-steps5"), ("ld3m-steps2", "ld3m"), ("ld3m-steps5", "ld3m"))
            )
        ),
    ),
    (
        "gives the same accuracy within noise",
        _within(
            mean("precision", "accuracy_mean", 100, precision="fp32"),
            mean("precision", "accuracy_mean", 100, precision="bf16"),
            _precision_noise,
        ),
    ),
    ("the iterations were no slower", lambda res: scale_run(1, 2, 1, gpu)(res) <= scale_run(1, 2, 0, gpu)(res)),
]


# Rendering ------------------------------------------------------------------------------------------------------

MARKER = re.compile(r"<!-- (/?)(bench|fig):([^ >]*) -->")
FIGURE = re.compile(r"<!-- fig:([^ >]*) -->[^\n]*?<!-- /fig:\1 -->")


def render(readme: str, res: Results) -> tuple[str, list[str], list[str]]:
    """``readme`` with every marked table and figure rendered from ``res``; the errors found; and the markers
    whose content changed (``NAME`` for a table, ``fig:NAME`` for a figure)."""
    errors: list[str] = []
    opened: Counter = Counter()
    closed: Counter = Counter()
    for m in MARKER.finditer(readme):
        (closed if m.group(1) else opened)[(m.group(2), m.group(3))] += 1
    known = {"bench": TABLES, "fig": FIGURES}
    for kind, name in sorted(opened.keys() | closed.keys()):
        if name not in known[kind]:
            errors.append(f"README marker <!-- {kind}:{name} --> names no entry of benchmarks/table.py")
        elif opened[(kind, name)] != closed[(kind, name)]:
            errors.append(f"README marker <!-- {kind}:{name} --> is opened {opened[(kind, name)]} and closed "
                          f"{closed[(kind, name)]} times")  # fmt: skip
    for kind, entries in known.items():
        for name in entries:
            if not opened[(kind, name)]:
                errors.append(
                    f"benchmarks/table.py entry {kind}:{name} has no <!-- {kind}:{name} --> marker in the README"
                )
    changed: list[str] = []

    def fill(kind: str, name: str, text: str, pattern: str) -> None:
        nonlocal readme
        matches = list(re.finditer(pattern, readme, re.S))
        if len(matches) != opened[(kind, name)]:
            errors.append(
                f"README marker <!-- {kind}:{name} --> is not closed where it should be (figures: on the same line)"
            )
        if any(m.group(2) != text for m in matches):
            changed.append(f"{kind}:{name}")
        readme = re.sub(pattern, lambda m: m.group(1) + text + m.group(3), readme, flags=re.S)

    for name, table in TABLES.items():
        if opened[("bench", name)]:
            fill(
                "bench",
                name,
                table(res) + "\n",
                rf"(<!-- bench:{re.escape(name)} -->\n)(.*?)(<!-- /bench:{re.escape(name)} -->)",
            )
    for name, figure in FIGURES.items():
        if not opened[("fig", name)]:
            continue
        try:
            value = figure(res)
        except (FigureError, KeyError, ZeroDivisionError, statistics.StatisticsError) as e:
            errors.append(f"figure {name}: {e!r}" if not isinstance(e, FigureError) else f"figure {name}: {e}")
            continue
        fill("fig", name, value, rf"(<!-- fig:{re.escape(name)} -->)([^\n]*?)(<!-- /fig:{re.escape(name)} -->)")
    prose = " ".join(MARKER.sub("", FIGURE.sub(r"{\1}", readme)).split())
    for phrase, holds in CLAIMS:
        if " ".join(phrase.split()) not in prose:
            errors.append(f"claim {phrase!r} is no longer in the README: remove it from CLAIMS in benchmarks/table.py")
            continue
        try:
            ok = holds(res)
        except (FigureError, KeyError, ZeroDivisionError, statistics.StatisticsError) as e:
            errors.append(f"claim {phrase!r}: {e}")
            continue
        if not ok:
            errors.append(f"the README says {phrase!r}, which the records no longer support: reword it")
    return readme, errors, changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if the README is out of date")
    p.add_argument("--results", type=Path, default=RESULTS, help="the records' folder (default benchmarks/results)")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md", help="the README (default README.md)")
    args = p.parse_args(argv)
    old = args.readme.read_text()
    new, errors, changed = render(old, Results(args.results))
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors:
        return 2
    if args.check:
        if new != old:
            print(f"{args.readme} is out of date ({', '.join(changed)}): run benchmarks/table.py", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(new)
    print(f"{args.readme}: {len(changed)} tables and figures updated" + (f" ({', '.join(changed)})" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
