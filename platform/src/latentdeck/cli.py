"""The ``latentdeck`` command: ``serve``, ``train``, ``runs``, ``backfill``, ``sample``, ``overlays``, ``inspect``, ``plugins``.

``train`` goes through the same :func:`latentdeck.launch.prepare_run` and
:func:`latentdeck.training.execute_run` as runs started over HTTP; it trains in this process and
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

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def default_runs_dir() -> str:
    return os.environ.get("LATENTDECK_RUNS_DIR", "runs")


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """Config file, then explicit flags, then ``--set`` (later wins)."""
    from .config import set_dotted

    request: dict[str, Any] = {}
    if args.config:
        try:
            request = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(_usage_error(f"cannot read --config {args.config}: {exc}; pass a JSON object file"))
        if not isinstance(request, dict):
            raise SystemExit(_usage_error(f"--config {args.config} must hold a JSON object of run config fields"))
    flags = {"model": args.model, "dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size,
             "seed": args.seed, "limit": args.limit, "data_dir": args.data_dir, "name": args.name}
    request.update({k: v for k, v in flags.items() if v is not None})
    if args.lr is not None:
        request.setdefault("optimizer", {})["lr"] = args.lr
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(_usage_error(f"--set {item!r}: use --set field=value, e.g. --set model_options.latent_dim=8"))
        try:
            set_dotted(request, key.strip(), _parse_value(value))
        except ValueError as exc:
            raise SystemExit(_usage_error(f"--set {item!r}: {exc}"))
    return request


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


class _Progress:
    """Draws train events: a bar per epoch, a line of metrics when an epoch ends."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.epoch = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        kind, data = event["type"], event["data"]
        if kind == "train.progress":
            if self.epoch != data["epoch"]:
                self.close()
                self.epoch = data["epoch"]
                self.bar = tqdm(total=data["batches"], desc=f"epoch {data['epoch']}/{data['epochs']}",
                                unit="batch", leave=False, file=sys.stderr)
            self.bar.n = data["batch"]
            self.bar.set_postfix(loss=f"{data['loss']:.4f}", refresh=False)
            self.bar.refresh()
        elif kind == "train.metrics":
            self.close()
            parts = [f"epoch {data['epoch']}/{data['epochs']}", f"loss {data['loss']:.4f}"]
            parts += [f"{k} {data[k]:.4f}" for k in data.get("loss_weights", {})]
            if "heldout_accuracy" in data:
                parts.append(f"held-out acc {data['heldout_accuracy'] * 100:.2f}%")
            parts.append(f"{data['epoch_seconds']:.1f}s")
            print("  ".join(parts), file=sys.stderr)
        elif kind == "artifact.failed":
            print(f"warning: artifact {data['generator']} failed: {data['error']}", file=sys.stderr)
        elif kind in ("run.cancelled", "run.failed", "run.completed"):
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_train(args: argparse.Namespace) -> int:
    from .launch import ConfigError, prepare_run
    from .plugins import PluginError, get_plugin_manager
    from .runs.store import RunStore, read_summary, write_worker_info
    from .training import execute_run

    request = build_request(args)
    try:
        pm = get_plugin_manager()
        stored = prepare_run(pm, request)
    except (ConfigError, PluginError) as exc:
        return _usage_error(str(exc))
    store = RunStore(args.runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    write_worker_info(run_dir, "local", os.getpid(), via="cli")
    say = (lambda *a: print(*a, file=sys.stderr))
    say(f"run {stored['run_id']}  ({run_dir})")
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

    previous = signal.signal(signal.SIGINT, on_sigint)
    progress = _Progress(quiet=args.json or args.quiet)
    try:
        status = execute_run(run_dir, pm=pm, listeners=(progress,))
    finally:
        progress.close()
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
    from .runs.store import RunStore

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
    from .plugins import get_plugin_manager, list_plugins

    rows = list_plugins(get_plugin_manager(), all=args.all)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no third-party plugins installed (`latentdeck plugins --all` lists the built-ins too)")
    for row in rows:
        origin = "built-in" if row["builtin"] else "third-party"
        print(f"{row['name']} {row['version'] or ''} ({origin}, {row['status']})")
        if row["error"]:
            print(f"    error: {row['error']}")
        for kind, names in row["provides"].items():
            print(f"    {kind}: {', '.join(names)}")
        print(f"    hooks: {', '.join(row['hooks'])}")
    return EXIT_OK


def _csv(kind: type = str):
    def parse(value: str) -> list:
        try:
            return [kind(part.strip()) for part in value.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: expected a comma-separated list, e.g. 1,3,5")
    return parse


def cmd_backfill(args: argparse.Namespace) -> int:
    from .backfill import backfill
    from .plugins import get_plugin_manager
    from .runs.store import RunStore, RunStoreError

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

    try:
        run_dir = RunStore(args.runs_dir).run_dir(args.run_id)
        result = backfill(run_dir, get_plugin_manager(), epochs=args.epochs, projections=args.projections,
                          artifacts=args.artifacts, listeners=(show,))
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(result))
    elif result.get("nothing_missing"):
        print(f"nothing to do: run {args.run_id} already has every requested artifact", file=sys.stderr)
    else:
        print(f"backfilled {len(result['written'])} files for epochs {result['epochs']}", file=sys.stderr)
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    """One decoded sample grid, the same function as ``POST /api/runs/{id}/samples``."""
    from .plugins import get_plugin_manager
    from .runs.store import RunStore, RunStoreError
    from .samples import SampleRequest, sample

    if (args.idx is None) == (args.component is None):
        return _usage_error("give exactly one of --idx (held-out example, posterior_local) or --component "
                            "(mixture component, prior_component)")
    kind, key = ("posterior_local", args.idx) if args.idx is not None else ("prior_component", args.component)
    try:
        run_dir = RunStore(args.runs_dir).run_dir(args.run_id)
        result = sample(run_dir, SampleRequest(kind, key, args.m, args.epoch, args.seed), get_plugin_manager())
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    how = "from disk" if result["cached"] else f"computed in {result['compute_ms']:.0f} ms"
    print(f"{result['png']} ({result['m']} samples, {result['distribution']}, epoch {result['epoch']}, "
          f"seed {result['seed']} {result['seed_source']}; {how})")
    print(f"  {result['description']}")
    print(f"  file: {run_dir / result['png']}")
    return EXIT_OK


def cmd_overlays(args: argparse.Namespace) -> int:
    """Per epoch, which density, distortion and sample files a run has (as ``GET /api/runs/{id}/overlays``)."""
    from .overlays import list_overlays
    from .runs.store import RunStore, RunStoreError

    try:
        listing = list_overlays(RunStore(args.runs_dir).run_dir(args.run_id), args.epoch)
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    for row in listing["epochs"]:
        parts = [f"{len(row[kind])} {kind}" for kind in ("density", "distortion", "samples")]
        print(f"epoch {row['epoch']}{'' if row['checkpoint'] else ' (no checkpoint)'}: {', '.join(parts)}")
        for kind in ("density", "distortion", "samples"):
            for item in row[kind]:
                print(f"    {item['name']}")
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    """Network inspection, the same functions as ``GET /api/runs/{id}/network/...``."""
    from .api.network import inspector
    from .plugins import get_plugin_manager
    from .runs.store import RunStore, RunStoreError

    need = {"forward": ("idx",), "inspect": ("idx", "layer", "ch"), "conv-step": ("idx", "layer", "out", "x", "y"),
            "kernels": ("layer", "out"), "perturb": ("idx", "key", "dim", "delta"), "topk": ("layer", "ch")}
    missing = [f"--{name}" for name in need.get(args.what, ()) if getattr(args, name) is None]
    if missing:
        return _usage_error(f"inspect {args.what} needs {', '.join(missing)}")
    try:
        run_dir = RunStore(args.runs_dir).run_dir(args.run_id)
        net = inspector(run_dir, args.run_id, get_plugin_manager())
        if args.what == "layers":
            listing = net.layers(args.epoch)
            if args.json:
                print(json.dumps(listing, indent=2))
            else:
                print(f"{listing['model']} at epoch {listing['epoch']} (input {listing['input_shape']}):")
                for row in listing["layers"]:
                    note = " conv1-like" if row["conv1_like"] else ""
                    print(f"  {row['id']:<24} {row['type']:<16} {row['kind']:<8} {row['shape']}{note}")
            return EXIT_OK
        probe = (args.x, args.y) if args.x is not None and args.y is not None else None
        result = {
            "forward": lambda: net.forward(args.epoch, args.idx),
            "inspect": lambda: net.inspect(args.epoch, args.idx, args.layer, args.ch, probe),
            "conv-step": lambda: net.conv_step(args.epoch, args.idx, args.layer, args.out, args.x, args.y),
            "kernels": lambda: net.kernels(args.epoch, args.layer, args.out),
            "perturb": lambda: net.perturb(args.epoch, args.idx, args.key, args.dim, args.delta),
            "topk": lambda: net.topk(args.epoch, args.layer, args.ch, args.metric, args.n, args.k),
        }[args.what]()
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps({"folder": result.folder, "files": result.files, "created": result.created,
                          "payload": result.payload}))
        return EXIT_OK
    print(f"{run_dir / result.folder} ({'computed' if result.created else 'from disk'}, {len(result.files)} files)")
    payload = result.payload
    if args.what == "conv-step":
        print(f"  sum(patch * kernel) = {payload['pre_bias_sum']:.6g}, + bias {payload['bias']:.6g} = "
              f"{payload['value_computed']:.6g}; model: {payload['value_captured']:.6g} "
              f"({'agree' if payload['agree'] else 'DISAGREE'}); {payload['activation']['mode']}")
    elif args.what == "topk":
        for item in payload["items"]:
            print(f"  #{item['rank'] + 1} held-out {item['dataset_idx']} (label {item['label']}): {item['score']:.4g}")
    elif args.what == "perturb":
        print(f"  {payload['vector_key']}[{payload['dim']}]: {payload['base_value']:.4g} -> {payload['new_value']:.4g}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from .api.server import serve

    print(f"latentdeck on http://{args.host}:{args.port}/  (API docs at /docs; runs in {Path(args.runs_dir).resolve()})",
          file=sys.stderr)
    serve(host=args.host, port=args.port, runs_dir=args.runs_dir)
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentdeck", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the lab (API and UI) on one port")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--runs-dir", default=default_runs_dir(), help="run store (default ./runs or $LATENTDECK_RUNS_DIR)")
    serve.set_defaults(func=cmd_serve)

    train = sub.add_parser("train", help="train a model in this process, with a progress bar")
    train.add_argument("--model", help="model plugin (default ae)")
    train.add_argument("--dataset", help="dataset plugin: default, mnist, mnist-5k, fashion-mnist, ...")
    train.add_argument("--data-dir", help="where dataset files live (default ~/.cache/latentdeck/data)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="Adam learning rate")
    train.add_argument("--seed", type=int)
    train.add_argument("--limit", type=int, metavar="N", help="train on the first N training examples")
    train.add_argument("--name", help="a label shown in run listings")
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

    backfill = sub.add_parser("backfill", help="compute missing projection and neighbour artifacts of a finished run")
    backfill.add_argument("run_id")
    backfill.add_argument("--epochs", type=_csv(int), help="comma-separated epochs (default: every epoch with a checkpoint)")
    backfill.add_argument("--projections", type=_csv(), help="comma-separated projection methods (default: the run's own, else all installed)")
    backfill.add_argument("--artifacts", type=_csv(), help="comma-separated artifact generators (default: the run's)")
    backfill.add_argument("--runs-dir", default=default_runs_dir())
    backfill.add_argument("--json", action="store_true", help="print the result as JSON")
    backfill.set_defaults(func=cmd_backfill)

    sample = sub.add_parser("sample", help="decode samples around a held-out example or from a mixture component")
    sample.add_argument("run_id")
    sample.add_argument("--idx", type=int, help="held-out index: m decodes of z ~ q(z|x_idx) (posterior_local)")
    sample.add_argument("--component", type=int, help="mixture component: m decodes of z ~ p(z|c) (prior_component)")
    sample.add_argument("--m", type=int, default=16, help="number of samples (1..256, default 16)")
    sample.add_argument("--epoch", type=int, help="epoch with a checkpoint (default: the newest)")
    sample.add_argument("--seed", type=int, help="explicit seed (default: derived from the run seed, epoch and key)")
    sample.add_argument("--runs-dir", default=default_runs_dir())
    sample.add_argument("--json", action="store_true", help="print the grid's metadata as JSON")
    sample.set_defaults(func=cmd_sample)

    overlays = sub.add_parser("overlays", help="list a run's density, distortion and sample files per epoch")
    overlays.add_argument("run_id")
    overlays.add_argument("--epoch", type=int, help="only this epoch")
    overlays.add_argument("--runs-dir", default=default_runs_dir())
    overlays.add_argument("--json", action="store_true")
    overlays.set_defaults(func=cmd_overlays)

    inspect = sub.add_parser("inspect", help="look inside a run's network: layers, activations, kernels, perturbations")
    inspect.add_argument("run_id")
    inspect.add_argument("what", choices=["layers", "forward", "inspect", "conv-step", "kernels", "perturb", "topk"])
    inspect.add_argument("--epoch", help="epoch with a checkpoint (default: the newest)")
    inspect.add_argument("--idx", type=int, help="held-out index")
    inspect.add_argument("--layer", help="layer id (see `inspect <run> layers`)")
    inspect.add_argument("--ch", type=int, help="channel (inspect, topk)")
    inspect.add_argument("--out", type=int, help="output channel (conv-step, kernels)")
    inspect.add_argument("--x", type=int, help="column in the layer's map (conv-step; inspect probe)")
    inspect.add_argument("--y", type=int, help="row in the layer's map (conv-step; inspect probe)")
    inspect.add_argument("--key", help="perturb: vector key (z, mu, z_sample; see latent.json 'decodable')")
    inspect.add_argument("--dim", type=int, help="perturb: dimension")
    inspect.add_argument("--delta", type=float, help="perturb: amount added to the dimension")
    inspect.add_argument("--metric", choices=["max", "mean"], default="max", help="topk score (default max)")
    inspect.add_argument("--n", type=int, default=2000, help="topk: scan held-out examples 0..n-1 (default 2000)")
    inspect.add_argument("--k", type=int, default=9, help="topk: how many to keep (default 9)")
    inspect.add_argument("--runs-dir", default=default_runs_dir())
    inspect.add_argument("--json", action="store_true", help="print the answer as JSON")
    inspect.set_defaults(func=cmd_inspect)

    plugins = sub.add_parser("plugins", help="list plugins and what they provide")
    plugins.add_argument("--all", action="store_true", help="include the built-in plugins")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=cmd_plugins)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        print("aborted", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
