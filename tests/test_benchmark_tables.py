"""The benchmark tables and prose figures of the README and the documentation pages are generated from the
committed records (benchmarks/table.py, with tables.py, summary.py and figures.py), markers and generator agree both
ways, the records keep every seed (benchmarks/records.py), and benchmarks/run.py lists the recorded commands.
Fast: nothing here runs a benchmark."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import figures  # noqa: E402
import records  # noqa: E402
import run  # noqa: E402
import table  # noqa: E402
import tables  # noqa: E402

# Every document markers may live in (README.md and docs/**/*.md), by path relative to the repository root.
DOCS = {path.relative_to(ROOT).as_posix(): path.read_text() for path in table.documents(ROOT)}


def _holding(marker: str) -> str:
    """The first document that holds ``marker``."""
    return next(name for name, text in DOCS.items() if marker in text)


def _check(docs: dict[str, str], tmp_path: Path, capsys, *extra: str) -> tuple[int, str, dict[str, str]]:
    """table.py on a copy of ``docs`` (path -> text) under ``tmp_path``, in --check mode and then in write mode:
    (exit status, stderr, the documents after it); both modes must agree on errors."""
    root = Path(tempfile.mkdtemp(dir=tmp_path))  # a fresh tree per call: no document left from another
    for name, text in docs.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    checked = table.main(["--check", "--root", str(root), *extra])
    check_err = capsys.readouterr().err
    written = table.main(["--root", str(root), *extra])
    write_err = capsys.readouterr().err
    after = {name: (root / name).read_text() for name in docs}
    if checked == 2 or written == 2:
        assert (checked, written) == (2, 2) and check_err == write_err, (check_err, write_err)
        assert after == docs, "erroneous documents must be left as they were"
    return checked, check_err, after


def _edit(name: str, change) -> dict[str, str]:
    """The repository's documents with ``change`` applied to the text of document ``name``."""
    edited = dict(DOCS)
    edited[name] = change(DOCS[name])
    assert edited[name] != DOCS[name]
    return edited


def test_check_passes_on_the_repository():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "table.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_markers_live_in_the_readme_and_the_documentation_pages():
    assert "README.md" in DOCS and any(name.startswith("docs/") for name in DOCS)
    assert "<!-- bench:best -->" in DOCS["README.md"]  # the README's one table
    assert all(name == "README.md" or name.startswith("docs/") for name in DOCS)


def test_every_generator_entry_has_its_marker_and_every_marker_an_entry():
    everything = "\n".join(DOCS.values())
    for name in table.TABLES:
        assert f"<!-- bench:{name} -->\n" in everything and f"<!-- /bench:{name} -->" in everything
    for name in figures.FIGURES:
        assert f"<!-- fig:{name} -->" in everything
    assert {m.group(3) for m in table.MARKER.finditer(everything)} <= set(table.TABLES) | set(figures.FIGURES)


def test_a_figure_whose_marker_is_missing_everywhere_is_an_error(tmp_path, capsys):
    name = "scale-1x2-ckpt1"
    docs = {doc: table.FIGURE.sub(lambda m: "1.56" if m.group(1) == name else m.group(0), text)
            for doc, text in DOCS.items()}  # fmt: skip
    assert all(f"<!-- fig:{name} -->" not in text for text in docs.values())
    status, err, _ = _check(docs, tmp_path, capsys)
    assert status == 2 and f"entry fig:{name} has no <!-- fig:{name} --> marker" in err


def test_a_table_whose_marker_is_missing_is_an_error(tmp_path, capsys):
    doc = _holding("<!-- bench:precision -->")

    def drop(text: str) -> str:
        start, end = text.index("<!-- bench:precision -->"), text.index("<!-- /bench:precision -->")
        return text[:start] + text[end + len("<!-- /bench:precision -->") :]

    status, err, _ = _check(_edit(doc, drop), tmp_path, capsys)
    assert status == 2 and "entry bench:precision has no <!-- bench:precision --> marker" in err


def test_a_marker_the_generator_does_not_know_is_an_error(tmp_path, capsys):
    doc = _holding("## Speed and memory\n")
    figure = "## Speed and memory\n\nAbout <!-- fig:no-such-figure -->7<!-- /fig:no-such-figure -->.\n"
    docs = _edit(doc, lambda text: text.replace("## Speed and memory\n", figure))
    status, err, _ = _check(docs, tmp_path, capsys)
    assert status == 2 and f"{doc}: marker <!-- fig:no-such-figure --> names no entry" in err
    tbl = "## Speed and memory\n\n<!-- bench:no-such-table -->\n<!-- /bench:no-such-table -->\n"
    docs = _edit(doc, lambda text: text.replace("## Speed and memory\n", tbl))
    status, err, _ = _check(docs, tmp_path, capsys)
    assert status == 2 and "<!-- bench:no-such-table --> names no entry" in err


