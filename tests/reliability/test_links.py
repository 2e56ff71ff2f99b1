"""No link is followed inside a run (issue 22, item 1).

A symbolic link in a run folder used to lead writes and reads outside the runs folder: ``samples/``,
``network/``, ``walks/`` linked elsewhere got an on-demand computation's files, a backfill wrote its
projections and overlays through a linked folder, a linked ``backfill.log`` got the traceback appended to
whatever it pointed to, a linked ``checkpoints/`` or ``epoch_N.pt`` was read from outside, and a FIFO in
place of a checkpoint blocked a server thread forever. Now every read and write under a run folder is
opened from the run folder down without following links (:mod:`latentdeck.kit.safepath`): each case here is
refused with a message naming the link, and the link's target is left exactly as it was, contents and
access time (set into the past first, so that any read of it on a relatime mount would move it).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from latentdeck.api.app import create_app
from latentdeck.store.events import read_events

PAST = 1_000_000_000  # 2001: an access time a read would move forward, even under relatime
CANARY = b"CANARY: nothing of latentdeck's may land or be read here\n"
ANSWER_S = 1.0  # the bound for a FIFO in place of a checkpoint


# --- the outside target and what must stay as it was --------------------------------------------

def make_outside(tmp_path: Path, name: str = "outside") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "canary.txt").write_bytes(CANARY)
    return folder


def freeze(target: Path) -> dict[str, tuple[bytes | None, int]]:
    """Contents of ``target`` (a file, or a folder's entries), then every access time set into the past."""
    entries = [target, *sorted(target.rglob("*"))] if target.is_dir() else [target]
    contents = {str(p): (None if p.is_dir() else p.read_bytes()) for p in entries}
    for path in entries:
        os.utime(path, ns=(PAST * 10**9, path.stat().st_mtime_ns))
    return {key: (content, os.stat(key).st_atime_ns) for key, content in contents.items()}


def assert_untouched(target: Path, frozen: dict[str, tuple[bytes | None, int]]) -> None:
    """Access times first (stat does not move them; listing the folder here would), then the same entries
    with the same contents."""
    atimes = {key: os.stat(key).st_atime_ns for key in frozen}
    assert atimes == {key: atime for key, (_, atime) in frozen.items()}, "the link's target was read or listed"
    entries = [target, *sorted(target.rglob("*"))] if target.is_dir() else [target]
    assert {str(p): (None if p.is_dir() else p.read_bytes()) for p in entries} == {
        key: content for key, (content, _) in frozen.items()}, "the link's target was written"


def link(run_dir: Path, name: str, target: Path) -> str:
    """Replace ``run_dir/name`` by a symbolic link to ``target``; returns the name errors give it."""
    path = run_dir / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target, target_is_directory=target.is_dir())
    return f"{run_dir.name}/{name}"


def answered_within(call, seconds: float, fifo: Path | None = None):
    """``call()`` in a thread; its result, or a failure when it has not answered in ``seconds``. A thread
    blocked on ``fifo`` is released afterwards (a writer opens and closes it) so that the suite goes on."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(seconds * 5)
    took = time.perf_counter() - started
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # EOF for the blocked reader
            thread.join(10)
        pytest.fail(f"no answer within {seconds * 5:g} s: blocked")
    assert took < seconds, f"answered after {took:.2f} s (bound {seconds} s)"
    if "error" in result:
        raise result["error"]
    return result["value"]


# --- runs ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return {"dir": tmp_path_factory.mktemp("trained"), "runs": {}}


@pytest.fixture
def run(trained_run, runs_dir, templates):
    """``run(model)``: a finished tiny run of this test's own (trained once per module, then copied)."""
    def make(model: str = "ae") -> Path:
        if model not in templates["runs"]:
            made = trained_run(model)
            templates["runs"][model] = templates["dir"] / made.name
            shutil.copytree(made, templates["runs"][model], symlinks=True)
            return made
        return Path(shutil.copytree(templates["runs"][model], runs_dir / templates["runs"][model].name, symlinks=True))

    return make


@pytest.fixture
def client(plugin_manager, runs_dir):
    return TestClient(create_app(plugin_manager, runs_dir))


def compute(client, run_dir: Path, name: str, body: dict):
    return client.post(f"/api/runs/{run_dir.name}/compute/{name}", json=body)


COMPUTATIONS = {  # route, body, the folder it writes
    "samples": ("sampling", {"idx": 3, "m": 4, "epoch": 2}),
    "network": ("network-forward", {"idx": 3, "epoch": 2}),
    "walks": ("walk", {"from_idx": 0, "to_idx": 1, "steps": 3, "method": "first-dims", "epoch": 2}),
}


# --- writes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", sorted(COMPUTATIONS))
def test_a_computation_into_a_linked_folder_is_refused_naming_it(run, client, tmp_path, folder):
    run_dir = run()
    route, body = COMPUTATIONS[folder]
    assert compute(client, run_dir, route, {**body, "epoch": 1}).status_code == 200  # the route works here
    outside = make_outside(tmp_path)
    name = link(run_dir, folder, outside)
    frozen = freeze(outside)
    answer = compute(client, run_dir, route, body)
    assert answer.status_code == 409 and f"{name} is a symbolic link" in answer.json()["detail"], answer.text
    assert_untouched(outside, frozen)
    assert (run_dir / folder).is_symlink(), "the link itself is left for the person to replace"


