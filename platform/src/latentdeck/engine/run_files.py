"""Every file of a run, with the keys its name carries, parsed with the patterns the plugins declare.

One listing serves every client (``GET /api/runs/{id}/files``): a row per file of the run's artifact
folders (the host's ``checkpoints/`` and ``projections/``, and each folder a plugin declares), with

- ``folder`` and ``artifact`` (the computation whose declared pattern the name matches; for ``projections/``
  the projection method; null for a file no pattern declares),
- ``kind``: ``computations`` | ``projections`` | ``checkpoints`` | ``undeclared``,
- ``epoch`` (null for a ``*_latest`` mirror or a run-level file) and ``latest`` (a ``{tag}`` = ``latest`` mirror),
- ``method`` and ``dims`` when the pattern names them (projections always do),
- ``fields``: every other placeholder of the pattern (``idx``, ``family`` ...), ints for ``{name:int}``,
- ``role``: what the latent explorer reads it as (``ComputationSpec.provides``: neighbours, overlay ...), or null,
- ``size`` and ``mtime``.

A client therefore never parses a file name: it filters rows by these keys. The patterns are the
specs' own (``ComputationSpec.files``, plus ``<key>/result.json`` for one keyed by folder; one keyed by
file stem keeps its result in a hidden file, which no listing shows,
:func:`latentdeck.engine.projections.projection_template`),
so a new plugin's files are parsed without a host or frontend change. Nothing is computed or opened;
the walk is the store's (no link followed, regular files only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..registry import collect, providers, records_of_kinds
from ..registry.namespace import match_file
from .checkpoints import checkpoint_epochs
from .keyfiles import file_stem
from .projections import projection_template
from ..kit.arrays import EXTENSION as ARRAY_EXTENSION

# The host's own folders, described as patterns like the plugins' (epoch_<N> | latest).
CHECKPOINT_FILES = ("{tag}.pt", "{tag}.json")
KEYED = ("epoch", "method", "dims")  # fields lifted out of ``fields`` into columns of their own


def file_parsers(pm) -> dict[str, list[tuple[str, str, dict[str, Any], tuple[str, ...], dict[str, str]]]]:
    """``{folder: [(kind, artifact, fixed keys, patterns, {pattern: role})]}``: how each folder's file names are read,
    from the installed specs (built-ins and third-party alike)."""
    parsers: dict[str, list] = {"checkpoints": [("checkpoints", None, {}, CHECKPOINT_FILES, {})], "projections": []}
    for name, spec in sorted(collect(pm, "projections").items()):
        for dims in spec.dims:
            parsers["projections"].append(("projections", name, {"method": name, "dims": int(dims)},
                                           (projection_template(spec, dims),), {}))
    for kind, spec in records_of_kinds(pm, ("computations",)):
        # the host's record of each answer: a folder key's <key>/result.json (a file key's is hidden, never listed)
        kept = (f"{spec.key}/result.json",) if isinstance(spec.key, str) and file_stem(spec.key) is None else ()
        parsers.setdefault(spec.folder, []).append((kind, spec.name, {}, tuple(spec.files) + kept, spec.roles()))
    return parsers


def parse_name(parsers, name: str) -> dict[str, Any]:
    """The keys of the run file ``name`` (``<folder>/<relative>``), or ``kind: undeclared`` when no
    pattern of its folder matches."""
    folder, _, relative = name.partition("/")
    if relative.endswith(ARRAY_EXTENSION):  # the array file beside a JSON artifact: its owner's, no role of its own
        keys = parse_name(parsers, name[:-len(ARRAY_EXTENSION)] + ".json")
        if keys["kind"] != "undeclared":
            return {**keys, "role": None}
    for kind, artifact, fixed, patterns, roles in parsers.get(folder, ()):
        found = match_file(patterns, relative)
        if found is None:
            continue
        pattern, fields = found
        keys = {"folder": folder, "artifact": artifact, "kind": kind, "epoch": fields.get("epoch"),
                "latest": "{tag}" in pattern and fields.get("epoch") is None,
                "method": fields.get("method"), "dims": fields.get("dims"), "role": roles.get(pattern), **fixed}
        keys["fields"] = {k: v for k, v in fields.items() if k not in KEYED}
        return keys
    return {"folder": folder, "artifact": None, "kind": "undeclared", "epoch": None, "latest": False,
            "method": None, "dims": None, "role": None, "fields": {}}


def spec_rows(pm) -> list[dict[str, Any]]:
    """What the listing says about each installed computation (its schedule, view hint, owner and the explorer
    roles its files provide, so a client can name the computation behind a role even before it has files)."""
    rows = []
    for kind, spec in records_of_kinds(pm, ("computations",)):
        rows.append({"name": spec.name, "kind": kind, "provider": providers(pm, kind).get(spec.name),
                     "runs": spec.runs, "askable": spec.askable,
                     "folder": spec.folder, "view": spec.view, "description": spec.description,
                     "overlay": bool(getattr(spec, "overlay", False)), "roles": sorted(set(spec.roles().values()))})
    return rows


def list_run_files(store, run_id: str, pm, *, folder: str | None = None, epoch: int | None = None) -> dict[str, Any]:
    """``{checkpoints: [epochs], artifacts: [spec rows], files: [rows]}`` for one run (``folder`` and
    ``epoch`` keep only the rows of that folder / epoch). Unknown runs raise the store's 404."""
    rows = store.artifacts(run_id)  # raises RunNotFound for an unknown run
    parsers = file_parsers(pm)
    files = []
    for row in rows:
        keys = parse_name(parsers, row["name"])
        if folder is not None and keys["folder"] != folder:
            continue
        if epoch is not None and keys["epoch"] != epoch:
            continue
        files.append({"name": row["name"], **keys, "size": row["size"], "mtime": row["mtime"]})
    return {"run_id": run_id, "checkpoints": checkpoint_epochs(Path(store.run_dir(run_id))),
            "artifacts": spec_rows(pm), "files": files}
