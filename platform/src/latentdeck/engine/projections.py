"""Projection artifacts: the host names, fills and scores every projection plugin's output the same way.

Files (``tag`` is ``epoch_<N>`` or ``latest``): ``projections/latent_<dims>d_<tag>_<method>.json``,
except PCA 2-D, which the specification names ``projections/latent_2d_<tag>.json``. Each holds the
points (dataset indices, labels, predictions where the model has them, coordinates), the method and its
parameters, per-axis bounds, ``compute_ms`` and the trustworthiness of the projection with respect to the
latent space (k = 15).

The per-point fields are numpy arrays in the payload, so the writer stores them in the array file beside
the JSON (:mod:`latentdeck.kit.arrays`): ``coords`` float32 (n, dims), ``indices`` int32, ``labels`` /
``predicted`` / ``component`` uint8 (uint16 when a value is above 255), ``split`` uint8 codes into the header's
``split_values`` and ``trained`` bool. :func:`read_projection` reads either format (old runs hold every field
inline in the JSON).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from ..kit.projection_file import ProjectionFile, Trustworthiness  # noqa: F401  (the file schema, public in the kit)
from ..kit.arrays import read_artifact

# Heavy imports (numpy and sklearn) sit inside the functions that use them, on purpose: importing this module stays cheap.

TRUSTWORTHINESS_K = 15
TRUSTWORTHINESS_MAX_N = 3000  # sklearn's score is O(n^2) in memory: score a seeded subset above this
SPLIT_VALUES = ("heldout", "train")  # a projection file's ``split`` codes index these (header ``split_values``)


def projection_template(spec, dims: int) -> str:
    """The file name template of a projection spec's ``dims``-D files, with a ``{tag}`` placeholder:
    the spec's own ``file_names[dims]`` when it gives one, else ``latent_<dims>d_{tag}_<name>.json``."""
    return spec.file_names.get(dims) or f"latent_{dims}d_{{tag}}_{spec.name}.json"


