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
# The one helper allowed to call torch.load, and only with weights_only=True written literally.
RESTRICTED_LOADER = ROOT / "interop" / "safe_torch.py"


def _weights_only(call: ast.Call) -> bool:
    """True for ``torch.load(..., weights_only=True)`` with the literal ``True`` (not a variable, not omitted)."""
    return any(
        k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords
    )


def _unpickling_uses(path: Path, *, allow_weights_only: bool = False) -> list[str]:
    """Every place ``path`` imports a pickling module or calls ``torch.load`` / ``numpy.load``, under any alias.

    With ``allow_weights_only``, a ``torch.load`` call passing ``weights_only=True`` literally is not reported.
    """
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
                if allow_weights_only and module.startswith("torch") and _weights_only(node):
                    continue
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


def test_the_checker_allows_only_literal_weights_only_true(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import torch\nimport torch as t\nflag = True\n"
        "torch.load('a', weights_only=True)\nt.load('b', map_location='cpu', weights_only=True)\n"
        "torch.load('c', weights_only=False)\ntorch.load('d')\ntorch.load('e', weights_only=flag)\n"
        "torch.load('f', **{'weights_only': True})\n"
    )
    found = _unpickling_uses(sample, allow_weights_only=True)
    assert [line.split(":")[0] for line in found] == ["line 6", "line 7", "line 8", "line 9"]
    assert len(_unpickling_uses(sample)) == 6


@pytest.mark.parametrize("wing", LOADING_WING)
def test_loading_wing_has_no_unpickling_code(wing):
    for path in sorted((ROOT / wing).rglob("*.py")):
        allowed = path == RESTRICTED_LOADER
        assert _unpickling_uses(path, allow_weights_only=allowed) == [], path.relative_to(ROOT)


def test_the_restricted_loader_is_the_only_torch_load():
    """interop/safe_torch.py calls torch.load exactly once, with weights_only=True; nothing else in the wing may."""
    assert len(_unpickling_uses(RESTRICTED_LOADER)) == 1
    assert _unpickling_uses(RESTRICTED_LOADER, allow_weights_only=True) == []


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
