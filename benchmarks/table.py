"""Regenerate the README's benchmark tables from benchmarks/results/*.json.

.venv/bin/python benchmarks/table.py          # rewrite the blocks between <!-- bench:NAME --> markers
.venv/bin/python benchmarks/table.py --check  # exit 1 if the README is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Published Fashion-MNIST numbers (ConvNet-3), from ../shared/reference/METHODS.md section 1.6.
PUBLISHED = {
    ("dm", 1): 70.7,
    ("dm", 10): 83.5,
    ("dm", 50): 88.1,
    ("random-real", 1): 51.4,
    ("random-real", 10): 73.8,
    ("random-real", 50): 82.5,
}


def _load(name: str) -> list[dict]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else []


def _budget(b: dict) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in b.items())


def _markdown(header: list[str], cells: list[list[object]], records: list[dict]) -> str:
    """A markdown table, then the commands that produced its records."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in cells]
    commands = sorted({r["command"] for r in records})
    return "\n".join(lines + ["", "Commands:", ""] + [f"- `{c}`" for c in commands])


def _accuracy(r: dict) -> str:
    return f"{100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f}"


def accuracy_table() -> str:
    rows = sorted(
        (r for r in _load("accuracy") if r["arch"] == "convnet"),
        key=lambda r: (r["dataset"], r["arch"], r["ipc"], r["method"] != "random-real", r["method"]),
    )
    header = ["dataset", "method", "IPC", "network", "test accuracy (%)", "published (%)", "models", "budget"]
    header += ["precision", "device", "date"]
    cells = []
    for r in rows:
        on_reference = r["dataset"] == "fashion-mnist" and r["arch"] == "convnet"
        pub = PUBLISHED.get((r["method"], r["ipc"])) if on_reference else None
        cells.append([r["dataset"], r["method"], r["ipc"], r["arch"], _accuracy(r), "–" if pub is None else pub,
                      r["models"], _budget(r["budget"]), r["precision"], r["device"], r["date"]])  # fmt: skip
    return _markdown(header, cells, rows)


def cross_arch_table() -> str:
    """Accuracy records pivoted by architecture, for the runs evaluated on more than ConvNet-3."""
    records = _load("accuracy")
    archs = ["convnet"] + sorted({r["arch"] for r in records} - {"convnet"})

    def run(r: dict) -> tuple:
        return r["dataset"], r["ipc"], r["method"], json.dumps(r["budget"], sort_keys=True), r["precision"]

    crossed = {run(r) for r in records if r["arch"] != "convnet"}
    rows = [r for r in records if run(r) in crossed]
    header = ["dataset", "IPC", "method", *archs, "models", "budget"]
    cells = []
    for key in sorted(crossed, key=lambda k: (k[0], k[1], k[2] != "random-real", k[2], k[3])):
        by_arch = {r["arch"]: r for r in rows if run(r) == key}
        models = sorted({r["models"] for r in by_arch.values()})
        cells.append([key[0], key[1], key[2], *(_accuracy(by_arch[a]) if a in by_arch else "–" for a in archs),
                      "/".join(map(str, models)), _budget(json.loads(key[3]))])  # fmt: skip
    return _markdown(header, cells, rows)


def lr_sweep_table() -> str:
    rows = sorted(_load("lr_sweep"), key=lambda r: (r["method"], r["ipc"], r["budget"]["lr_img"]))
    header = ["method", "IPC", "lr_img", "test accuracy (%)", "models", "budget"]
    cells = []
    for r in rows:
        budget = {k: v for k, v in r["budget"].items() if k != "lr_img"}
        cells.append([r["method"], r["ipc"], f"{r['budget']['lr_img']:g}", _accuracy(r), r["models"], _budget(budget)])
    return _markdown(header, cells, rows)


def speed_table() -> str:
    rows = _load("speed")
    header = ["case", "metric", "value", "precision", "peak RSS (MiB)", "timed", "device", "date"]
    cells = []
    for r in rows:
        iteration = r["metric"] == "seconds_per_iteration"
        name = f"{r['method']} ipc {r['ipc']}" if iteration else r["method"]
        cells.append([name, r["metric"].replace("_", " "), r["value"], r["precision"], r["peak_rss_mib"],
                      _budget(r["budget"]), r["device"], r["date"]])  # fmt: skip
    return _markdown(header, cells, rows)


