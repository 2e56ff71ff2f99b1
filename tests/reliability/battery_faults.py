"""Faults injected into a live lab: a worker SIGKILLed in the middle of a checkpoint, artifact or
event write (or at a random moment), the server SIGKILLed while runs train, a full disk, a damaged
checkpoint, a log left ending in a torn line. Each scenario returns its figures: how the run ended,
how long the server took to notice, how many files are invalid afterwards (the goal is 0), and
whether a restarted server starts cleanly."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

from battery_lab import Lab, check_files, kill_workers, read_log

HERE = Path(__file__).resolve().parent


def fault_lab(runs_dir: Path, port: int | None = None) -> Lab:
    """A lab whose workers load the fault plugin (armed per run through a file)."""
    work = Path(runs_dir).parent
    python_path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return Lab(runs_dir, port=port, env={
        "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing,battery_faultplugin", "PYTHONPATH": python_path,
        "LATENTDECK_FAULT_FILE": str(work / "fault"), "LATENTDECK_FAULT_STAMP": str(work / "fault-stamp")})


def arm(lab: Lab, point: str, nth: int) -> Path:
    stamp = Path(lab.env["LATENTDECK_FAULT_STAMP"])
    stamp.unlink(missing_ok=True)
    Path(lab.env["LATENTDECK_FAULT_FILE"]).write_text(f"{point}:{nth}")
    return stamp


def hidden_temp_files(run_dir: Path) -> int:
    return sum(1 for p in Path(run_dir).rglob(".*.tmp"))


def restart_is_clean(lab: Lab) -> bool:
    """SIGKILL and restart the server: it must come up and log no error."""
    lab.kill()
    mark = lab.log.stat().st_size if lab.log.exists() else 0
    lab.start()
    with lab.client() as client:
        ok = client.get("/api/runs").status_code == 200
    time.sleep(1.5)  # a few monitor passes
    text = lab.log.read_bytes()[mark:].decode(errors="replace")
    return ok and "Traceback" not in text and " ERROR " not in text and "ERROR:" not in text


def _ended(client, run_id: str) -> dict:
    return client.get(f"/api/runs/{run_id}").json()["summary"]


def kill_worker_at(lab: Lab, point: str, nth: int, epochs: int = 4) -> dict[str, Any]:
    """A run whose worker SIGKILLs itself at the ``nth`` write of ``point``."""
    stamp = arm(lab, point, nth)
    with lab.client() as client:
        run_id = lab.create(client, epochs=epochs)
        summary = lab.wait_status(client, run_id, {"completed", "failed", "cancelled"}, timeout=180)
        stream = client.get(f"/api/runs/{run_id}/events").text
    run_dir = lab.runs_dir / run_id
    killed_at = float(stamp.read_text()) if stamp.exists() else None
    problems = check_files(run_dir)
    log = read_log(run_dir)
    return {
        "fault": f"SIGKILL at {point} write #{nth}", "status": summary["status"], "reason": summary.get("reason"),
        "seconds_to_failed": round(summary["ended_at"] - killed_at, 3) if killed_at and summary.get("ended_at") else None,
        "epochs_completed": summary.get("epochs_completed"), "files": sum(1 for p in run_dir.rglob("*") if p.is_file()),
        "files_corrupted": len(problems), "problems": problems, "hidden_temp_files": hidden_temp_files(run_dir),
        "log_ends_with_run_failed": bool(log) and log[-1]["type"] == "run.failed",
        "sse_ends_with_run_failed": '"type": "run.failed"' in stream.strip().split("\n")[-1],
    }


def kill_worker_randomly(lab: Lab, rng: random.Random, epochs: int = 3) -> dict[str, Any]:
    """SIGKILL a run's worker at a random moment of its training (from outside)."""
    from latentdeck.store.runs import read_worker_info

    with lab.client() as client:
        run_id = lab.create(client, epochs=epochs)
        run_dir = lab.runs_dir / run_id
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (read_worker_info(run_dir) and read_log(run_dir)[-1]["type"] != "run.created"):
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 4))
        info = read_worker_info(run_dir)
        killed_at = time.time()
        try:
            os.kill(int(info["pid"]), signal.SIGKILL)
        except OSError:
            pass  # it had already finished
        summary = lab.wait_status(client, run_id, {"completed", "failed", "cancelled"}, timeout=60)
    problems = check_files(run_dir)
    return {"status": summary["status"], "reason": summary.get("reason"),
            "seconds_to_failed": round(summary["ended_at"] - killed_at, 3) if summary["status"] == "failed" else None,
            "files_corrupted": len(problems), "problems": problems}


