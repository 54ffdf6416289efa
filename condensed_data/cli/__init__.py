"""The ``condensed-data`` command: one thin function per subcommand over the two wings.

* :mod:`.parser`: :func:`build_parser`, the subcommands and their options.
* :mod:`.commands`: one ``_cmd_*`` function per subcommand, and :func:`main`, which parses and dispatches.

>>> from condensed_data.cli import main
>>> main(["methods"])  # doctest: +SKIP
"""

from condensed_data.cli.commands import main
from condensed_data.cli.parser import build_parser

__all__ = ["build_parser", "main"]
