"""Speed benchmark: seconds per condensation iteration, peak memory, and seconds to evaluate one model.

    .venv/bin/python benchmarks/speed.py                     # every case
    .venv/bin/python benchmarks/speed.py --case eval-auto    # one case
    .venv/bin/python benchmarks/speed.py --device cuda --case dm-iteration-256   # on a GPU (iteration cases)

Throughput is counted in the direct method's multiply-adds (torch.utils.flop_counter, 2 FLOPs each) whatever the
kernel computes, so a kernel with a fast algorithm (NNPACK's Winograd/FFT) can exceed the arithmetic peak.
--rounds N runs the chosen cases N times, alternating them, and records each case's median (all values kept), so
that cases compared with each other share the machine's state.

Each case runs in a fresh subprocess so that its peak resident memory (ru_maxrss) and the process-wide allocator
setting belong to that case alone. Records go to benchmarks/results/speed.json.

Cases:
  dm-iteration-256   DM on Fashion-MNIST, IPC 10, batch_real 256 (the reference default), fp32
  dm-iteration-256-auto   the same with precision "auto" (the real images' no-grad pass in the kernels measured
                     fastest for the device: nn/kernels.py)
  dm-iteration-256-plain  the same iteration as a plain fp32 loop in the reference implementation's style (one
                     forward pass per class, default allocator, stock kernels), standing in for the reference
  dm-iteration-64    the same with batch_real 64 (the CPU budget used by benchmarks/accuracy.py)
  atom-iteration-*   the same for ATOM (attention objective)
  echo-iteration-*   the same for ECHO (Gaussian-kernel MMD; one random network per 5 iterations, as M3D)
  eval-auto          ConvNet-3 trained on 100 images for 1000 epochs with DSA, our defaults (bf16 autocast where
                     native, allocator tuned)
  eval-fp32          the same in fp32 (allocator tuned), EVAL_EPOCHS_SHORT epochs
  limit              the machine's sustained convolution throughput on the network's main layer (128 -> 128
                     channels, 3x3, 14x14 maps, 512 images): every available kernel in fp32 and bf16, and a large
                     fp32 matrix product; the iteration and evaluation records report their throughput against it
  eval-plain         a plain loop (fp32, DataLoader over a TensorDataset, default allocator) standing in for the
                     reference implementation's structure, EVAL_EPOCHS_SHORT epochs
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from records import save, stamp  # noqa: E402

EVAL_EPOCHS_SHORT = 200
METHODS = ("dm", "atom", "echo")
CASES = (
    [f"{m}-iteration-{b}" for m in METHODS for b in (256, 64)]
    + ["dm-iteration-256-auto", "dm-iteration-256-plain", "limit"]
    + ["eval-auto", "eval-fp32", "eval-plain"]
)
TIMED = 10  # iterations timed per case (after 3 untimed)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _iteration(name: str, batch_real: int, device: str, precision: str = "fp32") -> dict:

    from condensed_data.condense.registry import get_method
    from condensed_data.data import load_dataset
    from condensed_data.nn.kernels import precision_scope
    from condensed_data.runtime import inference_kernels, tune_cpu_allocator
    from condensed_data.seeding import make_generator

    tune_cpu_allocator()
    real = load_dataset("fashion-mnist", "train").to(device)
    cls = get_method(name)
    config = cls.config_class.from_dict({"batch_real": batch_real})
    method = cls(real, ipc=10, config=config, device=device, generator=make_generator(0))
    opt, g = method.make_optimizer(), make_generator(1)

    def step(i: int, precision: str = precision) -> None:
        with precision_scope(precision, device):  # as the condensation loop runs it
            loss = method.loss(iteration=i, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()

    kernels = inference_kernels(precision, device)
    label = precision if kernels == "fp32" else f"{precision} ({kernels})"
    return _timed(step, device, name, batch_real, label, count=lambda i: step(i, "fp32"))


def _plain_iteration(batch_real: int, device: str) -> dict:
    """One DM iteration as the reference's main_DM.py writes it: a fresh random network, then per class one real
    forward pass (outputs detached) and one synthetic pass, one DSA draw per class; default allocator and kernels."""
    import torch

    from condensed_data.condense.augment import DSA
    from condensed_data.data import load_dataset
    from condensed_data.nn import get_network
    from condensed_data.seeding import make_generator

    real = load_dataset("fashion-mnist", "train").to(device)
    images_all = real.normalize(real.images).to(device)  # the reference normalizes the whole train set once
    by_class = [torch.nonzero(real.labels == c).flatten() for c in range(real.num_classes)]
    g = make_generator(0)
    image_syn = torch.cat([images_all[idx[torch.randperm(len(idx), generator=g)[:10]]] for idx in by_class])
    image_syn.requires_grad_(True)
    opt = torch.optim.SGD([image_syn], lr=1.0, momentum=0.5)
    dsa = DSA()

    def step(i: int) -> None:
        net = get_network("convnet", channels=1, num_classes=10, image_size=(28, 28), generator=g, device=device)
        net.train()
        for p in net.parameters():
            p.requires_grad_(False)
        loss = torch.tensor(0.0, device=device)
        for c, idx in enumerate(by_class):
            img_real = images_all[idx[torch.randperm(len(idx), generator=g)[:batch_real]]]
            img_syn = image_syn[c * 10 : (c + 1) * 10]
            draw = dsa.draw(1, image_size=(28, 28), generator=g)
            output_real = net.embed(dsa.apply(img_real, draw)).detach()
            output_syn = net.embed(dsa.apply(img_syn, draw))
            loss = loss + ((output_real.mean(0) - output_syn.mean(0)) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    record = _timed(step, device, "dm-plain", batch_real, "fp32")
    record["method"] = "dm-plain"
    return record


def _timed(step, device: str, name: str, batch_real: int, precision: str, count=None) -> dict:
    """Time ``step`` (3 untimed calls, then TIMED) and count the direct-method FLOPs of one call of ``count``
    (default ``step``; a step in stock kernels, whose operations the counter knows)."""
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for i in range(3):
        step(i)
    sync()
    start = time.perf_counter()
    for i in range(TIMED):
        step(3 + i)
    sync()
    seconds = (time.perf_counter() - start) / TIMED
    peak = round(_peak_mib())  # before counting, which runs another step in stock kernels
    gflop = _gflop(count or step, 3 + TIMED)
    return {
        "benchmark": "speed",
        "dataset": "fashion-mnist",
        "method": name,
        "ipc": 10,
        "arch": "convnet",
        "metric": "seconds_per_iteration",
        "value": round(seconds, 4),
        "precision": precision,
        "budget": {"batch_real": batch_real, "iterations_timed": TIMED},
        "gflop": gflop,
        "peak_rss_mib": peak,
        **({"peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20)} if device.startswith("cuda") else {}),
    }


def _gflop(step, *args) -> float:
    """GFLOP of one ``step(*args)``, counted as the direct method's multiply-adds (2 FLOPs each) of the operations
    PyTorch's counter knows (convolutions, matrix products): run it in stock kernels."""
    from torch.utils.flop_counter import FlopCounterMode

    from condensed_data.nn.kernels import fast_inference

    counter = FlopCounterMode(display=False)
    with fast_inference("fp32"), counter:
        step(*args)
    return round(counter.get_total_flops() / 1e9, 2)


