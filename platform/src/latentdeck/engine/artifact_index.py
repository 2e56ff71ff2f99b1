"""A run's artifacts grouped by the spec that declares them, per epoch, with each spec's view hint.

For every installed ``ArtifactSpec`` and ``OnDemandSpec`` whose folder holds files, the files that
match its declared patterns are grouped: per epoch (``{tag}`` = ``epoch_<N>`` or an ``{epoch}``
field), the ``latest`` mirrors, and ``other`` (patterns with no epoch, e.g. a run-level file). The web
UI shows every entry that has no dedicated panel with the generic view its ``view`` names, so a newly
installed artifact type appears without a frontend change. Nothing is computed; only names are read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..registry.namespace import match_file
from ..registry import providers, records_of_kinds

MAX_FILES = 5000  # per spec: a listing stays small whatever a folder holds


def artifact_index(run_dir: Path | str, pm) -> list[dict[str, Any]]:
    run_dir = Path(run_dir)
    entries = []
    for kind, spec in records_of_kinds(pm, ("artifacts", "ondemand")):
        folder = run_dir / spec.folder
        if not folder.is_dir() or folder.is_symlink():
            continue
        epochs: dict[int, list[str]] = {}
        latest: list[str] = []
        other: list[str] = []
        seen = 0
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith(".") or seen >= MAX_FILES:
                    continue
                relative = (Path(dirpath) / filename).relative_to(folder).as_posix()
                found = match_file(spec.files, relative)
                if found is None:
                    continue
                seen += 1
                pattern, fields = found
                name = f"{spec.folder}/{relative}"
                if "epoch" in fields and fields["epoch"] is not None:
                    epochs.setdefault(int(fields["epoch"]), []).append(name)  # type: ignore[arg-type]
                elif "{tag}" in pattern:
                    latest.append(name)
                else:
                    other.append(name)
        if seen:
            entries.append({
                "name": spec.name, "kind": kind, "provider": providers(pm, kind).get(spec.name), "folder": spec.folder,
                "view": spec.view, "description": spec.description,
                "page": f"/plugin-pages/{spec.name}/" if spec.page else None,
                "epochs": [{"epoch": n, "files": files} for n, files in sorted(epochs.items())],
                "latest": latest, "other": other})
    return entries