def test_a_linked_folder_inside_an_artifact_folder_is_refused(run, client, tmp_path):
    run_dir = run()
    outside = make_outside(tmp_path)
    (run_dir / "network").mkdir(exist_ok=True)
    name = link(run_dir, "network/forward", outside)
    frozen = freeze(outside)
    answer = compute(client, run_dir, "network-forward", {"idx": 3, "epoch": 2})
    assert answer.status_code == 409 and f"{name} is a symbolic link" in answer.json()["detail"], answer.text
    assert_untouched(outside, frozen)


def test_a_linked_file_in_a_persisted_folder_is_refused(run, client, tmp_path):
    run_dir = run()
    route, body = COMPUTATIONS["network"]
    first = compute(client, run_dir, route, body)
    assert first.status_code == 200, first.text
    meta = run_dir / first.json()["folder"] / "forward_meta.json"
    outside = tmp_path / "forward_meta.json"
    outside.write_bytes(meta.read_bytes().replace(b"{", b'{"canary": 1, ', 1))
    name = link(run_dir, meta.relative_to(run_dir).as_posix(), outside)
    frozen = freeze(outside)
    again = compute(client, run_dir, route, body)  # a repeat is read from disk
    assert again.status_code == 409 and f"{name} is a symbolic link" in again.json()["detail"], again.text
    assert_untouched(outside, frozen)


@pytest.mark.parametrize("folder", ["projections", "density", "clusters", "reconstructions"])
def test_a_backfill_into_a_linked_folder_fails_naming_it(run, plugin_manager, tmp_path, folder):
    from latentdeck.engine.backfill import backfill

    run_dir = run()
    outside = make_outside(tmp_path)
    name = link(run_dir, folder, outside)
    frozen = freeze(outside)
    try:
        backfill(run_dir, plugin_manager, epochs=[2])
        raised = ""
    except Exception as exc:  # noqa: BLE001  (a refusal may end the backfill: it must name the link)
        raised = str(exc)
    said = raised + json.dumps([e for e in read_events(run_dir / "events.jsonl")
                                if e["type"] in ("artifact.failed", "backfill.failed")])
    assert f"{name} is a symbolic link" in said, said[-2000:]
    assert_untouched(outside, frozen)


def test_a_linked_backfill_log_is_refused_and_never_appended_to(run, client, tmp_path):
    run_dir = run()
    for projection in (run_dir / "projections").glob("*epoch_2*"):
        projection.unlink()  # something for the backfill to do
    outside = tmp_path / "some.log"
    outside.write_bytes(CANARY)
    name = link(run_dir, "backfill.log", outside)
    frozen = freeze(outside)
    answer = client.post(f"/api/runs/{run_dir.name}/backfill", json={"epochs": [2]})
    assert answer.status_code == 409 and f"{name} is a symbolic link" in answer.json()["detail"], answer.text
    assert_untouched(outside, frozen)
    assert not (run_dir / "backfill.lock").exists()  # nothing was started


def test_a_fifo_backfill_log_is_refused_without_blocking(run, client):
    run_dir = run()
    for projection in (run_dir / "projections").glob("*epoch_2*"):
        projection.unlink()
    os.mkfifo(run_dir / "backfill.log")
    answer = answered_within(lambda: client.post(f"/api/runs/{run_dir.name}/backfill", json={"epochs": [2]}),
                             ANSWER_S, run_dir / "backfill.log")
    assert answer.status_code == 409 and "backfill.log is a FIFO" in answer.json()["detail"], answer.text


def test_a_linked_worker_log_is_refused_before_a_worker_starts(run, tmp_path):
    from latentdeck_local.plugin import _start_subprocess

    from latentdeck import Job
    from latentdeck.kit.safepath import UnsafePath
    from latentdeck.worker import RUNNER

    run_dir = run()
    outside = tmp_path / "other.log"
    outside.write_bytes(CANARY)
    name = link(run_dir, "worker.log", outside)
    frozen = freeze(outside)
    with pytest.raises(UnsafePath, match=f"{name} is a symbolic link"):
        _start_subprocess(Job("run", str(run_dir)), RUNNER)
    assert_untouched(outside, frozen)


# --- reads ----------------------------------------------------------------------------------------

def test_a_walk_over_a_linked_projections_folder_is_refused(run, client, tmp_path):
    run_dir = run()
    outside = tmp_path / "elsewhere"
    shutil.copytree(run_dir / "projections", outside)  # the same files: only the link is wrong
    name = link(run_dir, "projections", outside)
    frozen = freeze(outside)
    answer = compute(client, run_dir, *COMPUTATIONS["walks"])
    assert answer.status_code == 409 and f"{name} is a symbolic link" in answer.json()["detail"], answer.text
    assert_untouched(outside, frozen)


