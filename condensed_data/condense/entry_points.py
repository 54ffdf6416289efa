"""The plugin machinery under every registry: reading entry points, importing what they name, and the errors.

Apart from the names of a few error classes, it knows nothing of methods or objectives:
:class:`~condensed_data.condense.plugin_registry.Registry` builds on it, and :mod:`condensed_data.condense.registry`
holds one registry per entry-point group. Each function here takes the *kind* of thing a group holds
(``"method"``, ``"objective"``) only to word its messages.

It imports neither torch, nor ``importlib.metadata``, nor anything of ``condensed_data`` at import time:
installed metadata is read on first use (:func:`iter_entry_points`), and a plugin module is imported only when its
name is looked up (:func:`load_entry`).

>>> entry = Entry("toy", "collections:OrderedDict", "toy-plugin", "1.0", "collections:OrderedDict")
>>> load_entry(entry, group="condensed_data.methods", kind="method").__name__
'OrderedDict'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "DISABLE_AUTOLOAD_ENV",
    "RUNTIME_DISTRIBUTION",
    "DuplicateMethodError",
    "DuplicateNameError",
    "DuplicateObjectiveError",
    "Entry",
    "EntryInfo",
    "PluginLoadError",
    "Registered",
    "RegistryError",
    "UnknownMethodError",
    "UnknownNameError",
    "UnknownObjectiveError",
    "autoload_disabled",
    "clash_message",
    "iter_entry_points",
    "load_entry",
    "normalize_distribution",
    "normalize_name",
]

logger = logging.getLogger(__name__)

BUILTIN_DISTRIBUTION = "condensed-data"
DISABLE_AUTOLOAD_ENV = "CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD"
RUNTIME_DISTRIBUTION = "<runtime>"
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class EntryInfo:
    """What a registry knows about one registration, without importing it.

    Attributes:
        name: The registered name (lower-case), or the raw entry-point name when it is invalid.
        value: Where the class lives, ``"package.module:Class"``.
        distribution: The distribution that registers it, or ``"<runtime>"`` for a runtime registration.
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


@dataclass(frozen=True)
class Registered:
    """A class found by name, with where it comes from (what a manifest records as the method's provenance).

    Attributes:
        cls: The class.
        name: Its registered name (lower-case).
        distribution: The distribution that registers it (``"<runtime>"`` for a runtime registration).
        version: That distribution's version (``""`` for runtime registrations).
    """

    cls: type
    name: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        """Whether it comes from this library's own distribution."""
        return normalize_distribution(self.distribution) == BUILTIN_DISTRIBUTION


class RegistryError(Exception):
    """Base class of every error raised by a registry."""


class UnknownNameError(RegistryError, KeyError):
    """No entry of that name is registered.

    Attributes:
        message: The message (also ``str(error)``, without the quotes ``KeyError`` would add).
        requested: The name asked for, as given.
        known: The registered names.
        kind: What the registry holds (``"method"``, ``"objective"``).
    """

    # Keyword arguments have defaults so that the error survives pickling (worker processes, Accelerate).
    def __init__(self, message: str, *, requested: str = "", known: list[str] | None = None, kind: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.requested = requested
        self.known = known or []
        self.kind = kind

    def __str__(self) -> str:  # KeyError would repr() the message, quotes and all
        return self.message


class UnknownMethodError(UnknownNameError):
    """No method of that name is registered."""

    @property
    def method(self) -> str:
        """The method name asked for."""
        return self.requested


class UnknownObjectiveError(UnknownNameError, ValueError):
    """No objective of that name is registered.

    Also a ``ValueError``: an objective is named in a method's configuration, whose bad values raise ``ValueError``.
    """


class PluginLoadError(RegistryError, ImportError):
    """A registered entry could not be imported, or its entry point does not name a class.

    Attributes:
        entry: The registered name.
        kind: What the registry holds (``"method"``, ``"objective"``).
        distribution, version: Where the entry comes from.
    """

    def __init__(
        self,
        message: str,
        *,
        entry: str = "",
        kind: str = "",
        distribution: str = "",
        version: str = "",
        module: str | None = None,
    ) -> None:
        super().__init__(message, name=module)
        self.entry = entry
        self.kind = kind
        self.distribution = distribution
        self.version = version

    @property
    def method(self) -> str:
        """The registered name (kept from when only methods had a registry)."""
        return self.entry


class DuplicateNameError(RegistryError):
    """Two sources register the same name.

    Attributes:
        entry: The name.
        distributions: ``"distribution version"`` of each source.
        kind: What the registry holds (``"method"``, ``"objective"``).
    """

    def __init__(
        self, message: str, *, entry: str = "", distributions: list[str] | None = None, kind: str = ""
    ) -> None:
        super().__init__(message)
        self.entry = entry
        self.distributions = distributions or []
        self.kind = kind


class DuplicateMethodError(DuplicateNameError):
    """Two sources register the same method name."""

    @property
    def method(self) -> str:
        """The method name."""
        return self.entry


class DuplicateObjectiveError(DuplicateNameError):
    """Two sources register the same objective name."""


@dataclass(frozen=True)
class Entry:
    """One registration of a name: an entry point, or a runtime class or dotted path."""

    name: str
    value: str
    distribution: str
    version: str
    target: EntryPoint | type | str

    @property
    def builtin(self) -> bool:
        return normalize_distribution(self.distribution) == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version}".strip()

    def info(self, error: str | None = None) -> EntryInfo:
        return EntryInfo(self.name, self.value, self.distribution, self.version, self.builtin, error)

    def registered(self, cls: type) -> Registered:
        return Registered(cls, self.name, self.distribution, self.version)


