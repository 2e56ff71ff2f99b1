"""Latent walks: from a chosen digit, move along one latent dimension, interpolate toward a second digit
or go straight to a class or component centre; decode every step and place the path on the run's 2-D map
of a projection at that epoch.

Deterministic (no sampling): ``z = encode(x)`` (the model's ``latents``: ``z`` for the AE, ``mu`` of
q(z|x) for the GM-VAE), then

* ``dimension``: ``z_s = z_from + s * e_dim`` for ``s`` in ``linspace(-span, span, steps)`` (the start is
  the middle step); ``span`` defaults to 2 standard deviations of that dimension over the run's
  visualization subset at that epoch;
* ``interpolate``: ``z_t = (1 - t) z_from + t z_to`` for ``t`` in ``linspace(0, 1, steps)``;
* ``centre``: the same with ``z_to`` = a class's mean latent over the visualization subset or a mixture
  component's prior mean (:mod:`latentdeck_walk.centre`); the last step is the centre itself.

Placement on the 2-D map uses the projection's own map: **exact** when the projection restores a linear
map from its file (PCA: ``(z - mean) @ components.T``); otherwise (UMAP) the fitted ``transform`` would
be needed, but it lives only in the process that fitted it and a projection reloaded from disk has
none — so each step is placed at the distance-weighted mean of the 2-D positions of its ``k`` nearest
latent neighbours in the visualization subset (UMAP's transform starts from this before optimising),
labelled an **estimate**.

Files: one folder per walk, the computation's ``key`` (:func:`walk_key`), kept by the host (computed into a
temporary folder, published atomically with its ``result.json``, announced once; a repeat is served from
disk without computing)::

    walks/epoch_<N>/<method>/from_<split>_<i>/dim_<d>_span_<tag>_steps_<k>/walk.json, strip.png, result.json
    walks/epoch_<N>/<method>/from_<split>_<i>/to_<split>_<j>_steps_<k>/walk.json, strip.png, result.json
    walks/epoch_<N>/<method>/from_<split>_<i>/centre_<class|component>_<c>_steps_<k>/walk.json, strip.png, result.json

A centre walk without a ``target`` names the centre it resolves to (the start digit's label, or its argmax
q(c|x) component), so its key needs the run: the key is ``walk_key(request, epoch, ctx)``.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from latentdeck.kit import dumps, is_regular_file, read_artifact
from latentdeck.kit import OnDemandError

FOLDER = "walks"
FILES = tuple(f"epoch_{{epoch}}/{{method}}/from_{{from_split}}_{{from_idx:int}}/{{path}}/{name}"
              for name in ("walk.json", "strip.png", "result.json"))
MAX_STEPS = 33
MAX_SPAN = 1000.0
KNN_PLACE = 10
PAD = 2

Split = Literal["heldout", "train"]


class WalkRequest(BaseModel):
    """One walk: where it starts, which way it goes, how many steps, and which map it is placed on."""

    model_config = ConfigDict(extra="forbid", strict=True)  # a number must be a JSON number (no true, no "1")

    from_idx: int = Field(description="dataset index of the start digit (in from_split)")
    from_split: Split = Field("heldout", description="split of the start digit: heldout or train")
    mode: Literal["dimension", "interpolate", "centre"] = Field(
        "interpolate", description="dimension: move along one latent dimension; interpolate: go straight to to_idx; "
                                   "centre: go straight to a class centre or a component centre (see centre)")
    dim: int | None = Field(None, description="dimension mode: the latent dimension to move along (0..d-1)")
    span: float | None = Field(None, description="dimension mode: how far to go each way, in latent units (default: 2 "
                                                 "standard deviations of that dimension over the visualization subset)")
    to_idx: int | None = Field(None, description="interpolate mode: dataset index of the end digit (in to_split)")
    to_split: Split = Field("heldout", description="split of the end digit")
    centre: Literal["class", "component"] | None = Field(
        None, description="centre mode: class (the mean latent of a label's points in the visualization subset at that "
                          "epoch) or component (a mixture component's prior mean mu_c; models with mixture_prior)")
    target: int | None = Field(None, ge=0, le=10_000, description="centre mode: the class or component (default: the "
                                                                 "start digit's label, or its argmax q(c|x) component)")
    steps: int = Field(9, description=f"decoded steps along the path, 2..{MAX_STEPS} (both ends included)")
    method: str = Field("pca", description="the projection whose 2-D map the path is placed on (pca, umap, ...)")
    epoch: int | str | None = Field(None, description="an epoch with a checkpoint (default: the newest)")


def span_tag(span: float) -> str:
    """``s1.5`` for a span of 1.5: a plain decimal, no exponent."""
    text = format(Decimal(repr(float(span))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "s" + text


def _projection_name(loaded, method: str, epoch: int) -> str:
    """The 2-D projection file of ``method`` at ``epoch``, named as the projection spec says."""
    spec = loaded.projection_specs().get(method)
    template = (spec.file_names.get(2) if spec is not None else None) or f"latent_2d_{{tag}}_{method}.json"
    return f"projections/{template.replace('{tag}', f'epoch_{epoch}')}"


@functools.lru_cache(maxsize=2)
def _train_split(dataset: str, data_dir: str, load: Callable) -> Any:
    return load(Path(data_dir), "train")


def walk_key(request: WalkRequest, epoch: int, ctx) -> str:
    """The folder of one walk inside ``walks/`` (the computation's key): checked first, so a refused request
    has no key; a centre walk without a target loads the epoch to name the centre it goes to."""
    return Walker(ctx).key(request, epoch)


class Walker:
    """Latent walks of the run of ``ctx`` (a run context: models through ``ctx.load``; a walk's files are
    written into ``ctx.folder``, which the host publishes as ``walks/<key>/``)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.run_dir = Path(ctx.run_dir)

    # --- inputs ---------------------------------------------------------------------------------

    def example(self, loaded, split: str, index: int, field: str):
        """Image (1, c, h, w) and label of one digit; 422 naming ``field`` when the index is out of range."""
        from latentdeck.kit import to_float_images

        if split == "heldout":
            images, labels = loaded.heldout_split()
            n = len(images)
            if not 0 <= index < n:
                raise OnDemandError(f"{field} {index} is outside the held-out split of {loaded.config['dataset']}: use 0..{n - 1}", 422)
            return images[index:index + 1], int(labels[index])
        spec = loaded.dataset_spec
        train = _train_split(loaded.config["dataset"], str(loaded.config["data_dir"]), spec.load)
        n = len(train.labels)
        if not 0 <= index < n:
            raise OnDemandError(f"{field} {index} is outside the training split of {loaded.config['dataset']}: use 0..{n - 1}", 422)
        return to_float_images(train.images[index:index + 1], tuple(spec.image_shape)), int(train.labels[index])

    _viz_cache: dict[tuple, Any] = {}
    _viz_lock = threading.Lock()

    def viz_latents(self, loaded):
        """The visualization subset's latents at this epoch (numpy (n, d)), as the projections used them."""
        return self.viz_latents_and_labels(loaded)[0]

    def viz_latents_and_labels(self, loaded):
        """The visualization subset's latents (numpy (n, d)) and labels (numpy (n,)) at this epoch."""
        import torch

        from latentdeck.kit import single_threaded

        checkpoint = self.run_dir / "checkpoints" / f"epoch_{loaded.epoch}.pt"
        key = (str(self.run_dir.resolve()), loaded.epoch, checkpoint.stat().st_mtime)
        with self._viz_lock:
            if key not in self._viz_cache:
                viz = loaded.viz_subset()
                with torch.no_grad(), single_threaded():
                    self._viz_cache.clear()
                    self._viz_cache[key] = (loaded.encode(viz.x).double().numpy(), viz.y.numpy())
            return self._viz_cache[key]

    def centre(self, loaded, r: WalkRequest, x_from, label_from: int):
        """The centre a ``centre`` walk ends at (numpy (d,)) and its ``to`` record; 422 naming why there is none."""
        from .centre import class_centre, component_centre

        if r.centre == "component":
            return component_centre(loaded, x_from, r.target)
        latents, labels = self.viz_latents_and_labels(loaded)
        return class_centre(latents, labels, r.target, label_from, loaded.dataset_spec.num_classes, loaded.epoch)

    # --- the walk -------------------------------------------------------------------------------

    def check(self, r: WalkRequest) -> None:
        if not 2 <= r.steps <= MAX_STEPS:
            raise OnDemandError(f"steps must be between 2 and {MAX_STEPS} (got {r.steps})", 422)
        if r.from_idx < 0:
            raise OnDemandError(f"from_idx must be 0 or more (got {r.from_idx})", 422)
        if r.mode != "centre" and (r.centre is not None or r.target is not None):
            raise OnDemandError(f"mode {r.mode} takes no centre or target (those are for mode centre)", 422)
        if r.mode == "centre":
            if r.centre is None:
                raise OnDemandError("mode centre needs centre: class (a label's mean latent) or component (a mixture "
                                    "component's prior mean)", 422)
            if r.to_idx is not None or r.dim is not None or r.span is not None:
                raise OnDemandError("mode centre takes centre (and target), not to_idx, dim or span", 422)
        elif r.mode == "interpolate":
            if r.to_idx is None:
                raise OnDemandError("mode interpolate needs to_idx (the end digit's dataset index)", 422)
            if r.dim is not None or r.span is not None:
                raise OnDemandError("mode interpolate takes to_idx, not dim or span", 422)
        else:
            if r.dim is None:
                raise OnDemandError("mode dimension needs dim (the latent dimension to move along)", 422)
            if r.to_idx is not None:
                raise OnDemandError("mode dimension takes dim (and span), not to_idx", 422)
            if r.span is not None and not (math.isfinite(r.span) and 0 < r.span <= MAX_SPAN):
                raise OnDemandError(f"span must be a number in (0, {MAX_SPAN:g}] latent units (got {r.span})", 422)
        if not r.method or "/" in r.method or r.method.startswith("."):
            raise OnDemandError(f"method {r.method!r} is not a projection name", 422)

    def key(self, r: WalkRequest, epoch: int) -> str:
        """``epoch_<N>/<method>/from_<split>_<i>/<path>`` (module docstring); 422 for a malformed request."""
        self.check(r)
        if r.mode == "interpolate":
            path = f"to_{r.to_split}_{r.to_idx}_steps_{r.steps}"
        elif r.mode == "centre":
            target = r.target
            if target is None:  # the centre the start digit belongs to: only the run knows it
                loaded = self.ctx.load(epoch)
                x_from, label_from = self.example(loaded, r.from_split, r.from_idx, "from_idx")
                target = self.centre(loaded, r, x_from, label_from)[1]["target"]
            path = f"centre_{r.centre}_{target}_steps_{r.steps}"
        else:
            path = f"dim_{r.dim}_span_{'auto' if r.span is None else span_tag(r.span)}_steps_{r.steps}"
        return f"epoch_{epoch}/{r.method}/from_{r.from_split}_{r.from_idx}/{path}"

    def walk(self, r: WalkRequest) -> dict[str, Any]:
        """Compute one walk into ``ctx.folder`` (``strip.png``, ``walk.json``); its payload (``walk.json``)."""
        self.check(r)
        loaded = self.ctx.load(self.ctx.epoch)  # the epoch the host resolved for the key (a newer one may appear)
        epoch = loaded.epoch
        if "latents" not in loaded.model_spec.capabilities or "decoder" not in loaded.model_spec.capabilities:
            raise OnDemandError(f"model {loaded.config['model']!r} cannot be walked: it needs an encoder to latents and a "
                                "decoder (capabilities latents and decoder)", 422)
        projection_file = self.run_dir / _projection_name(loaded, r.method, epoch)
        if not is_regular_file(self.run_dir, _projection_name(loaded, r.method, epoch)):  # a link: 409 naming it
            have = sorted(p.name for p in (self.run_dir / "projections").glob(f"latent_2d_epoch_{epoch}*.json"))
            raise OnDemandError(f"this run has no 2-D {r.method} projection at epoch {epoch} (files at that epoch: "
                                f"{', '.join(have) or 'none'}); compute it with latentdeck backfill --projections {r.method}", 404)
        x_from, label_from = self.example(loaded, r.from_split, r.from_idx, "from_idx")
        if r.mode == "interpolate":
            x_to, label_to = self.example(loaded, r.to_split, int(r.to_idx), "to_idx")
        elif r.mode == "centre":
            x_to, label_to = self.centre(loaded, r, x_from, label_from)  # the centre (d,) and the walk's `to`
        else:
            x_to, label_to = None, None
            d = _latent_dim(loaded, x_from)
            if not 0 <= int(r.dim) < d:
                raise OnDemandError(f"dim {r.dim} is out of range: the latent has {d} dimensions, use 0..{d - 1}", 422)
        payload, png = self._compute(loaded, r, projection_file, x_from, label_from, x_to, label_to,
                                     self.ctx.answer_file("strip.png"))
        folder = Path(self.ctx.folder)
        (folder / "strip.png").write_bytes(png)
        (folder / "walk.json").write_text(dumps(payload) + "\n")
        return payload

    def _compute(self, loaded, r: WalkRequest, projection_file: Path, x_from, label_from, x_to, label_to, strip: str):
        import numpy as np
        import torch

        from latentdeck.kit import single_threaded

        started = time.perf_counter()
        with torch.no_grad(), single_threaded():
            z_from = loaded.model.encode(x_from)[0].double()
            extra: dict[str, Any] = {}
            if r.mode in ("interpolate", "centre"):
                if r.mode == "centre":  # x_to is the centre itself, a latent
                    z_to = torch.as_tensor(x_to, dtype=torch.float64)
                else:
                    z_to = loaded.model.encode(x_to)[0].double()
                t = torch.linspace(0, 1, r.steps, dtype=torch.float64)
                path = (1 - t)[:, None] * z_from[None] + t[:, None] * z_to[None]  # t = 1: exactly z_to
                to = label_to if r.mode == "centre" else {"split": r.to_split, "idx": r.to_idx, "label": label_to}
                extra = {"to": to, "t": t.tolist()}
            else:
                span, source = r.span, "request"
                if span is None:
                    std = float(np.std(self.viz_latents(loaded)[:, r.dim]))
                    span, source = float(f"{2 * std:.4g}") if std > 0 else 1.0, "2 x std of the dimension over the visualization subset"
                # -span .. span; the middle step (odd counts) is exactly 0, so it decodes the start digit itself
                offsets = (torch.arange(r.steps, dtype=torch.float64) * 2 - (r.steps - 1)) / (r.steps - 1) * span
                path = z_from[None].repeat(r.steps, 1)
                path[:, r.dim] += offsets
                extra = {"dim": r.dim, "span": span, "span_source": source, "offsets": offsets.tolist()}
            images = loaded.model.decode(path.float())  # (steps, c, h, w)
            if r.mode == "dimension":
                extra["change"] = _dimension_change(images, loaded.model.decode(z_from[None].float())[0], r.dim, span)
        png, layout = _strip(images)
        placement = self._place(loaded, r.method, projection_file, path.numpy())
        return {
            "kind": "latent_walk", "epoch": loaded.epoch, "method": r.method, "mode": r.mode, "steps": r.steps,
            "from": {"split": r.from_split, "idx": r.from_idx, "label": label_from}, **extra,
            "latent": loaded.model_spec.latent_name, "latent_dim": int(path.shape[1]), "model": loaded.config["model"],
            "latents": np.round(path.numpy(), 6).tolist(), "placement": placement,
            "strip": {"png": strip, **layout},
            "deterministic": "no sampling: z = encode(x) (the model's latents), straight-line steps, decode(z)",
            "compute_ms": round((time.perf_counter() - started) * 1000, 2),
        }, png

    def _place(self, loaded, method: str, projection_file: Path, path) -> dict[str, Any]:
        import numpy as np

        saved = read_artifact(projection_file, root=self.run_dir)  # old inline JSON or header + array file
        spec = loaded.projection_specs().get(method)
        projection = spec.restore(saved) if spec is not None and spec.restore is not None else None
        if projection is not None and projection.linear is not None:
            coords = projection.place(path)
            return {"projection_file": projection_file.relative_to(self.run_dir).as_posix(), "exact": True,
                    "estimator": "exact_linear", "coords": np.round(coords, 6).tolist(),
                    "text": f"exact: {method} is a linear map, restored from its file ((z - mean) @ components.T)"}
        latents = self.viz_latents(loaded)
        coords2d = np.asarray(saved["coords"], dtype=np.float64)
        if len(coords2d) != len(latents):
            raise OnDemandError(f"{projection_file.name} has {len(coords2d)} points but the visualization subset has "
                                f"{len(latents)}: the file does not belong to this run's subset", 409)
        k = min(KNN_PLACE, len(latents))
        diff = path[:, None, :] - latents[None, :, :]
        dist = np.sqrt((diff * diff).sum(-1))  # (steps, n): one row per step, never n x n
        near = np.argsort(dist, axis=1, kind="stable")[:, :k]
        d = np.take_along_axis(dist, near, axis=1)
        w = 1.0 / np.maximum(d, 1e-9)
        coords = (w[:, :, None] * coords2d[near]).sum(1) / w.sum(1, keepdims=True)
        return {"projection_file": projection_file.relative_to(self.run_dir).as_posix(), "exact": False,
                "estimator": "knn_interpolation", "k": k, "coords": np.round(coords, 6).tolist(),
                "transform_available": False,
                "text": f"estimate: {method}'s fitted transform exists only in the process that fitted it, and a projection "
                        f"reloaded from disk has none. Each step is placed at the distance-weighted mean of the 2-D positions "
                        f"of its {k} nearest latent neighbours in the visualization subset (where {method}'s transform would "
                        "start before optimising)."}


IGNORED_BELOW = 0.01


def _dimension_change(images, start, dim: int, span: float) -> dict[str, Any]:
    """How much a walk along ``z[dim]`` changes the decode: the largest |pixel difference| from the start
    digit's decode over the walk, as a fraction of that decode's value range; under 1 % the decoder is said to
    ignore the direction (nine identical tiles are then explained, not a puzzle)."""
    largest = float((images.double() - start.double()[None]).abs().max())
    relative = largest / max(float(start.max() - start.min()), 1e-6)
    ignored = relative < IGNORED_BELOW
    text = (f"z[{dim}] changes the decoded image by less than {IGNORED_BELOW:.0%} of its range over ±{span:.3g}: "
            "the decoder ignores this direction here" if ignored else
            f"moving z[{dim}] by up to ±{span:.3g} changes the decoded image by up to {relative:.0%} of its range")
    return {"largest_change": round(largest, 6), "relative_change": round(relative, 6), "ignored": ignored,
            "ignored_below": IGNORED_BELOW, "text": text}


def _latent_dim(loaded, x) -> int:
    import torch

    with torch.no_grad():
        return int(loaded.model.encode(x).shape[1])


def _strip(images) -> tuple[bytes, dict[str, Any]]:
    """Decodes (steps, c, h, w) in [0, 1] side by side, 2 px apart, as a grayscale PNG."""
    from latentdeck.kit import image_strip

    return image_strip(images, PAD, "left to right, from the start")
