"""GET /api/runs/{id}/events over a real server: replay, resume, 204, heartbeats, reconnects, fan-out."""

from __future__ import annotations

import statistics
import sys
import threading
import time

import httpx
import pytest

import latentdeck.testing
from latentdeck.testing import wait_for
from latentdeck import launch
from latentdeck.api import create_app
from latentdeck.store.events import EventLog, read_events
from latentdeck.registry import make_plugin_manager
from latentdeck.store.runs import RunStore
from latentdeck.engine.training import execute_run


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(plugin manager, runs dir, run id, its events): one tiny run trained in-process, once per module."""
    pm = make_plugin_manager(plugins=[sys.modules["latentdeck.testing"]])
    runs_dir = tmp_path_factory.mktemp("sse") / "runs"
    store = RunStore(runs_dir)
    config = {"model": "ae", "dataset": latentdeck.testing.TINY, "epochs": 2, "batch_size": 64,
              "viz_subset_size": 16, "num_threads": 1, "progress_interval_s": 0.0,
              "artifact_options": {"recon_grid": {"grid_size": 4}},
              "model_options": {"latent_dim": 2, "channels": [4, 4], "head_hidden": 8}}
    stored = launch.prepare_run(pm, config)
    store.create(stored)
    assert execute_run(store.root / stored["run_id"], pm) == "completed"
    events = list(read_events(store.root / stored["run_id"] / "events.jsonl"))
    assert len(events) >= 12 and events[-1]["type"] == "run.completed"
    return pm, runs_dir, stored["run_id"], events


@pytest.fixture
def finished_live(finished, live_server):
    pm, runs_dir, run_id, events = finished
    live = live_server(create_app(pm, runs_dir))
    return live, f"/api/runs/{run_id}/events", events


def test_full_replay_ends_after_the_terminal_event(finished_live, sse):
    live, url, events = finished_live
    result = sse.read(live.client, url)
    assert result.closed_by_server
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["cache-control"] == "no-cache" and result.headers["x-accel-buffering"] == "no"
    assert result.messages[0].retry == "2000" and result.messages[0].data is None
    assert result.events == events
    assert [m.id for m in result.messages[1:]] == [str(e["seq"]) for e in events]


def test_resume_from_the_middle_replays_exactly_the_tail(finished_live, sse):
    live, url, events = finished_live
    middle = events[len(events) // 2]["seq"]
    by_header = sse.read(live.client, url, headers={"Last-Event-ID": str(middle)})
    by_query = sse.read(live.client, url, params={"last_event_id": middle})
    assert by_header.events == by_query.events == [e for e in events if e["seq"] > middle]
    assert by_header.events[0]["seq"] == middle + 1
    zero = sse.read(live.client, url, headers={"Last-Event-ID": "0"})
    assert zero.events == events


def test_header_wins_over_query_parameter(finished_live, sse):
    live, url, events = finished_live
    low, high = events[2]["seq"], events[-3]["seq"]
    first = sse.read(live.client, url, headers={"Last-Event-ID": str(low)}, params={"last_event_id": high})
    assert first.events[0]["seq"] == low + 1 and len(first.events) == len(events) - low
    second = sse.read(live.client, url, headers={"Last-Event-ID": str(high)}, params={"last_event_id": low})
    assert [e["seq"] for e in second.events] == [e["seq"] for e in events if e["seq"] > high]


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "3x", "1e3"])
def test_malformed_cursor_is_400(finished_live, bad):
    live, url, events = finished_live
    for response in (live.client.get(url, headers={"Last-Event-ID": bad}),
                     live.client.get(url, params={"last_event_id": bad}),
                     live.client.get(url, headers={"Last-Event-ID": bad}, params={"last_event_id": "2"})):
        assert response.status_code == 400, response.text
        assert "integer seq" in response.json()["detail"] and repr(bad) in response.json()["detail"]


def test_after_the_end_is_204_and_unknown_run_404(finished_live, sse):
    live, url, events = finished_live
    last = events[-1]["seq"]
    for cursor in (last, last + 10):
        response = live.client.get(url, headers={"Last-Event-ID": str(cursor)})
        assert response.status_code == 204 and response.content == b""
    only_end = sse.read(live.client, url, headers={"Last-Event-ID": str(last - 1)})
    assert only_end.events == [events[-1]]
    missing = live.client.get("/api/runs/20990101-000000-000000/events")
    assert missing.status_code == 404 and "no run" in missing.json()["detail"]


def _create_unstarted(live, pm, tiny_config) -> str:
    """A run on disk whose worker is never started: it stays 'created' and its stream idles."""
    stored = launch.prepare_run(pm, tiny_config)
    live.store.create(stored)
    return stored["run_id"]


def test_heartbeats_on_an_idle_stream_and_cleanup_on_disconnect(serve_api, plugin_manager, tiny_config, sse, waiter):
    live = serve_api(heartbeat_s=0.2)
    run_id = _create_unstarted(live, plugin_manager, tiny_config)
    started = time.monotonic()
    result = sse.read(live.client, f"/api/runs/{run_id}/events", until=lambda ms: sum(
        c == "ping" for m in ms for c in m.comments) >= 3, max_s=10)
    elapsed = time.monotonic() - started
    assert [e["type"] for e in result.events] == ["run.created"]
    assert result.pings == 3 and 0.5 < elapsed < 3, elapsed
    assert not result.closed_by_server
    # the client went away: the stream ends and the run's shared poller stops
    waiter(lambda: not live.app.state.hub.feeds, timeout=5, what="the feed to stop after the disconnect")
    # the worker monitor leaves a run that never recorded a worker alone
    assert live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "created"


def test_a_torn_line_does_not_break_the_stream(serve_api, plugin_manager, tiny_config, sse):
    live = serve_api(heartbeat_s=0.2)
    run_id = _create_unstarted(live, plugin_manager, tiny_config)
    path = live.store.root / run_id / "events.jsonl"
    got: list[dict] = []

    def read():
        got.extend(sse.read(live.client, f"/api/runs/{run_id}/events", max_s=20).events)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    with open(path, "ab") as handle:  # a writer killed mid-line
        handle.write(b'{"seq": 2, "type": "train.prog')
    time.sleep(0.1)
    with EventLog(path, run_id) as log:  # the next writer closes that line and carries on
        log.emit("train.progress", {"epoch": 1})
    live.store.mark_failed(run_id, "test", "ended by the test")
    reader.join(20)
    assert [(e["seq"], e["type"]) for e in got] == [(1, "run.created"), (2, "train.progress"), (3, "run.failed")]


def test_reconnects_during_a_live_run_lose_and_repeat_nothing(serve_api, tiny_config, sse):
    live = serve_api(max_stream_s=0.5)
    created = live.client.post("/api/runs", json={**tiny_config, "epochs": 12, "progress_interval_s": 0.0})
    assert created.status_code == 201, created.text
    run_id = created.json()["summary"]["run_id"]
    url = f"/api/runs/{run_id}/events"
    events: list[dict] = []
    connections = 0
    deadline = time.monotonic() + 120  # a bound for a stuck run on a loaded machine, not a timing assertion
    while not events or events[-1]["type"] != "run.completed":
        assert time.monotonic() < deadline, "the run did not complete in time"
        headers = {"Last-Event-ID": str(events[-1]["seq"])} if events else {}
        result = sse.read(live.client, url, headers=headers, max_s=5)
        assert result.status == 200 and result.closed_by_server
        connections += 1
        events.extend(result.events)
    assert connections >= 4, connections
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1)), seqs
    assert events == list(read_events(live.store.root / run_id / "events.jsonl"))
    assert {"run.started", "train.progress", "train.metrics", "artifact.created"} <= {e["type"] for e in events}
    # the worker writes summary.json just after its closing event: once it says so, a reconnect is told to stop
    wait_for(lambda: live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "completed", timeout=30,
             what="summary.json to say completed")
    assert live.client.get(url, headers={"Last-Event-ID": str(seqs[-1])}).status_code == 204


def test_twenty_subscribers_share_one_poller_with_low_latency(serve_api, plugin_manager, tiny_config, waiter):
    live = serve_api(heartbeat_s=5.0)
    run_id = _create_unstarted(live, plugin_manager, tiny_config)
    url = f"{live.url}/api/runs/{run_id}/events"
    received: list[list[tuple[int, float]]] = [[] for _ in range(20)]
    errors: list[BaseException] = []

    def subscriber(index: int) -> None:
        try:
            with httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as client:
                with client.stream("GET", url) as response:
                    for line in response.iter_lines():
                        if line.startswith("id: "):
                            received[index].append((int(line[4:]), time.time()))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=subscriber, args=(i,), daemon=True) for i in range(20)]
    for thread in threads:
        thread.start()
    waiter(lambda: all(r for r in received), timeout=15, what="20 subscribers to receive run.created")
    hub = live.app.state.hub
    assert list(hub.feeds) == [run_id] and len(hub.feeds[run_id].subscribers) == 20

    path = live.store.root / run_id / "events.jsonl"
    sent: dict[int, float] = {}
    with EventLog(path, run_id) as log:
        for i in range(25):
            event = log.emit("train.progress", {"batch": i})
            sent[event["seq"]] = event["ts"]
            time.sleep(0.03)
    live.store.mark_failed(run_id, "test", "ended by the test")
    for thread in threads:
        thread.join(15)
    assert not errors, errors
    latencies = []
    for got in received:
        assert [seq for seq, _ in got] == list(range(1, 28))
        latencies.extend(at - sent[seq] for seq, at in got if seq in sent)
    median = statistics.median(latencies)
    assert median <= 0.05, f"median append-to-delivery latency {median * 1000:.1f} ms"
    waiter(lambda: not hub.feeds, timeout=5, what="the feed to stop with its last subscriber")


def test_server_shutdown_ends_open_streams_promptly(serve_api, plugin_manager, tiny_config, sse):
    live = serve_api(heartbeat_s=5.0)
    run_id = _create_unstarted(live, plugin_manager, tiny_config)
    results: list = []
    reader = threading.Thread(target=lambda: results.append(
        sse.read(httpx.Client(base_url=live.url), f"/api/runs/{run_id}/events", max_s=20)))
    reader.start()
    time.sleep(0.5)
    started = time.monotonic()
    live.stop()
    stopped = time.monotonic() - started
    reader.join(5)
    assert results and results[0].closed_by_server  # a clean end of stream, not a cut connection
    assert [e["type"] for e in results[0].events] == ["run.created"]
    assert stopped < 1.0, f"shutdown took {stopped:.2f}s with a stream open"


def test_a_terminal_event_ends_the_stream_even_before_the_summary_says_so(serve_api, plugin_manager, tiny_config,
                                                                           sse):
    live = serve_api(heartbeat_s=0.2)
    run_id = _create_unstarted(live, plugin_manager, tiny_config)
    with EventLog(live.store.root / run_id / "events.jsonl", run_id) as log:
        log.emit("run.completed", {})  # summary.json still says 'created', as in the instant before the worker writes it
    url = f"/api/runs/{run_id}/events"
    whole = sse.read(live.client, url, max_s=5)
    assert whole.closed_by_server and [e["seq"] for e in whole.events] == [1, 2]
    past = sse.read(live.client, url, headers={"Last-Event-ID": "2"}, max_s=5)
    assert past.status == 200 and past.closed_by_server and past.events == [] and past.pings == 0