def test_an_unclosed_figure_marker_is_an_error(tmp_path, capsys):
    doc = _holding("<!-- /fig:checkpoint-ms -->")
    status, err, _ = _check(_edit(doc, lambda t: t.replace("<!-- /fig:checkpoint-ms -->", "", 1)), tmp_path, capsys)
    assert status == 2 and "fig:checkpoint-ms" in err and doc in err


def test_a_stale_figure_is_reported_and_rewritten(tmp_path, capsys):
    good = "<!-- fig:acc-dm-1 -->71.21<!-- /fig:acc-dm-1 -->"
    doc = _holding(good)
    docs = _edit(doc, lambda t: t.replace(good, "<!-- fig:acc-dm-1 -->99.99<!-- /fig:acc-dm-1 -->"))
    status, err, fixed = _check(docs, tmp_path, capsys)
    assert status == 1 and "fig:acc-dm-1" in err and doc in err
    assert fixed == DOCS


def test_markers_in_a_documentation_page_are_rendered(tmp_path, capsys):
    """A page of its own under docs/ (any depth) may hold a table and a figure the other documents also hold."""
    page = "docs/guides/new-page.md"
    figure = "DM at IPC 1: <!-- fig:acc-dm-1 -->0<!-- /fig:acc-dm-1 -->.\n\n"
    stale = figure + "<!-- bench:precision -->\nold\n<!-- /bench:precision -->\n"
    status, err, after = _check({**DOCS, page: "# New\n\n" + stale}, tmp_path, capsys)
    assert status == 1 and page in err
    assert "<!-- fig:acc-dm-1 -->71.21<!-- /fig:acc-dm-1 -->" in after[page]
    assert tables.precision_table(tables.Results()) in after[page]
    assert {name: after[name] for name in DOCS} == DOCS  # the others were up to date


def test_a_claim_may_live_in_any_document_but_must_live_in_one(tmp_path, capsys):
    phrase = "the gap closes with iterations"
    spaced = re.compile(r"\s+".join(map(re.escape, phrase.split())))  # the text may wrap it over lines
    doc = next(name for name, text in DOCS.items() if spaced.search(text))
    moved = _edit(doc, lambda t: spaced.sub("it narrows", t))
    status, err, _ = _check({**moved, "docs/claims.md": f"# Claims\n\nAs said, {phrase}.\n"}, tmp_path, capsys)
    assert status == 0, err
    status, err, _ = _check(moved, tmp_path, capsys)
    assert status == 2 and f"claim {phrase!r} is no longer in any document" in err


