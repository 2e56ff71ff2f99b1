"""``latentdeck train`` / ``latentdeck sweep`` with an executor that schedules work itself
(no ``ExecutorSpec.capacity``, e.g. ray): the runs are handed to the executor and this process follows
their event logs until they end (a train shows the same progress as an in-process run); Ctrl-C asks
them to stop (and withdraws those that have not started), a second Ctrl-C stops waiting.
This process is the runs' driver: an executor like Ray ends them if it exits."""

from __future__ import annotations

import signal
import time
from typing import Any, Callable

from ..store.events import read_events
from ..launch import cancel_worker, reap_dead_workers, start_worker
from ..store.lifecycle import TERMINAL
from ..store.runs import RunStore, read_summary


def follow_runs(store: RunStore, pm, run_ids: list[str], say: Callable[..., None],
                listeners: tuple[Callable[[dict], Any], ...] = (),
                on_end: Callable[[str, dict[str, Any]], None] | None = None, poll_s: float = 0.25) -> list[str]:
    """Pass each event of the started runs ``run_ids`` to ``listeners`` (and each run's final summary to
    ``on_end``) until all have ended; returns their final statuses in order."""
    asked = {"count": 0}

    def on_sigint(signum, frame):
        asked["count"] += 1
        if asked["count"] > 1:
            raise KeyboardInterrupt
        say("\ncancelling after the current batch (Ctrl-C again to stop waiting)")

    previous = signal.signal(signal.SIGINT, on_sigint)
    seqs = {run_id: 0 for run_id in run_ids}
    ended: dict[str, str] = {}
    cancelled = False
    try:
        while True:
            for run_id in run_ids:
                if run_id in ended:
                    continue
                run_dir = store.run_dir(run_id)
                summary = read_summary(run_dir)  # read first: every event before the end is read below
                for event in read_events(run_dir / "events.jsonl", after_seq=seqs[run_id]):
                    seqs[run_id] = event["seq"]
                    for listener in listeners:
                        listener(event)
                if summary["status"] in TERMINAL:
                    ended[run_id] = summary["status"]
                    if on_end is not None:
                        on_end(run_id, summary)
            if len(ended) == len(run_ids):
                return [ended[run_id] for run_id in run_ids]
            if asked["count"] and not cancelled:
                cancelled = True
                for run_id in (r for r in run_ids if r not in ended):
                    store.request_cancel(run_id)
                    cancel_worker(store, pm, run_id)
            reap_dead_workers(store, pm, "worker_died", only=set(run_ids) - set(ended))
            time.sleep(poll_s)
    finally:
        signal.signal(signal.SIGINT, previous)


def hand_over(store: RunStore, pm, executor, run_id: str, say: Callable[..., None],
              listeners: tuple[Callable[[dict], Any], ...]) -> str:
    """Start the ``created`` run with ``executor`` and follow it to its end (``latentdeck train``)."""
    start_worker(store, run_id, executor)
    say(f"handed to the {executor.name} executor; following its events")
    (status,) = follow_runs(store, pm, [run_id], say, listeners=listeners)
    return status
