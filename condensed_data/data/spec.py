"""Reading options in a dataset name: ``PREFIX:WHERE?key=value&key=value``, the command line's way to pass them.

The lazy backends take reading options (an image size, grayscale, decoding threads, ...) that a command line has to
carry inside ``--dataset``. Each backend names the options it accepts; :func:`parse_options` turns the text after
``?`` into the keyword arguments of its constructor, with the same value syntax everywhere:

======================  =====================================================================
``size=HxW`` / ``N``    ``image_size=(H, W)``: resize every image on reading (``N``: square)
``grayscale=true``      read one channel (``false``: RGB)
``workers=N``           decoding threads
``cache=auto|none|all`` the uint8 cache of decoded images
``on_error=fail|skip``  what an unreadable image does
``image=COL``           (``hf:``) the image column; ``label=COL`` the label column
======================  =====================================================================

Example:
    >>> split_query("photos/train?size=64&workers=4")
    ('photos/train', 'size=64&workers=4')
    >>> parse_options("size=64&workers=4", ("size", "workers"), where="folder:photos")
    {'image_size': (64, 64), 'workers': 4}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["parse_options", "split_query"]


def _size(value: str) -> tuple[int, int]:
    parts = value.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"size={value!r} is not a size; use size=HxW (e.g. 64x64) or size=N")
    return int(parts[0]), int(parts[-1])


def _flag(key: str) -> Callable[[str], bool]:
    def parse(value: str) -> bool:
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{key}={value!r}: use {key}=true or {key}=false")
        return value.lower() in ("true", "1")

    return parse


def _count(key: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.isdigit():
            raise ValueError(f"{key}={value!r} is not a count; use a whole number >= 0, e.g. {key}=4")
        return int(value)

    return parse


def _choice(key: str, choices: Sequence[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{key}={value!r}: use one of {', '.join(f'{key}={c}' for c in choices)}")
        return value

    return parse


# option -> (constructor keyword, parser of the value)
_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "size": ("image_size", _size),
    "grayscale": ("grayscale", _flag("grayscale")),
    "workers": ("workers", _count("workers")),
    "cache": ("cache", _choice("cache", ("auto", "none", "all"))),
    "on_error": ("on_error", _choice("on_error", ("fail", "skip"))),
    "image": ("image_column", str),
    "label": ("label_column", str),
}


def split_query(spec: str) -> tuple[str, str]:
    """``(where, query)``: the text before the first ``?`` and after it (``""`` without one)."""
    where, _, query = spec.partition("?")
    return where, query


def parse_options(query: str, allowed: Sequence[str], *, where: str) -> dict[str, Any]:
    """The constructor keywords of ``key=value&...`` for the options in ``allowed``.

    Args:
        query: The text after ``?``.
        allowed: The option names the backend accepts (keys of the table above).
        where: The dataset name without its query, for messages.

    Raises:
        ValueError: An option the backend does not take, one given twice, or a malformed value; the message lists
            the options.
    """
    options: dict[str, Any] = {}
    for part in filter(None, query.split("&")):
        key, _, value = part.partition("=")
        if key not in allowed or not value:
            raise ValueError(
                f"bad option {part!r} in '{where}?{query}'; the options are "
                + ", ".join(f"{k}=..." for k in allowed)
                + " (see condensed_data.data.spec)"
            )
        keyword, parse = _OPTIONS[key]
        if keyword in options:
            raise ValueError(f"option {key!r} is given twice in '{where}?{query}'; give it once")
        options[keyword] = parse(value)
    return options
