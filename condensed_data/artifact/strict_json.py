"""Strict, typed JSON for the manifest: errors that name the field (loading wing).

:func:`build` turns parsed JSON into a (nested) dataclass, rejecting unknown and missing fields and wrong types;
:func:`to_plain` is the way back. :func:`load_json` refuses invalid JSON and absurd nesting. The manifest's
dataclasses live in :mod:`condensed_data.artifact.manifest`, which re-exports :class:`ManifestError` and
:func:`load_json`.

>>> from dataclasses import dataclass
>>> @dataclass
... class Point:
...     x: int
...     y: float = 0.0
>>> build(Point, load_json('{"x": 1}', "point.json"), "")
Point(x=1, y=0.0)
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

__all__ = ["ManifestError", "MAX_JSON_DEPTH", "load_json", "require", "to_plain", "build"]


class ManifestError(ValueError):
    """A manifest that cannot be read or is not valid; the message names the field and the fix."""


# Deepest nesting of JSON objects and lists accepted in a manifest (ours nest 4 levels; method configs a few more).
MAX_JSON_DEPTH = 64


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                break
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def load_json(text: str, what: str) -> Any:
    """Parse JSON text named ``what`` in errors, refusing invalid JSON and nesting deeper than :data:`MAX_JSON_DEPTH`.

    Raises:
        ManifestError: Invalid JSON or too deep (never a bare ``RecursionError``).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        data = None
        deep = True
    else:
        deep = _depth(data) > MAX_JSON_DEPTH
    if deep:
        raise ManifestError(
            f"{what} nests JSON objects or lists more than {MAX_JSON_DEPTH} levels deep: it was not written by "
            "condensed-data (or was tampered with) and is refused; write the artifact again, or download or copy "
            "a good one"
        )
    return data


def require(cond: bool, message: str) -> None:
    if not cond:
        raise ManifestError(message)


def to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def build(tp: Any, value: Any, path: str) -> Any:
    """Convert parsed JSON ``value`` to type ``tp``; ``path`` names the field in errors."""
    where = path or "condensed.json"
    if dataclasses.is_dataclass(tp):
        require(isinstance(value, dict), f"{where} must be a JSON object, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - set(fields))
        require(
            not unknown,
            f"condensed.json: unknown field {', '.join(repr(_join(path, k)) for k in unknown)} "
            f"(known fields here: {', '.join(fields)}); was it written by a newer or different tool?",
        )
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = build(hints[name], value[name], _join(path, name))
            else:
                require(
                    f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
                    f"condensed.json: missing required field {_join(path, name)!r}",
                )
        try:
            return tp(**kwargs)
        except ManifestError as exc:
            raise ManifestError(f"condensed.json: {exc}") from None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:  # e.g. ``int | float``: the first type the value fits
            try:
                return build(option, value, path)
            except ManifestError:
                pass
        return build(options[-1], value, path)
    if origin is tuple:
        require(isinstance(value, list), f"{where} must be a JSON list, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(build(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        require(len(value) == len(args), f"{where} must have {len(args)} entries, got {len(value)}")
        return tuple(build(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is dict:
        require(isinstance(value, dict), f"{where} must be a JSON object, got {type(value).__name__}")
        return {k: build(args[1], v, f"{where}[{k!r}]") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        require(ok, f"{where} must be a number, got {value!r}")
        return float(value)
    if tp in (int, str, bool):
        ok = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
        require(ok, f"{where} must be of type {_type_name(tp)}, got {value!r}")
        return value
    raise TypeError(f"unsupported manifest field type {tp!r} at {where}")  # a bug in this module, not user input


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
