"""Griffe extension for the API reference: the code's docstrings, written for ``help()`` and doctest, read as Markdown.

Two things in them mean something else in Markdown, so each docstring is adjusted before it is rendered (the code is
not changed):

* doctest lines (``>>> ...``, ``... ...`` and the expected output after them) would render as nested block quotes,
  and an output such as ``[3, 3, 4]`` as a broken link: each such block is put in a ``pycon`` code fence;
* Sphinx roles (``:class:`Manifest```, ``:func:`~condensed_data.condense.condense```) become code spans.

Loaded by mkdocstrings (``extensions:`` in mkdocs.yml).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const):`~?\.?([^`]+)`")


def fence_doctests(text: str) -> str:
    """``text`` with every doctest block (prompt lines, continuations and expected output) in a ``pycon`` fence."""
    out: list[str] = []
    lines = text.split("\n")
    i, fenced = 0, False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            fenced = not fenced
        if fenced or not (stripped == ">>>" or stripped.startswith(">>> ")):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        block = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            if lines[i][len(indent) :][:1].isspace():  # indented further: not part of this example
                break
            block.append(lines[i])
            i += 1
        out += [f"{indent}```pycon", *block, f"{indent}```"]
    return "\n".join(out)


class MarkdownDocstrings(Extension):
    """Fence doctest blocks and turn Sphinx roles into code spans in every docstring griffe loads."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        """Adjust ``obj``'s docstring (griffe calls this once per loaded object)."""
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(ROLE.sub(r"`\1`", obj.docstring.value))