def precision_table() -> str:
    rows = _load("precision")
    header = ["set", "network", "precision", "test accuracy (%)", "models", "budget", "device", "date"]
    cells = [
        [f"{r['dataset']} {r['method']} ipc {r['ipc']}", r["arch"], r["precision"], _accuracy(r), r["models"],
         _budget(r["budget"]), r["device"], r["date"]]
        for r in rows
    ]  # fmt: skip
    return _markdown(header, cells, rows)


def loading_table() -> str:
    rows = sorted(_load("loading"), key=lambda r: (r["metric"], r["method"]))
    header = ["path", "metric", "value", "budget", "device", "date"]
    cells = [
        [r["method"], r["metric"].replace("_", " "), r["value"], _budget(r["budget"]), r["device"], r["date"]]
        for r in rows
    ]
    return _markdown(header, cells, rows)


def scale_table() -> str:
    # Runs with a checkpoint after every iteration exist to time the writes; their overhead rows say what they found.
    rows = [r for r in _load("scale") if r["metric"] != "seconds_per_iteration" or r["budget"]["checkpoint_every"] != 1]
    rows.sort(key=lambda r: (r["metric"] != "seconds_per_iteration", r["device"], json.dumps(r["budget"])))
    header = ["set", "processes x threads", "checkpoint every", "measured", "timed", "device", "date"]
    cells = []
    for r in rows:
        b = r["budget"]
        if r["metric"] == "seconds_per_iteration":
            value = f"{r['value']:.4f} s per iteration"
        else:
            value = f"{100 * r['value']:.3f}% overhead ({r['seconds_per_checkpoint']:.4f} s per checkpoint)"
        on_cpu = r["device"].startswith("cpu")
        procs = f"{b['processes']} x {b['threads_per_process']}" if on_cpu else f"{b['processes']} (one GPU each)"
        cells.append([f"{r['dataset']} {r['method']} ipc {r['ipc']}", procs,
                      b["checkpoint_every"] or "never", value,
                      f"batch real {b['batch_real']}, iterations timed {b['iterations_timed']}", r["device"],
                      r["date"]])  # fmt: skip
    return _markdown(header, cells, rows)


def generator_loading_table() -> str:
    rows = sorted(_load("generator_loading"), key=lambda r: (r["metric"], r["method"]))
    header = ["set", "metric", "value", "budget", "device", "date"]
    cells = []
    for r in rows:
        value = f"{r['value']:,}" if r["metric"] == "images_per_second" else f"{100 * r['value']:+.1f}%"
        cells.append([r["method"], r["metric"].replace("_", " "), value, _budget(r["budget"]), r["device"], r["date"]])
    return _markdown(header, cells, rows)


def artifact_size_table() -> str:
    records = _load("artifact_size")
    pairs: dict[tuple, dict] = {}
    for r in records:
        pairs.setdefault((r["metric"], r["dataset"], r["ipc"]), {})[r["method"]] = r["value"]
    header = ["setting", "IPC", "generator artifact (MB)", "pixel set (MB)", "generator / pixels", "how"]
    cells = []
    for (metric, dataset, ipc), v in sorted(
        pairs.items(), key=lambda kv: (kv[0][0] != "file_bytes", kv[0][1], kv[0][2])
    ):
        if "dcgm" in v and "pixels" in v:
            how = "files on disk" if metric == "file_bytes" else "parameter count (float32)"
            cells.append([dataset, ipc, f"{v['dcgm'] / 1e6:.3f}", f"{v['pixels'] / 1e6:.3f}",
                          f"{v['dcgm'] / v['pixels']:.3g}", how])  # fmt: skip
    return _markdown(header, cells, records)


def ld3m_decode_table() -> str:
    rows = sorted(_load("ld3m_decode"), key=lambda r: (r["dataset"], r["method"], r["ipc"], r["steps"]))
    header = ["set", "IPC", "DDIM steps (condensed with)", "decode (img/s)", "decode (ms/img)"]
    header += ["DataLoader, 2 workers, cold epoch (img/s)", "threads", "device", "date"]
    cells = []
    for r in rows:
        cells.append([r["method"], r["ipc"], f"{r['steps']} ({r['condensed_steps']})", r["decode_images_per_second"],
                      r["decode_ms_per_image"], r["loader_images_per_second"], r["threads"], r["device"],
                      r["date"]])  # fmt: skip
    return _markdown(header, cells, rows)


TABLES = {
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


def render(readme: str) -> str:
    for name, fn in TABLES.items():
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        table = fn()
        readme = pattern.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(2), readme)
    return readme


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    path = ROOT / "README.md"
    old = path.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md benchmark tables are out of date: run benchmarks/table.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
