"""DESIGN.md's import rules, enforced."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOADING_SIDE = [
    "condensed_data.shards",
    "condensed_data.streaming",
    "condensed_data.loading",
    "condensed_data.export",
    "condensed_data.dataset",
    "condensed_data.manifest",
    "condensed_data.artifact",
    "condensed_data.sources",
    "condensed_data.hub",
    "condensed_data.card",
    "condensed_data.generative",
    "condensed_data.diffusion",
]
TRAINING_SIDE = (
    "condensed_data.condense",
    "condensed_data.distributed",
    "condensed_data.evaluate",
    "condensed_data.augment",
    "condensed_data.method",
    "condensed_data.objectives",
    "condensed_data.nn",
    "condensed_data_plugins",
)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_loading_side_imports_no_training_code_at_runtime():
    code = f"import sys; import {', '.join(LOADING_SIDE)}; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    offenders = [m for m in loaded if m.startswith(TRAINING_SIDE)]
    assert offenders == []
    assert not any(m.startswith("diffusers") for m in loaded)  # only a latent-diffusion set loads it, lazily
    assert "condensed_data.dataset" in loaded  # the probe really imported the loading side


def test_loading_side_sources_have_no_training_imports():
    files = [ROOT / "condensed_data" / f"{m.split('.')[-1]}.py" for m in LOADING_SIDE if m != "condensed_data.sources"]
    files += sorted((ROOT / "condensed_data" / "sources").glob("*.py"))
    for path in files:
        bad = [m for m in _imports(path) if m.startswith(TRAINING_SIDE)]
        assert bad == [], f"{path.name} imports {bad}"


def test_only_hub_imports_huggingface_hub():
    for path in sorted((ROOT / "condensed_data").rglob("*.py")):
        if path.name == "hub.py":
            continue
        assert not any(m.startswith("huggingface_hub") for m in _imports(path)), path


def test_only_the_diffusion_modules_import_diffusers():
    allowed = {"diffusion.py", "prior.py"}
    for path in sorted((ROOT / "condensed_data").rglob("*.py")):
        if path.name not in allowed:
            assert not any(m.startswith("diffusers") for m in _imports(path)), path


def test_only_distributed_imports_accelerate():
    for path in sorted((ROOT / "condensed_data").rglob("*.py")):
        if path.name == "distributed.py":
            continue
        assert not any(m.startswith("accelerate") for m in _imports(path)), path


def test_core_never_imports_a_plugin_and_plugins_never_import_each_other():
    for path in sorted((ROOT / "condensed_data").rglob("*.py")):
        assert not any(m.startswith("condensed_data_plugins") for m in _imports(path)), path
    for path in sorted((ROOT / "plugins").glob("*.py")):
        others = [m for m in _imports(path) if m.startswith("condensed_data_plugins")]
        assert others == [], f"plugin {path.name} imports {others}"
