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
  of ``condensed_data`` but :mod:`.entry_points`) at import time.
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

import difflib
import logging
import re
import threading

from condensed_data.condense import entry_points
from condensed_data.condense.entry_points import (
    BUILTIN_DISTRIBUTION,
    DISABLE_AUTOLOAD_ENV,
    RUNTIME_DISTRIBUTION,
    DuplicateMethodError,
    DuplicateNameError,
    DuplicateObjectiveError,
    Entry,
    EntryInfo,
    PluginLoadError,
    Registered,
    RegistryError,
    UnknownMethodError,
    UnknownNameError,
    UnknownObjectiveError,
    autoload_disabled,
    clash_message,
    normalize_distribution,
    normalize_name,
)

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "OBJECTIVE_ENTRY_POINT_GROUP",
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

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "condensed_data.methods"
OBJECTIVE_ENTRY_POINT_GROUP = "condensed_data.objectives"
MethodInfo = EntryInfo  # the name from when only methods had a registry

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_VALUE_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
# What each kind raises for an unknown name and for a clash; any other kind raises the generic errors.
_ERRORS: dict[str, tuple[type[UnknownNameError], type[DuplicateNameError]]] = {
    "method": (UnknownMethodError, DuplicateMethodError),
    "objective": (UnknownObjectiveError, DuplicateObjectiveError),
}


