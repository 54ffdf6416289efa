"""The method registry: method names -> classes implementing the method contract.

Methods come from entry points in the group ``condensed_data.methods``. The built-in methods (``dm``, ``atom``, ...)
are registered in this project's own ``pyproject.toml`` exactly as a third-party plugin registers one, so both go
through the same path:

.. code-block:: toml

    [project.entry-points."condensed_data.methods"]
    my-method = "my_package.method:MyMethod"

How it behaves, and why:

* **Lazy.** Entry points are read on first use and cached (scanning installed distributions is slow enough to
  notice). Only ``name -> EntryPoint`` is kept; a plugin module is imported when :func:`get_method` asks for that
  one name, so ``list_methods()`` never runs plugin code, and this module imports neither torch nor
  ``importlib.metadata`` at import time.
* **Isolated failures.** A plugin that fails to import raises :class:`PluginLoadError` naming its distribution and
  version, for that name only; every other method still loads. ``method_info(load=True)`` reports such errors
  instead of raising, for ``condensed-data methods``.
* **No silent overrides.** Two distributions claiming one name (a plugin against a built-in, or two plugins) make
  that name an error (:class:`DuplicateMethodError` naming both), never a "first/last one wins". Only an explicit
  ``register(name, obj, override=True)`` replaces a method, and only in the running process.
* **Names** are case-insensitive (stored lower-case) and must match ``[a-z0-9][a-z0-9_-]*``. An entry point with
  any other name is skipped and reported through :func:`method_info`.
* ``CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD=1`` restricts discovery to the built-ins (distribution
  ``condensed-data``); it is read at discovery time, so call :func:`refresh` after changing it in-process.

Runtime registrations (:func:`register`) live in this process only and survive :func:`refresh`, which re-reads
entry points only. The registry does not check the contract itself (``condensed_data.testing`` does); it only
checks that an entry point names a class.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "DuplicateMethodError",
    "MethodInfo",
    "PluginLoadError",
    "RegistryError",
    "UnknownMethodError",
    "get_method",
    "list_methods",
    "method_info",
    "refresh",
    "register",
    "unregister",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "condensed_data.methods"
BUILTIN_DISTRIBUTION = "condensed-data"
DISABLE_AUTOLOAD_ENV = "CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD"
RUNTIME_DISTRIBUTION = "<runtime>"

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_VALUE_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class MethodInfo:
    """What the registry knows about one method, without importing it.

    Attributes:
        name: The method name (lower-case), or the raw entry-point name when it is invalid.
        value: Where the class lives, ``"package.module:Class"``.
        distribution: The distribution that registers it, or ``"<runtime>"`` for :func:`register`.
        version: The distribution's version (``""`` for runtime registrations).
        builtin: Whether it comes from this library's own distribution (``condensed-data``).
        error: Why it cannot be used (an import failure, a name clash, an invalid name), or ``None``.
    """

    name: str
    value: str
    distribution: str
    version: str
    builtin: bool
    error: str | None = None


class RegistryError(Exception):
    """Base class of every error raised by the method registry."""


class UnknownMethodError(RegistryError, KeyError):
    """No method of that name is registered."""

    # Keyword arguments have defaults so that the error survives pickling (worker processes, Accelerate).
    def __init__(self, message: str, *, method: str = "", known: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.known = known or []

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return self.message


class PluginLoadError(RegistryError, ImportError):
    """A registered method could not be imported, or its entry point does not name a class."""

    def __init__(
        self, message: str, *, method: str = "", distribution: str = "", version: str = "", module: str | None = None
    ) -> None:
        super().__init__(message, name=module)
        self.method = method
        self.distribution = distribution
        self.version = version


class DuplicateMethodError(RegistryError):
    """Two sources register the same method name."""

    def __init__(self, message: str, *, method: str = "", distributions: list[str] | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.distributions = distributions or []


@dataclass(frozen=True)
class _Entry:
    """One registration of a name: an entry point, or a runtime object or dotted path."""

    name: str
    value: str
    distribution: str
    version: str
    target: EntryPoint | type | str

    @property
    def builtin(self) -> bool:
        return _normalize_distribution(self.distribution) == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}".strip()

    def info(self, error: str | None = None) -> MethodInfo:
        return MethodInfo(self.name, self.value, self.distribution, self.version, self.builtin, error)


def _normalize_distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _normalize_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a method name must be a string, got {type(name).__name__}")
    return name.strip().lower()


def _autoload_disabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in _TRUE


def _iter_entry_points() -> Iterator[tuple[EntryPoint, str, str]]:
    """Yield ``(entry point, distribution name, distribution version)`` for the method group.

    The one place that touches installed metadata, so tests can inject distributions by replacing it.
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        if dist is None:
            yield ep, "<unknown>", ""
        else:
            metadata = dist.metadata  # .get: a missing field must not raise (or warn, on Python 3.12+)
            yield ep, metadata.get("Name") or "<unknown>", metadata.get("Version") or ""


