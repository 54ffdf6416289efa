"""The registries: method names and objective names -> classes, from entry points.

One :class:`Registry` implementation serves two entry-point groups:

* ``condensed_data.methods``: name -> a class implementing the method contract (:mod:`condensed_data.condense.method`),
  looked up by :func:`get_method` / :func:`lookup` (``--method NAME``);
* ``condensed_data.objectives``: name -> an :class:`~condensed_data.condense.objectives.Objective` subclass, looked up
  by :func:`get_objective` (``--objective NAME`` and ``objective=`` in a method's config, through
  :func:`~condensed_data.condense.objectives.make_objective`).

The built-ins (methods ``dm``, ``atom``, ...; objectives ``dm``, ``atom``, ``echo``) are registered in this project's
own ``pyproject.toml`` exactly as a third-party plugin registers one, so both go through the same path:

.. code-block:: toml

    [project.entry-points."condensed_data.methods"]
    my-method = "my_package.method:MyMethod"

    [project.entry-points."condensed_data.objectives"]
    my-objective = "my_package.objective:MyObjective"

How a registry behaves, and why:

* **Lazy.** Entry points are read on first use and cached (scanning installed distributions is slow enough to
  notice). Only ``name -> EntryPoint`` is kept; a plugin module is imported when a lookup asks for that one name, so
  listing never runs plugin code, and this module imports neither torch nor ``importlib.metadata`` (nor anything
  of ``condensed_data`` but :mod:`.plugin_registry` and :mod:`.entry_points`) at import time.
* **Isolated failures.** A plugin that fails to import raises :class:`PluginLoadError` naming its distribution and
  version, for that name only; every other entry still loads. ``method_info(load=True)`` (and
  ``objective_info(load=True)``) report such errors instead of raising, for ``condensed-data methods``.
* **No silent overrides.** Two distributions claiming one name (a plugin against a built-in, or two plugins) make
  that name an error (:class:`DuplicateMethodError` / :class:`DuplicateObjectiveError` naming both), never a
  "first/last one wins". Only an explicit ``register(name, obj, override=True)`` replaces an entry, and only in the
  running process.
* **Names** are case-insensitive (stored lower-case) and must match ``[a-z0-9][a-z0-9_-]*``. An entry point with
  any other name is skipped and reported through :func:`method_info` / :func:`objective_info`.
* ``CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD=1`` restricts discovery to the built-ins (distribution
  ``condensed-data``); it is read at discovery time, so call :func:`refresh` after changing it in-process.

Runtime registrations (:func:`register`, :func:`register_objective`) live in this process only and survive
:func:`refresh`, which re-reads entry points only. A registry does not check the contract itself
(``condensed_data.testing`` does); it only checks that an entry point names a class.
"""

from __future__ import annotations

from condensed_data.condense.entry_points import (
    BUILTIN_DISTRIBUTION,
    DISABLE_AUTOLOAD_ENV,
    RUNTIME_DISTRIBUTION,
    DuplicateMethodError,
    DuplicateNameError,
    DuplicateObjectiveError,
    EntryInfo,
    PluginLoadError,
    Registered,
    RegistryError,
    UnknownMethodError,
    UnknownNameError,
    UnknownObjectiveError,
)
from condensed_data.condense.plugin_registry import Registry

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "OBJECTIVE_ENTRY_POINT_GROUP",
    "RUNTIME_DISTRIBUTION",
    "DuplicateMethodError",
    "DuplicateNameError",
    "DuplicateObjectiveError",
    "EntryInfo",
    "MethodInfo",
    "PluginLoadError",
    "Registered",
    "Registry",
    "RegistryError",
    "UnknownMethodError",
    "UnknownNameError",
    "UnknownObjectiveError",
    "get_method",
    "get_objective",
    "list_methods",
    "list_objectives",
    "lookup",
    "lookup_objective",
    "method_info",
    "objective_info",
    "refresh",
    "register",
    "register_objective",
    "unregister",
    "unregister_objective",
]

ENTRY_POINT_GROUP = "condensed_data.methods"
OBJECTIVE_ENTRY_POINT_GROUP = "condensed_data.objectives"
MethodInfo = EntryInfo  # the name from when only methods had a registry

_METHODS = Registry(ENTRY_POINT_GROUP, "method", contract="condensed_data.condense.method.Method")
_OBJECTIVES = Registry(
    OBJECTIVE_ENTRY_POINT_GROUP,
    "objective",
    contract="condensed_data.condense.objectives.Objective",
    register_function="register_objective",
)


# methods ------------------------------------------------------------------------------------------------------
def list_methods() -> list[str]:
    """Return the sorted names of all registered methods, without importing any plugin.

    A name registered by more than one distribution is listed too; :func:`get_method` explains the clash.

    Example:
        >>> "dm" in list_methods()
        True
    """
    return _METHODS.names()


def method_info(*, load: bool = False) -> list[EntryInfo]:
    """Describe every registered method: where it comes from, and what is wrong with it, if anything.

    Args:
        load: Also import each method and record import failures in ``EntryInfo.error`` (instead of raising).
            Without it, only name clashes and invalid entry-point names are reported, and no plugin code runs.

    Returns:
        One :class:`EntryInfo` per registration, sorted by name (built-ins first on a clash).

    Example:
        >>> [(i.name, i.distribution, i.builtin) for i in method_info() if i.name == "dm"]
        [('dm', 'condensed-data', True)]
    """
    return _METHODS.info(load=load)