class Registry:
    """Names -> classes for one entry-point group: discovered lazily, imported one name at a time.

    Args:
        group: The entry-point group, e.g. ``"condensed_data.methods"``.
        kind: What the group holds, in messages (``"method"``, ``"objective"``).
        contract: The class an entry must implement, named when an entry point names something else.
        register_function: The public function registering one entry at runtime, named in messages.

    Example:
        >>> shapes = Registry("my_app.shapes", kind="shape")
        >>> shapes.register("square", "fractions:Fraction")
        >>> shapes.names(), shapes.get("SQUARE").__name__
        (['square'], 'Fraction')
    """

    def __init__(
        self, group: str, kind: str = "method", *, contract: str = "", register_function: str = "register"
    ) -> None:
        self.group = group
        self.kind = kind
        self.contract = contract
        self.register_function = register_function
        self._unknown_error, self._duplicate_error = _ERRORS.get(kind, (UnknownNameError, DuplicateNameError))
        self._lock = threading.RLock()
        self._discovered: dict[str, list[Entry]] | None = None  # name -> candidates (more than one: a clash)
        self._invalid: list[EntryInfo] = []
        self._runtime: dict[str, Entry] = {}
        self._loaded: dict[str, Registered] = {}
        self._generation = 0  # bumped on every change, so a load racing a change is not cached

    def __repr__(self) -> str:
        return f"Registry({self.group!r}, kind={self.kind!r})"

    # discovery ------------------------------------------------------------------------------------------------
    def _discover(self) -> dict[str, list[Entry]]:
        if self._discovered is not None:
            return self._discovered
        builtins_only = autoload_disabled()
        found: dict[str, list[Entry]] = {}
        invalid: list[EntryInfo] = []
        for ep, dist, version in entry_points.iter_entry_points(self.group):
            entry = Entry(ep.name.strip().lower(), ep.value, dist, version, ep)
            if builtins_only and not entry.builtin:
                logger.debug("skipping %s %r from %s: %s is set", self.kind, ep.name, entry.label, DISABLE_AUTOLOAD_ENV)
                continue
            if not _NAME_RE.fullmatch(entry.name):
                error = (
                    f"invalid {self.kind} name {ep.name!r}: names must match [a-z0-9][a-z0-9_-]* (case-insensitive); "
                    f"rename the entry point in distribution '{entry.label}'"
                )
                logger.warning("skipping entry point %r: %s", ep.name, error)
                invalid.append(EntryInfo(ep.name, ep.value, dist, version, entry.builtin, error))
                continue
            candidates = found.setdefault(entry.name, [])
            # The same distribution seen twice with the same target (e.g. found on two sys.path entries) is one.
            if any(
                normalize_distribution(c.distribution) == normalize_distribution(dist) and c.value == ep.value
                for c in candidates
            ):
                continue
            candidates.append(entry)
        for name, candidates in found.items():
            if len(candidates) > 1:
                logger.warning("%s", self._clash(name, candidates))
        for name in self._runtime.keys() & found.keys():
            labels = ", ".join(c.label for c in found[name])
            logger.info("%s %r registered at runtime shadows the entry point from %s", self.kind, name, labels)
        logger.debug("discovered %d %s(s) in group %r", len(found), self.kind, self.group)
        self._discovered, self._invalid = found, invalid
        return found

    def _clash(self, name: str, candidates: list[Entry]) -> str:
        return clash_message(name, candidates, group=self.group, kind=self.kind)

    def _candidates(self, name: str) -> list[Entry]:
        if name in self._runtime:
            return [self._runtime[name]]
        return self._discover().get(name, [])

    def _names(self) -> list[str]:
        return sorted(self._discover().keys() | self._runtime.keys())

    def _resolve(self, name: str, requested: str) -> Entry:
        candidates = self._candidates(name)
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            labels = [c.label for c in candidates]
            raise self._duplicate_error(self._clash(name, candidates), entry=name, distributions=labels, kind=self.kind)
        raise self._unknown(requested, name)

    def _unknown(self, requested: str, name: str) -> UnknownNameError:
        known = self._names()
        parts = [f"unknown {self.kind} {requested!r}. Known {self.kind}s: {', '.join(known) if known else '(none)'}."]
        close = difflib.get_close_matches(name, known, n=3)
        if close:
            parts.append(f"Did you mean {' or '.join(repr(c) for c in close)}?")
        skipped = [i for i in self._invalid if i.name.strip().lower() == name]
        if skipped:
            parts.append(
                f"Distribution '{skipped[0].distribution}' declares it, but it was skipped: {skipped[0].error}."
            )
        elif autoload_disabled():
            parts.append(f"Plugin discovery is off ({DISABLE_AUTOLOAD_ENV} is set): unset it to use plugins.")
        else:
            parts.append(
                f"If a plugin provides {requested!r}, install it (pip install <the plugin>) and check that it "
                f"declares an entry point in group '{self.group}'."
            )
        return self._unknown_error(" ".join(parts), requested=requested, known=known, kind=self.kind)

    def _import(self, entry: Entry) -> type:
        return entry_points.load_entry(
            entry, group=self.group, kind=self.kind, contract=self.contract, register_function=self.register_function
        )

    # public operations ----------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The sorted registered names, without importing any plugin (a clashing name is listed too)."""
        with self._lock:
            return self._names()

    def info(self, *, load: bool = False) -> list[EntryInfo]:
        """One :class:`EntryInfo` per registration, sorted by name (built-ins first on a clash).

        With ``load``, each entry is also imported and an import failure is recorded in ``error`` (not raised).
        """
        with self._lock:
            rows: list[tuple[Entry, str | None]] = []
            for name in self._names():
                candidates = self._candidates(name)
                error = self._clash(name, candidates) if len(candidates) > 1 else None
                rows.extend((c, error) for c in candidates)
            invalid = list(self._invalid)
        infos = []
        for entry, error in rows:
            if load and error is None:
                try:
                    self.lookup(entry.name)
                except RegistryError as exc:
                    error = str(exc)
            infos.append(entry.info(error))
        infos.extend(invalid)
        return sorted(infos, key=lambda i: (i.name, not i.builtin, i.distribution))

    def lookup(self, name: str) -> Registered:
        """The class registered under ``name`` (case-insensitive) with its distribution, importing it once."""
        key = normalize_name(name, self.kind)
        with self._lock:
            cached = self._loaded.get(key)
            if cached is not None:
                return cached
            entry = self._resolve(key, name)
            generation = self._generation
        # Import outside the lock: a plugin that looks up another entry while being imported, in another thread,
        # must not deadlock against the import lock.
        found = entry.registered(self._import(entry))
        with self._lock:
            if self._generation == generation:
                found = self._loaded.setdefault(key, found)
        return found

    def get(self, name: str) -> type:
        """The class registered under ``name`` (see :meth:`lookup`)."""
        return self.lookup(name).cls

    def register(self, name: str, obj: type | str, *, override: bool = False) -> None:
        """Register ``obj`` (a class or a ``"package.module:Class"`` path) under ``name`` in this process."""
        key = normalize_name(name, self.kind)
        call = f"{self.register_function}({name!r}, ...)"
        if not _NAME_RE.fullmatch(key):
            raise ValueError(f"invalid {self.kind} name {name!r}: names must match [a-z0-9][a-z0-9_-]*")
        if isinstance(obj, type):
            value = f"{obj.__module__}:{obj.__qualname__}"
        elif isinstance(obj, str):
            if not _VALUE_RE.fullmatch(obj.strip()):
                raise ValueError(
                    f"{self.register_function}({name!r}, {obj!r}): a path must look like 'package.module:Class'"
                )
            value = obj = obj.strip()
        else:
            raise TypeError(f"{call} needs a class or a 'package.module:Class' path, got {type(obj).__name__}")
        with self._lock:
            existing = self._candidates(key)
            if existing and not override:
                raise self._duplicate_error(
                    f"{self.kind} '{key}' already exists (from {', '.join(repr(e.label) for e in existing)}); pass "
                    "override=True to replace it in this process, or choose another name.",
                    entry=key,
                    distributions=[e.label for e in existing] + [RUNTIME_DISTRIBUTION],
                    kind=self.kind,
                )
            if existing:
                labels = ", ".join(e.label for e in existing)
                logger.info("%s %r from %s replaced at runtime by %s", self.kind, key, labels, value)
            self._runtime[key] = Entry(key, value, RUNTIME_DISTRIBUTION, "", obj)
            self._loaded.pop(key, None)
            self._generation += 1

    def unregister(self, name: str) -> None:
        """Remove a runtime registration, bringing back an installed entry it overrode, if any."""
        key = normalize_name(name, self.kind)
        with self._lock:
            if key in self._runtime:
                del self._runtime[key]
                self._loaded.pop(key, None)
                self._generation += 1
                return
            candidates = self._discover().get(key)
            if candidates:
                raise RegistryError(
                    f"{self.kind} '{key}' comes from installed distribution(s) "
                    f"{', '.join(repr(c.label) for c in candidates)}, not from {self.register_function}(); uninstall "
                    f"the plugin, or shadow it with {self.register_function}('{key}', ..., override=True)."
                )
            raise self._unknown(name, key)

    def refresh(self) -> None:
        """Forget discovered entry points and loaded classes (runtime registrations are kept)."""
        with self._lock:
            self._discovered = None
            self._invalid = []
            self._loaded.clear()
            self._generation += 1


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
