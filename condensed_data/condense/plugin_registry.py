"""A registry of named classes over one entry-point group: the :class:`Registry` every lookup by name goes through.

What it adds to :mod:`.entry_points` (which reads and imports entry points): a lazy, thread-safe cache of
``name -> candidates``, name validation, clash detection (two sources for one name are an error, never a silent
override), runtime registrations that shadow installed ones, and errors whose messages say what to do.
:mod:`condensed_data.condense.registry` holds this project's two registries, methods and objectives.

>>> shapes = Registry("my_app.shapes", kind="shape")
>>> shapes.register("square", "fractions:Fraction")
>>> shapes.names()
['square']
"""

from __future__ import annotations

import difflib
import logging
import re
import threading

from condensed_data.condense import entry_points
from condensed_data.condense.entry_points import (
    DISABLE_AUTOLOAD_ENV,
    RUNTIME_DISTRIBUTION,
    DuplicateMethodError,
    DuplicateNameError,
    DuplicateObjectiveError,
    Entry,
    EntryInfo,
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

__all__ = ["Registry"]

logger = logging.getLogger(__name__)

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