def trustworthiness(latents, coords, k: int = TRUSTWORTHINESS_K, seed: int = 0) -> dict[str, Any]:
    """sklearn's trustworthiness of ``coords`` w.r.t. ``latents`` (1 = neighbourhoods preserved)."""
    import numpy as np
    from sklearn.manifold import trustworthiness as score

    n = len(latents)
    if n <= k + 1:
        return {"k": k, "n": n, "value": None}
    idx = np.arange(n)
    if n > TRUSTWORTHINESS_MAX_N:
        idx = np.sort(np.random.default_rng(seed).choice(n, TRUSTWORTHINESS_MAX_N, replace=False))
    k_eff = min(k, (len(idx) - 1) // 2 - 1)
    return {"k": k_eff, "n": int(len(idx)), "value": float(score(latents[idx], coords[idx], n_neighbors=k_eff))}


def small_ints(values):
    """Class-like integers (labels, predictions, components) in the narrowest unsigned type that holds them:
    uint8, uint16 when a value is above 255, int32 beyond that or for a negative value."""
    import numpy as np

    array = np.asarray(values).astype(np.int64, copy=False).reshape(-1)
    low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
    dtype = np.uint8 if 0 <= low and high <= 255 else np.uint16 if 0 <= low and high <= 65535 else np.int32
    return array.astype(dtype)


def split_codes(split) -> Any:
    """Per point 'heldout' / 'train' as uint8 codes into :data:`SPLIT_VALUES`."""
    import numpy as np

    lookup = {name: code for code, name in enumerate(SPLIT_VALUES)}
    try:
        return np.array([lookup[str(s)] for s in split], dtype=np.uint8)
    except KeyError as exc:
        raise ValueError(f"a point's split is {exc.args[0]!r}; expected one of {', '.join(SPLIT_VALUES)}") from None


def point_arrays(*, coords, indices, labels, split=None, trained=None, predicted=None, component=None) -> dict[str, Any]:
    """The per-point fields of a projection file as the arrays it stores (dtypes in the module docstring);
    None fields are left out. ``split`` adds ``split_values`` (a list: it stays in the JSON header)."""
    import numpy as np

    out: dict[str, Any] = {"indices": np.asarray(indices, dtype=np.int64).reshape(-1).astype(np.int32),
                           "labels": small_ints(labels)}
    if split is not None:
        out["split"], out["split_values"] = split_codes(split), list(SPLIT_VALUES)
    if trained is not None:
        out["trained"] = np.asarray(trained, dtype=bool).reshape(-1)
    if predicted is not None:
        out["predicted"] = small_ints(predicted)
    if component is not None:
        out["component"] = small_ints(component)
    out["coords"] = np.asarray(coords, dtype=np.float32)
    return out


def projection_payload(*, method: str, dims: int, epoch: int, result, latents, viz, outputs: dict,
                       latent_name: str, compute_ms: float, seed: int) -> dict[str, Any]:
    import numpy as np

    coords = np.asarray(result.coords, dtype=np.float64)
    assert coords.shape == (len(latents), dims), f"{method} returned {coords.shape}, expected {(len(latents), dims)}"
    payload: dict[str, Any] = {
        "epoch": epoch, "method": method, "dims": dims, "n": int(len(coords)),
        "latent": latent_name, "latent_dim": int(latents.shape[1]),
    }
    with_split = getattr(viz, "split", None) is not None  # the subset includes training digits (config viz_split)
    payload.update(point_arrays(
        coords=coords, indices=list(viz.indices), labels=np.asarray(viz.y),
        split=viz.split if with_split else None, trained=viz.trained if with_split else None,
        predicted=outputs["logits"].argmax(1) if "logits" in outputs else None,
        component=outputs["qc"].argmax(1) if "qc" in outputs else None))
    payload.update(
        bounds=[[float(coords[:, a].min()), float(coords[:, a].max())] for a in range(dims)],
        params=dict(result.params), **(result.extra or {}),
        compute_ms=round(compute_ms, 2),
        trustworthiness=trustworthiness(latents, coords, seed=seed),
    )
    return payload


def fit_extras(fit: Callable[..., Any], epoch: int, init_params: dict[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments a projection's ``fit`` takes beyond the five every fit takes: ``epoch`` (the
    epoch being projected) and ``init_params`` (the ``params`` of the projection ``init`` came from), each
    only when ``fit`` names it (specs grow by adding arguments; older fits are called as before)."""
    try:
        names = inspect.signature(fit).parameters
    except (TypeError, ValueError):
        return {}
    offered = {"epoch": epoch, "init_params": init_params}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in names.values()):
        return offered
    return {k: v for k, v in offered.items() if k in names}


def previous_on_disk(run_dir, spec, dims: int, epoch: int):
    """``(coords, params)`` of the newest ``spec``/``dims`` projection file before ``epoch`` (None when there is
    none, or it cannot be read): a backfilled epoch is refitted from it as a live run would be."""
    import numpy as np

    for earlier in range(epoch - 1, 0, -1):
        path = Path(run_dir) / "projections" / projection_template(spec, dims).format(tag=f"epoch_{earlier}")
        if path.is_file():
            try:
                saved = read_projection(path, root=run_dir)
                return np.asarray(saved["coords"], dtype=np.float64), dict(saved.get("params") or {})
            except (OSError, ValueError, KeyError):
                return None
    return None


def read_projection(path, root=None) -> dict[str, Any]:
    """A projection file's fields with its arrays, old inline JSON or header plus array file
    (:func:`latentdeck.kit.read_artifact`); ``split`` comes back as 'heldout' / 'train' strings either way.
    ``root``: the run folder (no link followed inside it)."""
    saved = read_artifact(path, root=root)
    split = saved.get("split")
    if split is not None and hasattr(split, "dtype"):
        names = list(saved.get("split_values") or SPLIT_VALUES)
        saved["split"] = [names[int(code)] for code in split]
    return saved


def read_listed(path, root=None) -> dict[str, Any]:
    """Any JSON artifact as an old inline file holds it: :func:`read_projection` with every array a list
    (for callers that compare with JSON, such as the browser tests)."""
    saved = read_projection(path, root=root)
    return {k: v.tolist() if type(v).__module__ == "numpy" and hasattr(v, "tolist") else v for k, v in saved.items()}
