"""The benchmark tables of the README and the docs pages, one function per table, each over the records of
benchmarks/results/.

Records that differ only in their seed (benchmarks/records.py) are one run and one row: a cell of a run with one seed
reads "mean ± std" (for accuracy: over the evaluated models), of a run with several "mean ± std over N seeds" (the
mean and sample standard deviation of the seeds' values). benchmarks/table.py writes the tables into them.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import RESULTS, identity, seed_of  # noqa: E402

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


def accuracy_cell(run: list[dict]) -> str:
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
        cells.append([r["dataset"], r["method"], r["ipc"], r["arch"], accuracy_cell(run), "–" if pub is None else pub,
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
        cells.append([key[0], key[1], key[2], *(accuracy_cell(by_arch[a]) if a in by_arch else "–" for a in archs),
                      "/".join(map(str, models)), _budget(json.loads(key[3]))])  # fmt: skip
    return _markdown(header, cells, _flat(shown))


def lr_sweep_table(res: Results) -> str:
    """ECHO's first ``lr_img`` sweep, scored on the test split: kept for the record, superseded by the selection
    table (results/superseded/lr_sweep.json; its script was replaced by benchmarks/selection.py)."""
    rows = sorted(
        runs(res("superseded/lr_sweep")), key=lambda run: (run[0]["method"], run[0]["ipc"], run[0]["budget"]["lr_img"])
    )
    header = ["method", "IPC", "lr_img", "test accuracy (%), chosen on test (superseded)", "models", "budget"]
    cells = []
    for run in rows:
        r = run[0]
        budget = {k: v for k, v in r["budget"].items() if k != "lr_img"}
        cells.append(
            [r["method"], r["ipc"], f"{r['budget']['lr_img']:g}", accuracy_cell(run), r["models"], _budget(budget)]
        )
    return _markdown(header, cells, _flat(rows))


def _sweep(run: list[dict]) -> str:
    """The identity of the sweep a run belongs to: everything but its value and seed."""
    r = run[0]
    return json.dumps([r["dataset"], r["method"], r["ipc"], sorted(r["setting"]), r["scored_on"], r["budget"],
                       r["models"], r["precision"], r["device"]], sort_keys=True)  # fmt: skip


def _order(value: object) -> tuple:
    """Numbers in numeric order, then anything else by its JSON text."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (0, value, "") if number else (1, 0, json.dumps(value, sort_keys=True))


