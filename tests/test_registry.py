"""Tests for condensed_data.condense.registry: discovery, lazy loading, clashes and error messages, for both groups
(methods and objectives) served by the one Registry implementation."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from condensed_data.condense import entry_points, registry
from condensed_data.condense.registry import (
    DuplicateMethodError,
    DuplicateObjectiveError,
    PluginLoadError,
    Registered,
    RegistryError,
    UnknownMethodError,
    UnknownObjectiveError,
    get_method,
    get_objective,
    list_methods,
    list_objectives,
    lookup,
    lookup_objective,
    method_info,
    objective_info,
    refresh,
    register,
    register_objective,
    unregister,
    unregister_objective,
)

GROUP = registry.ENTRY_POINT_GROUP
OBJECTIVES = registry.OBJECTIVE_ENTRY_POINT_GROUP
AddEntryPoint = Callable[..., None]


def _fresh(old: registry.Registry) -> registry.Registry:
    return registry.Registry(old.group, old.kind, contract=old.contract, register_function=old.register_function)


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from empty registries, with plugin autoload on."""
    monkeypatch.setattr(registry, "_METHODS", _fresh(registry._METHODS))
    monkeypatch.setattr(registry, "_OBJECTIVES", _fresh(registry._OBJECTIVES))
    monkeypatch.delenv(registry.DISABLE_AUTOLOAD_ENV, raising=False)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> AddEntryPoint:
    """Replace the installed distributions' entry points (of every group) by the ones a test adds."""
    entries: list[tuple[EntryPoint, str, str]] = []

    def scan(group: str) -> Iterator[tuple[EntryPoint, str, str]]:
        return iter([e for e in entries if e[0].group == group])

    monkeypatch.setattr(entry_points, "iter_entry_points", scan)

    def add(name: str, value: str, dist: str = "third-party", version: str = "1.0", *, group: str = GROUP) -> None:
        entries.append((EntryPoint(name=name, value=value, group=group), dist, version))

    return add


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a uniquely named module into tmp_path (on sys.path) and return its name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    created: list[str] = []

    def make(source: str) -> str:
        name = f"cd_test_plugin_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        created.append(name)
        return name

    yield make
    for name in created:
        sys.modules.pop(name, None)


def _info(name: str, **kwargs: bool) -> list[registry.MethodInfo]:
    return [i for i in method_info(**kwargs) if i.name == name]


def test_discovers_third_party_plugin(installed: AddEntryPoint, make_module: Callable[[str], str]) -> None:
    mod = make_module("class Toy:\n    pass\n")
    installed("toy", f"{mod}:Toy", dist="toy-plugin", version="0.3")

    assert list_methods() == ["toy"]
    assert method_info() == [registry.MethodInfo("toy", f"{mod}:Toy", "toy-plugin", "0.3", False, None)]
    cls = get_method("toy")
    assert cls.__name__ == "Toy" and cls.__module__ == mod


