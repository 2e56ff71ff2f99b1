"""Schema fuzzing: schemathesis over /openapi.json against a real server (event streams excluded).

Runs are started through an instant executor (a plugin that replaces ``local``: it marks each run
completed at once), so thousands of generated configs cost no training; a real tiny AE and GM-VAE
run, trained in-process first, give the on-demand routes (samples, network, backfill) real
checkpoints to read. Two passes: every operation with generated ids, then every operation on the
trained runs (their ids fixed; DELETE left out there so they stay). Figures: cases, server errors
(5xx), schema violations (responses that do not match the schema), and every other failed check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from latentdeck import ExecutorSpec, hookimpl

SCHEMA_CHECKS = {"response_schema_conformance", "content_type_conformance", "status_code_conformance",
                 "response_headers_conformance"}


def _instant_start(job) -> dict:
    from latentdeck.store.events import EventLog
    from latentdeck.store.runs import now, update_summary

    if job.kind != "run":  # as before: this stand-in runs no backfill or computation
        from latentdeck.kit import OnDemandError

        raise OnDemandError("the battery's stand-in executor runs runs only", 409)
    run_dir = Path(job.run_dir)
    with EventLog(run_dir / "events.jsonl", run_dir.name) as log:
        log.emit("run.started", {"executor": "instant"})
        update_summary(run_dir, status="running", started_at=now())
        log.emit("run.completed", {"epochs_completed": 0, "metrics": None, "duration_s": 0})
    update_summary(run_dir, status="completed", ended_at=now())
    return {"pid": os.getpid()}


class InstantExecutor:
    """Provides the ``local`` executor in the fuzzing server: runs complete at once, nothing trains."""

    __name__ = "battery.instant_executor"

    @hookimpl
    def register_executors(self):
        return [ExecutorSpec(name="local", submit=_instant_start, poll=lambda info: {"alive": False}, default_rank=0,
                             description="battery stand-in: marks the run completed at once")]


def fuzz_plugin_manager():
    from latentdeck import testing
    from latentdeck.registry import make_plugin_manager

    pm = make_plugin_manager(plugins=[testing])
    pm.unregister(name="latentdeck.local")
    pm.unregister(name="latentdeck.umap")  # a generated backfill must not spend minutes compiling numba
    pm.register(InstantExecutor(), name="battery.instant_executor")
    return pm


def seed_runs(pm, runs_dir: Path) -> dict[str, str]:
    """A finished tiny AE and GM-VAE run, trained in-process."""
    from latentdeck.launch import prepare_run
    from latentdeck.store.runs import RunStore
    from latentdeck.testing import TINY, TINY_GMVAE_OPTIONS
    from latentdeck.engine.training import execute_run

    store = RunStore(runs_dir)
    ids = {}
    for model, options in (("ae", {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}), ("gmvae", TINY_GMVAE_OPTIONS)):
        stored = prepare_run(pm, {"model": model, "dataset": TINY, "epochs": 2, "batch_size": 64, "num_threads": 1,
                                  "projections": ["first-dims"], "viz_subset_size": 32,
                                  "artifact_options": {"recon_grid": {"grid_size": 8}},
                                  "model_options": dict(options)})
        store.create(stored)
        assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed"
        ids[model] = stored["run_id"]
        time.sleep(0.01)
    return ids


def run_schemathesis(url: str, work: Path, max_examples: int, seed: int, fixed_run_id: str | None = None,
                     max_time: int | None = None, stateful: bool = True) -> dict[str, Any]:
    """One schemathesis pass; returns its figures (from its JSON report). ``stateful=False`` leaves out
    the phase that chains operations through links (its checks of created resources rely on
    schemathesis' inference and are reported by bench/reliability.py, not asserted)."""
    report = work / f"report-{fixed_run_id or 'generated'}.json"
    config = work / f"schemathesis-{fixed_run_id or 'generated'}.toml"
    lines = ['[checks]\nenabled = true\n', '[checks.ignored_auth]\nenabled = false\n']
    if fixed_run_id:
        lines.append(f'[parameters]\n"run_id" = "{fixed_run_id}"\n')
    config.write_text("\n".join(lines))
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", f"{url}/openapi.json",
            "--max-examples", str(max_examples), "--seed", str(seed), "--workers", "1",
            "--exclude-path-regex", r"/events$", "--report", "json,junit", "--report-json-path", str(report),
            "--report-junit-path", str(report.with_suffix(".xml")),
            "--no-shrink", "--request-timeout", "60", "--suppress-health-check", "all"]
    if fixed_run_id:
        argv += ["--exclude-method", "DELETE"]
    if max_time:
        argv += ["--max-time", str(max_time)]
    if not stateful:
        argv += ["--phases", "examples,coverage,fuzzing"]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=work, timeout=3600,
                          env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"})
    seconds = time.monotonic() - started
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return summarise(json.loads(report.read_text()), done.stdout, seconds, report.with_suffix(".xml"))


SERVER_ERRORS = {"ST101", "ST102"}
SCHEMA_VIOLATIONS = {"ST103", "ST104", "ST105", "ST106", "ST107", "ST108", "ST109", "ST110", "ST111"}


def summarise(report: dict[str, Any], output: str, seconds: float, junit: Path | None = None) -> dict[str, Any]:
    by_code = {f"{f['code']} {f['title']}": f["count"] for f in report.get("failures", [])}
    where = {f"{f['code']} {f['title']}": f.get("operations", []) for f in report.get("failures", [])}
    server_errors = sum(f["count"] for f in report.get("failures", []) if f["code"] in SERVER_ERRORS)
    violations = sum(f["count"] for f in report.get("failures", []) if f["code"] in SCHEMA_VIOLATIONS)
    return {"cases": report.get("test_cases", {}).get("generated"), "operations": report.get("operations", {}).get("tested"),
            "server_errors": server_errors, "schema_violations": violations, "failures": by_code,
            "failing_operations": where, "errors": report.get("errors"), "seconds": round(seconds, 1),
            "details": _junit_messages(junit) if junit and junit.exists() and by_code else []}


def _junit_messages(path: Path, limit: int = 40) -> list[str]:
    import xml.etree.ElementTree as ET

    found = []
    for case in ET.parse(path).iter("testcase"):
        for problem in list(case.iter("failure")) + list(case.iter("error")):
            text = (problem.get("message") or "") + "\n" + (problem.text or "")
            found.append(f"{case.get('name')}: {text.strip()[:1200]}")
            if len(found) >= limit:
                return found
    return found
