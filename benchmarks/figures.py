"""The figures the README and the docs pages state in their prose, each computed from the records (FIGURES), and
the comparisons their prose makes in words, each checked against them (CLAIMS). benchmarks/table.py writes the
figures into them and checks the claims.

A figure selects the records of exactly one run (all its seeds) by field values or predicates, and fails
(FigureError) when the selection finds none or several; numbers are never written here, except the published
figures (tables.PUBLISHED), which are citations of the papers.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tables import PUBLISHED, Results, accuracy_cell, runs  # noqa: E402


class FigureError(Exception):
    pass


Num = Callable[[Results], float]
Fig = Callable[[Results], str]


def _field(record: dict, key: str) -> object:
    if key == "seed":
        return record.get("seed", 0)  # a record without a seed counts as seed 0 (benchmarks/records.py)
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
    return lambda res: accuracy_cell(select(res, "accuracy", dataset="fashion-mnist", arch="convnet", **where))


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
        return acc(method=method, ipc=ipc, device=cpu, budget__eval_epochs=300)
    its = iterations if iterations is not None else (300 if ipc == 50 else 500)
    return acc(method=method, ipc=ipc, device=cpu, budget__iterations=its, budget__batch_real=64)


def on_gpu(method: str, ipc: int = 10) -> Num:
    return acc(method=method, ipc=ipc, device=gpu)


def speed(
    method: str, device: object, batch_real: int | None = None, timed: int | None = 20, field: str = "value", **more
) -> Num:
    """``field`` of one speed case; ``timed``: its iterations timed (the sessions before 2026-12-03 timed 20, the
    kernels comparison of 2026-12-03 10)."""
    where: dict[str, object] = {"method": method, "device": device, **more}
    if timed is not None and batch_real is not None:
        where["budget__iterations_timed"] = timed
    if batch_real is not None:
        where["budget__batch_real"] = batch_real
    return mean("speed", field, **where)


def kernels_case(method: str, field: str = "value", precision: str = "fp32") -> Num:
    """A case of the 2026-12-03 kernels comparison (DM, IPC 10, 256 real images per class, on the AMD EPYC)."""
    return speed(method, amd, 256, timed=10, field=field, precision=precision)


def throughput(run: Num, gflop: Num) -> Num:
    return lambda res: gflop(res) / run(res)


def limit(setting: str = "fp32 NNPACK") -> Num:
    return mean("speed", "value", method="limit", setting=setting, device=amd)


def scale_run(
    processes: int, threads: int, every: int, device: object = cpu, field: str = "value", seed: object = 0
) -> Num:
    """One scale case at one seed: each seed's pair of cases was timed back to back in one session, and speeds are
    compared only within a session (the first session is seed 0; the repeats are seeds 1 and 2)."""
    return mean("scale", field, metric="seconds_per_iteration", device=device, budget__processes=processes,
                budget__threads_per_process=threads, budget__checkpoint_every=every, seed=seed)  # fmt: skip


def checkpoint_ratio(seed: int) -> Num:
    """Seconds per iteration with a checkpoint after every iteration over those without, at one seed's session."""
    return over(scale_run(1, 2, 1, seed=seed), scale_run(1, 2, 0, seed=seed))


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


def real_folder(case: str, metric: str = "seconds_per_iteration", field: str = "value", **where: object) -> Num:
    """A field of the one real-folder record of ``case`` (and ``metric``), the newest session's (CPU only)."""
    return mean("real_folder_memory", field, metric=metric, setting__source=case, device=cpu, **where)


def _folder_images(res: Results) -> int:
    """Train images of the real-folder benchmark's folder ("folder 100x300 3x128x128")."""
    (dataset,) = {r["dataset"] for r in res("real_folder_memory")}
    classes, per_class = dataset.split()[1].split("x")
    return int(classes) * int(per_class)


def _folder_real_images(res: Results) -> int:
    """Real images of one iteration of the folder case (classes x batch_real)."""
    record = select(res, "real_folder_memory", metric="seconds_per_iteration", setting__source="folder")[0]
    return int(record["dataset"].split()[1].split("x")[0]) * record["budget"]["batch_real"]


# The ImageNet-1k plan: 1,000 classes x 64 real images of 128 x 128 per iteration, DM's 20,000 iterations,
# scaled from the H200 Fashion-MNIST iteration (10 classes x 256 images of 28 x 28) by pixels alone.
IMAGENET_PIXELS, FMNIST_PIXELS, IMAGENET_ITERATIONS = 1000 * 64 * 128 * 128, 10 * 256 * 28 * 28, 20_000


