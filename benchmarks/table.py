"""Render the benchmark figures from benchmarks/results/*.json into the documentation: tables and figures in prose.

    .venv/bin/python benchmarks/table.py          # rewrite every marked table and figure in the documents
    .venv/bin/python benchmarks/table.py --check  # exit 1 if any is out of date (and say which)

The documents are README.md and every docs/**/*.md (the documentation site's pages); a marker may live in any of
them. Two kinds of markers, both filled in here:

    <!-- bench:NAME -->                         a table (TABLES[NAME]) and the commands that produced its
    ...                                        records, on the lines between the two markers
    <!-- /bench:NAME -->
    <!-- fig:NAME -->81.84<!-- /fig:NAME -->   one figure in a sentence (figures.FIGURES[NAME]), opened and closed on
                                               one line

In both modes it is an error (exit 2, each one named, and nothing is written) when a document has a marker this
script does not know or one that is not closed, an entry here has no marker in any document, a figure's selection
does not find exactly one run in the records, or a claim the prose makes about the records (figures.CLAIMS) is false
or no longer in any document (a claim is looked for within one document). A table or figure may appear more than
once, in one document or several. A figure is computed from records only (numbers are never written in the
generator), except the published numbers (tables.PUBLISHED), which are citations of the papers, not our
measurements.

Records that differ only in their seed (benchmarks/records.py) are one run: tables and figures show the mean over
its seeds, and where there is more than one seed a table cell reads "mean ± std over N seeds" (the sample standard
deviation of the seeds' means); with one seed, "mean ± std" is over the evaluated models of that run.

--results DIR and --root DIR point it at other records and another tree of documents (the tests use both).
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
from summary import TABLES as SUMMARY_TABLES  # noqa: E402
from tables import TABLES as RECORD_TABLES  # noqa: E402
from tables import Results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Every table a marker may name: the full tables (tables.py) and the README's summary (summary.py).
TABLES = {**RECORD_TABLES, **SUMMARY_TABLES}

# Rendering ------------------------------------------------------------------------------------------------------

MARKER = re.compile(r"<!-- (/?)(bench|fig):([^ >]*) -->")
FIGURE = re.compile(r"<!-- fig:([^ >]*) -->[^\n]*?<!-- /fig:\1 -->")


def documents(root: Path) -> list[Path]:
    """The documents markers may live in: ``root/README.md`` and every ``root/docs/**/*.md``, in a stable order."""
    readme = root / "README.md"
    return ([readme] if readme.is_file() else []) + sorted((root / "docs").rglob("*.md"))


def _count(text: str) -> tuple[Counter, Counter]:
    opened: Counter = Counter()
    closed: Counter = Counter()
    for m in MARKER.finditer(text):
        (closed if m.group(1) else opened)[(m.group(2), m.group(3))] += 1
    return opened, closed


def render(texts: dict[str, str], res: Results) -> tuple[dict[str, str], list[str], list[str]]:
    """Every document of ``texts`` (name -> text) with its marked tables and figures rendered from ``res``; the
    errors found (each naming its document); and the markers whose content changed (``NAME`` for a table,
    ``fig:NAME`` for a figure), each once."""
    errors: list[str] = []
    known = {"bench": TABLES, "fig": FIGURES}
    counts = {name: _count(text) for name, text in texts.items()}
    for doc, (opened, closed) in counts.items():
        for kind, name in sorted(opened.keys() | closed.keys()):
            if name not in known[kind]:
                errors.append(f"{doc}: marker <!-- {kind}:{name} --> names no entry of benchmarks/table.py")
            elif opened[(kind, name)] != closed[(kind, name)]:
                errors.append(f"{doc}: marker <!-- {kind}:{name} --> is opened {opened[(kind, name)]} and closed "
                              f"{closed[(kind, name)]} times")  # fmt: skip
    anywhere = sum((opened for opened, _ in counts.values()), Counter())
    for kind, entries in known.items():
        for name in entries:
            if not anywhere[(kind, name)]:
                errors.append(
                    f"benchmarks/table.py entry {kind}:{name} has no <!-- {kind}:{name} --> marker in any document "
                    f"({', '.join(texts)})"
                )
    rendered: dict[tuple[str, str], str] = {}
    for name, table in TABLES.items():
        if anywhere[("bench", name)]:
            rendered[("bench", name)] = table(res) + "\n"
    for name, figure in FIGURES.items():
        if not anywhere[("fig", name)]:
            continue
        try:
            rendered[("fig", name)] = figure(res)
        except (FigureError, KeyError, ZeroDivisionError, statistics.StatisticsError) as e:
            errors.append(f"figure {name}: {e!r}" if not isinstance(e, FigureError) else f"figure {name}: {e}")
    changed: list[str] = []
    out: dict[str, str] = {}
    for doc, text in texts.items():
        opened = counts[doc][0]
        for (kind, name), value in rendered.items():
            if not opened[(kind, name)]:
                continue
            n = re.escape(name)
            pattern = (
                rf"(<!-- bench:{n} -->\n)(.*?)(<!-- /bench:{n} -->)"
                if kind == "bench"
                else rf"(<!-- fig:{n} -->)([^\n]*?)(<!-- /fig:{n} -->)"
            )
            matches = list(re.finditer(pattern, text, re.S))
            if len(matches) != opened[(kind, name)]:
                errors.append(
                    f"{doc}: marker <!-- {kind}:{name} --> is not closed where it should be (figures: on the same line)"
                )
            label = name if kind == "bench" else f"fig:{name}"
            if any(m.group(2) != value for m in matches) and label not in changed:
                changed.append(label)
            text = re.sub(pattern, lambda m, v=value: m.group(1) + v + m.group(3), text, flags=re.S)
        out[doc] = text
    prose = [" ".join(MARKER.sub("", FIGURE.sub(r"{\1}", text)).split()) for text in out.values()]
    for phrase, holds in CLAIMS:
        if not any(" ".join(phrase.split()) in p for p in prose):
            errors.append(
                f"claim {phrase!r} is no longer in any document: remove it from CLAIMS in benchmarks/figures.py"
            )
            continue
        try:
            ok = holds(res)
        except (FigureError, KeyError, ZeroDivisionError, statistics.StatisticsError) as e:
            errors.append(f"claim {phrase!r}: {e}")
            continue
        if not ok:
            errors.append(f"the documentation says {phrase!r}, which the records no longer support: reword it")
    return out, errors, changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a document is out of date")
    p.add_argument("--results", type=Path, default=RESULTS, help="the records' folder (default benchmarks/results)")
    p.add_argument(
        "--root", type=Path, default=ROOT, help="where README.md and docs/ are (default: the repository root)"
    )
    args = p.parse_args(argv)
    paths = {path.relative_to(args.root).as_posix(): path for path in documents(args.root)}
    old = {name: path.read_text() for name, path in paths.items()}
    new, errors, changed = render(old, Results(args.results))
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors:
        return 2
    stale = [name for name in old if new[name] != old[name]]
    if args.check:
        if stale:
            print(f"{', '.join(stale)} out of date ({', '.join(changed)}): run benchmarks/table.py", file=sys.stderr)
            return 1
        return 0
    for name in stale:
        paths[name].write_text(new[name])
    print(
        f"{len(changed)} tables and figures updated"
        + (f" ({', '.join(changed)}) in {', '.join(stale)}" if stale else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
