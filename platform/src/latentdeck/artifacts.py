"""The artifact engine: after each epoch, compute the shared inputs once and run the generators.

Generators (``ArtifactSpec``) receive an :class:`ArtifactContext` and write only through it, so every
file is atomic, versioned per epoch with a ``*_latest`` mirror, and announced by an
``artifact.created`` event. A generator that raises is reported (``artifact.failed``) and skipped;
it never changes training.
"""

from __future__ import annotations

import io
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .atomic import copy_atomic, write_bytes, write_json
from .events import EventLog


@dataclass(frozen=True)
class VizSubset:
    """The held-out examples fixed at run start (``config.json: viz_indices``)."""

    indices: list[int]
    x: Any  # (n, c, h, w) float in [0, 1]
    y: Any  # (n,) int64


@dataclass
class ArtifactContext:
    """What a generator sees: the trained model, the fixed subset and its outputs, and a writer."""

    run_id: str
    run_dir: Path
    epoch: int
    config: dict[str, Any]
    model: Any
    model_spec: Any
    dataset_spec: Any
    viz: VizSubset
    outputs: dict[str, Any]
    generator: str = ""
    options: Any = None  # the generator's parsed options model (config.artifact_options[generator])
    events: EventLog | None = None
    written: list[str] = field(default_factory=list)

    def _names(self, folder: str, template: str) -> tuple[str, str]:
        assert "{tag}" in template, "artifact templates need a {tag} placeholder (epoch_<N> / latest)"
        return (f"{folder}/{template.format(tag=f'epoch_{self.epoch}')}", f"{folder}/{template.format(tag='latest')}")

    def _publish(self, name: str, latest: str | None, kind: str) -> None:
        if latest:
            copy_atomic(self.run_dir / name, self.run_dir / latest)
        self.written.append(name)
        if self.events is not None:
            self.events.emit("artifact.created", {
                "name": name, "latest": latest, "kind": kind, "epoch": self.epoch, "generator": self.generator})

    def save_json(self, folder: str, template: str, payload: Any) -> str:
        """Write ``<folder>/<template with tag=epoch_N>`` and its ``tag=latest`` mirror."""
        name, latest = self._names(folder, template)
        write_json(self.run_dir / name, payload)
        self._publish(name, latest, folder)
        return name

    def save_png(self, folder: str, template: str, image: Any) -> str:
        """``image``: uint8 array (h, w) or (h, w, 3|4), or a PIL image."""
        from PIL import Image

        if not isinstance(image, Image.Image):
            image = Image.fromarray(image)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=False)
        name, latest = self._names(folder, template)
        write_bytes(self.run_dir / name, buffer.getvalue())
        self._publish(name, latest, folder)
        return name


def selected_generators(generators: dict[str, Any], capabilities: frozenset[str],
                        wanted: list[str] | None) -> list[Any]:
    return [spec for name, spec in sorted(generators.items())
            if spec.requires <= capabilities and (wanted is None or name in wanted)]


def run_generators(make_context: Callable[[str], ArtifactContext], specs: list[Any],
                   events: EventLog) -> dict[str, float]:
    """Run each generator with its own context; returns {generator: milliseconds}."""
    timings: dict[str, float] = {}
    for spec in specs:
        ctx = make_context(spec.name)
        started = time.perf_counter()
        try:
            spec.generate(ctx)
        except Exception as exc:
            events.emit("artifact.failed", {
                "generator": spec.name, "epoch": ctx.epoch, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5)})
        timings[spec.name] = round((time.perf_counter() - started) * 1000, 2)
    return timings
