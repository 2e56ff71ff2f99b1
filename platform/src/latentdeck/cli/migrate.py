"""``latentdeck migrate [RUN_ID ... | --all] [--runs-dir DIR] [--dry-run]``: rewrite runs written before array
files in the current format, in place (:mod:`latentdeck.engine.migrate`): per-point lists into array files
beside small JSON headers, ``*_latest`` copies into hard links. Prints each run's bytes before and after.
Exit codes: 0 done (or nothing to do), 1 a file could not be rewritten (it is left as it was, still
readable), 2 bad input or a run that is still training or being backfilled (refused, nothing changed)."""

from __future__ import annotations

import argparse
import json
import sys

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _usage_error


def cmd_migrate(args: argparse.Namespace) -> int:
    from ..engine.migrate import migrate_run, refusal
    from ..store.runs import RunStore, RunStoreError

    if bool(args.run_ids) == bool(args.all):
        return _usage_error("name the runs to migrate (RUN_ID ...) or pass --all, not both")
    store = RunStore(args.runs_dir)
    try:
        ids = [row["run_id"] for row in store.list()] if args.all else list(args.run_ids)
        folders = [store.run_dir(run_id) for run_id in ids]
    except RunStoreError as exc:
        return _usage_error(str(exc))
    code, rows = EXIT_OK, []
    for run_dir in folders:
        refused = refusal(run_dir)
        if refused is not None:
            print(f"latentdeck migrate: {refused}", file=sys.stderr)
            code = EXIT_USAGE
            rows.append({"run_id": run_dir.name, "refused": refused})
            continue
        report = migrate_run(run_dir, dry_run=args.dry_run)
        rows.append({"run_id": report.run_id, "bytes_before": report.bytes_before, "bytes_after": report.bytes_after,
                     "converted": report.converted, "linked": report.linked, "failed": report.failed,
                     "dry_run": report.dry_run})
        if not args.json:
            print(report.line())
            for failure in report.failed:
                print(f"  could not rewrite {failure} (left as it was)", file=sys.stderr)
        if report.failed and code == EXIT_OK:
            code = EXIT_FAILED
    if args.json:
        print(json.dumps(rows, indent=2))
    elif len(rows) > 1:
        done = [r for r in rows if "bytes_before" in r]
        print(f"total: {sum(r['bytes_before'] for r in done):,} bytes -> {sum(r['bytes_after'] for r in done):,} "
              f"bytes in {len(done)} runs" + (f" ({len(rows) - len(done)} refused)" if len(done) < len(rows) else ""))
    return code


def add_migrate_command(sub, default_runs_dir: str) -> None:
    migrate = sub.add_parser("migrate", help="rewrite runs written before array files in the current format "
                                             "(array files beside JSON headers, *_latest mirrors as links)")
    migrate.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="the runs to migrate")
    migrate.add_argument("--all", action="store_true", help="every run in --runs-dir (running ones are refused)")
    migrate.add_argument("--runs-dir", default=default_runs_dir)
    migrate.add_argument("--dry-run", action="store_true", help="change nothing; print what would change and the "
                                                               "estimated bytes after")
    migrate.add_argument("--json", action="store_true", help="print one JSON row per run")
    migrate.set_defaults(func=cmd_migrate)
