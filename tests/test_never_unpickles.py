"""Nothing downloaded or imported is ever unpickled: checked on the code (every import and call, aliases included)
and at run time (loading every artifact kind with every unpickling entry point made to fail)."""

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_artifact
from test_generator_source import make_generator_artifact

from condensed_data.dataset import CondensedDataset, CondensedIterableDataset
from condensed_data.interop.export import export_tensors, export_webdataset

ROOT = Path(__file__).resolve().parents[1] / "condensed_data"
LOADING_WING = ("dataset", "sources", "models", "artifact", "hub", "interop")
PICKLING = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
LOADERS = {"torch": {"load"}, "numpy": {"load"}, "torch.serialization": {"load"}}


def _unpickling_uses(path: Path) -> list[str]:
    """Every place ``path`` imports a pickling module or calls ``torch.load`` / ``numpy.load``, under any alias."""
    tree = ast.parse(path.read_text())
    aliases: dict[str, str] = {}  # local name -> module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PICKLING:
                    found.append(f"line {node.lineno}: import {a.name}")
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in PICKLING:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for a in node.names:
                if a.name in LOADERS.get(node.module, ()):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                aliases.setdefault(a.asname or a.name, f"{node.module}.{a.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            name = ast.unparse(base)
            module = aliases.get(name.split(".")[0], "")
            module = ".".join([module, *name.split(".")[1:]]) if module else name
            if node.func.attr in LOADERS.get(module, ()):
                found.append(f"line {node.lineno}: {module}.{node.func.attr}(...)")
    return found


def test_the_checker_sees_through_aliases(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import pickle as p\nimport torch as t\nfrom numpy import load as l\nimport torch.serialization as s\n"
        "t.load('x')\ns.load('y')\n"
    )
    assert len(_unpickling_uses(sample)) == 4
    sample.write_text("import torch\nfrom safetensors.torch import load_file\ntorch.tensor(1)\nload_file('x')\n")
    assert _unpickling_uses(sample) == []


@pytest.mark.parametrize("wing", LOADING_WING)
def test_loading_wing_has_no_unpickling_code(wing):
    for path in sorted((ROOT / wing).rglob("*.py")):
        assert _unpickling_uses(path) == [], path.relative_to(ROOT)


@pytest.fixture
def no_unpickling(monkeypatch):
    """Every unpickling entry point raises, for the duration of the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for owner, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load"),
                        (torch.serialization, "load"), (np, "load")]:  # fmt: skip
        monkeypatch.setattr(owner, name, refuse)


def test_every_artifact_kind_loads_without_unpickling(tmp_path, no_unpickling):
    tensors = tmp_path / "tensors"
    make_artifact(tensors)
    generator = make_generator_artifact(tmp_path / "generator")
    shards = tmp_path / "shards"
    export_webdataset(tensors, shards, shard_size=2)
    for folder in (tensors, generator, shards):
        ds = CondensedDataset(folder)
        assert torch.isfinite(torch.stack([ds[i][0] for i in range(len(ds))])).all()
    assert len(list(CondensedIterableDataset(shards))) == 6
    assert export_tensors(generator, tmp_path / "materialized").images_per_class == 4