def selection_table(res: Results) -> str:
    """Every sweep of benchmarks/selection.py: each value's validation accuracy (mean over its seeds), the chosen
    value (the highest mean) marked. Scored on images held out of the train split, never on the test split."""
    groups: dict[str, list[list[dict]]] = {}
    for run in runs(res("selection")):
        groups.setdefault(_sweep(run), []).append(run)
    if not groups:
        return "No sweep recorded yet: the commands are in the text above."
    header = ["dataset", "method", "IPC", "option", "value", "validation accuracy (%)", "chosen", "seeds", "models"]
    header += ["budget", "device", "date"]
    cells = []
    for key in sorted(groups):
        sweep = sorted(groups[key], key=lambda run: _order(*run[0]["setting"].values()))
        means = [statistics.fmean(r["accuracy_mean"] for r in run) for run in sweep]
        best = max(range(len(sweep)), key=means.__getitem__)
        for i, run in enumerate(sweep):
            r = run[0]
            [(option, value)] = r["setting"].items()
            budget = {k: v for k, v in r["budget"].items() if k != "options"}
            fixed = r["budget"].get("options")
            cells.append([r["dataset"], r["method"], r["ipc"], f"`{option}`", json.dumps(value),
                          accuracy_cell(run), "**chosen**" if i == best else "", ",".join(str(seed_of(x)) for x in run),
                          r["models"], _budget(budget) + (f"; --set {' '.join(fixed)}" if fixed else ""),
                          r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat([run for g in groups.values() for run in g]))


def speed_table(res: Results) -> str:
    """Seconds per case; where a record counted its work (``gflop``), the throughput it achieved and its share of
    the machine's limit: the fastest fp32 kernel of the ``limit`` case on the same device and date."""
    records = res("speed")
    limits: dict[tuple[str, str], float] = {}
    for r in records:
        if r["method"] == "limit" and r["precision"] == "fp32" and "matmul" not in r["setting"]:
            key = (r["device"], r["date"])
            limits[key] = max(limits.get(key, 0.0), r["value"])
    header = ["case", "metric", "value", "precision", "GFLOP/s (share of limit)", "peak RSS (MiB)", "timed", "device",
              "date"]  # fmt: skip
    cells = []
    for run in runs([r for r in records if r["method"] != "limit"]):
        r = run[0]
        name = f"{r['method']} ipc {r['ipc']}" if r["metric"] == "seconds_per_iteration" else r["method"]
        rate = ""
        if "gflop" in r:
            achieved = r["gflop"] / r["value"]
            limit = limits.get((r["device"], r["date"]))
            rate = f"{achieved:.1f}" + (f" ({achieved / limit:.0%})" if limit else "")
        value = _value(run, "value") + (f" (median of {len(r['values'])})" if "values" in r else "")
        cells.append([name, r["metric"].replace("_", " "), value, r["precision"], rate,
                      _value(run, "peak_rss_mib"), _budget(r["budget"]), r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, [r for r in records if r["method"] != "limit"])


def limit_table(res: Results) -> str:
    """The machine's sustained throughput on the network's main convolution, per kernel (``speed.py --case limit``)."""
    rows = [run for run in runs(res("speed")) if run[0]["method"] == "limit"]
    header = ["kernel", "GFLOP/s", "shape", "native bf16", "device", "date"]
    cells = [[r["setting"], _value(run, "value"), r["budget"]["shape"], "yes" if r["native_bf16"] else "no",
              r["device"], _date(run)] for run in rows for r in run[:1]]  # fmt: skip
    return _markdown(header, cells, _flat(rows))


def precision_table(res: Results) -> str:
    rows = runs(res("precision"))
    header = ["set", "network", "precision", "test accuracy (%)", "models", "budget", "device", "date"]
    cells = [
        [f"{r['dataset']} {r['method']} ipc {r['ipc']}", r["arch"], r["precision"], accuracy_cell(run), r["models"],
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
        same = o["metric"] == r["metric"] and o["device"] == r["device"] and seed_of(o) == seed_of(r)
        if same and o["budget"]["checkpoint_every"] == 0:
            if {**o["budget"], "checkpoint_every": r["budget"]["checkpoint_every"]} == r["budget"]:
                return other
    return None


def scale_table(res: Results) -> str:
    """Every scale record, the runs with a checkpoint after every iteration included: their last column sets their
    iteration time against the same session's run without checkpoints and against what their timed writes account
    for. Each seed is its own row: a seed's cases were timed in one session, and speeds on a shared machine are
    compared only within a session, never averaged across sessions."""
    rows = sorted(
        ([r] for run in runs(res("scale")) for r in run),
        key=lambda run: (run[0]["metric"] != "seconds_per_iteration", run[0]["device"], seed_of(run[0]),
                         json.dumps(run[0]["budget"])),
    )  # fmt: skip
    header = ["set", "processes x threads", "checkpoint every", "measured", "vs. no checkpoints", "timed", "device"]
    header += ["seed (session)", "date"]
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
                      r["device"], seed_of(r), _date(run)])  # fmt: skip
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


def _pair_cell(run: list[dict], prefix: str) -> str:
    if len(run) == 1:
        return f"{100 * run[0][prefix + '_accuracy_mean']:.2f} ± {100 * run[0][prefix + '_accuracy_std']:.2f}"
    return _spread([100 * r[prefix + "_accuracy_mean"] for r in run], ".2f")


def parquet_view_table(res: Results) -> str:
    rows = sorted(runs(res("parquet_view")), key=lambda run: (run[0]["dataset"], run[0]["method"], run[0]["ipc"]))
    header = ["set", "IPC", "network", "exact tensors (%)", "8-bit Parquet view (%)", "loss (points)"]
    header += ["largest pixel change", "values clipped", "budget", "device", "date"]
    cells = []
    for run in rows:
        r = run[0]
        cells.append([f"{r['dataset']} {r['method']}", r["ipc"], r["arch"], _pair_cell(run, "exact"),
                      _pair_cell(run, "view"), _value(run, "loss_points", "+.2f"), _value(run, "max_pixel_change"),
                      _value(run, "out_of_range_fraction", ".1%"), _budget(r["budget"]), r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat(rows))


def _accuracy_pair(run: list[dict], prefix: str) -> str:
    """ "mean ± std" of one run's ``<prefix>_mean`` and ``<prefix>_std`` (%), or the spread over seeds."""
    if len(run) == 1:
        return f"{100 * run[0][prefix + '_mean']:.2f} ± {100 * run[0][prefix + '_std']:.2f}"
    return _spread([100 * r[prefix + "_mean"] for r in run], ".2f")


def ranking_table(res: Results) -> str:
    """DD-Ranking's metrics (benchmarks/results/ranking.json), one row per set, network and labels kind: a
    soft-label row's set and random real images both trained on soft labels, a hard-label row's on hard ones."""
    rows = sorted(
        runs(res("ranking")),
        key=lambda run: (run[0]["dataset"], run[0]["ipc"], run[0]["labels"], run[0]["method"], run[0]["arch"]),
    )
    header = ["dataset", "method", "IPC", "labels", "network", "set (%)", "random real, same labels (%)", "IOR"]
    header += ["set, hard labels (%)", "full real train, hard (%)", "HLR", "models", "budget", "device", "date"]
    if not rows:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header), "",
                          "No records yet: `benchmarks/accuracy.py --labels soft` (or `--ranking`) adds them."])  # fmt: skip
    cells = []
    for run in rows:
        r = run[0]
        cells.append([r["dataset"], r["method"], r["ipc"], r["labels"], r["arch"], _accuracy_pair(run, "accuracy"),
                      _accuracy_pair(run, "random_accuracy"), _value(run, "ior", "+.4f"),
                      _accuracy_pair(run, "hard_accuracy"), _accuracy_pair(run, "full_real_accuracy"),
                      _value(run, "hlr", "+.4f"), r["models"], _budget(r["budget"]), r["device"], _date(run)])  # fmt: skip
    return _markdown(header, cells, _flat(rows))


