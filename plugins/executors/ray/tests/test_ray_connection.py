"""The ray executor never holds a caller on Ray, without starting Ray: the address probe's verdicts
against fake services, the bounded background connect (one attempt, a kept verdict, no waiting for an
attempt another caller started), and the hand-off thread (``start`` returns at once; a run that cannot
be handed over fails naming why; a cancel before the hand-off withdraws it). The API-level checks (422
within 5 s, a responsive server under 45 POSTs) are in tests/reliability/test_ray_address.py."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from latentdeck_ray import handoff, plugin, probe, session
from latentdeck.worker import RUNNER


def _serve(answer):
    """A TCP service on 127.0.0.1 that runs ``answer(conn)`` for each connection; (port, close)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def loop():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()

    def close():
        server.close()
        for conn in held:
            conn.close()

    return server.getsockname()[1], close


def _http1(conn):
    conn.recv(1024)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn.close()


def _grpc_like(conn):
    conn.sendall(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64")  # SETTINGS, as a GCS sends


@pytest.fixture
def fresh_session():
    """No attempt, verdict or hand-off left by an earlier test, nor for a later one: the hand-off thread has
    finished (with the test's fakes still in place: list this fixture after monkeypatch) when it ends."""
    session.shutdown()
    yield
    thread = handoff._thread
    session.shutdown()
    if thread is not None:
        thread.join(10)
        assert not thread.is_alive(), "the hand-off thread is still busy"


@pytest.mark.parametrize("answer, expected", [
    (_http1, r"HTTP response, 'HTTP/1.1 400 Bad Request'; is this Ray's dashboard port 8265\? the GCS port is usually 6379"),
    (lambda conn: None, r"sent nothing within 0.5 s"),
    (lambda conn: conn.close(), r"closed it without a word"),
    (lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"), r"not HTTP/2, starting b'SSH-2.0-"),
])
def test_the_probe_names_what_answers_instead_of_a_gcs(answer, expected, monkeypatch):
    port, close = _serve(answer)
    monkeypatch.setenv("LATENTDECK_RAY_ADDRESS", f"127.0.0.1:{port}")
    try:
        began = time.monotonic()
        with pytest.raises(probe.RayUnreachable, match=rf"LATENTDECK_RAY_ADDRESS=127.0.0.1:{port} answers but is not "
                                                       rf"a Ray GCS \(it .*{expected}"):
            probe.probe(f"127.0.0.1:{port}", read_timeout=0.5)
        assert time.monotonic() - began < 2.0
    finally:
        close()


def test_the_probe_lets_an_http2_server_through_and_leaves_other_forms_to_ray():
    port, close = _serve(_grpc_like)
    try:
        probe.probe(f"127.0.0.1:{port}")
        probe.probe(f"ray://127.0.0.1:{port}")
    finally:
        close()
    assert probe.split_address("[::1]:6379") == ("::1", 6379)
    for ray_resolves in ("auto", "local", "head-node"):
        assert probe.split_address(ray_resolves) is None


def test_a_failed_connect_is_one_attempt_whose_verdict_every_caller_gets_at_once(monkeypatch, fresh_session):
    """The caller that starts the attempt waits for the probe; callers meanwhile and after do not."""
    port, close = _serve(lambda conn: None)  # silent
    monkeypatch.setenv("LATENTDECK_RAY_ADDRESS", f"127.0.0.1:{port}")
    monkeypatch.setattr(probe, "READ_TIMEOUT_S", 1.0)
    try:
        answers: list[tuple[str, float]] = []

        def ask():
            began = time.monotonic()
            try:
                plugin.check_config({"executor_options": {}})
                answers.append(("accepted", time.monotonic() - began))
            except ValueError as exc:
                answers.append((str(exc), time.monotonic() - began))

        first = threading.Thread(target=ask)
        first.start()
        time.sleep(0.2)
        others = [threading.Thread(target=ask) for _ in range(20)]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(5)
        assert len(answers) == 20 and all(took < 0.5 for _, took in answers), answers  # none waited on the probe
        assert all("is being checked" in text for text, _ in answers), answers[0]
        first.join(5)
        text, took = answers[-1]
        assert 0.9 < took < 3 and "sent nothing within 1 s" in text, answers[-1]
        began = time.monotonic()
        with pytest.raises(ValueError, match="sent nothing within 1 s"):  # the kept verdict, at once
            plugin.check_config({"executor_options": {}})
        assert time.monotonic() - began < 0.2
    finally:
        close()


def _run_dir(tmp_path, run_id="r1"):
    run_dir = tmp_path / run_id
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"run_id": run_id, "executor_options": {"num_cpus": 1}}))
    return run_dir


