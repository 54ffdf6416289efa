"""Render the README's benchmark figures from benchmarks/results/*.json: its tables and the figures in its prose.

    .venv/bin/python benchmarks/table.py          # rewrite every marked table and figure in README.md
    .venv/bin/python benchmarks/table.py --check  # exit 1 if any is out of date (and say which)

Two kinds of markers in the README, both filled in here:

    <!-- bench:NAME -->                         a table (tables.TABLES[NAME]) and the commands that produced its
    ...                                        records, on the lines between the two markers
    <!-- /bench:NAME -->
    <!-- fig:NAME -->81.84<!-- /fig:NAME -->   one figure in a sentence (figures.FIGURES[NAME]), opened and closed on
                                               one line

In both modes it is an error (exit 2, each one named) when the README has a marker this script does not know, an
entry here has no marker in the README, a marker is not closed, a figure's selection does not find exactly one run
in the records, or a claim the prose makes about the records (figures.CLAIMS) is false or no longer in the README.
A figure may appear more than once. A figure is computed from records only (numbers are never written in the
generator), except the published numbers (tables.PUBLISHED), which are citations of the papers, not our
measurements.

Records that differ only in their seed (benchmarks/records.py) are one run: tables and figures show the mean over
its seeds, and where there is more than one seed a table cell reads "mean ± std over N seeds" (the sample standard
deviation of the seeds' means); with one seed, "mean ± std" is over the evaluated models of that run.

--results DIR and --readme PATH point it at other records and another README (the tests use both).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import CLAIMS, FIGURES, FigureError  # noqa: E402
from records import RESULTS  # noqa: E402
from tables import TABLES, Results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

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
