"""``latentdeck train`` with an executor that schedules work itself (``ExecutorSpec.queued`` False, e.g. ray):
the run is handed to the executor and this process follows its event log until it ends, showing the same
progress as an in-process run; Ctrl-C asks the run to stop (and withdraws it if it has not started).
This process is the run's driver: an executor like Ray ends the run if it exits."""

from __future__ import annotations

import signal
import time
from typing import Any, Callable

from .events import read_events
from .launch import cancel_worker, reap_dead_workers, start_worker
from .runs.lifecycle import TERMINAL
from .runs.store import RunStore, read_summary


def follow_run(store: RunStore, pm, executor, run_id: str, listeners: tuple[Callable[[dict], Any], ...],
               say: Callable[..., None], poll_s: float = 0.25) -> str:
    """Start the ``created`` run ``run_id`` with ``executor`` and pass each of its events to ``listeners``
    until the run ends; returns its final status."""
    run_dir = store.run_dir(run_id)
    asked = {"count": 0}

    def on_sigint(signum, frame):
        asked["count"] += 1
        if asked["count"] > 1:
            raise KeyboardInterrupt
        say("\ncancelling after the current batch (Ctrl-C again to stop waiting)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    seq, cancelled = 0, False
    try:
        start_worker(store, run_id, executor)
        say(f"handed to the {executor.name} executor; following its events")
        while True:
            for event in read_events(run_dir / "events.jsonl", after_seq=seq):
                seq = event["seq"]
                for listener in listeners:
                    listener(event)
            status = read_summary(run_dir)["status"]
            if status in TERMINAL:
                for event in read_events(run_dir / "events.jsonl", after_seq=seq):  # the last lines
                    for listener in listeners:
                        listener(event)
                return status
            if asked["count"] and not cancelled:
                cancelled = True
                store.request_cancel(run_id)
                cancel_worker(store, pm, run_id)
            reap_dead_workers(store, pm, "worker_died")
            time.sleep(poll_s)
    finally:
        signal.signal(signal.SIGINT, previous)