def _clash_message(name: str, entries: list[_Entry]) -> str:
    entries = sorted(entries, key=lambda e: not e.builtin)
    listed = " and ".join(f"'{e.label}' ({'built-in, ' if e.builtin else ''}{e.value})" for e in entries)
    plugins = sorted({e.distribution for e in entries if not e.builtin})
    if plugins and any(e.builtin for e in entries):
        advice = (
            f"A plugin cannot replace a built-in method: uninstall {' / '.join(repr(p) for p in plugins)} or rename "
            f"its entry point in group '{ENTRY_POINT_GROUP}' (or set {DISABLE_AUTOLOAD_ENV}=1 to use only the "
            "built-ins)."
        )
    else:
        advice = f"Uninstall one of them, or rename the entry point in one plugin (group '{ENTRY_POINT_GROUP}')."
    return f"method '{name}' is registered more than once: by {listed}. {advice}"


def _load(entry: _Entry) -> type:
    """Import the class behind ``entry``; every failure becomes a :class:`PluginLoadError`."""
    target = entry.target
    if isinstance(target, type):
        return target
    origin = f"from distribution '{entry.label}'"
    if entry.distribution == RUNTIME_DISTRIBUTION:
        origin = f"registered at runtime as '{entry.value}'"
        fix = f"Check the path passed to register('{entry.name}', ...)."
    elif entry.builtin:
        fix = f"Reinstall '{entry.distribution}'; if that does not help, please report it."
    else:
        fix = f"Reinstall or uninstall '{entry.distribution}'."
    module = entry.value.partition(":")[0] or None
    try:
        if isinstance(target, str):
            from importlib.metadata import EntryPoint

            target = EntryPoint(name=entry.name, value=target, group=ENTRY_POINT_GROUP)
        obj = target.load()
    except Exception as exc:
        missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        hint = ""
        if missing and module and missing.split(".")[0] != module.split(".")[0]:
            hint = f" It needs the module '{missing}', which is not installed; install it, or"
            fix = fix[0].lower() + fix[1:]
        reason = f"{type(exc).__name__}: {str(exc).rstrip('.')}"
        raise PluginLoadError(
            f"method '{entry.name}' {origin} failed to import: {reason}.{hint} {fix}",
            method=entry.name,
            distribution=entry.distribution,
            version=entry.version,
            module=module,
        ) from exc
    if not isinstance(obj, type):
        raise PluginLoadError(
            f"method '{entry.name}' {origin} points at '{entry.value}', which is a {type(obj).__name__}, not a "
            f"class. An entry point in group '{ENTRY_POINT_GROUP}' must name a class implementing the method "
            f"contract (condensed_data.condense.method.Method). {fix}",
            method=entry.name,
            distribution=entry.distribution,
            version=entry.version,
            module=module,
        )
    logger.debug("loaded method %r from %s", entry.name, entry.value)
    return obj


