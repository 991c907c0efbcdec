"""``python -m gatedforecast``: the ``gatedforecast`` command."""

import sys

from .cli import main

sys.exit(main())
