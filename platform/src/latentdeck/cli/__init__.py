"""The ``latentdeck`` command: ``serve``, ``train``, ``runs``, ``sweep``, ``sweeps``, ``backfill``, ``compute``, ``overlays``, ``migrate``, ``presets``, ``plugins``, ``new-plugin``.

``train`` goes through the same :func:`latentdeck.launch.prepare_run` and
:func:`latentdeck.engine.training.execute_run` as runs started over HTTP; it trains in this process and
shows a progress bar. Ctrl-C asks for a graceful cancel (a second Ctrl-C aborts at once).
Exit codes: 0 done, 1 the run failed, 2 bad input, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .common import (  # noqa: F401  (EXIT_* and build_request are part of the command's face)
    EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, _parse_value, _Progress, _usage_error, build_request,
    default_runs_dir,
)

# Each command imports what it runs inside its function, on purpose: `latentdeck --help` stays fast.


def cmd_train(args: argparse.Namespace) -> int:
    from ..launch import ConfigError, check_disk, prepare_run
    from ..registry import PluginError, collect, get_plugin_manager
    from ..store.runs import RunStore, read_summary, write_worker_info
    from ..engine.training import execute_run

    request = build_request(args)
    try:
        pm = get_plugin_manager()
        stored = prepare_run(pm, request)
        store = RunStore(args.runs_dir)
        check_disk(pm, stored, store.root)
    except (ConfigError, PluginError) as exc:
        return _usage_error(str(exc))
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    executor = collect(pm, "executors")[stored["executor"]]
    if executor.capacity is not None:  # its workers run on this machine: train here, in this process
        write_worker_info(run_dir, stored["executor"], os.getpid(), via="cli")
    say = (lambda *a: print(*a, file=sys.stderr))
    say(f"run {stored['run_id']}  ({run_dir})")
    if stored.get("preset"):
        say(f"preset {stored['preset']}")
    say(f"model {stored['model']}  dataset {stored['dataset']}  epochs {stored['epochs']}")
    if stored.get("dataset_note"):
        say(f"note: {stored['dataset_note']}")

    interrupts = {"count": 0}

    def on_sigint(signum, frame):
        interrupts["count"] += 1
        if interrupts["count"] > 1:
            raise KeyboardInterrupt
        store.request_cancel(stored["run_id"])
        say("\ncancelling after the current batch (Ctrl-C again to abort at once)")

    progress = _Progress(quiet=args.json or args.quiet)
    previous = signal.signal(signal.SIGINT, on_sigint) if executor.capacity is not None else None
    try:
        if executor.capacity is not None:
            status = execute_run(run_dir, pm=pm, listeners=(progress,))
        else:  # it schedules work itself (a cluster): hand the run over and follow its events
            from .remote import hand_over
            status = hand_over(store, pm, executor, stored["run_id"], say, (progress,))
    finally:
        progress.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    summary = read_summary(run_dir)
    if args.json:
        print(json.dumps({"run_id": stored["run_id"], "run_dir": str(run_dir), "status": status,
                          "epochs_completed": summary["epochs_completed"], "dataset": stored["dataset"],
                          "error": summary.get("error")}))
    else:
        say(f"{status}: run {stored['run_id']}" + (f" ({summary['error']})" if summary.get("error") else ""))
    return {"completed": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(status, EXIT_FAILED)


def cmd_runs(args: argparse.Namespace) -> int:
    from ..store.runs import RunStore

    rows = RunStore(args.runs_dir).list()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print(f"no runs in {Path(args.runs_dir).resolve()}; start one with `latentdeck train`")
        return EXIT_OK
    print(f"{'run id':24} {'status':10} {'model':8} {'dataset':14} {'epochs':>7} {'held-out acc':>12}  name")
    for row in rows:
        metrics = row.get("metrics") or {}
        acc = metrics.get("heldout_accuracy")
        acc_text = f"{acc * 100:.2f}%" if isinstance(acc, (int, float)) else "-"
        epochs = f"{row.get('epochs_completed', 0)}/{row.get('epochs', '?')}"
        print(f"{row['run_id']:24} {row['status']:10} {row.get('model', ''):8} {row.get('dataset', ''):14} "
              f"{epochs:>7} {acc_text:>12}  {row.get('name') or ''}")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    from ..registry.health import clear
    from ..registry.status import describe_failures, plugin_rows, strict_problems
    from ..registry import get_plugin_manager

    if args.check is not None:
        from .check import cmd_check

        return cmd_check(args)
    if args.clear_failures:
        count = clear(args.runs_dir)
        print(f"forgot the runtime failures of {count} component{'s' if count != 1 else ''} "
              f"({Path(args.runs_dir).resolve()})")
        return EXIT_OK
    rows = plugin_rows(get_plugin_manager(), args.runs_dir if Path(args.runs_dir).is_dir() else None, all=args.all)
    problems = strict_problems(rows) if args.strict else []
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        if not rows:
            print("no third-party plugins installed (`latentdeck plugins --all` lists the built-ins too)")
        for row in rows:
            origin = "built-in" if row["builtin"] else "third-party"
            print(f"{row['name']} {row['version'] or ''} ({origin}, {row['status']})")
            if row["error"]:
                print(f"    error: {row['error']}")
            if row["health"]["failures"] or row["health"]["over_budget"]:
                print(f"    runtime: {describe_failures(row['health'])}")
            for kind, names in row["provides"].items():
                print(f"    {kind}: {', '.join(names)}")
            print(f"    hooks: {', '.join(row['hooks'])}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print("fix or uninstall the plugins named above (`latentdeck plugins --check NAME` tries one); once fixed, "
              "`latentdeck plugins --clear-failures` forgets their counted runtime failures", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    from ..registry import get_plugin_manager
    from ..launch.preset_list import list_presets

    rows = list_presets(get_plugin_manager())
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        print(f"{row['name']}: {row['title']}" + (f"  (unavailable: {row['error']})" if row["error"] else ""))
        print(f"    {row['description']}")
        for change in row["changes"]:
            why = f"  -- {change['why']}" if change["why"] else ""
            print(f"    {change['field']} = {json.dumps(change['value'])} (default {json.dumps(change['default'])}){why}")
    print("start one with: latentdeck train --preset NAME [other flags override it]")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from ..api.access import policy_for, start_lines
    from ..api.server import serve
    from ..launch.deferred import check_max_concurrent_runs, default_max_concurrent_runs

    try:
        cap = (check_max_concurrent_runs(args.max_concurrent_runs, "--max-concurrent-runs")
               if args.max_concurrent_runs is not None else default_max_concurrent_runs())
    except ValueError as exc:
        return _usage_error(str(exc))
    token = args.token or os.environ.get("LATENTDECK_TOKEN") or None
    access = policy_for(args.host, token=token, no_token=args.no_token, allow_hosts=tuple(args.allow_host or ()))
    for line in start_lines(args.host, args.port, access):
        print(line, file=sys.stderr)
    print(f"API docs at /docs; runs in {Path(args.runs_dir).resolve()}; at most {cap} run{'s' if cap != 1 else ''} "
          "train at once (--max-concurrent-runs), the rest wait in a queue", file=sys.stderr)
    serve(host=args.host, port=args.port, runs_dir=args.runs_dir, access=access, max_concurrent_runs=cap)
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    from .backfill import add_backfill_commands
    from .compute import add_compute_commands
    from .migrate import add_migrate_command
    from .sweep import add_sweep_commands
    from .scaffold import add_new_plugin_command

    parser = argparse.ArgumentParser(prog="latentdeck", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the lab (API and UI) on one port")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--runs-dir", default=default_runs_dir(), help="run store (default ./runs or $LATENTDECK_RUNS_DIR)")
    serve.add_argument("--token", help="token requests must carry (default $LATENTDECK_TOKEN; generated and printed "
                                       "when bound to an address other than loopback)")
    serve.add_argument("--no-token", action="store_true",
                       help="off loopback, serve without a token (anyone who can reach the port can delete runs)")
    serve.add_argument("--allow-host", action="append", metavar="NAME",
                       help="also answer to this Host name (repeatable; e.g. a name that points at this machine)")
    serve.add_argument("--max-concurrent-runs", metavar="N",
                       help="train at most N runs at once on this machine; further runs wait in a queue and start "
                            "in order (default $LATENTDECK_MAX_CONCURRENT_RUNS or the core count)")
    serve.set_defaults(func=cmd_serve)

    train = sub.add_parser("train", help="train a model in this process, with a progress bar")
    train.add_argument("--preset", metavar="NAME",
                       help="start from a named preset (`latentdeck presets` lists them); other flags override it")
    train.add_argument("--model", help="model plugin (default: the installed default model, the ae)")
    train.add_argument("--dataset", help="dataset plugin: default, mnist, mnist-5k, fashion-mnist, ...")
    train.add_argument("--data-dir", help="where dataset files live (default ~/.cache/latentdeck/data)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="Adam learning rate")
    train.add_argument("--seed", type=int)
    train.add_argument("--limit", type=int, metavar="N",
                       help="train on N training examples: a seeded, class-stratified subset (same seed, same subset)")
    train.add_argument("--name", help="a label shown in run listings")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"),
                       help="where to train (default auto: a CUDA GPU when PyTorch sees one, else the CPU)")
    train.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="any other config field, dotted for nested ones (repeatable), "
                            "e.g. --set model_options.latent_dim=8 --set checkpoint_every=2")
    train.add_argument("--config", metavar="FILE", help="a JSON file of config fields (flags override it)")
    train.add_argument("--runs-dir", default=default_runs_dir())
    train.add_argument("--json", action="store_true", help="print run id, run directory and final status as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(func=cmd_train)

    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--runs-dir", default=default_runs_dir())
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(func=cmd_runs)

    add_backfill_commands(sub, default_runs_dir())
    add_compute_commands(sub, default_runs_dir())
    add_sweep_commands(sub, default_runs_dir())
    add_migrate_command(sub, default_runs_dir())

    presets = sub.add_parser("presets", help="list the named run presets (what each changes and why)")
    presets.add_argument("--json", action="store_true")
    presets.set_defaults(func=cmd_presets)

    plugins = sub.add_parser("plugins", help="list plugins and what they provide")
    plugins.add_argument("--all", action="store_true", help="include the built-in plugins")
    plugins.add_argument("--check", metavar="NAME", help="try one plugin: a tiny run with only the built-ins and it, "
                                                          "then the files, events and API answers it produced")
    plugins.add_argument("--strict", action="store_true",
                         help="exit 1 when any plugin failed to load or failed at run time (in --runs-dir)")
    plugins.add_argument("--runs-dir", default=default_runs_dir(),
                         help="where runtime failures are counted (default ./runs or $LATENTDECK_RUNS_DIR)")
    plugins.add_argument("--clear-failures", action="store_true",
                         help="forget the runtime failures counted in --runs-dir (after fixing a plugin)")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=cmd_plugins)
    add_new_plugin_command(sub)
    return parser


def _reader_went_away() -> int:
    """stdout's reader closed the pipe (``latentdeck plugins | head``): stop quietly, as ``cat`` does.
    stdout points at /dev/null so that the interpreter's last flush does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        result = args.func(args)
        sys.stdout.flush()
        return result
    except BrokenPipeError:
        return _reader_went_away()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
