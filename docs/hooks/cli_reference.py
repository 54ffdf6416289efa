"""MkDocs hook: the command-line reference, rendered from the argparse parser at build time.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces it with the help of
``condensed-data`` and of each subcommand, as ``condensed-data COMMAND --help`` prints it, so the page can never
disagree with the parser (:func:`condensed_data.cli.parser.build_parser`, which imports nothing heavy).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"
WIDTH = 100  # help text wrapped as on a 100-column terminal, whatever the building machine's


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of every subcommand, in the order the parser defines them."""
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), p) for name, p in action.choices.items()]
    return []


def _help(parser: argparse.ArgumentParser) -> str:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def render() -> str:
    """The reference: the top-level help, a table of subcommands, then one section per subcommand."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    from condensed_data.cli.parser import build_parser

    parser = build_parser()
    subcommands = _subcommands(parser)
    lines = ["```text", _help(parser).rstrip(), "```", "", "| command | what it does |", "|---|---|"]
    lines += [f"| [`{name}`](#{name}) | {text} |" for name, text, _ in subcommands]
    for name, _, sub in subcommands:
        lines += ["", f"## {name}", "", "```text", _help(sub).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Fill the marker of the CLI reference page; other pages pass through unchanged."""
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/{PAGE} lost its {MARKER} marker: the CLI reference has nowhere to go")
    return markdown.replace(MARKER, render())