def imagenet_gpu_seconds(pick: Callable) -> Num:
    return lambda res: gpu_iteration_ms(pick)(res) / 1000 * IMAGENET_PIXELS / FMNIST_PIXELS


def _per_hour(num: Num, factor: float) -> Num:
    return lambda res: num(res) * factor / 3600


FIGURES: dict[str, Fig] = {
    # Real data larger than memory (benchmarks/real_folder_memory.py)
    "imagenet-pixel-ratio": fmt(lambda res: IMAGENET_PIXELS / FMNIST_PIXELS, ".0f"),
    **{f"imagenet-gpu-s-{p.__name__}": fmt(imagenet_gpu_seconds(p), ".0f") for p in (min, max)},
    **{
        f"imagenet-gpu-hours-{p.__name__}": fmt(_per_hour(imagenet_gpu_seconds(p), IMAGENET_ITERATIONS), ".0f")
        for p in (min, max)
    },
    **{
        f"imagenet-8gpu-hours-{p.__name__}": fmt(_per_hour(imagenet_gpu_seconds(p), IMAGENET_ITERATIONS / 8), ".1f")
        for p in (min, max)
    },
    "rf-imagenet-cpu-hours": fmt(_per_hour(over(real_folder("folder"), _folder_real_images), 1000 * 64), ".1f"),
    "rf-whole-gib": fmt(real_folder("subset-memory", field="whole_split_float32_gib"), ".1f"),
    "rf-folder-peak": fmt(real_folder("folder", "peak_rss_mib"), ",.0f"),
    "rf-folder-s": fmt(real_folder("folder"), ".1f"),
    "rf-folder-wait": fmt(real_folder("folder", "data_wait_share"), ".1f", 100),
    "rf-no-prefetch-s": fmt(real_folder("folder-no-prefetch"), ".1f"),
    "rf-no-prefetch-wait": fmt(real_folder("folder-no-prefetch", "data_wait_share"), ".1f", 100),
    "rf-cached-peak": fmt(real_folder("cached", "peak_rss_mib"), ",.0f"),
    **{f"rf-shard{k}-peak": fmt(real_folder("cached-shard", "peak_rss_mib", setting__shard=k), ",.0f") for k in (0, 1)},
    "rf-subset-memory-s": fmt(real_folder("subset-memory"), ".2f"),
    "rf-subset-folder-s": fmt(real_folder("subset-folder"), ".2f"),
    "rf-decode-ms": fmt(over(real_folder("cached", field="preload_seconds"), _folder_images), ".2f", 1000),
    "rf-ms-per-real-image": fmt(over(real_folder("folder"), _folder_real_images), ".0f", 1000),
    # Accuracy, Fashion-MNIST, ConvNet-3, the CPU budget (64 real images per class, 500 iterations; 300 at IPC 50)
    **{
        f"acc-{m}-{ipc}": fmt(dm_budget(m, ipc), ".2f")
        for m in ("dm", "atom", "echo", "random-real")
        for ipc in (1, 10, 50)
    },
    # Multi-formation at IPC 1 under the full protocol (1,000 epochs, 5 models), factor chosen on validation
    "acc-dm-f2-1-full": acc_pm(method="dm-f2", ipc=1, device=cpu, budget__eval_epochs=1000),
    "acc-random-real-1-full": acc_pm(method="random-real", ipc=1, device=cpu, budget__eval_epochs=1000),
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
        ".1f",
    ),
    "real-shards-draw": fmt(mean("loading", "value", method="real-shards", metric="draw_images_per_second"), ",.0f"),
    "real-memory-draw": fmt(mean("loading", "value", method="real-in-memory", metric="draw_images_per_second"), ",.0f"),
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
    # The kernels comparison (AMD EPYC, 2026-12-03)
    "k-plain": fmt(kernels_case("dm-plain"), ".2f"),
    "k-fp32": fmt(kernels_case("dm"), ".2f"),
    "k-auto": fmt(kernels_case("dm", precision="auto (fast-fp32)"), ".2f"),
    "k-plain-vs-auto": fmt(over(kernels_case("dm-plain"), kernels_case("dm", precision="auto (fast-fp32)")), ".2f"),
    "k-fp32-vs-auto": fmt(over(kernels_case("dm"), kernels_case("dm", precision="auto (fast-fp32)")), ".2f"),
    "k-plain-peak": fmt(kernels_case("dm-plain", "peak_rss_mib"), ",.0f"),
    "k-auto-peak": fmt(kernels_case("dm", "peak_rss_mib", precision="auto (fast-fp32)"), ",.0f"),
    "k-fp32-peak": fmt(kernels_case("dm", "peak_rss_mib"), ",.0f"),
    "k-acc-fp32": fmt(acc(method="dm-kernels-fp32", ipc=10), ".2f"),
    "k-acc-auto": fmt(acc(method="dm-kernels-auto", ipc=10), ".2f"),
    "limit-nnpack": fmt(limit(), ".0f"),
    "limit-onednn": fmt(limit("fp32 oneDNN"), ".0f"),
    "limit-matmul": fmt(limit("fp32 matmul 4096"), ".0f"),
    "limit-bf16": fmt(limit("bf16 oneDNN"), ".1f"),
    "k-auto-gflops": fmt(
        throughput(kernels_case("dm", precision="auto (fast-fp32)"), kernels_case("dm", "gflop", "auto (fast-fp32)")),
        ".0f",
    ),
    "k-auto-share": fmt(
        lambda res: (
            throughput(
                kernels_case("dm", precision="auto (fast-fp32)"), kernels_case("dm", "gflop", "auto (fast-fp32)")
            )(res)
            / limit()(res)
        ),
        ".0f",
        100,
    ),
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
    **{f"scale-repeat-{s}-1x2": fmt(scale_run(1, 2, 0, seed=s), ".2f") for s in (1, 2)},
    **{f"scale-repeat-{s}-ckpt1": fmt(scale_run(1, 2, 1, seed=s), ".2f") for s in (1, 2)},
    **{f"scale-ckpt1-ratio-{s}": fmt(checkpoint_ratio(s), ".2f") for s in (0, 1, 2)},
    "scale-gpu-ms": fmt(scale_run(1, 2, 0, gpu), ".0f", 1000),
    "scale-gpu-ckpt1-ms": fmt(scale_run(1, 2, 1, gpu), ".1f", 1000),
}