def normalize_distribution(name: str) -> str:
    """A distribution name as packaging compares them: ``Toy_Plugin`` and ``toy-plugin`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def normalize_name(name: str, kind: str = "method") -> str:
    """A registered name as it is stored: stripped and lower-case."""
    if not isinstance(name, str):
        raise TypeError(f"a {kind} name must be a string, got {type(name).__name__}")
    return name.strip().lower()


def autoload_disabled() -> bool:
    """Whether ``CONDENSED_DATA_DISABLE_PLUGIN_AUTOLOAD`` restricts discovery to the built-ins."""
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in _TRUE


def iter_entry_points(group: str) -> Iterator[tuple[EntryPoint, str, str]]:
    """Yield ``(entry point, distribution name, distribution version)`` for one entry-point group.

    The one place that touches installed metadata, so tests can inject distributions by replacing it.
    """
    from importlib.metadata import entry_points

    for ep in entry_points(group=group):
        dist = ep.dist
        if dist is None:
            yield ep, "<unknown>", ""
        else:
            metadata = dist.metadata  # .get: a missing field must not raise (or warn, on Python 3.12+)
            yield ep, metadata.get("Name") or "<unknown>", metadata.get("Version") or ""


def clash_message(name: str, entries: list[Entry], *, group: str, kind: str) -> str:
    """Why ``name`` cannot be used when several ``entries`` claim it, and what to do."""
    entries = sorted(entries, key=lambda e: not e.builtin)
    listed = " and ".join(f"'{e.label}' ({'built-in, ' if e.builtin else ''}{e.value})" for e in entries)
    plugins = sorted({e.distribution for e in entries if not e.builtin})
    if plugins and any(e.builtin for e in entries):
        advice = (
            f"A plugin cannot replace a built-in {kind}: uninstall {' / '.join(repr(p) for p in plugins)} or rename "
            f"its entry point in group '{group}' (or set {DISABLE_AUTOLOAD_ENV}=1 to use only the built-ins)."
        )
    else:
        advice = f"Uninstall one of them, or rename the entry point in one plugin (group '{group}')."
    return f"{kind} '{name}' is registered more than once: by {listed}. {advice}"


def load_entry(entry: Entry, *, group: str, kind: str, contract: str = "", register_function: str = "register") -> type:
    """Import the class behind ``entry``; every failure becomes a :class:`PluginLoadError` that names its source.

    Args:
        entry: The registration.
        group: Its entry-point group (named in messages).
        kind: What the group holds (named in messages).
        contract: The class an entry must implement, named when it points at something else.
        register_function: The function that registers one of these at runtime, named in messages.
    """
    target = entry.target
    if isinstance(target, type):
        return target
    origin = f"from distribution '{entry.label}'"
    if entry.distribution == RUNTIME_DISTRIBUTION:
        origin = f"registered at runtime as '{entry.value}'"
        fix = f"Check the path passed to {register_function}('{entry.name}', ...)."
    elif entry.builtin:
        fix = f"Reinstall '{entry.distribution}'; if that does not help, please report it."
    else:
        fix = f"Reinstall or uninstall '{entry.distribution}'."
    module = entry.value.partition(":")[0] or None
    details = {"entry": entry.name, "kind": kind, "distribution": entry.distribution, "version": entry.version}
    try:
        if isinstance(target, str):
            from importlib.metadata import EntryPoint

            target = EntryPoint(name=entry.name, value=target, group=group)
        obj = target.load()
    except Exception as exc:
        missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        hint = ""
        if missing and module and missing.split(".")[0] != module.split(".")[0]:
            hint = f" It needs the module '{missing}', which is not installed; install it, or"
            fix = fix[0].lower() + fix[1:]
        reason = f"{type(exc).__name__}: {str(exc).rstrip('.')}"
        raise PluginLoadError(
            f"{kind} '{entry.name}' {origin} failed to import: {reason}.{hint} {fix}", module=module, **details
        ) from exc
    if not isinstance(obj, type):
        implementing = f"implementing the {kind} contract" + (f" ({contract})" if contract else "")
        raise PluginLoadError(
            f"{kind} '{entry.name}' {origin} points at '{entry.value}', which is a {type(obj).__name__}, not a "
            f"class. An entry point in group '{group}' must name a class {implementing}. {fix}",
            module=module,
            **details,
        )
    logger.debug("loaded %s %r from %s", kind, entry.name, entry.value)
    return obj