def lookup(name: str) -> Registered:
    """Return the method class registered under ``name`` with its distribution and version (one lookup).

    Raises the same errors as :func:`get_method`.

    Example:
        >>> found = lookup("DM")
        >>> found.name, found.distribution, found.cls.__name__
        ('dm', 'condensed-data', 'DM')
    """
    return _METHODS.lookup(name)


def get_method(name: str) -> type:
    """Return the class registered under ``name`` (case-insensitive), importing only its module, once.

    Raises:
        UnknownMethodError: No such method; the message lists the known ones.
        DuplicateMethodError: Two distributions register ``name``; the message names both.
        PluginLoadError: Its module failed to import, or its entry point does not name a class.

    Example:
        >>> class Mine: ...
        >>> register("mine", Mine)
        >>> get_method("MINE") is Mine
        True
        >>> unregister("mine")
    """
    return _METHODS.get(name)


def register(name: str, obj: type | str, *, override: bool = False) -> None:
    """Register a method in this process only (notebooks, tests, experiments).

    Args:
        name: The method name; case-insensitive, must match ``[a-z0-9][a-z0-9_-]*``.
        obj: The class, or a ``"package.module:Class"`` path imported on first :func:`get_method`.
        override: Replace an existing method of that name (including an installed one) instead of raising.

    Raises:
        DuplicateMethodError: ``name`` exists and ``override`` is false.
        ValueError: ``name`` or the path is malformed.
        TypeError: ``obj`` is neither a class nor a string.

    Example:
        >>> register("my-dm", "condensed_data_plugins.dm:DM")
        >>> "my-dm" in list_methods()
        True
        >>> unregister("my-dm")
    """
    _METHODS.register(name, obj, override=override)


def unregister(name: str) -> None:
    """Remove a method added by :func:`register`, bringing back an installed one it overrode, if any.

    Raises:
        RegistryError: ``name`` comes from an installed distribution (uninstall it instead).
        UnknownMethodError: No method of that name exists.

    Example:
        >>> register("tmp", "pkg.mod:Cls")
        >>> unregister("tmp")
        >>> "tmp" in list_methods()
        False
    """
    _METHODS.unregister(name)


# objectives ---------------------------------------------------------------------------------------------------
def list_objectives() -> list[str]:
    """Return the sorted names of all registered objectives, without importing any plugin.

    Example:
        >>> [name for name in list_objectives() if name in ("atom", "dm", "echo")]
        ['atom', 'dm', 'echo']
    """
    return _OBJECTIVES.names()


def objective_info(*, load: bool = False) -> list[EntryInfo]:
    """Describe every registered objective, as :func:`method_info` does for methods.

    Example:
        >>> [(i.name, i.value) for i in objective_info() if i.name == "echo"]
        [('echo', 'condensed_data.condense.objectives:KernelMMD')]
    """
    return _OBJECTIVES.info(load=load)


def lookup_objective(name: str) -> Registered:
    """Return the objective class registered under ``name`` with its distribution and version.

    Raises:
        UnknownObjectiveError: No such objective; the message lists the known ones.
        DuplicateObjectiveError: Two distributions register ``name``; the message names both.
        PluginLoadError: Its module failed to import, or its entry point does not name a class.

    Example:
        >>> lookup_objective("echo").cls.__name__
        'KernelMMD'
    """
    return _OBJECTIVES.lookup(name)


def get_objective(name: str) -> type:
    """Return the objective class registered under ``name`` (case-insensitive); see :func:`lookup_objective`.

    :func:`~condensed_data.condense.objectives.make_objective` builds one with options.

    Example:
        >>> get_objective("DM").__name__
        'MeanEmbedding'
    """
    return _OBJECTIVES.get(name)


def register_objective(name: str, obj: type | str, *, override: bool = False) -> None:
    """Register an objective in this process only; then ``objective=name`` works in every method's config.

    Args:
        name: The objective name; case-insensitive, must match ``[a-z0-9][a-z0-9_-]*``.
        obj: The :class:`~condensed_data.condense.objectives.Objective` subclass, or its ``"package.module:Class"``.
        override: Replace an existing objective of that name instead of raising.

    Raises:
        DuplicateObjectiveError: ``name`` exists and ``override`` is false.
        ValueError: ``name`` or the path is malformed.
        TypeError: ``obj`` is neither a class nor a string.

    Example:
        >>> register_objective("my-mmd", "condensed_data.condense.objectives:KernelMMD")
        >>> get_objective("my-mmd").__name__
        'KernelMMD'
        >>> unregister_objective("my-mmd")
    """
    _OBJECTIVES.register(name, obj, override=override)


def unregister_objective(name: str) -> None:
    """Remove an objective added by :func:`register_objective`, bringing back an installed one it overrode.

    Raises:
        RegistryError: ``name`` comes from an installed distribution (uninstall it instead).
        UnknownObjectiveError: No objective of that name exists.

    Example:
        >>> register_objective("tmp", "pkg.mod:Cls")
        >>> unregister_objective("tmp")
        >>> "tmp" in list_objectives()
        False
    """
    _OBJECTIVES.unregister(name)


def refresh() -> None:
    """Forget discovered entry points and loaded classes of both registries; the next lookup reads them again.

    Call it after installing a plugin (or changing ``CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD``) in a running process.
    Runtime registrations are kept.

    Example:
        >>> refresh()
        >>> "dm" in list_methods() and "dm" in list_objectives()
        True
    """
    _METHODS.refresh()
    _OBJECTIVES.refresh()
