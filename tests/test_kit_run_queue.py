"""The kit's run queue (:class:`latentdeck.kit.RunQueue`) against a fake server (:class:`QueueHost`): the cap
and the order, the wait for readiness, a cancel, the stop, and a runner that travels without its host."""

from __future__ import annotations

import pickle
import threading
import time
from dataclasses import replace

from latentdeck.kit import RunQueue
from latentdeck.types import Job, QueueHost
from latentdeck.worker import RUNNER


class FakeServer:
    def __init__(self, cap: int = 1, max_wait_s: float = 120.0):
        self.status: dict[str, str] = {}
        self.cancelled: set[str] = set()
        self.events: list[tuple[str, dict]] = []
        self.started: list[tuple[str, dict | None, str | None]] = []
        self.withdrawn: list[str] = []
        self.stops: list = []
        self.lock = threading.Lock()
        self.host = QueueHost(
            max_concurrent_runs=cap, max_wait_s=max_wait_s, announce=lambda job, data: self.events.append((job.run_dir, data)),
            state=lambda job: {"status": self.status.get(job.run_dir), "cancel": job.run_dir in self.cancelled},
            withdrawn=self._withdrawn, started=lambda job, handle, error=None: self.started.append((job.run_dir, handle, error)),
            training=lambda name: [d for d, s in self.status.items() if s == "running"], on_stop=self.stops.append)
        self.runner = replace(RUNNER, queue=self.host)

    def _withdrawn(self, job: Job) -> None:
        self.withdrawn.append(job.run_dir)
        self.status[job.run_dir] = "cancelled"

    def new(self, name: str) -> Job:
        self.status[name] = "created"
        return Job("run", name)


def wait_for(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_the_cap_holds_runs_in_order_and_a_freed_slot_starts_the_next():
    server, launched = FakeServer(cap=1), []
    queue = RunQueue("fake", start=lambda job, runner: launched.append(job.run_dir) or {"pid": len(launched)},
                     poll_s=0.02)
    assert queue.submit(server.new("a"), server.runner) == {"pid": 1}  # a free slot: it starts in submit
    b, c = (queue.submit(server.new(name), server.runner) for name in "bc")
    assert b["waiting"] and (b["queue_position"], b["queue_length"]) == (1, 1)  # its place when submitted
    assert (c["queue_position"], c["queue_length"]) == (2, 2) and queue.poll(b)["queue_length"] == 2
    assert queue.poll(c) == {"alive": True, "waiting": True, "queue_position": 2, "queue_length": 2}
    assert queue.poll({"pid": 1}) is None and queue.waiting() == ["b", "c"]
    assert server.events[-1][1]["text"].startswith("queued: position 2 of 2")
    server.status["a"] = "completed"
    wait_for(lambda: launched == ["a", "b"])
    assert server.started == [("b", {"pid": 2}, None)]  # started after submit returned: handed to the server
    assert queue.poll(c)["queue_position"] == 1 and queue.poll(b) == {"alive": False, "waiting": True}
    server.stops[0]()
    assert launched == ["a", "b"] and queue.waiting() == []  # the queued run stays created for the next server


def test_a_cancel_withdraws_a_waiting_run_and_a_cancel_flag_drops_one():
    server, launched = FakeServer(cap=1), []
    queue = RunQueue("fake", start=lambda job, runner: launched.append(job.run_dir) or {"pid": 1}, poll_s=0.02)
    queue.submit(server.new("a"), server.runner)
    b, c = (queue.submit(server.new(name), server.runner) for name in "bc")
    assert queue.cancel(b) is True and queue.cancel(b) is False and queue.cancel({"pid": 1}) is None
    server.cancelled.add("c")  # the flag alone: the next pass ends it as withdrawn
    wait_for(lambda: server.withdrawn == ["c"])
    server.status["a"] = "completed"
    time.sleep(0.2)
    assert launched == ["a"]
    server.stops[0]()


def test_a_not_ready_executor_holds_runs_until_ready_the_wait_limit_or_the_stop():
    gate, launched = threading.Event(), []
    capacity = lambda: {"slots": None if gate.is_set() else 0, "reason": "warming", "expected_s": 3}  # noqa: E731
    server = FakeServer(cap=2, max_wait_s=60)
    queue = RunQueue("fake", start=lambda job, runner: launched.append(job.run_dir) or {"pid": 1},
                     capacity=capacity, poll_s=0.02)
    first = queue.submit(server.new("a"), server.runner)
    assert first["waiting"] and "queue_position" not in first
    assert server.events == [("a", {"text": "warming", "expected_s": 3, "max_wait_s": 60})]
    gate.set()
    wait_for(lambda: launched == ["a"])
    gate.clear()
    queue.submit(server.new("b"), server.runner)
    server.stops[0]()  # a stopping server starts what only waited for readiness
    assert launched == ["a", "b"]
    hurried = FakeServer(cap=2, max_wait_s=0.1)
    queue.submit(hurried.new("c"), hurried.runner)
    wait_for(lambda: launched == ["a", "b", "c"])
    hurried.stops[0]()


def test_without_a_server_or_for_other_jobs_it_starts_at_once_and_a_host_never_travels():
    queue = RunQueue("fake", start=lambda job, runner: {"pid": 7}, capacity=lambda: {"slots": 0})
    assert queue.submit(Job("run", "a"), RUNNER) == {"pid": 7}
    server = FakeServer()
    assert queue.submit(Job("backfill", "a", {"argv": []}), server.runner) == {"pid": 7}
    travelled = pickle.loads(pickle.dumps(server.runner))
    assert travelled.queue is None and travelled.argv is RUNNER.argv
