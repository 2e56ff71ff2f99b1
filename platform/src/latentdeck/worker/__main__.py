"""``python -m latentdeck.worker RUN_DIR``: run one run's worker in this process (what executors start)."""

import sys

from . import main

sys.exit(main())
