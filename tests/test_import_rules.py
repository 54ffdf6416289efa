"""The layout's import rules, enforced by package (see docs/project.md, Layout).

The loading wing never imports the training wing or a plugin; the core reaches plugins only through the
registries; plugins never import each other; no module imports itself back through a circle; no module is over 500
lines; each optional heavy dependency is imported by one package only.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "condensed_data"
LOADING = ("dataset", "sources", "models", "artifact", "hub", "interop")
TRAINING = ("data", "nn", "condense", "evaluate", "testing")
SHARED = ("_lazy", "_version", "seeding", "runtime")  # small helpers both wings use
TOP_LEVEL = {*LOADING, *TRAINING, *SHARED, "cli", "__init__"}
MAX_LINES = 500


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[0] == "plugins":
        parts = ("condensed_data_plugins", *parts[1:])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "plugins").glob("*.py"))


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (inside functions too), with ``from X import y`` as ``X.y``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _wing(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "condensed_data_plugins":
        return "plugins"
    if parts[0] != "condensed_data" or len(parts) < 2:
        return None
    return "loading" if parts[1] in LOADING else "training" if parts[1] in TRAINING else None


def test_every_top_level_module_and_package_belongs_to_a_wing():
    found = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert found == TOP_LEVEL


def test_loading_wing_never_imports_the_training_wing_or_plugins():
    for path in _files():
        if _wing(_module(path)) == "loading":
            bad = sorted(m for m in _imports(path) if _wing(m) in ("training", "plugins"))
            assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_loading_wing_imports_no_training_code_at_runtime():
    modules = ", ".join(f"condensed_data.{p}" for p in LOADING)
    code = f"import sys; import {modules}, condensed_data.dataset.condensed; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert [m for m in loaded if _wing(m) in ("training", "plugins")] == []
    assert not any(m.startswith("diffusers") for m in loaded)  # only a latent-diffusion set loads it, lazily
    assert "condensed_data.dataset.condensed" in loaded  # the probe really imported the loading wing


def test_core_never_imports_a_plugin_and_plugins_never_import_each_other():
    for path in sorted(PACKAGE.rglob("*.py")):
        assert not any(m.startswith("condensed_data_plugins") for m in _imports(path)), path
    for path in sorted((ROOT / "plugins").glob("*.py")):
        others = [m for m in _imports(path) if m.startswith("condensed_data_plugins")]
        assert others == [], f"plugin {path.name} imports {others}"


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in _files()}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path):
            # `from pkg import sub` names a module; `from mod import func` names the module itself
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def test_no_import_circles():
    """No module can reach itself through its imports (a package's ``__init__`` re-exporting its own modules is
    the one allowed edge from a package into its children)."""
    graph = _graph()
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    circles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                circles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


@pytest.mark.parametrize("dependency, owner", [("huggingface_hub", "hub"), ("accelerate", "condense/processes.py")])
def test_one_place_imports_each_service_library(dependency, owner):
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix().startswith(owner):
            continue
        assert not any(m.startswith(dependency) for m in _imports(path)), path


def test_only_the_diffusion_modules_import_diffusers():
    allowed = {"models/diffusion.py", "condense/priors.py"}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() not in allowed:
            assert not any(m.startswith("diffusers") for m in _imports(path)), path


def test_no_module_over_500_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in _files() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
