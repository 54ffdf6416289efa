import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from condensed_data._version import __version__
from condensed_data.cli import build_parser, main

COMMANDS = ["condense", "evaluate", "info", "show", "push", "pull", "export", "prior", "methods"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: condensed-data {command}" in capsys.readouterr().out


def test_console_script_is_installed():
    """The `condensed-data` executable pip installed next to this interpreter runs the CLI."""
    script = Path(sys.executable).parent / "condensed-data"
    assert script.is_file(), f"{script} is missing: reinstall with pip install -e ."
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"condensed-data {__version__}"
    methods = subprocess.run([str(script), "methods"], capture_output=True, text=True, check=True).stdout
    assert all(name in methods for name in ("dm", "atom", "echo", "dcgm", "ld3m"))


def test_python_m_runs_the_cli():  # what torchrun and accelerate launch use
    out = subprocess.run(
        [sys.executable, "-m", "condensed_data.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"condensed-data {__version__}"


def test_methods_lists_dm_with_its_distribution(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    methods, objectives = out.split("objectives (--objective NAME):")
    line = next(row for row in methods.splitlines() if row.startswith("dm "))
    assert "condensed-data" in line and "(built-in)" in line
    line = next(row for row in objectives.splitlines() if row.startswith("echo "))
    assert "condensed-data" in line and "(built-in)" in line


def test_set_parses_json_values():
    args = build_parser().parse_args(["condense", "--set", "lr_img=0.5", "--set", "init=noise"])
    assert dict(args.options) == {"lr_img": 0.5, "init": "noise"}


def test_objective_swaps_the_comparison_and_is_recorded(tmp_path, capsys):
    """--method dm --objective echo keeps DM's settings and uses the kernel MMD; dotted --set reaches its options."""
    out = tmp_path / "dm-echo"
    code = main(["condense", "--method", "dm", "--objective", "echo", "--set", "objective_options.kernel=linear",
                 "--set", "batch_real=8", "--dataset", "digits", "--ipc", "1", "--iterations", "2", "--no-eval",
                 "--output", str(out)])  # fmt: skip
    assert code == 0
    config = json.loads((out / "condensed.json").read_text())["method"]["config"]
    assert (config["objective"], config["objective_options"], config["lr_img"]) == ("echo", {"kernel": "linear"}, 1.0)
    assert main(["condense", "--objective", "mtt", "--dataset", "digits", "--output", str(tmp_path / "x")]) == 2
    assert "unknown objective 'mtt'. Known objectives: atom, dm, echo." in capsys.readouterr().err
    assert main(["condense", "--set", "lr_img.x=1", "--dataset", "digits", "--output", str(tmp_path / "y")]) == 2


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "digits-dm-ipc1"
    code = main(
        [
            "condense",
            "--dataset",
            "digits",
            "--ipc",
            "1",
            "--iterations",
            "3",
            "--set",
            "batch_real=16",
            "--eval-epochs",
            "2",
            "--eval-models",
            "1",
            "--eval-arch",
            "convnet-d1",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_condense_records_both_evaluations(artifact):
    m = json.loads((artifact / "condensed.json").read_text())
    assert [e["subject"] for e in m["evaluation"]] == ["condensed", "random-real"]


def test_condense_prints_every_architecture_beside_the_baseline(tmp_path, capsys):
    code = main(["condense", "--dataset", "digits", "--ipc", "1", "--iterations", "1", "--set", "batch_real=8",
                 "--eval-epochs", "1", "--eval-models", "1", "--eval-arch", "convnet-d1,mlp", "--output",
                 str(tmp_path / "x")])  # fmt: skip
    assert code == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if "%" in line]
    assert [(r[0], r[2]) for r in rows] == [
        ("condensed", "convnet-d1"), ("condensed", "mlp"), ("random", "convnet-d1"), ("random", "mlp")
    ]  # fmt: skip


def test_info_and_json(artifact, capsys):
    assert main(["info", str(artifact)]) == 0
    out = capsys.readouterr().out
    assert "method:           dm condensed-data" in out and "images per class: 1" in out
    assert main(["info", str(artifact), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images_per_class"] == 1


def test_show_writes_a_png(artifact, tmp_path, capsys):
    assert main(["show", str(artifact), "-o", str(tmp_path / "grid.png"), "--scale", "1"]) == 0
    assert Image.open(tmp_path / "grid.png").size == (8 + 2, 10 * 9 + 1)


def test_evaluate_write_records_results(artifact, capsys):
    assert (
        main(["evaluate", str(artifact), "--eval-epochs", "2", "--eval-models", "2", "--eval-arch", "mlp", "--write"])
        == 0
    )
    out = capsys.readouterr().out
    assert "condensed (dm)" in out and "mlp" in out
    m = json.loads((artifact / "condensed.json").read_text())
    assert ("mlp", 2) in [(e["arch"], e["models"]) for e in m["evaluation"]]


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["condense", "--dataset", "imagenet-9000", "--output", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "fashion-mnist" in err and "digits" in err  # lists the known datasets
    assert main(["info", str(tmp_path)]) == 2
    assert "not a condensed-data artifact" in capsys.readouterr().err
    assert main(["condense", "--method", "nope", "--dataset", "digits", "--output", str(tmp_path / "y")]) == 2
    assert "dm" in capsys.readouterr().err


def test_paths_follow_the_local_dir_and_hf_hub_rule(artifact, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(artifact, tmp_path / "org" / "set")  # a local folder spelled like a Hub id
    assert main(["info", "local-dir:org/set"]) == 0
    assert "images per class: 1" in capsys.readouterr().out
    assert main(["export", "local-dir:org/set", "--to", "tensors"]) == 0
    assert (tmp_path / "org" / "set-tensors" / "condensed.json").is_file()  # written beside the local set
    capsys.readouterr()
    assert main(["info", "local-dir:org/missing"]) == 2  # a local folder, never looked up on the Hub
    assert "org/missing is not a folder" in capsys.readouterr().err
    assert main(["info", "no-such-set"]) == 2
    err = capsys.readouterr().err
    assert "'no-such-set' is neither" in err and "'local-dir:PATH'" in err and "'hf-hub:ORG/NAME'" in err