def _limit() -> list[dict]:
    """Sustained throughput of the main convolution in every available kernel (fp32, bf16) and of a large matmul."""
    import torch
    import torch.nn.functional as F

    from condensed_data.runtime import cpu_has_native_bf16, nnpack_available, tune_cpu_allocator

    tune_cpu_allocator()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 128, 14, 14, generator=g)
    w, b = torch.randn(128, 128, 3, 3, generator=g) / 34, torch.randn(128, generator=g)
    conv_gflop = 2 * 512 * 14 * 14 * 128 * 128 * 9 / 1e9
    kernels = {
        "fp32 oneDNN": lambda: F.conv2d(x, w, b, padding=1),
        "fp32 oneDNN channels-last": lambda: F.conv2d(xl, w, b, padding=1),
        "bf16 oneDNN": lambda: F.conv2d(xb, wb, bb, padding=1),
    }
    xl = x.contiguous(memory_format=torch.channels_last)
    xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
    if nnpack_available():
        kernels["fp32 NNPACK"] = lambda: torch._nnpack_spatial_convolution(x, w, b, [1, 1], [1, 1])
    a, m = torch.randn(4096, 4096, generator=g), torch.randn(4096, 4096, generator=g)
    records = []
    with torch.no_grad():
        for label, fn in [*kernels.items(), ("fp32 matmul 4096", lambda: a @ m)]:
            gflop = 2 * 4096**3 / 1e9 if "matmul" in label else conv_gflop
            seconds = _best_of(fn)
            records.append({
                "benchmark": "speed", "method": "limit", "setting": label, "metric": "gflops",
                "value": round(gflop / seconds, 1), "precision": label.split()[0],
                "budget": {"shape": "512x128x14x14, 3x3" if "matmul" not in label else "4096^3"},
                "native_bf16": cpu_has_native_bf16(), "peak_rss_mib": round(_peak_mib()),
            })  # fmt: skip
    return records


