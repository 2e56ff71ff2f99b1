"""``latentdeck compute`` (any computation a plugin lets a person ask for, the same path as
``POST /api/runs/{id}/compute/{name}``) and ``latentdeck overlays`` (which overlay files a run has)."""

from __future__ import annotations

import argparse
import json
import sys

from .common import EXIT_FAILED, EXIT_OK, _parse_value, _usage_error


def _fields(spec) -> str:
    schema = spec.request.model_json_schema()
    required = set(schema.get("required", []))
    return ", ".join(f"{name}{'' if name in required else '?'}" for name in schema.get("properties", {}))


def cmd_compute(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ..engine import computations
    from ..registry import askable, get_plugin_manager
    from ..store.runs import RunStore, RunStoreError

    pm = get_plugin_manager()
    specs = askable(pm)
    if args.list or not args.name:
        if args.json:
            print(json.dumps([{"name": n, "folder": s.folder, "description": s.description,
                               "request_schema": s.request.model_json_schema()} for n, s in specs.items()], indent=2))
        else:
            for name, spec in specs.items():
                print(f"{name}: {spec.description}\n    fields: {_fields(spec)}  (? = optional)")
        return EXIT_OK
    if args.name not in specs:
        return _usage_error(f"no computation {args.name!r} to ask for; installed: {', '.join(specs) or 'none'} "
                            "(`latentdeck compute --list` shows their fields)")
    if not args.run_id:
        return _usage_error(f"compute {args.name} needs a RUN_ID (list runs with `latentdeck runs`)")
    spec = specs[args.name]
    body: dict = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            return _usage_error(f"--set {item!r}: use --set field=value; {args.name} takes {_fields(spec)}")
        body[key.strip()] = _parse_value(value)
    try:
        request = spec.request.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors())
        return _usage_error(f"{args.name}: {problems} (fields: {_fields(spec)}; set them with --set field=value)")
    try:
        run_dir = RunStore(args.runs_dir).run_dir(args.run_id)
        ctx = computations.context_for(run_dir, spec, pm)
        result = computations.run(spec, ctx, request).as_json()  # under $LATENTDECK_COMPUTE_BUDGET_S, as the server
    except RunStoreError as exc:
        if exc.status == 504:  # out of its budget: not bad input
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    if result.get("files"):
        how = "computed" if result["created"] else "from disk"
        print(f"{run_dir / (result.get('folder') or '')} ({how}, {len(result['files'])} files)")
        for name in result["files"]:
            print(f"  {run_dir / name}")
    else:
        print(json.dumps(result.get("payload"), indent=2))
    for note in result.get("notes") or []:  # sentences for people the computation wants read
        print(f"note: {note}")
    return EXIT_OK


def cmd_overlays(args: argparse.Namespace) -> int:
    """Per epoch, which overlay files a run has (the overlay rows of ``GET /api/runs/{id}/files``, grouped for people)."""
    from ..engine.overlays import list_overlays, overlay_specs
    from ..registry import get_plugin_manager
    from ..store.runs import RunStore, RunStoreError

    try:
        listing = list_overlays(RunStore(args.runs_dir).run_dir(args.run_id), overlay_specs(get_plugin_manager()),
                                args.epoch)
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    for row in listing["epochs"]:
        parts = [f"{len(row[kind])} {kind}" for kind in listing["kinds"]]
        print(f"epoch {row['epoch']}{'' if row['checkpoint'] else ' (no checkpoint)'}: {', '.join(parts)}")
        for kind in listing["kinds"]:
            for item in row[kind]:
                print(f"    {item['name']}")
    return EXIT_OK


def add_compute_commands(sub, runs_dir: str) -> None:
    """Register ``compute`` and ``overlays`` on the ``latentdeck`` subparsers."""
    compute = sub.add_parser("compute", help="ask for a computation a plugin offers (sampling, walk, "
                                             "network-*, ...) on a run; --list shows them")
    compute.add_argument("name", nargs="?", help="the computation (see --list)")
    compute.add_argument("run_id", nargs="?")
    compute.add_argument("--set", action="append", metavar="FIELD=VALUE",
                         help="a request field (repeatable; values parse as JSON), e.g. --set idx=3 --set m=16")
    compute.add_argument("--list", action="store_true", help="list the installed computations and their fields")
    compute.add_argument("--runs-dir", default=runs_dir)
    compute.add_argument("--json", action="store_true", help="print the answer as JSON")
    compute.set_defaults(func=cmd_compute)

    overlays = sub.add_parser("overlays", help="list a run's overlay files (density, distortion, samples ...) per epoch")
    overlays.add_argument("run_id")
    overlays.add_argument("--epoch", type=int, help="only this epoch")
    overlays.add_argument("--runs-dir", default=runs_dir)
    overlays.add_argument("--json", action="store_true")
    overlays.set_defaults(func=cmd_overlays)
