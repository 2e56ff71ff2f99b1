"""PCA of the visualization subset's latents, 2-D and 3-D, with a sign convention.

An eigenvector's sign is arbitrary: a plain SVD/eigh can mirror an axis from one epoch to the next
although the latent space barely moved. The sign of each axis is therefore fixed by a documented rule
(``params.signs_from`` records which one applied):

1. ``previous`` — when ``init`` (the previous epoch's coordinates of the same points for this
   ``dims``) is given with the right shape and ``sign_reference`` is ``"previous"`` (the default), axis
   ``a`` is flipped when its coordinates correlate negatively with the previous epoch's axis ``a``
   (``sum(coords[:, a] * init[:, a]) < 0``, both centred). Points then keep their side of the plot
   from one epoch to the next.
2. ``loadings`` — otherwise (the first epoch, or ``sign_reference="loadings"``) each principal
   direction's entry of largest absolute value is made positive (the lowest latent index wins a tie).
   This depends on the latents alone, so it is reproducible without any history.

The projection is the exact linear map ``coords = (z - mean) @ components.T`` (``components`` with
the signs applied); it is returned as ``Projection.linear`` and persisted in the file, so artifacts can
place new latent points (model samples, Gaussians in closed form) even after a reload from disk.

Explained variance uses ``n - 1`` in the denominator (like scikit-learn); the ratio is over the total
variance of all latent dimensions. Latents with fewer dimensions than ``dims`` get zero axes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import Projection, ProjectionSpec, hookimpl


class PCAOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    center: bool = Field(True, description="subtract the subset's mean latent before projecting")
    sign_reference: Literal["previous", "loadings"] = Field(
        "previous",
        description="how axis signs are fixed: 'previous' aligns each axis with the previous epoch's axis "
                    "(falling back to 'loadings' on the first epoch); 'loadings' makes each direction's "
                    "largest-|loading| entry positive")


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


def fit(latents, dims: int, seed: int, options: PCAOptions | None = None, init=None) -> Projection:
    import numpy as np

    options = options or PCAOptions()
    mean, components, values, total = principal_axes(latents, dims, options.center)
    coords = (np.asarray(latents, dtype=np.float64) - mean) @ components.T
    signs_from = "loadings"
    if options.sign_reference == "previous" and init is not None and np.shape(init) == coords.shape:
        signs = previous_signs(coords, init)
        coords, components = coords * signs, components * signs[:, None]
        signs_from = "previous"
    ratio = (values / total).tolist() if total > 0 else [0.0] * dims
    return Projection(
        coords=coords,
        params={"n_components": dims, "center": options.center, "sign_reference": options.sign_reference,
                "signs_from": signs_from, "solver": "numpy.linalg.eigh(covariance)"},
        extra={"explained_variance": values.tolist(), "explained_variance_ratio": ratio,
               "components": np.round(components, 6).tolist(), "mean": np.round(mean, 6).tolist()},
        linear=(components, mean),
    )


def restore(saved: dict) -> Projection:
    """A saved PCA file back as a projection, with its linear map (``components`` rows already carry
    the signs the fit applied, so ``(z - mean) @ components.T`` reproduces ``coords``)."""
    import numpy as np

    components = np.asarray(saved["components"], dtype=np.float64)
    mean = np.asarray(saved["mean"], dtype=np.float64)
    extra = {key: saved[key] for key in ("explained_variance", "explained_variance_ratio", "components", "mean")
             if key in saved}
    return Projection(coords=np.asarray(saved["coords"], dtype=np.float64), params=saved.get("params", {}),
                      extra=extra, linear=(components, mean))


@hookimpl
def register_projections():
    return [ProjectionSpec(
        name="pca", fit=fit, dims=(2, 3), options=PCAOptions, restore=restore,
        description="principal components of the latents (2-D and 3-D); axis signs stay put between epochs")]
