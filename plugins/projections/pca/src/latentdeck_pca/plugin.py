"""PCA of the visualization subset's latents, 2-D and 3-D, kept in place from epoch to epoch.

Principal axes are not stable while a network trains: an eigenvector's sign is arbitrary, two axes of
similar variance swap order, and the epoch's top principal plane turns to other latent directions although
the clusters barely moved, so a fresh PCA per epoch reshuffles the map. With ``init`` (the previous
epoch's coordinates of the same points for this ``dims``) and the default options:

1. ``basis: "carry"`` — the previous map's latent directions are carried, re-fitted to this epoch's codes
   (``basis.carried_map``: the orthonormal map that agrees best with the previous coordinates) and, when
   they keep less than ``min_variance_share`` (0.9) of the variance this epoch's own principal axes keep,
   pulled toward those by the least ``pull`` that keeps enough (``params.basis.source = "carried"``,
   ``params.alignment.method = "carried"``);
2. otherwise (or with ``basis: "own"``) the epoch's own principal axes, turned by the orthogonal
   Procrustes ``R`` (dims x dims, ``U V^T`` from the SVD of ``raw^T init`` over centred coordinates) that
   best matches the previous map (``params.alignment.method = "procrustes"``, ``R`` recorded);
3. ``alignment: "signs"`` — own axes, each flipped when it correlates negatively with the previous
   epoch's axis; ``loadings`` (the first epoch, or ``sign_reference: "loadings"``) — each principal
   direction's entry of largest absolute value is made positive (lowest index on ties).

``params.basis`` states which axes are shown and the share of the latent variance they keep, next to what
the epoch's own principal axes would keep. The projection is the exact linear map
``coords = (z - mean) @ components.T`` (``components`` = the shown axes), returned as
``Projection.linear`` and persisted, so artifacts can place new latent points (model samples, Gaussians in
closed form) even after a reload from disk. ``principal_components`` keeps the epoch's own principal
directions, and ``explained_variance`` stays in principal order (descending); ``axis_variance_ratio`` is
the share of the latent variance along each displayed axis.

Explained variance uses ``n - 1`` in the denominator (like scikit-learn); the ratio is over the total
variance of all latent dimensions. Latents with fewer dimensions than ``dims`` get zero axes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import Projection, ProjectionSpec, hookimpl

from .basis import basis_record, carry, lineage, shown_variance


class PCAOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    center: bool = Field(True, description="subtract the subset's mean latent before projecting")
    sign_reference: Literal["previous", "loadings"] = Field(
        "previous",
        description="'previous' aligns each epoch with the previous epoch's coordinates (see alignment; the "
                    "first epoch uses 'loadings'); 'loadings' never looks back: each direction's "
                    "largest-|loading| entry is made positive")
    alignment: Literal["procrustes", "signs"] = Field(
        "procrustes",
        description="how an epoch follows the previous one: 'procrustes' = the orthogonal rotation/reflection "
                    "(no scaling) that best matches the previous coordinates of the same points, which also "
                    "undoes axes that swap order; 'signs' = flip single axes only")
    basis: Literal["carry", "own"] = Field(
        "carry",
        description="'carry' (with alignment 'procrustes') keeps showing the previous map's latent directions, "
                    "re-fitted to this epoch's codes (the orthonormal map that agrees best with the previous "
                    "coordinates), turned toward this epoch's own principal axes only as far as needed to keep "
                    "min_variance_share of their variance; 'own' = always this epoch's principal axes, rotated "
                    "to match the previous epoch")
    min_variance_share: float = Field(
        0.9, gt=0, le=1, allow_inf_nan=False,
        description="with basis 'carry': the shown axes keep at least this fraction of the variance this epoch's "
                    "own principal axes keep (the carried map is pulled toward them until they do; when no pull "
                    "is enough the own axes are shown)")


def principal_axes(latents, dims: int, center: bool = True):
    """(mean, components (dims, d), explained_variance (dims,), total_variance) with the loadings sign rule."""
    import numpy as np

    x = np.asarray(latents, dtype=np.float64)
    n, d = x.shape
    mean = x.mean(0) if center and n else np.zeros(d)
    xc = x - mean
    cov = xc.T @ xc / max(n - 1, 1)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:dims]
    values = np.clip(values[order], 0.0, None)
    components = vectors[:, order].T  # (k, d), k = min(dims, d)
    components = components * loadings_signs(components)[:, None]
    if len(components) < dims:  # fewer latent dimensions than axes: zero axes
        pad = dims - len(components)
        components = np.vstack([components, np.zeros((pad, d))])
        values = np.concatenate([values, np.zeros(pad)])
    return mean, components, values, float(np.trace(cov))


def loadings_signs(components):
    """+1/-1 per row so that each row's largest-|value| entry is positive (first index on ties)."""
    import numpy as np

    if components.size == 0:
        return np.ones(len(components))
    biggest = components[np.arange(len(components)), np.argmax(np.abs(components), axis=1)]
    return np.where(biggest < 0, -1.0, 1.0)


def previous_signs(coords, init):
    """+1/-1 per axis so that each axis correlates non-negatively with the same axis of ``init``."""
    import numpy as np

    a = coords - coords.mean(0)
    b = np.asarray(init, dtype=np.float64)
    b = b - b.mean(0)
    return np.where((a * b).sum(0) < 0, -1.0, 1.0)