class _Registry:
    """The registry's state; the module-level functions use one shared instance."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._discovered: dict[str, list[_Entry]] | None = None  # name -> candidates (more than one: a clash)
        self._invalid: list[MethodInfo] = []
        self._runtime: dict[str, _Entry] = {}
        self._loaded: dict[str, type] = {}
        self._generation = 0  # bumped on every change, so a load racing a change is not cached

    # discovery ------------------------------------------------------------------------------------------------
    def _discover(self) -> dict[str, list[_Entry]]:
        if self._discovered is not None:
            return self._discovered
        builtins_only = _autoload_disabled()
        found: dict[str, list[_Entry]] = {}
        invalid: list[MethodInfo] = []
        for ep, dist, version in _iter_entry_points():
            entry = _Entry(ep.name.strip().lower(), ep.value, dist, version, ep)
            if builtins_only and not entry.builtin:
                logger.debug("skipping method %r from %s: %s is set", ep.name, entry.label, DISABLE_AUTOLOAD_ENV)
                continue
            if not _NAME_RE.fullmatch(entry.name):
                error = (
                    f"invalid method name {ep.name!r}: names must match [a-z0-9][a-z0-9_-]* (case-insensitive); "
                    f"rename the entry point in distribution '{entry.label}'"
                )
                logger.warning("skipping entry point %r: %s", ep.name, error)
                invalid.append(MethodInfo(ep.name, ep.value, dist, version, entry.builtin, error))
                continue
            candidates = found.setdefault(entry.name, [])
            # The same distribution seen twice with the same target (e.g. found on two sys.path entries) is one.
            if any(
                _normalize_distribution(c.distribution) == _normalize_distribution(dist) and c.value == ep.value
                for c in candidates
            ):
                continue
            candidates.append(entry)
        for name, candidates in found.items():
            if len(candidates) > 1:
                logger.warning("%s", _clash_message(name, candidates))
        for name in self._runtime.keys() & found.keys():
            logger.info(
                "method %r registered at runtime shadows the entry point from %s",
                name,
                ", ".join(c.label for c in found[name]),
            )
        logger.debug("discovered %d method(s) in group %r", len(found), ENTRY_POINT_GROUP)
        self._discovered, self._invalid = found, invalid
        return found

    def _candidates(self, name: str) -> list[_Entry]:
        if name in self._runtime:
            return [self._runtime[name]]
        return self._discover().get(name, [])

    def _names(self) -> list[str]:
        return sorted(self._discover().keys() | self._runtime.keys())

    def _resolve(self, name: str, requested: str) -> _Entry:
        candidates = self._candidates(name)
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise DuplicateMethodError(
                _clash_message(name, candidates), method=name, distributions=[c.label for c in candidates]
            )
        raise UnknownMethodError(self._unknown_message(requested, name), method=requested, known=self._names())

    def _unknown_message(self, requested: str, name: str) -> str:
        known = self._names()
        parts = [f"unknown method {requested!r}. Known methods: {', '.join(known) if known else '(none)'}."]
        close = difflib.get_close_matches(name, known, n=3)
        if close:
            parts.append(f"Did you mean {' or '.join(repr(c) for c in close)}?")
        skipped = [i for i in self._invalid if i.name.strip().lower() == name]
        if skipped:
            dist, error = skipped[0].distribution, skipped[0].error
            parts.append(f"Distribution '{dist}' declares it, but it was skipped: {error}.")
        elif _autoload_disabled():
            parts.append(f"Plugin discovery is off ({DISABLE_AUTOLOAD_ENV} is set): unset it to use plugins.")
        else:
            parts.append(
                f"If a plugin provides {requested!r}, install it (pip install <the plugin>) and check that it "
                f"declares an entry point in group '{ENTRY_POINT_GROUP}'."
            )
        return " ".join(parts)

    # public operations ----------------------------------------------------------------------------------------
    def list_methods(self) -> list[str]:
        with self._lock:
            return self._names()

    def method_info(self, load: bool) -> list[MethodInfo]:
        with self._lock:
            rows: list[tuple[_Entry, str | None]] = []
            for name in self._names():
                candidates = self._candidates(name)
                error = _clash_message(name, candidates) if len(candidates) > 1 else None
                rows.extend((c, error) for c in candidates)
            invalid = list(self._invalid)
        infos = []
        for entry, error in rows:
            if load and error is None:
                try:
                    self.get_method(entry.name)
                except RegistryError as exc:
                    error = str(exc)
            infos.append(entry.info(error))
        infos.extend(invalid)
        return sorted(infos, key=lambda i: (i.name, not i.builtin, i.distribution))

    def get_method(self, name: str) -> type:
        key = _normalize_name(name)
        with self._lock:
            cached = self._loaded.get(key)
            if cached is not None:
                return cached
            entry = self._resolve(key, name)
            generation = self._generation
        # Import outside the lock: a plugin that looks up another method while being imported, in another thread,
        # must not deadlock against the import lock.
        obj = _load(entry)
        with self._lock:
            if self._generation == generation:
                obj = self._loaded.setdefault(key, obj)
        return obj

    def register(self, name: str, obj: type | str, override: bool) -> None:
        key = _normalize_name(name)
        if not _NAME_RE.fullmatch(key):
            raise ValueError(f"invalid method name {name!r}: names must match [a-z0-9][a-z0-9_-]*")
        if isinstance(obj, type):
            value = f"{obj.__module__}:{obj.__qualname__}"
        elif isinstance(obj, str):
            if not _VALUE_RE.fullmatch(obj.strip()):
                raise ValueError(f"register({name!r}, {obj!r}): a path must look like 'package.module:Class'")
            value = obj = obj.strip()
        else:
            raise TypeError(
                f"register({name!r}, ...) needs a class or a 'package.module:Class' path, got {type(obj).__name__}"
            )
        with self._lock:
            existing = self._candidates(key)
            if existing and not override:
                raise DuplicateMethodError(
                    f"method '{key}' already exists (from {', '.join(repr(e.label) for e in existing)}); pass "
                    "override=True to replace it in this process, or choose another name.",
                    method=key,
                    distributions=[e.label for e in existing] + [RUNTIME_DISTRIBUTION],
                )
            if existing:
                logger.info(
                    "method %r from %s replaced at runtime by %s", key, ", ".join(e.label for e in existing), value
                )
            self._runtime[key] = _Entry(key, value, RUNTIME_DISTRIBUTION, "", obj)
            self._loaded.pop(key, None)
            self._generation += 1

    def unregister(self, name: str) -> None:
        key = _normalize_name(name)
        with self._lock:
            if key in self._runtime:
                del self._runtime[key]
                self._loaded.pop(key, None)
                self._generation += 1
                return
            candidates = self._discover().get(key)
            if candidates:
                raise RegistryError(
                    f"method '{key}' comes from installed distribution(s) "
                    f"{', '.join(repr(c.label) for c in candidates)}, not from register(); uninstall the plugin, "
                    f"or shadow it with register('{key}', ..., override=True)."
                )
            raise UnknownMethodError(self._unknown_message(name, key), method=name, known=self._names())

    def refresh(self) -> None:
        with self._lock:
            self._discovered = None
            self._invalid = []
            self._loaded.clear()
            self._generation += 1


_REGISTRY = _Registry()


def list_methods() -> list[str]:
    """Return the sorted names of all registered methods, without importing any plugin.

    A name registered by more than one distribution is listed too; :func:`get_method` explains the clash.

    Example:
        >>> "dm" in list_methods()
        True
    """
    return _REGISTRY.list_methods()


def method_info(*, load: bool = False) -> list[MethodInfo]:
    """Describe every registered method: where it comes from, and what is wrong with it, if anything.

    Args:
        load: Also import each method and record import failures in ``MethodInfo.error`` (instead of raising).
            Without it, only name clashes and invalid entry-point names are reported, and no plugin code runs.

    Returns:
        One :class:`MethodInfo` per registration, sorted by name (built-ins first on a clash).

    Example:
        >>> [(i.name, i.distribution, i.builtin) for i in method_info() if i.name == "dm"]
        [('dm', 'condensed-data', True)]
    """
    return _REGISTRY.method_info(load)


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
    return _REGISTRY.get_method(name)


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
    _REGISTRY.register(name, obj, override)


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
    _REGISTRY.unregister(name)


def refresh() -> None:
    """Forget discovered entry points and loaded classes; the next lookup reads entry points again.

    Call it after installing a plugin (or changing ``CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD``) in a running process.
    Runtime registrations are kept.

    Example:
        >>> refresh()
        >>> "dm" in list_methods()
        True
    """
    _REGISTRY.refresh()