def test_loading_is_lazy_and_cached(
    installed: AddEntryPoint, make_module: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lazy, other = make_module("class A:\n    pass\n"), make_module("class B:\n    pass\n")
    installed("lazy", f"{lazy}:A")
    installed("other", f"{other}:B")
    loads: list[str] = []
    real_load = entry_points.load_entry
    monkeypatch.setattr(
        entry_points, "load_entry", lambda entry, **kw: loads.append(entry.name) or real_load(entry, **kw)
    )

    assert list_methods() == ["lazy", "other"]
    method_info()
    assert lazy not in sys.modules and other not in sys.modules

    first = get_method("lazy")
    assert lazy in sys.modules and other not in sys.modules  # only the asked-for plugin is imported
    assert get_method("lazy") is first
    assert loads == ["lazy"]


def test_broken_plugin_names_its_distribution_and_others_still_load(
    installed: AddEntryPoint, make_module: Callable[[str], str]
) -> None:
    broken = make_module("raise RuntimeError('boom at import')\n")
    good = make_module("class Good:\n    pass\n")
    installed("broken", f"{broken}:Cls", dist="broken-dist", version="2.0")
    installed("good", f"{good}:Good")

    with pytest.raises(PluginLoadError) as excinfo:
        get_method("broken")
    message = str(excinfo.value)
    assert "method 'broken' from distribution 'broken-dist 2.0' failed to import" in message
    assert "boom at import" in message and "Reinstall or uninstall 'broken-dist'" in message
    assert isinstance(excinfo.value, ImportError) and isinstance(excinfo.value, RegistryError)
    assert (excinfo.value.distribution, excinfo.value.version) == ("broken-dist", "2.0")
    assert isinstance(excinfo.value.__cause__, RuntimeError)

    assert get_method("good").__name__ == "Good"
    errors = {i.name: i.error for i in method_info(load=True)}
    assert errors["good"] is None
    assert "boom at import" in errors["broken"] and "broken-dist 2.0" in errors["broken"]


def test_missing_module_attribute_and_dependency(installed: AddEntryPoint, make_module: Callable[[str], str]) -> None:
    needs_dep = make_module("import cd_surely_not_installed_dep\n")
    no_attr = make_module("x = 1\n")
    installed("gone", "cd_surely_not_installed_module:Cls", dist="gone-dist")
    installed("needs-dep", f"{needs_dep}:Cls", dist="dep-dist")
    installed("no-attr", f"{no_attr}:Missing", dist="attr-dist")

    with pytest.raises(PluginLoadError, match="'gone-dist 1.0' failed to import: ModuleNotFoundError"):
        get_method("gone")
    with pytest.raises(PluginLoadError, match="needs the module 'cd_surely_not_installed_dep'"):
        get_method("needs-dep")
    with pytest.raises(PluginLoadError, match="AttributeError"):
        get_method("no-attr")


@pytest.mark.parametrize("target", ["function", "instance"])
def test_entry_point_must_name_a_class(
    target: str, installed: AddEntryPoint, make_module: Callable[[str], str]
) -> None:
    mod = make_module("def function():\n    pass\n\ninstance = object()\n")
    installed("notclass", f"{mod}:{target}", dist="sloppy")

    with pytest.raises(PluginLoadError, match="not a class") as excinfo:
        get_method("notclass")
    assert "'sloppy 1.0'" in str(excinfo.value) and "must name a class" in str(excinfo.value)


def test_plugin_clashing_with_builtin_is_an_error(installed: AddEntryPoint, make_module: Callable[[str], str]) -> None:
    evil = make_module("class Evil:\n    pass\n")
    installed("dm", "condensed_data_plugins.dm:DM", dist="condensed-data", version="0.1.0")
    installed("DM", f"{evil}:Evil", dist="evil-plugin", version="6.6")  # case-insensitive: the same name

    with pytest.raises(DuplicateMethodError) as excinfo:
        get_method("dm")
    message = str(excinfo.value)
    assert "'condensed-data 0.1.0' (built-in" in message and "'evil-plugin 6.6'" in message
    assert "uninstall 'evil-plugin'" in message and "rename its entry point" in message
    assert excinfo.value.distributions == ["condensed-data 0.1.0", "evil-plugin 6.6"]
    assert evil not in sys.modules  # never imported, never silently used

    assert list_methods() == ["dm"]
    infos = _info("dm")
    assert [(i.distribution, i.builtin) for i in infos] == [("condensed-data", True), ("evil-plugin", False)]
    assert all(i.error and "registered more than once" in i.error for i in infos)


def test_clash_between_two_plugins(installed: AddEntryPoint) -> None:
    installed("fancy", "a_pkg:Fancy", dist="plugin-a", version="1")
    installed("fancy", "b_pkg:Fancy", dist="plugin-b", version="2")

    with pytest.raises(DuplicateMethodError, match="'plugin-a 1'.*'plugin-b 2'.*Uninstall one of them"):
        get_method("fancy")


def test_same_distribution_seen_twice_is_not_a_clash(
    installed: AddEntryPoint, make_module: Callable[[str], str]
) -> None:
    mod = make_module("class Toy:\n    pass\n")
    installed("toy", f"{mod}:Toy", dist="toy_plugin")
    installed("toy", f"{mod}:Toy", dist="Toy-Plugin")

    assert len(method_info()) == 1
    assert get_method("toy").__name__ == "Toy"


def test_unknown_name_lists_known_names(installed: AddEntryPoint) -> None:
    installed("dm", "condensed_data_plugins.dm:DM", dist="condensed-data")
    installed("atom", "condensed_data_plugins.atom:ATOM", dist="condensed-data")

    with pytest.raises(UnknownMethodError) as excinfo:
        get_method("dmm")
    message = str(excinfo.value)
    assert message.startswith("unknown method 'dmm'. Known methods: atom, dm.")  # no KeyError quoting
    assert "Did you mean 'dm'?" in message and "pip install" in message and GROUP in message
    assert isinstance(excinfo.value, KeyError)
    assert excinfo.value.known == ["atom", "dm"]


def test_lookup_is_case_insensitive(installed: AddEntryPoint, make_module: Callable[[str], str]) -> None:
    mod = make_module("class Toy:\n    pass\n")
    installed("Toy-Method", f"{mod}:Toy")

    assert list_methods() == ["toy-method"]
    assert get_method("TOY-METHOD") is get_method("toy-method") is get_method(" Toy-Method ")


@pytest.mark.parametrize("bad", ["bad name", "_private", "-dash", "dots.not.allowed", "ü"])
def test_invalid_entry_point_name_is_reported_and_skipped(installed: AddEntryPoint, bad: str) -> None:
    installed(bad, "pkg.mod:Cls", dist="odd-dist", version="0.1")
    installed("fine", "pkg.mod:Cls", dist="odd-dist", version="0.1")

    assert list_methods() == ["fine"]
    (info,) = _info(bad)
    assert info.distribution == "odd-dist" and "invalid method name" in (info.error or "")
    with pytest.raises(UnknownMethodError, match="'odd-dist' declares it, but it was skipped: invalid method name"):
        get_method(bad)


def test_register_override_and_unregister(installed: AddEntryPoint) -> None:
    installed("dm", "condensed_data_plugins.dm:DM", dist="condensed-data", version="0.1.0")

    class Mine:
        pass

    class Other:
        pass

    register("Mine", Mine)
    assert get_method("mine") is Mine
    (info,) = _info("mine")
    assert (info.distribution, info.builtin, info.value) == ("<runtime>", False, f"{__name__}:{Mine.__qualname__}")
    with pytest.raises(DuplicateMethodError, match="override=True"):
        register("mine", Other)
    register("mine", Other, override=True)
    assert get_method("mine") is Other

    with pytest.raises(DuplicateMethodError, match="'condensed-data 0.1.0'"):
        register("dm", Mine)
    register("dm", Mine, override=True)
    assert get_method("dm") is Mine
    unregister("dm")  # the installed built-in is back
    assert _info("dm")[0].distribution == "condensed-data"

    unregister("mine")
    assert list_methods() == ["dm"]
    with pytest.raises(UnknownMethodError):
        unregister("mine")
    with pytest.raises(RegistryError, match="uninstall"):
        unregister("dm")


def test_register_validates_its_arguments(make_module: Callable[[str], str], installed: AddEntryPoint) -> None:
    with pytest.raises(ValueError, match="invalid method name"):
        register("no spaces", object)
    with pytest.raises(TypeError, match="needs a class"):
        register("fn", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="package.module:Class"):
        register("path", "not a path")

    mod = make_module("class Lazy:\n    pass\n")
    register("lazy", f"{mod}:Lazy")
    assert mod not in sys.modules
    assert get_method("lazy").__name__ == "Lazy"
    register("broken", "cd_surely_not_installed_module:Cls")
    with pytest.raises(PluginLoadError, match="registered at runtime"):
        get_method("broken")


def test_refresh_rereads_entry_points_and_keeps_runtime_registrations(installed: AddEntryPoint) -> None:
    installed("first", "pkg.mod:A")
    register("runtime", "pkg.mod:R")
    assert list_methods() == ["first", "runtime"]

    installed("second", "pkg.mod:B")
    assert list_methods() == ["first", "runtime"]  # cached
    refresh()
    assert list_methods() == ["first", "runtime", "second"]


def test_disable_autoload_keeps_only_builtins(installed: AddEntryPoint, monkeypatch: pytest.MonkeyPatch) -> None:
    installed("dm", "condensed_data_plugins.dm:DM", dist="condensed-data", version="0.1.0")
    installed("dm", "evil:DM", dist="evil-plugin")
    installed("toy", "toy:Toy", dist="toy-plugin")
    monkeypatch.setenv(registry.DISABLE_AUTOLOAD_ENV, "1")
    refresh()

    assert list_methods() == ["dm"]
    assert [i.distribution for i in method_info()] == ["condensed-data"]  # and the clash is gone
    with pytest.raises(UnknownMethodError, match=registry.DISABLE_AUTOLOAD_ENV):
        get_method("toy")


def test_discovery_runs_once_under_concurrent_lookups(
    installed: AddEntryPoint, make_module: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = make_module("class Toy:\n    pass\n")
    installed("toy", f"{mod}:Toy")
    scans: list[int] = []
    patched = entry_points.iter_entry_points
    monkeypatch.setattr(entry_points, "iter_entry_points", lambda group: scans.append(1) or patched(group))
    results: list[type] = []
    threads = [threading.Thread(target=lambda: results.append(get_method("toy"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(scans) == 1
    assert len(results) == 8 and len(set(results)) == 1


def test_errors_survive_pickling(installed: AddEntryPoint) -> None:
    installed("gone", "cd_surely_not_installed_module:Cls", dist="gone-dist", version="3")
    installed("twice", "a:A", dist="plugin-a")
    installed("twice", "b:B", dist="plugin-b")
    for name, error_type in [("gone", PluginLoadError), ("twice", DuplicateMethodError), ("nope", UnknownMethodError)]:
        with pytest.raises(error_type) as excinfo:
            get_method(name)
        copy = pickle.loads(pickle.dumps(excinfo.value))
        assert type(copy) is error_type and str(copy) == str(excinfo.value)
        assert vars(copy) == vars(excinfo.value)


def test_lookup_returns_the_class_with_its_distribution(
    installed: AddEntryPoint, make_module: Callable[[str], str]
) -> None:
    mod = make_module("class Toy:\n    pass\n")
    installed("Toy", f"{mod}:Toy", dist="toy-plugin", version="0.3")

    found = lookup("TOY")
    assert found == Registered(get_method("toy"), "toy", "toy-plugin", "0.3") and not found.builtin
    assert lookup("toy") is found  # one import, one record

    class Mine:
        pass

    register("mine", Mine)
    assert lookup("mine") == Registered(Mine, "mine", "<runtime>", "")


def test_objectives_are_a_second_group_with_the_same_rules(
    installed: AddEntryPoint, make_module: Callable[[str], str]
) -> None:
    mod = make_module("class Fancy:\n    pass\n")
    broken = make_module("raise RuntimeError('objective boom')\n")
    installed(
        "dm", "condensed_data_plugins.dm:DM", dist="condensed-data", version="0.1.0"
    )  # a method, not an objective
    installed("dm", "condensed_data.condense.objectives:MeanEmbedding", dist="condensed-data", group=OBJECTIVES)
    installed("fancy", f"{mod}:Fancy", dist="fancy-objective", version="2.1", group=OBJECTIVES)
    installed("broken", f"{broken}:Cls", dist="broken-objective", group=OBJECTIVES)
    installed("DM", "evil:MeanEmbedding", dist="evil-plugin", group=OBJECTIVES)

    assert list_methods() == ["dm"] and list_objectives() == ["broken", "dm", "fancy"]
    assert lookup_objective("Fancy") == Registered(get_objective("fancy"), "fancy", "fancy-objective", "2.1")
    with pytest.raises(PluginLoadError, match="objective 'broken' from distribution 'broken-objective 1.0'"):
        get_objective("broken")
    with pytest.raises(DuplicateObjectiveError, match="cannot replace a built-in objective.*condensed_data.objectives"):
        get_objective("dm")
    with pytest.raises(UnknownObjectiveError, match="unknown objective 'fancyy'. Known objectives: broken, dm, fancy"):
        get_objective("fancyy")
    assert isinstance(UnknownObjectiveError("x"), ValueError)  # what a method config's bad values raise
    errors = {i.name: i.error for i in objective_info(load=True)}
    assert errors["fancy"] is None and "objective boom" in (errors["broken"] or "")

    register_objective("Mine", f"{mod}:Fancy")
    assert get_objective("mine") is get_objective("fancy")
    with pytest.raises(DuplicateObjectiveError, match="override=True"):
        register_objective("mine", f"{mod}:Fancy")
    with pytest.raises(ValueError, match=r"register_objective\('p', 'no path'\)"):
        register_objective("p", "no path")
    with pytest.raises(RegistryError, match=r"not from register_objective\(\)"):
        unregister_objective("fancy")
    unregister_objective("mine")
    assert "mine" not in list_objectives() and "mine" not in list_methods()


def test_refresh_rereads_both_groups(installed: AddEntryPoint) -> None:
    assert list_methods() == [] and list_objectives() == []
    installed("m", "pkg:M")
    installed("o", "pkg:O", group=OBJECTIVES)
    refresh()
    assert list_methods() == ["m"] and list_objectives() == ["o"]


def test_real_entry_points_include_builtin_dm() -> None:
    already_imported = "condensed_data_plugins.dm" in sys.modules
    assert "dm" in list_methods()
    (info,) = _info("dm")
    assert info.builtin and info.error is None
    assert entry_points.normalize_distribution(info.distribution) == registry.BUILTIN_DISTRIBUTION
    assert info.value == "condensed_data_plugins.dm:DM"
    assert ("condensed_data_plugins.dm" in sys.modules) == already_imported  # listing imports nothing


def test_real_entry_points_include_the_builtin_objectives() -> None:
    infos = {i.name: i for i in objective_info()}
    assert {"dm", "atom", "echo"} <= set(infos)
    assert infos["echo"].builtin and infos["echo"].value == "condensed_data.condense.objectives:KernelMMD"
    assert get_objective("atom").__name__ == "AttentionMixer"


def test_real_installed_distribution_is_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"cd_real_plugin_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text("class RealPlugin:\n    pass\n")
    dist_info = tmp_path / "cd_real_plugin-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: cd-real-plugin\nVersion: 1.2.3\n")
    (dist_info / "entry_points.txt").write_text(f"[{GROUP}]\nreal-plugin = {module}:RealPlugin\n")
    assert "real-plugin" not in list_methods()

    monkeypatch.syspath_prepend(str(tmp_path))
    refresh()
    try:
        assert "real-plugin" in list_methods() and "dm" in list_methods()
        (info,) = _info("real-plugin")
        assert (info.distribution, info.version, info.builtin) == ("cd-real-plugin", "1.2.3", False)
        assert get_method("real-plugin").__name__ == "RealPlugin"
    finally:
        sys.modules.pop(module, None)


def test_importing_the_registry_is_cheap() -> None:
    # A fresh interpreter: importing the registry (and entry_points, its machinery) runs no plugin code and imports
    # neither torch nor importlib.metadata, nor any other condensed_data module (so no import circle is possible).
    code = (
        "import sys; before = set(sys.modules); import condensed_data.condense.registry; "
        "new = set(sys.modules) - before; "
        "print(sorted(m for m in new if m.split('.')[0] in {'torch', 'condensed_data', 'condensed_data_plugins'} "
        "or m == 'importlib.metadata'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    allowed = ["condensed_data", "condensed_data._lazy", "condensed_data._version", "condensed_data.condense"]
    allowed += ["condensed_data.condense.entry_points", "condensed_data.condense.plugin_registry"]
    allowed += ["condensed_data.condense.registry"]
    assert out.strip() == str(sorted(allowed))
