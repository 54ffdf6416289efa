"""Scale benchmark: seconds per condensation iteration on 1 and 2 CPU processes, and the cost of checkpoints.

    .venv/bin/python benchmarks/scale.py                       # every case, on a quiet machine
    .venv/bin/python benchmarks/scale.py --dataset digits --iterations 2 --warmup 1 --results-dir /tmp/scale
                                                               # a smoke run that leaves results/ alone

DM on Fashion-MNIST, IPC 10, batch_real 64, through the real driver (`condense`): iterations are timed from one
loss call to the next, so they include backward, the optimizer step, the per-iteration reduction of a
multi-process run and any checkpoint. Each case runs in fresh processes (torchrun --standalone for two).

Cases:
  1x1        one process, 1 thread
  1x2        one process, 2 threads
  2x1        two processes (class-sharded, gloo), 1 thread each (OMP_NUM_THREADS=1)
  1x2-ckpt1  one process, 2 threads, a checkpoint after every iteration: each checkpoint write is timed (the
             difference of two runs' iteration times drowns in noise), which with 1x2's iteration time gives the
             overhead at the default interval (every 100 iterations)
  gpu        one process on one GPU (cuda), batch_real 64 as above
  gpu-ckpt1  the same with a checkpoint after every iteration (the overhead on a GPU)
The CPU cases run by default; name the GPU cases with --case on a machine that has one.
Records go to benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import records  # noqa: E402

CASES = {  # name: (processes, threads per process, checkpoint_every, device)
    "1x1": (1, 1, 0, "cpu"),
    "1x2": (1, 2, 0, "cpu"),
    "2x1": (2, 1, 0, "cpu"),
    "1x2-ckpt1": (1, 2, 1, "cpu"),
    "gpu": (1, 2, 0, "cuda"),
    "gpu-ckpt1": (1, 2, 1, "cuda"),
}
CPU_CASES = [name for name, case in CASES.items() if case[3] == "cpu"]
DEFAULT_CHECKPOINT_EVERY = 100  # condensed_data.condense.driver.CondenseConfig.checkpoint_every
IPC, BATCH_REAL = 10, 64


def _child(args: argparse.Namespace) -> None:
    import torch
    from condensed_data_plugins.dm import DM

    from condensed_data.condense.checkpoint import Checkpoint
    from condensed_data.condense.driver import CondenseConfig, condense
    from condensed_data.condense.registry import register
    from condensed_data.runtime import tune_cpu_allocator

    stamps: list[float] = []
    saves: list[float] = []
    save_checkpoint = Checkpoint.save

    def timed_save(*a, **kw):
        start = time.perf_counter()
        save_checkpoint(*a, **kw)
        saves.append(time.perf_counter() - start)

    Checkpoint.save = timed_save

    class TimedDM(DM):
        name = "timed-dm"

        def loss(self, *, iteration, generator):
            stamps.append(time.perf_counter())
            return super().loss(iteration=iteration, generator=generator)

    torch.set_num_threads(args.threads)
    tune_cpu_allocator()
    register("timed-dm", TimedDM)
    config = CondenseConfig(
        precision="fp32",  # as recorded (the default became "auto" on 2026-12-03)
        method="timed-dm",
        dataset=args.dataset,
        ipc=IPC,
        iterations=args.warmup + args.iterations + 1,  # one more loss call closes the last timed iteration
        options={"batch_real": BATCH_REAL},
        evaluate=False,
        checkpoint_every=args.checkpoint_every,
        device=args.device,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = condense(config, Path(tmp) / "set", progress=False)
    if result.main_process:
        timed = stamps[args.warmup : args.warmup + args.iterations + 1]
        per_save = sum(saves) / len(saves) if saves else 0.0
        print(json.dumps({"seconds_per_iteration": (timed[-1] - timed[0]) / args.iterations, "per_save": per_save}))


def run_case(name: str, args: argparse.Namespace) -> dict:
    processes, threads, checkpoint_every, device = CASES[name]
    child = [__file__, "--child", "--threads", str(threads), "--checkpoint-every", str(checkpoint_every)]
    child += ["--device", device]
    child += ["--dataset", args.dataset, "--iterations", str(args.iterations), "--warmup", str(args.warmup)]
    child += ["--seed", str(args.seed)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if processes == 1:
        cmd = [sys.executable, *child]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *child]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"case {name} failed:\n{out.stderr[-4000:]}")
    [line] = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    measured = json.loads(line)
    return {
        "benchmark": "scale",
        "dataset": args.dataset,
        "method": "dm",
        "ipc": IPC,
        "arch": "convnet",
        "metric": "seconds_per_iteration",
        "value": round(measured["seconds_per_iteration"], 4),
        **({"seconds_per_checkpoint": round(measured["per_save"], 5)} if checkpoint_every else {}),
        "precision": "fp32",
        "seed": args.seed,
        "budget": {
            "processes": processes,
            "threads_per_process": threads,
            "checkpoint_every": checkpoint_every,
            "batch_real": BATCH_REAL,
            "iterations_timed": args.iterations,
        },
    }


def overhead_record(plain: dict, every_iteration: dict) -> dict:
    """The checkpoint overhead at the default interval: a checkpoint's measured write time over 100 iterations."""
    per_checkpoint = every_iteration["seconds_per_checkpoint"]
    budget = {**plain["budget"], "checkpoint_every": DEFAULT_CHECKPOINT_EVERY}
    return {
        **{k: plain[k] for k in ("benchmark", "dataset", "method", "ipc", "arch", "precision", "seed")},
        "metric": "checkpoint_overhead",
        "value": round(per_checkpoint / (DEFAULT_CHECKPOINT_EVERY * plain["value"]), 5),
        "seconds_per_checkpoint": round(per_checkpoint, 5),
        "budget": budget,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", choices=list(CASES), action="append", help="run only these cases (repeatable)")
    p.add_argument("--dataset", default="fashion-mnist", help="real dataset (default fashion-mnist)")
    p.add_argument("--iterations", type=int, default=20, help="timed iterations per case (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations first (default 3)")
    p.add_argument("--results-dir", default=None, help="write scale.json here instead of benchmarks/results")
    p.add_argument("--seed", type=int, default=0, help="condensation seed; a repeat at a new seed adds records")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--checkpoint-every", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    if args.results_dir:
        records.RESULTS = Path(args.results_dir)
        records.RESULTS.mkdir(parents=True, exist_ok=True)
    done: dict[str, dict] = {}
    for name in args.case or CPU_CASES:
        done[name] = records.stamp(run_case(name, args), CASES[name][3])
        print(f"{name:<10} {done[name]['value']:.4f} s/iteration", flush=True)
    out = list(done.values())
    for plain, every in (("1x2", "1x2-ckpt1"), ("gpu", "gpu-ckpt1")):
        if plain in done and every in done:
            out.append(records.stamp(overhead_record(done[plain], done[every]), CASES[plain][3]))
            print(
                f"{plain}: checkpoint overhead at every {DEFAULT_CHECKPOINT_EVERY} iterations: {100 * out[-1]['value']:.3f}%"
            )
    print("saved", records.save("scale", out))


if __name__ == "__main__":
    main()