_REAL_FOLDER_CASES = ("folder", "folder-no-prefetch", "cached", "cached-shard", "subset-memory", "subset-folder")


def real_folder_table(res: Results) -> str:
    """One row per case (and per process of the class-sharded case): the three metrics side by side."""
    rows: dict[tuple, dict[str, list[dict]]] = {}
    for run in runs(res("real_folder_memory")):
        r = run[0]
        setting = r.get("setting") or {}
        key = (r["device"], r["dataset"], json.dumps(r["budget"], sort_keys=True), setting.get("source"),
               setting.get("shard", -1))  # fmt: skip
        rows.setdefault(key, {})[r["metric"]] = run
    header = ["data", "source", "s per iteration", "waiting for data", "peak RSS (MiB)", "notes", "budget", "device"]
    header += ["date"]
    cells, shown = [], []
    order = sorted(rows, key=lambda k: (k[0], k[1], k[2], _REAL_FOLDER_CASES.index(k[3]), k[4]))
    for key in order:
        metrics = rows[key]
        first = next(iter(metrics.values()))
        r = first[0]
        source = r["setting"]["source"] + (
            f" (process {key[4] + 1} of {r['setting']['shards']})" if key[4] >= 0 else ""
        )
        notes = []
        if "whole_split_float32_gib" in r:
            notes.append(f"the first {r['budget']['classes']} classes only (the whole split: "
                         f"{r['whole_split_float32_gib']} GiB as float32)")  # fmt: skip
        if "eval_accuracy" in r:
            notes.append(f"then evaluated on the lazy test split: {r['eval_seconds']} s")
        if "preload_seconds" in r:
            notes.append(f"preloaded in {r['preload_seconds']} s")
        wait = metrics.get("data_wait_share")
        cells.append([r["dataset"], source, _value(metrics["seconds_per_iteration"], "value", ".2f"),
                      f"{_value(wait, 'value', '.1f', 100)}%" if wait else "–",
                      _value(metrics["peak_rss_mib"], "value", ",.0f"), "; ".join(notes) or "–",
                      _budget({k: v for k, v in r["budget"].items() if k != "classes"}), r["device"],
                      _date(first)])  # fmt: skip
        shown.extend(run for run in metrics.values())
    return _markdown(header, cells, _flat(shown))


TABLES: dict[str, Callable[[Results], str]] = {
    "real-folder": real_folder_table,
    "parquet-view": parquet_view_table,
    "accuracy": accuracy_table,
    "ranking": ranking_table,
    "cross-arch": cross_arch_table,
    "selection": selection_table,
    "lr-sweep": lr_sweep_table,
    "speed": speed_table,
    "limit": limit_table,
    "precision": precision_table,
    "loading": loading_table,
    "scale": scale_table,
    "generator-loading": generator_loading_table,
    "artifact-size": artifact_size_table,
    "ld3m-decode": ld3m_decode_table,
}