def test_a_claim_the_records_no_longer_support_is_an_error(tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(records.RESULTS, results)
    rows = json.loads((results / "accuracy.json").read_text())
    for r in rows:
        if r["method"] == "echo" and r["ipc"] == 10 and r["arch"] == "convnet" and r["device"].startswith("cpu"):
            r["accuracy_mean"] = 0.5
    (results / "accuracy.json").write_text(json.dumps(rows))
    status, err, _ = _check(DOCS, tmp_path, capsys, "--results", str(results))
    assert status == 2 and "ECHO beats DM at IPC 10" in err


def test_the_scale_table_shows_every_record():
    scale = tables.scale_table(tables.Results())
    for r in json.loads((records.RESULTS / "scale.json").read_text()):
        if r["metric"] == "seconds_per_iteration":
            assert f"{r['value']:.4f} s per iteration" in scale, r


def _accuracy_record(seed: int | None, accuracy: float) -> dict:
    r = {"benchmark": "accuracy", "dataset": "digits", "method": "dm", "ipc": 1, "arch": "convnet",
         "accuracy_mean": accuracy, "accuracy_std": 0.01, "models": 2, "precision": "fp32",
         "budget": {"iterations": 2, "batch_real": 8, "eval_epochs": 3}, "device": "cpu (test)",
         "date": "2026-01-01", "command": "test"}  # fmt: skip
    if seed is not None:
        r["seed"] = seed
    return r


def test_records_that_differ_only_in_seed_both_survive(tmp_path):
    records.save("accuracy", [_accuracy_record(None, 0.70)], results=tmp_path)  # no seed: seed 0
    records.save("accuracy", [_accuracy_record(1, 0.74)], results=tmp_path)
    saved = json.loads((tmp_path / "accuracy.json").read_text())
    assert sorted((records.seed_of(r), r["accuracy_mean"]) for r in saved) == [(0, 0.70), (1, 0.74)]
    # The same seed again replaces its record; seed 0 written explicitly is the record without a seed.
    records.save("accuracy", [_accuracy_record(1, 0.76), _accuracy_record(0, 0.72)], results=tmp_path)
    saved = json.loads((tmp_path / "accuracy.json").read_text())
    assert sorted((records.seed_of(r), r["accuracy_mean"]) for r in saved) == [(0, 0.72), (1, 0.76)]


def test_tables_and_figures_show_the_spread_over_seeds(tmp_path):
    records.save("accuracy", [_accuracy_record(s, a) for s, a in ((0, 0.70), (1, 0.74), (2, 0.72))], results=tmp_path)
    res = tables.Results(tmp_path)
    rows = [line for line in tables.accuracy_table(res).splitlines() if line.startswith("| digits")]
    assert len(rows) == 1 and "| 72.00 ± 2.00 over 3 seeds |" in rows[0]
    mean = figures.mean("accuracy", "accuracy_mean", 100, dataset="digits")(res)
    assert mean == pytest.approx(72.0)
    records.save("accuracy", [_accuracy_record(0, 0.70)], results=tmp_path / "one")
    one = tables.accuracy_table(tables.Results(tmp_path / "one"))
    assert "| 70.00 ± 1.00 |" in one and "seeds" not in one


def test_run_lists_and_dry_runs_every_recorded_command(capsys):
    assert run.main([]) == 0
    listed = capsys.readouterr().out
    names = sorted(p.stem for p in records.RESULTS.glob("*.json"))
    assert sorted(run.benchmarks()) == names and all(name in listed for name in names)
    assert run.main(["all", "--dry-run"]) == 0
    shown = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    recorded = {r["command"] for name in names for r in json.loads((records.RESULTS / f"{name}.json").read_text())}
    assert len(shown) == len(set(shown)) and set(shown) == recorded
    for command in shown:
        assert (ROOT / command.split()[1]).is_file(), command


def _selection_record(option: str, value, seed: int, accuracy: float) -> dict:
    return {"benchmark": "selection", "dataset": "digits", "method": "echo", "ipc": 1, "arch": "convnet",
            "setting": {option: value}, "scored_on": "validation", "accuracy_mean": accuracy, "accuracy_std": 0.01,
            "models": 2, "precision": "fp32", "seed": seed,
            "budget": {"iterations": 2, "batch_real": 8, "eval_epochs": 3, "validation": 5}, "device": "cpu (test)",
            "date": "2026-01-01", "command": "sweep " + option}  # fmt: skip


def test_selection_records_keep_every_value_and_seed_and_the_table_marks_the_best_mean(tmp_path):
    sweep = [("lr_img", v, s, a) for v, accs in ((10, (0.60, 0.62)), (100, (0.70, 0.64)), (30, (0.66, 0.66)))
             for s, a in enumerate(accs)]  # fmt: skip
    records.save("selection", [_selection_record(*r) for r in sweep], results=tmp_path)
    records.save("selection", [_selection_record("objective_options.power", 4, 0, 0.5)], results=tmp_path)
    saved = json.loads((tmp_path / "selection.json").read_text())
    assert len(saved) == 7 and all(r["scored_on"] == "validation" for r in saved)
    rows = [
        line for line in tables.selection_table(tables.Results(tmp_path)).splitlines() if line.startswith("| digits")
    ]
    lr = [row.split(" | ") for row in rows if "`lr_img`" in row]
    assert [cells[4] for cells in lr] == ["10", "30", "100"]  # numeric order
    # Means over seeds: 10 -> 61.00, 30 -> 66.00, 100 -> 67.00 (the best, despite its spread).
    chosen = [cells[4] for cells in lr if "**chosen**" in cells]
    assert chosen == ["100"] and "67.00 ± 4.24 over 2 seeds" in " ".join(lr[2])
    power = [row for row in rows if "`objective_options.power`" in row]
    assert len(power) == 1 and "**chosen**" in power[0]  # a sweep of its own, with one value


def test_the_selection_table_without_records_says_so(tmp_path):
    assert tables.selection_table(tables.Results(tmp_path)).startswith("No sweep recorded yet")


def test_the_superseded_lr_sweep_is_labelled_as_chosen_on_test():
    table_text = tables.lr_sweep_table(tables.Results())
    assert "chosen on test (superseded)" in table_text and "| echo | 10 | 100 |" in table_text
    assert not (BENCHMARKS / "results" / "lr_sweep.json").exists()  # not rerun by run.py
