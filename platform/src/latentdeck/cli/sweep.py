"""``latentdeck sweep`` (a grid or a random search x seeds, the same code as ``POST /api/sweeps``; the members
train one after another in this process, or all at once through an executor that schedules work itself,
such as ``--set executor=ray``, with this process waiting as their driver) and ``latentdeck sweeps`` (list sweeps with their members' progress)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .common import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, _parse_value, _Progress, _usage_error, build_request


def parse_space(items: list[str] | None, flag: str) -> dict[str, list[Any]]:
    """``--grid field=v1,v2`` (each value JSON when it parses; ``field=[..]`` a JSON list of values)."""
    space: dict[str, list[Any]] = {}
    for item in items or []:
        field, sep, raw = item.partition("=")
        field = field.strip()
        if not sep or not field or not raw.strip():
            raise SystemExit(_usage_error(f"{flag} {item!r}: use {flag} field=v1,v2,..., "
                                          "e.g. --grid model_options.kld_weight=0.5,1,2"))
        raw = raw.strip()
        if raw.startswith("["):
            try:
                values = json.loads(raw)
            except ValueError as exc:
                raise SystemExit(_usage_error(f"{flag} {item!r}: not a JSON list: {exc}"))
        else:
            values = [_parse_value(part.strip()) for part in raw.split(",")]
        if field in space:
            raise SystemExit(_usage_error(f"{flag} {field}: given twice"))
        space[field] = values
    return space


def _seeds(raw: str) -> list[Any]:
    return [_parse_value(part.strip()) for part in raw.split(",") if part.strip()]


def build_sweep(args: argparse.Namespace) -> dict[str, Any]:
    base = build_request(argparse.Namespace(**{**vars(args), "name": None}))
    body: dict[str, Any] = {"name": args.name, "config": base}
    grid, rand = parse_space(args.grid, "--grid"), parse_space(args.random, "--random")
    if grid:
        body["grid"] = grid
    if rand:
        body["random"] = rand
    if args.samples is not None:
        body["samples"] = args.samples
    if args.random_seed is not None:
        body["random_seed"] = args.random_seed
    if args.seeds:
        body["seeds"] = _seeds(args.seeds)
    return body


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..launch import ConfigError, check_disk
    from ..registry import PluginError, get_plugin_manager
    from ..types import ResolvedRun
    from ..store.runs import RunStore, RunStoreError
    from ..launch.sweep_creation import publish, remove_staging, stage
    from ..launch.sweeps import SweepStore, parse_request, prepare_sweep

    body = build_sweep(args)
    try:
        body = parse_request(body)  # counts the members before the plugins load: a sweep bomb costs nothing
        pm = get_plugin_manager()
        record, configs = prepare_sweep(pm, body)
    except (ConfigError, PluginError) as exc:
        return _usage_error(str(exc))
    store = RunStore(args.runs_dir)
    sweeps = SweepStore(store)
    try:  # the record first, then every member out of sight: all or nothing (a full disk leaves neither)
        check_disk(pm, [stored for stored in configs if isinstance(stored, ResolvedRun)], store.root)
    except ConfigError as exc:  # the runs together would not fit: said now, not when the disk fills
        return _usage_error(str(exc))
    try:
        staging = stage(store, sweeps, record, configs)
        publish(store, sweeps, record)
    except RunStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return _run_members(args, pm, store, staging, record, configs)
    finally:
        remove_staging(staging)  # members a Ctrl-C left untrained: the sweep lists them as missing


def _run_members(args, pm, store, staging, record, configs) -> int:
    """Train the staged members one after another here (or hand them all to a self-scheduling executor)."""
    from ..registry import collect
    from ..store.runs import write_worker_info
    from ..launch.sweep_creation import place
    from ..engine.training import execute_run

    say = (lambda *a: print(*a, file=sys.stderr))
    say(f"sweep {record['sweep_id']}  {record['name']}: {len(configs)} runs "
        f"({record['kind']} over {', '.join(record['params']) or 'seeds'}; seeds {record['seeds']})")
    statuses: list[str] = []
    interrupts = {"count": 0, "current": None}

    def on_sigint(signum, frame):
        interrupts["count"] += 1
        if interrupts["count"] > 1:
            raise KeyboardInterrupt
        if interrupts["current"]:
            store.request_cancel(interrupts["current"])
        say("\ncancelling the current run after its batch; the sweep stops (Ctrl-C again to abort at once)")

    executor = collect(pm, "executors")[configs[0]["executor"]] if configs else None
    if executor is not None and executor.capacity is None:
        statuses = _through_executor(pm, store, staging, executor, configs, record, say)
        return _finish(args, store, record, statuses)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        for index, (stored, member) in enumerate(zip(configs, record["members"])):
            if interrupts["count"]:
                break
            place(store, staging, stored["run_id"])  # moved in just before it trains: no server finds it waiting
            run_dir = store.run_dir(stored["run_id"])
            interrupts["current"] = stored["run_id"]
            write_worker_info(run_dir, stored["executor"], os.getpid(), via="cli")
            say(f"[{index + 1}/{len(configs)}] run {stored['run_id']}  {member['params']}  seed {member['seed']}")
            progress = _Progress(quiet=args.json or args.quiet)
            try:
                statuses.append(execute_run(run_dir, pm=pm, listeners=(progress,)))
            finally:
                progress.close()
    finally:
        signal.signal(signal.SIGINT, previous)
    return _finish(args, store, record, statuses)


def _through_executor(pm, store, staging, executor, configs, record, say) -> list[str]:
    """Hand every member to an executor that schedules work itself (a Ray cluster: no ``capacity``) at once,
    then wait here until each has ended, saying so as they do (this process stays their driver)."""
    from .remote import follow_runs
    from ..launch import start_worker
    from ..launch.sweep_creation import place

    for stored in configs:
        place(store, staging, stored["run_id"])
    for stored, member in zip(configs, record["members"]):
        start_worker(store, stored["run_id"], executor)
        say(f"run {stored['run_id']}  {member['params']}  seed {member['seed']}: handed to {executor.name}")
    done: list[str] = []

    def on_end(run_id: str, summary: dict) -> None:
        done.append(run_id)
        failed = f": {summary.get('error') or summary.get('reason')}" if summary["status"] == "failed" else ""
        say(f"[{len(done)}/{len(configs)}] run {run_id} {summary['status']}{failed}")

    return follow_runs(store, pm, [stored["run_id"] for stored in configs], say, on_end=on_end, poll_s=0.5)


def _finish(args, store, record, statuses) -> int:
    from ..launch.sweeps import sweep_detail

    detail = sweep_detail(store, record, with_history=False)
    if args.json:
        print(json.dumps({"sweep_id": record["sweep_id"], "name": record["name"], "counts": detail["counts"],
                          "members": detail["members"]}))
    else:
        _print_members(detail)
    if len(statuses) < len(record["members"]) or "cancelled" in statuses:
        return EXIT_CANCELLED
    return EXIT_OK if all(s == "completed" for s in statuses) else EXIT_FAILED


def _acc(metrics: dict[str, Any] | None) -> str:
    value = (metrics or {}).get("heldout_accuracy")
    return f"{value * 100:.2f}%" if isinstance(value, (int, float)) else "-"


def _print_members(detail: dict[str, Any]) -> None:
    print(f"sweep {detail['sweep_id']}  {detail['name']}")
    print(f"  {'run id':24} {'status':10} {'final acc':>9} {'best acc':>9}  setting")
    for m in detail["members"]:
        setting = ", ".join(f"{k}={v}" for k, v in m["params"].items())
        print(f"  {m['run_id']:24} {m['status']:10} {_acc(m['final']):>9} {_acc(m['best']):>9}  "
              f"{setting + '  ' if setting else ''}seed={m['seed']}")


def cmd_sweeps(args: argparse.Namespace) -> int:
    from ..store.runs import RunStore
    from ..launch.sweeps import SweepStore, sweep_detail

    store = RunStore(args.runs_dir)
    rows = [sweep_detail(store, record, with_history=False) for record in SweepStore(store).list()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print(f"no sweeps in {Path(args.runs_dir).resolve()}; start one with `latentdeck sweep --grid ...`")
        return EXIT_OK
    for row in rows:
        _print_members(row)
    return EXIT_OK


def add_sweep_commands(sub, runs_dir: str) -> None:
    sweep = sub.add_parser("sweep", help="train a grid or random search of runs (x seeds), one after another")
    sweep.add_argument("--grid", action="append", metavar="FIELD=V1,V2",
                       help="vary a config field over values, one run per combination (repeatable; dotted names, "
                            "e.g. --grid model_options.kld_weight=0.5,1,2)")
    sweep.add_argument("--random", action="append", metavar="FIELD=V1,V2",
                       help="random search: draw each field's value from its list (repeatable; with --samples)")
    sweep.add_argument("--samples", type=int, help="how many random settings to draw")
    sweep.add_argument("--random-seed", type=int, help="seed of the random draws (default 0)")
    sweep.add_argument("--seeds", help="comma-separated run seeds: each setting trains once per seed (default 0)")
    sweep.add_argument("--preset", metavar="NAME", help="base config from a named preset")
    sweep.add_argument("--model", help="model plugin (base config)")
    sweep.add_argument("--dataset", help="dataset plugin (base config)")
    sweep.add_argument("--data-dir", help="where dataset files live")
    sweep.add_argument("--epochs", type=int)
    sweep.add_argument("--batch-size", type=int)
    sweep.add_argument("--lr", type=float, help="Adam learning rate")
    sweep.add_argument("--limit", type=int, metavar="N", help="train on N training examples (seeded, stratified)")
    sweep.add_argument("--device", choices=("auto", "cpu", "cuda"))
    sweep.add_argument("--name", help="the sweep's label (its runs are named after it)")
    sweep.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a base config field (repeatable)")
    sweep.add_argument("--config", metavar="FILE", help="a JSON file with the base config")
    sweep.add_argument("--runs-dir", default=runs_dir)
    sweep.add_argument("--json", action="store_true", help="print the sweep and its members as JSON at the end")
    sweep.add_argument("--quiet", action="store_true", help="no progress output")
    sweep.set_defaults(func=cmd_sweep, seed=None)

    sweeps = sub.add_parser("sweeps", help="list sweeps and their runs' status and metrics")
    sweeps.add_argument("--runs-dir", default=runs_dir)
    sweeps.add_argument("--json", action="store_true")
    sweeps.set_defaults(func=cmd_sweeps)