@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_linked_artifact_is_not_served(run, client, tmp_path, what):
    run_dir = run()
    if what == "folder":
        outside = tmp_path / "elsewhere"
        shutil.copytree(run_dir / "reconstructions", outside)
        name = link(run_dir, "reconstructions", outside)
    else:
        outside = tmp_path / "recon.png"
        shutil.copy(run_dir / "reconstructions" / "recon_grid_latest.png", outside)
        name = link(run_dir, "reconstructions/recon_grid_latest.png", outside)
    frozen = freeze(outside)
    answer = client.get(f"/api/runs/{run_dir.name}/artifacts/reconstructions/recon_grid_latest.png")
    assert answer.status_code == 404 and f"{name} is a symbolic link" in answer.json()["detail"], answer.text
    listed = [row["name"] for row in client.get(f"/api/runs/{run_dir.name}/files").json()["files"]]
    assert "reconstructions/recon_grid_latest.png" not in listed
    assert_untouched(outside, frozen)


def test_a_fifo_artifact_is_refused_without_blocking(run, client):
    from latentdeck.api.files import FileSnapshot
    from latentdeck.kit.safepath import UnsafePath

    run_dir = run()
    fifo = run_dir / "reconstructions" / "recon_grid_latest.png"
    fifo.unlink()
    os.mkfifo(fifo)
    answer = answered_within(lambda: client.get(f"/api/runs/{run_dir.name}/artifacts/reconstructions/"
                                                "recon_grid_latest.png"), ANSWER_S, fifo)
    assert answer.status_code == 404 and "recon_grid_latest.png is a FIFO" in answer.json()["detail"], answer.text
    with pytest.raises(UnsafePath, match="is a FIFO"):  # the open itself, as when one is swapped in after the check
        answered_within(lambda: FileSnapshot(fifo, root=run_dir), ANSWER_S, fifo)


@pytest.mark.parametrize("what", ["checkpoints", "checkpoints/epoch_2.pt", "checkpoints/epoch_2.json"])
def test_a_linked_checkpoint_is_never_read(run, client, tmp_path, what):
    run_dir = run()
    source = run_dir / what
    outside = tmp_path / f"elsewhere{source.suffix}"
    (shutil.copytree if source.is_dir() else shutil.copy)(source, outside)
    name = link(run_dir, what, outside)
    frozen = freeze(outside)
    for route, body in COMPUTATIONS.values():
        answer = compute(client, run_dir, route, body)
        assert answer.status_code == 409 and f"{name} is a symbolic link" in answer.json()["detail"], (route, answer.text)
    assert_untouched(outside, frozen)


@pytest.mark.parametrize("what", ["epoch_2.pt", "epoch_2.json"])
def test_a_fifo_in_place_of_a_checkpoint_answers_within_a_second(run, client, plugin_manager, what):
    from latentdeck.engine.checkpoints import CheckpointError, load_model

    run_dir = run()
    assert compute(client, run_dir, "sampling", {"idx": 3, "m": 4, "epoch": 1}).status_code == 200  # warm
    fifo = run_dir / "checkpoints" / what
    fifo.unlink()
    os.mkfifo(fifo)
    answer = answered_within(lambda: compute(client, run_dir, "sampling", {"idx": 3, "m": 4, "epoch": 2}),
                             ANSWER_S, fifo)
    assert answer.status_code == 409 and f"checkpoints/{what} is a FIFO" in answer.json()["detail"], answer.text
    # the loader itself, as when the FIFO appears after the listing
    with pytest.raises(CheckpointError, match=f"checkpoints/{what} is a FIFO"):
        answered_within(lambda: load_model(run_dir, plugin_manager, epoch=2), ANSWER_S, fifo)


# --- sweep records ---------------------------------------------------------------------------------

def test_linked_sweep_records_are_never_read_or_written(client, runs_dir, tmp_path):
    from latentdeck.store.runs import RunStore, RunStoreError
    from latentdeck.launch.sweeps import SweepStore

    sweeps = SweepStore(RunStore(runs_dir))
    outside = tmp_path / "record.json"
    outside.write_text(json.dumps({"sweep_id": "sw-linked", "name": CANARY.decode(), "created_at": 1, "members": []}))
    (runs_dir / "sweeps").mkdir()
    (runs_dir / "sweeps" / "sw-linked.json").symlink_to(outside)
    folder = make_outside(tmp_path, "sweeps-elsewhere")
    frozen_file, frozen_folder = freeze(outside), freeze(folder)
    assert client.get("/api/sweeps/sw-linked").status_code == 404
    assert client.get("/api/sweeps").json() == []
    with pytest.raises(RunStoreError, match="runs/sweeps/sw-linked.json is a symbolic link"):
        sweeps.write({"sweep_id": "sw-linked", "name": "replaces the link's target?", "created_at": 2})
    shutil.rmtree(runs_dir / "sweeps")
    (runs_dir / "sweeps").symlink_to(folder, target_is_directory=True)
    with pytest.raises(RunStoreError, match="symbolic link"):
        sweeps.write({"sweep_id": "sw-new", "name": "new", "created_at": 3})
    assert client.get("/api/sweeps").json() == []
    assert_untouched(outside, frozen_file)
    assert_untouched(folder, frozen_folder)
