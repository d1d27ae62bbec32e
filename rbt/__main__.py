"""``python -m rbt``: the ``rbt`` command."""

import sys

from .cli import main

sys.exit(main())
