"""``latentdeck backfill RUN_ID`` (compute a finished run's missing artifacts in this process, the same code
as ``POST /api/runs/{id}/backfill``) and ``latentdeck backfill --cancel RUN_ID`` (stop a running one, as
``POST /api/runs/{id}/backfill/cancel``). Ctrl-C cancels this process's backfill gracefully (it ends with
``backfill.failed``, reason ``cancelled``, exit 130); a second Ctrl-C aborts at once."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from .common import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, _usage_error

CANCEL_WAIT_S = 30.0


def _csv(kind: type = str):
    def parse(value: str) -> list:
        try:
            return [kind(part.strip()) for part in value.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: expected a comma-separated list, e.g. 1,3,5")
    return parse


def _show(args: argparse.Namespace):
    def show(event: dict[str, Any]) -> None:
        data = event["data"]
        if args.json:
            return
        if event["type"] == "projection.progress" and data.get("stage") == "done":
            print(f"epoch {data['epoch']}: {data['method']} {data['dims']}-D in {data['compute_ms'] / 1000:.1f}s", file=sys.stderr)
        elif event["type"] == "projection.progress" and data.get("stage") == "fitting":
            print(f"epoch {data['epoch']}: fitting {data['method']} {data['dims']}-D on {data['n']} points...", file=sys.stderr)
        elif event["type"] == "artifact.created":
            print(f"  wrote {data['name']}", file=sys.stderr)
        elif event["type"] == "artifact.failed":
            print(f"warning: {data['generator']} failed at epoch {data['epoch']}: {data['error']}", file=sys.stderr)
    return show


def cmd_backfill(args: argparse.Namespace) -> int:
    from ..engine.backfill import BackfillCancelled, backfill, request_cancel
    from ..registry import get_plugin_manager
    from ..store.runs import RunStore, RunStoreError

    try:
        run_dir = RunStore(args.runs_dir).run_dir(args.run_id)
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.cancel:
        return _cancel(run_dir, args)
    asked = {"count": 0}

    def on_sigint(signum, frame):
        asked["count"] += 1
        if asked["count"] > 1:
            raise KeyboardInterrupt
        try:
            request_cancel(run_dir)  # our own backfill, once it holds the lock: it stops at its next step
            print("\ncancelling the backfill (Ctrl-C again to abort at once)", file=sys.stderr)
        except RunStoreError:
            raise KeyboardInterrupt from None  # not started yet: nothing to cancel gracefully

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread (an embedding program): Ctrl-C is not ours to handle
        previous = None
    try:
        result = backfill(run_dir, get_plugin_manager(), epochs=args.epochs, projections=args.projections,
                          artifacts=args.artifacts, listeners=(_show(args),))
    except BackfillCancelled as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CANCELLED
    except RunStoreError as exc:
        return _usage_error(str(exc))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print(json.dumps(result))
    elif result.get("nothing_missing"):
        print(f"nothing to do: run {args.run_id} already has every requested artifact", file=sys.stderr)
    else:
        print(f"backfilled {len(result['written'])} files for epochs {result['epochs']}", file=sys.stderr)
    return EXIT_OK


def _cancel(run_dir, args: argparse.Namespace) -> int:
    """Ask the run's running backfill (started by the lab or another shell) to stop, and wait for it."""
    from ..engine.backfill import describe, request_cancel, wait_ended
    from ..store.runs import RunStoreError

    if args.epochs or args.projections or args.artifacts:
        return _usage_error("--cancel takes only the run id (and --runs-dir); drop --epochs/--projections/--artifacts")
    try:
        info = request_cancel(run_dir)
    except RunStoreError as exc:
        return _usage_error(str(exc))
    print(f"cancel requested for {describe(info)}; waiting up to {CANCEL_WAIT_S:g} s for it to stop", file=sys.stderr)
    if not wait_ended(run_dir, CANCEL_WAIT_S):
        print(f"error: {describe(info)} is still running {CANCEL_WAIT_S:g} s after the cancel; follow its events "
              f"or end process {info.get('pid')}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"cancelled": True, "backfill": info}))
    else:
        print(f"the backfill of run {run_dir.name} stopped; files it finished before are kept", file=sys.stderr)
    return EXIT_OK


def add_backfill_commands(sub, runs_dir: str) -> None:
    """Register ``backfill`` on the ``latentdeck`` subparsers."""
    backfill = sub.add_parser("backfill", help="compute missing projection and neighbour artifacts of a finished "
                                               "run (--cancel: stop a running backfill)")
    backfill.add_argument("run_id")
    backfill.add_argument("--epochs", type=_csv(int), help="comma-separated epochs (default: every epoch with a checkpoint)")
    backfill.add_argument("--projections", type=_csv(), help="comma-separated projection methods (default: the run's own, else all installed)")
    backfill.add_argument("--artifacts", type=_csv(), help="comma-separated artifact generators (default: the run's)")
    backfill.add_argument("--cancel", action="store_true",
                          help="stop the run's running backfill (started by the lab or another shell) and wait for it; "
                               "files it finished are kept")
    backfill.add_argument("--runs-dir", default=runs_dir)
    backfill.add_argument("--json", action="store_true", help="print the result as JSON")
    backfill.set_defaults(func=cmd_backfill)
