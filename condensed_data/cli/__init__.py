"""The ``condensed-data`` command: one thin function per subcommand over the two wings.

>>> from condensed_data.cli import main
>>> main(["methods"])  # doctest: +SKIP
"""

from condensed_data.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
