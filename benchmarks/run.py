"""List the benchmarks, or rerun the commands their committed records were made with.

    .venv/bin/python benchmarks/run.py                        # list the benchmarks and how many commands each has
    .venv/bin/python benchmarks/run.py scale --dry-run        # print the commands a rerun of one would execute
    .venv/bin/python benchmarks/run.py scale                  # rerun them; the records merge into results/
    .venv/bin/python benchmarks/run.py all --budget cpu       # every benchmark, only the commands recorded on a CPU

A benchmark is a results file, benchmarks/results/NAME.json; every record in it keeps the exact command that made it,
so a rerun executes those commands (with this interpreter in place of .venv/bin/python) and reproduces the docs'
figures at their recorded budgets. --budget picks which: ``cpu`` the commands whose records were made on a CPU (the
short CPU budget of the documented rows), ``gpu`` those made on a GPU (the longer budget: they pass --device cuda or
name the GPU cases, and need a machine with one), ``all`` (the default) both. A rerun at the same settings replaces
the records it reproduces; one at another seed adds records (benchmarks/records.py).

Some commands read what others write: the artifacts under out/bench/ come from benchmarks/accuracy.py (``all`` runs
the accuracy benchmark first), the priors under out/priors/ from ``condensed-data prior``. A command whose input is
missing stops the run, saying what makes it. Environment variables a script's docstring asks for (e.g.
OMP_NUM_THREADS=1) are not part of the recorded command: set them yourself, and time nothing on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# Benchmarks whose commands write what others read run first; the rest follow in name order.
ORDER = ("accuracy", "selection", "ld3m_decode", "generator_loading", "precision")


def benchmarks(results: Path = RESULTS) -> list[str]:
    names = sorted(p.stem for p in results.glob("*.json"))
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def commands(name: str, budget: str = "all", results: Path = RESULTS) -> list[str]:
    """The distinct commands of ``name``'s records on ``budget``: the benchmark's own script first, then the others
    that write into its file (e.g. evaluate_artifact.py into accuracy.json), each in the order first recorded."""
    on_gpu: dict[str, bool] = {}
    for r in json.loads((results / f"{name}.json").read_text()):
        on_gpu[r["command"]] = on_gpu.get(r["command"], False) or not r["device"].startswith("cpu")
    chosen = [c for c, gpu in on_gpu.items() if budget == "all" or gpu == (budget == "gpu")]
    own = f"benchmarks/{name}.py"
    return sorted(chosen, key=lambda c: shlex.split(c)[1:2] != [own])


def _summary(name: str) -> str:
    script = ROOT / "benchmarks" / f"{name}.py"
    if not script.exists():
        return "(no script of this name: see the commands)"
    text = script.read_text()
    doc = text.split('"""')[1].strip() if text.startswith('"""') else ""
    return doc.splitlines()[0] if doc else ""


def _count(n: int) -> str:
    return f"{n} command" + ("" if n == 1 else "s")


def inputs(command: str) -> list[str]:
    """The paths under out/ that ``command`` reads: arguments like ``out/bench/X`` and ``prior=out/priors/Y``."""
    found, skip = [], False
    for token in shlex.split(command)[2:]:
        if skip:
            skip = False
            continue
        if token in ("--output", "-o"):
            skip = True
            continue
        path = token.split("=", 1)[1] if "=" in token else token
        if path.startswith("out/"):
            found.append(path)
    return found


def how_to_make(path: str) -> str:
    parts = Path(path).parts
    if len(parts) == 3 and parts[1] == "priors" and "-" in parts[2]:
        dataset, kind = parts[2].rsplit("-", 1)
        return f"condensed-data prior --kind {kind} --dataset {dataset}"
    if len(parts) >= 3 and parts[1] == "bench":
        return "a benchmarks/accuracy.py command (benchmarks/run.py accuracy)"
    return "no benchmark writes it: make it first (e.g. condense a set into that folder)"


def run(command: str, dry_run: bool) -> int:
    missing = [p for p in inputs(command) if not (ROOT / p).exists()]
    print(f"$ {command}", flush=True)
    for p in missing:
        print(f"  needs {p}, which is missing: {how_to_make(p)}", flush=True)
    if dry_run:
        return 0
    if missing:
        return 1
    argv = shlex.split(command)
    if argv[0].endswith("/python") or argv[0] == "python":
        argv[0] = sys.executable
    return subprocess.run(argv, cwd=ROOT, env=os.environ.copy()).returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="benchmarks to run (results file names), or all; none: list them")
    p.add_argument(
        "--budget", choices=("cpu", "gpu", "all"), default="all", help="which recorded commands (default all)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands and their missing inputs; run nothing")
    p.add_argument("--list", action="store_true", help="list the benchmarks (the default without names)")
    args = p.parse_args(argv)
    known = benchmarks()
    if args.list or not args.names:
        for name in known:
            cmds = {b: len(commands(name, b)) for b in ("cpu", "gpu")}
            print(f"{name:<18} {_summary(name)}")
            print(f"{'':<18} {_count(cmds['cpu'])} recorded on a CPU, {cmds['gpu']} on a GPU")
        print("\nrun one: benchmarks/run.py NAME [--budget cpu|gpu|all] [--dry-run]; every one: benchmarks/run.py all")
        return 0
    names = known if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in known]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)} (or all)")
    for name in names:
        todo = commands(name, args.budget)
        print(f"# {name}: {_count(len(todo))} ({args.budget} budget)", flush=True)
        for command in todo:
            rc = run(command, args.dry_run)
            if rc:
                print(f"stopped: the command above failed (exit {rc})", file=sys.stderr)
                return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
