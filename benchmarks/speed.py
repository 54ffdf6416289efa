"""Speed benchmark: seconds per condensation iteration, peak memory, and seconds to evaluate one model.

    .venv/bin/python benchmarks/speed.py                     # every case
    .venv/bin/python benchmarks/speed.py --case eval-auto    # one case
    .venv/bin/python benchmarks/speed.py --device cuda --case dm-iteration-256   # on a GPU (iteration cases)

Each case runs in a fresh subprocess so that its peak resident memory (ru_maxrss) and the process-wide allocator
setting belong to that case alone. Records go to benchmarks/results/speed.json.

Cases:
  dm-iteration-256   DM on Fashion-MNIST, IPC 10, batch_real 256 (the reference default), fp32
  dm-iteration-64    the same with batch_real 64 (the CPU budget used by benchmarks/accuracy.py)
  atom-iteration-*   the same for ATOM (attention objective)
  echo-iteration-*   the same for ECHO (Gaussian-kernel MMD; one random network per 5 iterations, as M3D)
  eval-auto          ConvNet-3 trained on 100 images for 1000 epochs with DSA, our defaults (bf16 autocast where
                     native, allocator tuned)
  eval-fp32          the same in fp32 (allocator tuned), EVAL_EPOCHS_SHORT epochs
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
CASES = [f"{m}-iteration-{b}" for m in METHODS for b in (256, 64)] + ["eval-auto", "eval-fp32", "eval-plain"]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _iteration(name: str, batch_real: int, device: str) -> dict:
    import torch

    from condensed_data.condense.registry import get_method
    from condensed_data.data import load_dataset
    from condensed_data.runtime import tune_cpu_allocator
    from condensed_data.seeding import make_generator

    tune_cpu_allocator()
    real = load_dataset("fashion-mnist", "train").to(device)
    cls = get_method(name)
    config = cls.config_class.from_dict({"batch_real": batch_real})
    method = cls(real, ipc=10, config=config, device=device, generator=make_generator(0))
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    opt, g = method.make_optimizer(), make_generator(1)

    def step(i: int) -> None:
        loss = method.loss(iteration=i, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    n = 20
    sync()
    start = time.perf_counter()
    for i in range(n):
        step(i)
    sync()
    seconds = (time.perf_counter() - start) / n
    return {
        "benchmark": "speed",
        "dataset": "fashion-mnist",
        "method": name,
        "ipc": 10,
        "arch": "convnet",
        "metric": "seconds_per_iteration",
        "value": round(seconds, 4),
        "precision": "fp32",
        "budget": {"batch_real": batch_real, "iterations_timed": n},
        "peak_rss_mib": round(_peak_mib()),
        **({"peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20)} if device.startswith("cuda") else {}),
    }


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
    start = time.perf_counter()
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
        tune_cpu_allocator()
        cfg = EvalConfig(epochs=epochs, models=1, precision=precision)
        train_network(
            subset.images,
            subset.labels,
            num_classes=10,
            mean=real.mean,
            std=real.std,
            config=cfg,
            generator=make_generator(0),
        )
    seconds = time.perf_counter() - start
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
        "peak_rss_mib": round(_peak_mib()),
    }


def run_case(name: str, device: str) -> dict:
    if "-iteration-" in name:
        method, batch_real = name.split("-iteration-")
        return _iteration(method, int(batch_real), device)
    if device != "cpu":
        raise SystemExit(f"case {name} runs on the CPU only; pass an iteration case with --device {device}")
    return _eval_case(name)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=CASES, action="append", help="run only these cases (repeatable)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda: where the iteration cases run")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_case(args.case[0], args.device)))
        return
    records = []
    default = CASES if args.device == "cpu" else [c for c in CASES if "-iteration-" in c]
    for name in args.case or default:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--case", name, "--device", args.device],
            capture_output=True,
            text=True,
            check=True,
        )
        record = stamp(json.loads(out.stdout.strip().splitlines()[-1]), args.device)
        print(f"{name:<18} {record['metric']} = {record['value']}  (peak RSS {record['peak_rss_mib']} MiB)", flush=True)
        records.append(record)
    print("saved", save("speed", records))


if __name__ == "__main__":
    main()