class _SlowRay:
    """Stands in for a Ray that takes ``delay`` to connect; records what was submitted."""

    def __init__(self, delay: float, resources=None):
        self.delay, self.resources, self.calls, self.connected = delay, resources or {"CPU": 2.0}, [], threading.Event()

    def connect(self, wait_s=session.INIT_TIMEOUT_S, *, join=True):
        time.sleep(self.delay)
        self.connected.set()

    def remote(self, function, **options):
        outer = self

        class Handle:
            def remote(self, *args):
                outer.calls.append((function, options, args))
                return object()

        return Handle()


def test_start_returns_at_once_and_the_hand_off_waits_for_ray(tmp_path, monkeypatch, fresh_session):
    fake = _SlowRay(delay=1.0)
    monkeypatch.setattr(session, "connect", fake.connect)
    monkeypatch.setattr(session, "remote", fake.remote)
    monkeypatch.setattr(session, "cluster_resources", lambda *a, **k: fake.resources)
    run_dir = _run_dir(tmp_path)
    began = time.monotonic()
    info = plugin.start(run_dir, RUNNER)
    assert time.monotonic() - began < 0.5 and not fake.connected.is_set()
    assert plugin.is_alive(info) is True and plugin.exit_reason(info) is None  # waiting, like a task in Ray's queue
    deadline = time.monotonic() + 5
    while not fake.calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(f, o) for f, o, _ in fake.calls] == [("train", {"num_cpus": 1.0, "num_gpus": 0.0})]
    assert session.submitted(info["task"]).ref is not None


def test_a_run_ray_cannot_take_fails_naming_why(tmp_path, monkeypatch, fresh_session):
    fake = _SlowRay(delay=0.0, resources={"CPU": 0.5})
    monkeypatch.setattr(session, "connect", fake.connect)
    monkeypatch.setattr(session, "remote", fake.remote)
    monkeypatch.setattr(session, "cluster_resources", lambda *a, **k: fake.resources)
    info = plugin.start(_run_dir(tmp_path), RUNNER)
    deadline = time.monotonic() + 5
    while plugin.is_alive(info) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert plugin.exit_reason(info) == {"reason": "executor_failed", "error": "executor_options.num_cpus: 1 CPUs asked, "
                                        "the Ray cluster has 0.5 in all; ask for fewer"}
    assert fake.calls == []


def test_a_cancel_before_the_hand_off_withdraws_the_run_and_nothing_reaches_ray(tmp_path, monkeypatch, fresh_session):
    fake = _SlowRay(delay=1.0)
    monkeypatch.setattr(session, "connect", fake.connect)
    monkeypatch.setattr(session, "remote", fake.remote)
    monkeypatch.setattr(session, "cluster_resources", lambda *a, **k: fake.resources)
    run_dir = _run_dir(tmp_path)
    info = plugin.start(run_dir, RUNNER)
    assert plugin.cancel(info) is True  # withdrawn at once
    assert plugin.is_alive(info) is False
    time.sleep(1.3)
    assert fake.calls == []
    assert json.loads((run_dir / ".executor-claim.json").read_text())["cancelled_before_start"] is True


def test_a_stopping_lab_fails_what_it_had_not_handed_over(tmp_path, monkeypatch, fresh_session):
    gate, fake = threading.Event(), _SlowRay(delay=0.0)
    monkeypatch.setattr(session, "connect", lambda *a, **k: gate.wait(5))
    monkeypatch.setattr(session, "remote", fake.remote)
    first = session.Submitted(str(tmp_path))
    waiting = session.Submitted(str(tmp_path))
    handoff.submit(first, "train", {}, ())
    handoff.submit(waiting, "train", {}, ())
    time.sleep(0.2)
    handoff.stop("the lab stopped")
    gate.set()
    deadline = time.monotonic() + 5
    while first.ref is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.ref is not None  # the one under way when the lab stopped went through
    assert waiting.error == "the lab stopped" and waiting.ref is None and len(fake.calls) == 1
