"""Handing tasks to Ray on a thread of their own, so that ``start`` and ``start_task`` return at once.

:func:`submit` records a :class:`~latentdeck_ray.session.Submitted` without a Ray reference and queues
it; the hand-off thread waits for the connection (:func:`latentdeck_ray.session.connect`, up to its
120 s bound), runs the task's ``check`` (does the cluster have the resources?), and submits it. Until
then the run counts as alive (it waits as ``created``, like a task waiting in Ray's queue); a task
that could not be handed over carries the reason in ``error`` and its run fails with it; a cancel
before the hand-off withdraws it (``withdrawn``) and nothing reaches Ray.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from . import session

log = logging.getLogger(__name__)

_jobs: queue.Queue = queue.Queue()
_thread: threading.Thread | None = None
_guard = threading.Lock()


def submit(item: session.Submitted, function: str, options: dict[str, Any], args: tuple,
           check: Callable[[], None] | None = None) -> None:
    """Hand ``task.<function>(*args)`` with Ray ``options`` to Ray in the background (``check`` first)."""
    global _thread
    with _guard:
        _jobs.put((item, function, options, args, check))
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, args=(_jobs,), daemon=True, name="latentdeck-ray-handoff")
            _thread.start()


def _loop(jobs: queue.Queue) -> None:
    while True:
        job = jobs.get()
        if job is None:
            return
        _hand_over(*job)


def _hand_over(item: session.Submitted, function: str, options: dict[str, Any], args: tuple,
               check: Callable[[], None] | None) -> None:
    with session._lock:
        if item.withdrawn or item.error is not None:
            return
    ref, error = None, None
    try:
        ray = session.connect(session.INIT_TIMEOUT_S)
        if check is not None:
            check()
        with session._lock:
            if item.withdrawn:  # cancelled while Ray was connecting
                return
        ref = session.remote(function, **options).remote(*args)
    except (session.RayUnreachable, session.StillConnecting) as exc:
        error = f"cannot reach Ray: {exc}"
    except ValueError as exc:  # the check's refusal, worded for people
        error = str(exc)
    except Exception as exc:
        error = f"Ray did not take the task: {type(exc).__name__}: {str(exc)[:300]}"
    with session._lock:
        if error is not None:
            item.error = error
        else:
            item.ref = ref
        withdrawn = item.withdrawn
    if error is not None:
        log.warning("could not hand %s of %s to Ray: %s", function, item.run_dir, error)
    elif withdrawn:  # cancelled while it was being submitted: it finds the claim taken; leave Ray's queue too
        ray.cancel(ref)


def stop(reason: str) -> None:
    """Give up on every task not yet handed over (they end with ``reason``); a later :func:`submit` starts afresh."""
    global _jobs, _thread
    with _guard:
        jobs, _jobs, _thread = _jobs, queue.Queue(), None
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            break
        if job is not None:
            with session._lock:
                if job[0].ref is None and job[0].error is None:
                    job[0].error = reason
    jobs.put(None)
