"""A run's worker process: ``python -m latentdeck.worker RUN_DIR``.

Executors start this; it trains the run with :func:`latentdeck.training.execute_run` and exits.
It lowers its own priority so the server and the browser stay responsive on a small machine.
"""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m latentdeck.worker RUN_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        os.nice(int(os.environ.get("LATENTDECK_WORKER_NICE", "5")))
    except (OSError, ValueError):
        pass
    from .training import execute_run

    status = execute_run(argv[0])
    return 0 if status in ("completed", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