def procrustes_rotation(coords, init):
    """The orthogonal ``R`` (dims x dims) minimising ``||(coords - mean) @ R - (init - mean)||``:
    ``U @ Vt`` from the SVD of ``coords_c.T @ init_c`` (a rotation, or a reflection when that fits better)."""
    import numpy as np

    a = coords - coords.mean(0)
    b = np.asarray(init, dtype=np.float64)
    b = b - b.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    return u @ vt


def _alignment_record(rotation) -> dict:
    import math

    import numpy as np

    record = {"method": "procrustes", "reference": "the previous epoch's coordinates of the same points",
              "rotation": np.round(rotation, 6).tolist(), "reflection": bool(np.linalg.det(rotation) < 0)}
    if rotation.shape == (2, 2) and not record["reflection"]:
        record["angle_deg"] = round(math.degrees(math.atan2(rotation[0, 1], rotation[0, 0])), 3)
    return record


def _carry_record(rms_move: float) -> dict:
    return {"method": "carried", "reference": "the previous epoch's coordinates of the same points",
            "fit": "W (orthonormal columns) maximising tr(W^T (z - mean)^T previous) + pull/2 ||(z - mean) W||^2; "
                   "pull 0: W = U V^T from the SVD of (z - mean)^T previous",
            "rms_move": round(rms_move, 6)}


def fit(latents, dims: int, seed: int, options: PCAOptions | None = None, init=None, epoch: int | None = None,
        init_params: dict | None = None) -> Projection:
    import numpy as np

    options = options or PCAOptions()
    x = np.asarray(latents, dtype=np.float64)
    mean, principal, values, total = principal_axes(x, dims, options.center)
    own_share = float(values.sum() / total) if total > 0 else 0.0
    coords = raw = (x - mean) @ principal.T
    components = principal
    signs_from, alignment, carried, tried, pull = "loadings", {"method": "none"}, 0, None, None
    from_epoch = epoch
    if options.sign_reference == "previous" and init is not None and np.shape(init) == coords.shape:
        signs_from = "previous"
        if options.alignment == "procrustes":
            kept = carry(x - mean, init, total, options.min_variance_share * own_share) \
                if options.basis == "carry" else None
            if kept is not None and kept.w is not None:
                coords, components, pull = (x - mean) @ kept.w, kept.w.T, kept.pull
                tried = kept.plain_share if pull else None
                previous = np.asarray(init, dtype=np.float64)
                rms = float(np.sqrt(np.mean(np.sum((coords - (previous - previous.mean(0))) ** 2, axis=1))))
                alignment = _carry_record(rms)
                carried, from_epoch = lineage(init_params, epoch)
            else:
                rotation = procrustes_rotation(raw, init)
                coords, components = raw @ rotation, rotation.T @ principal
                alignment = _alignment_record(rotation)
                tried = kept.plain_share if kept is not None else None
        else:
            signs = previous_signs(raw, init)
            coords, components = raw * signs, principal * signs[:, None]
            alignment = {"method": "signs", "signs": signs.tolist()}
    ratio = (values / total).tolist() if total > 0 else [0.0] * dims
    axis_ratio, shown = shown_variance(coords, total)
    min_share = options.min_variance_share if options.basis == "carry" else None
    basis = basis_record("carried" if alignment["method"] == "carried" else "own", shown, own_share,
                         min_share, carried, pull, tried, from_epoch)
    return Projection(
        coords=coords,
        params={"n_components": dims, "center": options.center, "sign_reference": options.sign_reference,
                "signs_from": signs_from, "alignment": alignment, "basis": basis,
                "solver": "numpy.linalg.eigh(covariance)"},
        extra={"explained_variance": values.tolist(), "explained_variance_ratio": ratio,
               "axis_variance_ratio": axis_ratio,
               "components": np.round(components, 6).tolist(),
               "principal_components": np.round(principal, 6).tolist(), "mean": np.round(mean, 6).tolist()},
        linear=(components, mean),
    )


def restore(saved: dict) -> Projection:
    """A saved PCA file back as a projection, with its linear map (``components`` rows already carry
    the alignment the fit applied, so ``(z - mean) @ components.T`` reproduces ``coords``)."""
    import numpy as np

    components = np.asarray(saved["components"], dtype=np.float64)
    mean = np.asarray(saved["mean"], dtype=np.float64)
    coords = np.asarray(saved["coords"], dtype=np.float64)
    extra = {key: saved[key] for key in ("explained_variance", "explained_variance_ratio", "axis_variance_ratio",
                                         "components", "principal_components", "mean") if key in saved}
    return Projection(coords=coords, params=saved.get("params", {}), extra=extra, linear=(components, mean))


@hookimpl
def register_projections():
    return [ProjectionSpec(
        file_names={2: "latent_2d_{tag}.json"},  # the historical 2-D name (the 3-D file is latent_3d_{tag}_pca.json)
        name="pca", fit=fit, dims=(2, 3), options=PCAOptions, restore=restore,
        description="principal components of the latents (2-D and 3-D); later epochs keep the previous map's "
                    "axes (re-fitted to the moved codes) while they keep >= 90% of the variance the epoch's own "
                    "axes would, so the map moves only where the latent space does")]