def kill_server_while_training(lab: Lab, runs: int = 2, epochs: int = 5) -> dict[str, Any]:
    """SIGKILL the server while ``runs`` runs train, restart it: the runs go on and complete."""
    with lab.client() as client:
        ids = [lab.create(client, epochs=epochs) for _ in range(runs)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(_ended(client, r)["epochs_completed"] >= 1 for r in ids):
            time.sleep(0.05)
    lab.kill()
    down_at = time.monotonic()
    time.sleep(1.0)
    lab.start()
    restart_s = time.monotonic() - down_at - 1.0
    with lab.client() as client:
        ends = [lab.wait_status(client, r, {"completed", "failed", "cancelled"}, timeout=240) for r in ids]
        streams_ok = all(client.get(f"/api/runs/{r}/events").text.rstrip().endswith("}") for r in ids)
    problems = {r: check_files(lab.runs_dir / r) for r in ids}
    return {"runs": runs, "statuses": [e["status"] for e in ends], "restart_s": round(restart_s, 2),
            "files_corrupted": sum(len(p) for p in problems.values()), "problems": problems,
            "replays_complete": streams_ok}


def torn_log_then_restart(lab: Lab, nth: int = 25) -> dict[str, Any]:
    """The server is down when a worker dies mid-append: the log ends in a torn line. A new server
    fails the run (interrupted), removes the cut-off line (it never became an event), and every complete event is still served."""
    stamp = arm(lab, "event", nth)
    with lab.client() as client:
        run_id = lab.create(client, epochs=4)
    lab.kill()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not stamp.exists():
        time.sleep(0.05)
    time.sleep(0.3)
    run_dir = lab.runs_dir / run_id
    torn = not (run_dir / "events.jsonl").read_bytes().endswith(b"\n")
    before = read_log(run_dir)
    lab.start()
    with lab.client() as client:
        summary = lab.wait_status(client, run_id, {"failed", "completed"}, timeout=30)
        replay = [line for line in client.get(f"/api/runs/{run_id}/events").text.split("\n") if line.startswith("data: ")]
    after = read_log(run_dir)
    problems = check_files(run_dir)
    return {"log_was_torn": torn, "status": summary["status"], "reason": summary.get("reason"),
            "events_kept": after[:len(before)] == before, "replayed_events": len(replay), "events_in_log": len(after),
            "files_corrupted": len(problems), "problems": problems}


def damaged_checkpoint(lab: Lab) -> dict[str, Any]:
    """A finished run's newest checkpoint is truncated: on-demand routes answer 409 naming it, a
    backfill that needs it fails with the reason, and no other file is touched."""
    with lab.client() as client:
        run_id = lab.create(client, epochs=2)
        lab.wait_status(client, run_id, {"completed"}, timeout=120)
        run_dir = lab.runs_dir / run_id
        checkpoint = run_dir / "checkpoints" / "epoch_2.pt"
        checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
        for projection in (run_dir / "projections").glob("*epoch_2*"):
            projection.unlink()  # something for backfill to do
        answers = {
            "samples": client.post(f"/api/runs/{run_id}/compute/sampling", json={"idx": 0, "m": 4, "epoch": 2}),
            "network": client.post(f"/api/runs/{run_id}/compute/network-layers", json={"epoch": 2}),
        }
        backfill = client.post(f"/api/runs/{run_id}/backfill", json={"epochs": [2]})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and read_log(run_dir)[-1]["type"] not in ("backfill.failed", "backfill.completed"):
            time.sleep(0.1)
        ended = read_log(run_dir)[-1]
    # checkpoints/latest.pt is a hard link of the newest epoch's file (one file on disk): the damage is its too
    damaged = {"checkpoints/epoch_2.pt"} | ({"checkpoints/latest.pt"} if os.path.samefile(
        checkpoint, run_dir / "checkpoints" / "latest.pt") else set())
    problems = {k: v for k, v in check_files(run_dir).items() if k not in damaged}
    return {"statuses": {k: r.status_code for k, r in answers.items()},
            "details_name_the_file": all("epoch_2.pt" in r.json().get("detail", "") for r in answers.values()),
            "backfill": backfill.status_code, "backfill_ended": ended["type"],
            "backfill_error": (ended["data"].get("error") or "")[:200],
            "files_corrupted": len(problems), "problems": problems}


# --- a full disk ------------------------------------------------------------------------------------

class CannotMount(Exception):
    pass


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at ``mountpoint`` (root only), unmounted afterwards whatever happens."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise CannotMount(f"mount -t tmpfs failed ({done.stderr.strip() or done.returncode}); needs root")
    try:
        yield mountpoint
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk is full."""
    filler = folder / "filler.bin"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(block)
    with open(filler, "ab", buffering=0) as handle:  # the last partial page too
        with contextlib.suppress(OSError):
            while handle.write(b"\0"):
                pass
    return filler


def disk_full(work: Path, size: str = "512m") -> dict[str, Any]:
    """The runs folder's disk fills up while a run trains; then a new run is asked for; then space
    returns and the server restarts. The disk holds what the 200-epoch run is estimated to need when it is
    posted (about 400 MB: a smaller one refuses it then, 422), so it is the filler that fills it."""
    from battery_lab import RawSSE

    mount = work / "small-disk"
    with tmpfs(mount, size):
        runs = mount / "runs"
        runs.mkdir()
        lab = Lab(runs, log_dir=work)  # the server's own log is not on the small disk
        try:
            lab.start()
            with lab.client() as client:
                run_id = lab.create(client, epochs=200)
                run_dir = runs / run_id
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and _ended(client, run_id)["epochs_completed"] < 1:
                    time.sleep(0.05)
                follower = RawSSE(lab.url, f"/api/runs/{run_id}/events", {"Last-Event-ID": "1"}).open()
                filler = fill(mount)
                filled_at = time.time()
                summary = lab.wait_status(client, run_id, {"failed", "completed", "cancelled"}, timeout=120)
                follower.read(50_000_000, timeout=5)
                follower.close()
                refused = client.post("/api/runs", json={"model": "ae", "dataset": "tiny-digits", "epochs": 1})
                leftovers = sorted(p.name for p in runs.iterdir() if p.name != run_id)
                problems = check_files(run_dir)
                log = read_log(run_dir)
            filler.unlink()
            clean = restart_is_clean(lab)
            with lab.client() as client:
                after = _ended(client, run_id)
                fresh = lab.create(client, epochs=1)
                fresh_status = lab.wait_status(client, fresh, {"completed", "failed"}, timeout=120)["status"]
        finally:
            lab.__exit__()
            kill_workers(runs)
            time.sleep(0.2)
    follower_events = follower.events()
    return {
        "status": summary["status"], "reason": summary.get("reason"), "error": (summary.get("error") or "")[:160],
        "seconds_to_failed": round(summary["ended_at"] - filled_at, 2) if summary.get("ended_at") else None,
        "sse_follower_got_run_failed": bool(follower_events) and follower_events[-1]["type"] == "run.failed",
        "log_ends_with_run_failed": bool(log) and log[-1]["type"] == "run.failed",
        "new_run_while_full": refused.status_code, "new_run_detail": refused.json().get("detail", "")[:120],
        "folders_left_by_refused_run": leftovers, "files_corrupted": len(problems), "problems": problems,
        "restart_clean": clean, "reason_after_space_returned": after.get("reason"),
        "new_run_after_space_returned": fresh_status,
    }

