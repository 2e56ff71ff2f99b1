"""The ``latentdeck`` commands that compute artifacts on demand from a run's checkpoints, with the same
functions as the API: ``sample`` (decoded sample grids), ``overlays`` (which density, distortion and
sample files exist per epoch), ``inspect`` (network inspection) and ``walk`` (latent walks on a map)."""

from __future__ import annotations

import argparse
import json

from .cli import EXIT_OK, _usage_error


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
    weight = result.get("component_weight") or {}
    if weight.get("note"):
        print(f"  note: {weight['note']}")
    print(f"  file: {run_dir / result['png']}")
    return EXIT_OK


def cmd_overlays(args: argparse.Namespace) -> int:
    """Per epoch, which density, distortion and sample files a run has (as ``GET /api/runs/{id}/overlays``)."""
    from .overlays import list_overlays, overlay_specs
    from .plugins import get_plugin_manager
    from .runs.store import RunStore, RunStoreError

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


def cmd_walk(args: argparse.Namespace) -> int:
    """One latent walk, the same function as ``POST /api/runs/{id}/walks``."""
    from .api.walk import parse_request, walker
    from .plugins import get_plugin_manager
    from .runs.store import RunStore, RunStoreError

    if (args.to_idx is None) == (args.dim is None):
        return _usage_error("give exactly one of --to-idx (interpolate toward a second digit) or --dim (move along a "
                            "latent dimension)")
    body = {"from_idx": args.from_idx, "from_split": args.from_split, "steps": args.steps, "method": args.method,
            "epoch": args.epoch}
    if args.to_idx is not None:
        body.update(mode="interpolate", to_idx=args.to_idx, to_split=args.to_split)
    else:
        body.update(mode="dimension", dim=args.dim, **({"span": args.span} if args.span is not None else {}))
    try:
        run_dir = RunStore(args.runs_dir).run_dir(args.run_id)
        result = walker(run_dir, args.run_id, get_plugin_manager()).walk(parse_request(body))
    except RunStoreError as exc:
        return _usage_error(str(exc))
    if args.json:
        print(json.dumps({"folder": result.folder, "files": result.files, "created": result.created,
                          "payload": result.payload}))
        return EXIT_OK
    p = result.payload
    print(f"{run_dir / result.folder} ({'computed' if result.created else 'from disk'}): {p['steps']} steps, epoch {p['epoch']}")
    print(f"  strip: {run_dir / p['strip']['png']}")
    print(f"  placed on {p['method']} 2-D: {p['placement']['text']}")
    return EXIT_OK


def add_ondemand_commands(sub, runs_dir: str) -> None:
    """Register ``sample``, ``overlays``, ``inspect`` and ``walk`` on the ``latentdeck`` subparsers."""
    sample = sub.add_parser("sample", help="decode samples around a held-out example or from a mixture component")
    sample.add_argument("run_id")
    sample.add_argument("--idx", type=int, help="held-out index: m decodes of z ~ q(z|x_idx) (posterior_local)")
    sample.add_argument("--component", type=int, help="mixture component: m decodes of z ~ p(z|c) (prior_component)")
    sample.add_argument("--m", type=int, default=16, help="number of samples (1..256, default 16)")
    sample.add_argument("--epoch", type=int, help="epoch with a checkpoint (default: the newest)")
    sample.add_argument("--seed", type=int, help="explicit seed (default: derived from the run seed, epoch and key)")
    sample.add_argument("--runs-dir", default=runs_dir)
    sample.add_argument("--json", action="store_true", help="print the grid's metadata as JSON")
    sample.set_defaults(func=cmd_sample)

    overlays = sub.add_parser("overlays", help="list a run's density, distortion and sample files per epoch")
    overlays.add_argument("run_id")
    overlays.add_argument("--epoch", type=int, help="only this epoch")
    overlays.add_argument("--runs-dir", default=runs_dir)
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
    inspect.add_argument("--runs-dir", default=runs_dir)
    inspect.add_argument("--json", action="store_true", help="print the answer as JSON")
    inspect.set_defaults(func=cmd_inspect)

    walk = sub.add_parser("walk", help="decode a path through the latent space and place it on a 2-D map")
    walk.add_argument("run_id")
    walk.add_argument("--from-idx", type=int, required=True, help="dataset index of the start digit")
    walk.add_argument("--from-split", choices=["heldout", "train"], default="heldout")
    walk.add_argument("--to-idx", type=int, help="interpolate toward this digit")
    walk.add_argument("--to-split", choices=["heldout", "train"], default="heldout")
    walk.add_argument("--dim", type=int, help="move along this latent dimension instead")
    walk.add_argument("--span", type=float, help="with --dim: latent units each way (default 2 std of the dimension)")
    walk.add_argument("--steps", type=int, default=9, help="decoded steps, 2..33 (default 9)")
    walk.add_argument("--method", default="pca", help="projection whose 2-D map the path is placed on (default pca)")
    walk.add_argument("--epoch", type=int, help="epoch with a checkpoint (default: the newest)")
    walk.add_argument("--runs-dir", default=runs_dir)
    walk.add_argument("--json", action="store_true", help="print the answer as JSON")
    walk.set_defaults(func=cmd_walk)
