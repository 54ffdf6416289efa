"""``python -m condensed_data.cli``: the same as the ``condensed-data`` command."""

import sys

from condensed_data.cli import main

sys.exit(main())
