"""``latentdeck plugins --check NAME``: try one plugin the way the lab would use it.

A throw-away runs folder, a plugin manager with only the host's built-ins, the tiny test dataset and
that plugin (``LATENTDECK_LOAD_PLUGINS=NAME``), then a tiny run that uses what the plugin provides (its
model, dataset and projections when it has them; every generator of it the model supports), in this
process. It reports whether the plugin loaded, the run's status, the files each of the plugin's
generators wrote, its ``artifact.failed`` events, and what the API answers for its files (the artifact
index) and for its on-demand computations (called with their defaults when those validate). Exit 0 when
everything worked, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .common import EXIT_FAILED, EXIT_OK, _usage_error


def check_plugin(name: str) -> dict[str, Any]:
    import latentdeck.testing as testing

    from ..store.events import read_events
    from ..launch import ConfigError, prepare_run
    from ..registry import askable, collect, list_plugins, make_plugin_manager, per_epoch, providers
    from ..store.runs import RunStore
    from ..engine.training import execute_run

    previous = os.environ.get("LATENTDECK_LOAD_PLUGINS")
    os.environ["LATENTDECK_LOAD_PLUGINS"] = name
    try:
        pm = make_plugin_manager(plugins=[testing])
    finally:
        if previous is None:
            os.environ.pop("LATENTDECK_LOAD_PLUGINS", None)
        else:
            os.environ["LATENTDECK_LOAD_PLUGINS"] = previous
    rows = {row["name"]: row for row in list_plugins(pm, all=True)}
    row = rows.get(name) or next((r for r in rows.values() if r["name"].startswith(f"{name} (")), None)
    report: dict[str, Any] = {"plugin": name, "loaded": bool(row and row["status"] == "ok"),
                              "error": row["error"] if row else f"no plugin {name!r} is installed (entry-point or distribution name)",
                              "provides": row["provides"] if row else {}, "problems": []}
    if not report["loaded"]:
        report["problems"].append(report["error"])
        return report
    mine = {kind: sorted(n for n, p in providers(pm, kind).items() if p == name) for kind in report["provides"]}
    config = testing.tiny_run_config()
    config.update(epochs=2, projections=mine.get("projections") or ["first-dims"])
    if mine.get("models"):
        config.update(model=mine["models"][0], model_options={})
    if mine.get("datasets"):
        config["dataset"] = mine["datasets"][0]
    model = collect(pm, "models").get(config["model"])
    every_epoch = per_epoch(pm)
    generators = [g for g in mine.get("computations", []) if model and g in every_epoch
                  and every_epoch[g].requires <= model.capabilities]
    config["artifacts"] = generators
    with tempfile.TemporaryDirectory(prefix="latentdeck-check-") as tmp:
        store = RunStore(Path(tmp) / "runs", folders=None)
        try:
            stored = prepare_run(pm, config)
        except ConfigError as exc:
            report["problems"].append(f"the tiny run's config is refused: {exc}")
            return report
        store.create(stored)
        run_dir = store.run_dir(stored["run_id"])
        report["run"] = {"model": config["model"], "dataset": stored["dataset"], "projections": config["projections"],
                         "artifacts": generators, "status": execute_run(run_dir, pm=pm)}
        if report["run"]["status"] != "completed":
            report["problems"].append(f"the tiny run ended {report['run']['status']}")
        events = read_events(run_dir / "events.jsonl")
        report["files"] = sorted(e["data"]["name"] for e in events
                                 if e["type"] == "artifact.created" and e["data"].get("generator") in generators)
        report["failed"] = [f"{e['data']['generator']} (epoch {e['data'].get('epoch')}): {e['data']['error']}" for e in events
                            if e["type"] == "artifact.failed" and e["data"].get("generator") in generators]
        report["problems"] += report["failed"]
        report["api"] = _api_answers(pm, Path(tmp) / "runs", stored["run_id"], [n for n in mine.get("computations", []) if n in askable(pm)], report["problems"])
    return report


def _api_answers(pm, runs: Path, run_id: str, ondemand: list[str], problems: list[str]) -> dict[str, Any]:
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test client's own deprecation notice is not the plugin's problem
        try:
            from fastapi.testclient import TestClient
        except ImportError as exc:  # httpx is a dependency of latentdeck: an install that lost it is broken
            problems.append(f"the API's answers could not be checked: {exc}; reinstall latentdeck "
                            "(`pip install --force-reinstall latentdeck`) or `pip install httpx`")
            return {"artifact_index": []}
    logging.getLogger("latentdeck.api.static").setLevel(logging.ERROR)  # no web UI is needed here

    from ..api.app import create_app
    from ..registry import askable

    answers: dict[str, Any] = {}
    with TestClient(create_app(pm, runs, ui_dir=runs / "no-ui")) as client:
        listing = client.get(f"/api/runs/{run_id}/files").json()  # each file's artifact and epoch, parsed by the host
        epochs: dict[tuple[str, str], set[int]] = {}
        for row in listing["files"]:
            if row["kind"] == "computations":
                epochs.setdefault((row["kind"], row["artifact"]), set()).update([row["epoch"]] if row["epoch"] is not None else [])
        answers["artifact_index"] = [{"name": t["name"], "view": t["view"], "epochs": sorted(epochs[(t["kind"], t["name"])])}
                                     for t in listing["artifacts"] if (t["kind"], t["name"]) in epochs]
        specs = askable(pm)
        for name in ondemand:
            try:
                specs[name].request.model_validate({})
            except Exception:
                answers[name] = "not called: its request has required fields (try `latentdeck compute " + name + " RUN_ID --set ...`)"
                continue
            response = client.post(f"/api/runs/{run_id}/compute/{name}", json={})
            answers[name] = {"status": response.status_code, "files": (response.json() or {}).get("files")
                             if response.status_code == 200 else response.json().get("detail")}
            if response.status_code >= 500:
                problems.append(f"{name}: the server answered {response.status_code}")
    return answers


def cmd_check(args: argparse.Namespace) -> int:
    if not args.check:
        return _usage_error("--check needs a plugin name (see `latentdeck plugins --all`)")
    report = check_plugin(args.check)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['plugin']}: {'loaded' if report['loaded'] else 'NOT LOADED'}"
              + (f" ({report['error']})" if not report["loaded"] else ""))
        for kind, names in report["provides"].items():
            print(f"    {kind}: {', '.join(names)}")
        if "run" in report:
            run = report["run"]
            print(f"tiny run: {run['status']} (model {run['model']}, dataset {run['dataset']}, projections "
                  f"{', '.join(run['projections'])}, generators {', '.join(run['artifacts']) or 'none'})")
            print(f"files written by its generators: {len(report['files'])}")
            for name in report["files"][:20]:
                print(f"    {name}")
            for entry in report["api"]["artifact_index"]:
                print(f"artifact index: {entry['name']} ({entry['view']}) epochs {entry['epochs']}")
            for name, answer in report["api"].items():
                if name != "artifact_index":
                    print(f"on demand {name}: {answer}")
        for problem in report["problems"]:
            print(f"problem: {problem}")
        print("ok" if not report["problems"] else f"{len(report['problems'])} problem(s)")
    return EXIT_OK if not report["problems"] else EXIT_FAILED