def _best_of(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _eval_case(name: str) -> dict:
    import torch

    from condensed_data.condense.augment import DSA
    from condensed_data.data import load_dataset
    from condensed_data.evaluate.protocol import EvalConfig, train_network
    from condensed_data.nn import get_network
    from condensed_data.runtime import precision_dtype, tune_cpu_allocator
    from condensed_data.seeding import make_generator

    real = load_dataset("fashion-mnist", "train")
    subset = real.subset_per_class(10, generator=make_generator(0))
    epochs = 1000 if name == "eval-auto" else EVAL_EPOCHS_SHORT
    precision = "auto" if name == "eval-auto" else "fp32"

    def train(epochs: int) -> None:
        if name == "eval-plain":
            g = make_generator(0)
            x = real.normalize(subset.images)
            net = get_network("convnet", channels=1, num_classes=10, image_size=(28, 28), generator=g)
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            loader = torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(x, subset.labels), batch_size=256, shuffle=True, generator=g
            )
            dsa = DSA()
            for _ in range(epochs):
                for xb, yb in loader:
                    loss = torch.nn.functional.cross_entropy(net(dsa(xb, generator=g)), yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        else:
            cfg = EvalConfig(epochs=epochs, models=1, precision=precision)
            kwargs = {"num_classes": 10, "mean": real.mean, "std": real.std, "config": cfg}
            train_network(subset.images, subset.labels, **kwargs, generator=make_generator(0))

    if name != "eval-plain":
        tune_cpu_allocator()
    start = time.perf_counter()
    train(epochs)
    seconds = time.perf_counter() - start
    peak = round(_peak_mib())  # before counting
    resolved = "bf16" if precision_dtype(precision) is not None else "fp32"
    return {
        "benchmark": "speed",
        "dataset": "fashion-mnist",
        "method": name,
        "ipc": 10,
        "arch": "convnet",
        "metric": "seconds_per_1000_epochs",
        "value": round(seconds * 1000 / epochs, 1),
        "precision": resolved,
        "budget": {"epochs_timed": epochs, "images": 100},
        "gflop": round(_gflop(train, 2) * 500, 1),  # per 1,000 epochs, as the value
        "peak_rss_mib": peak,
    }


def run_case(name: str, device: str) -> list[dict]:
    if name == "limit":
        return _limit()
    if "-iteration-" in name:
        method, rest = name.split("-iteration-")
        batch_real, _, variant = rest.partition("-")
        if variant == "plain":
            return [_plain_iteration(int(batch_real), device)]
        return [_iteration(method, int(batch_real), device, precision=variant or "fp32")]
    if device != "cpu":
        raise SystemExit(f"case {name} runs on the CPU only; pass an iteration case with --device {device}")
    return [_eval_case(name)]


def _median(found: list[dict]) -> dict:
    """The record of median value among one case's rounds, with every round's value (``values``)."""
    if len(found) == 1:
        return found[0]
    ordered = sorted(found, key=lambda r: r["value"])
    record = dict(ordered[(len(ordered) - 1) // 2])
    record["values"] = [r["value"] for r in found]
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=CASES, action="append", help="run only these cases (repeatable)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda: where the iteration cases run")
    p.add_argument("--rounds", type=int, default=1, help="run the cases this many times, alternating (default 1)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_case(args.case[0], args.device)))
        return
    default = CASES if args.device == "cpu" else [c for c in CASES if "-iteration-" in c]
    rounds: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for name in args.case or default:
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--case", name, "--device", args.device],
                capture_output=True,
                text=True,
                check=True,
            )
            for record in json.loads(out.stdout.strip().splitlines()[-1]):
                label = f"{name} {record.get('setting', '')}".strip()
                print(f"round {r + 1}: {label:<40} {record['metric']} = {record['value']}  "
                      f"(peak RSS {record['peak_rss_mib']} MiB)", flush=True)  # fmt: skip
                rounds.setdefault((name, record.get("setting", "")), []).append(record)
    records = [stamp(_median(found), args.device) for found in rounds.values()]
    print("saved", save("speed", records))


if __name__ == "__main__":
    main()