# What the prose says about the records in words: a phrase of a document (``{NAME}`` stands for the figure marked
# NAME, whatever its value) and whether the records support it. ---------------------------------------------------

Claim = tuple[str, Callable[[Results], bool]]


def _gt(a: Num, b: Num) -> Callable[[Results], bool]:
    return lambda res: a(res) > b(res)


def _within(a: Num, b: Num, noise: Callable[[Results], float]) -> Callable[[Results], bool]:
    return lambda res: abs(a(res) - b(res)) <= noise(res)


def _all(*checks: Callable[[Results], bool]) -> Callable[[Results], bool]:
    return lambda res: all(c(res) for c in checks)


def _best_lr(res: Results) -> bool:
    rows = [r for r in res("superseded/lr_sweep") if r["method"] == "echo"]
    return bool(rows) and max(rows, key=lambda r: r["accuracy_mean"])["budget"]["lr_img"] == 100


def _precision_noise(res: Results) -> float:
    return sum(100 * statistics.fmean(r["accuracy_std"] for r in run) for run in runs(res("precision")))


def _both_std(a: dict, b: dict) -> Callable[[Results], float]:
    return lambda res: acc_std(**a)(res) + acc_std(**b)(res)


CLAIMS: list[Claim] = [
    (
        "peaks at {rf-folder-peak} MiB resident, under 2 GiB",
        lambda res: real_folder("folder", "peak_rss_mib")(res) < 2048,
    ),
    (
        "waiting for real images takes {rf-folder-wait}% of the iteration time with reading ahead",
        lambda res: real_folder("folder", "data_wait_share")(res) < 0.05,
    ),
    (
        "on this CPU the network, not the reading, bounds an iteration",
        lambda res: real_folder("folder-no-prefetch", "data_wait_share")(res) < 0.5,
    ),
    (
        "each of two class-sharded processes, holding its own classes, at {rf-shard0-peak} and {rf-shard1-peak} MiB",
        _all(
            *(
                _gt(
                    real_folder("cached", "peak_rss_mib"), real_folder("cached-shard", "peak_rss_mib", setting__shard=k)
                )
                for k in (0, 1)
            )
        ),
    ),  # fmt: skip
    (
        "Streaming is {stream-slowdown} times slower than memory here (it was 9 times before",
        lambda res: (
            1
            < over(
                mean("loading", "value", method="in-memory", metric="images_per_second"),
                mean("loading", "value", method="webdataset", metric="images_per_second"),
            )(res)
            < 9
        ),
    ),  # fmt: skip
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
