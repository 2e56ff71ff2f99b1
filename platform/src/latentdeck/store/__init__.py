"""The run store: layout under ``runs/<run_id>/``, lifecycle, and worker bookkeeping."""

from .lifecycle import ACTIVE, STATUSES, TERMINAL, InvalidTransition  # noqa: F401
from .runs import RunNotFound, RunStore, RunStoreError  # noqa: F401
