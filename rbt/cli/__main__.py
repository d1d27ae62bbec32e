"""``python -m rbt.cli``: the ``rbt`` command."""

import sys

from . import main

sys.exit(main())
