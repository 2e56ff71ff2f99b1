"""``python -m latentdeck.cli ...``: the same as the ``latentdeck`` command."""

import sys

from . import main

sys.exit(main())
