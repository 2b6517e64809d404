"""``python -m flow``: see :mod:`flow.cli`."""

import sys

from flow.cli import main

sys.exit(main())
