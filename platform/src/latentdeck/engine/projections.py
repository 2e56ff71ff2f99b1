"""Projection artifacts: the host names, fills and scores every projection plugin's output the same way.

Files (``tag`` is ``epoch_<N>`` or ``latest``): ``projections/latent_<dims>d_<tag>_<method>.json``,
except PCA 2-D, which the specification names ``projections/latent_2d_<tag>.json``. Each holds the
points (dataset indices, labels, predictions where the model has them, coordinates), the method and its
parameters, per-axis bounds, ``compute_ms`` and the trustworthiness of the projection with respect to the
latent space (k = 15).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

from ..kit.projection_file import ProjectionFile, Trustworthiness  # noqa: F401  (the file schema, public in the kit)
from ..kit.atomic import read_json

# Heavy imports (numpy and sklearn) sit inside the functions that use them, on purpose: importing this module stays cheap.

TRUSTWORTHINESS_K = 15
TRUSTWORTHINESS_MAX_N = 3000  # sklearn's score is O(n^2) in memory: score a seeded subset above this


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


def projection_payload(*, method: str, dims: int, epoch: int, result, latents, viz, outputs: dict,
                       latent_name: str, compute_ms: float, seed: int) -> dict[str, Any]:
    import numpy as np

    coords = np.asarray(result.coords, dtype=np.float64)
    assert coords.shape == (len(latents), dims), f"{method} returned {coords.shape}, expected {(len(latents), dims)}"
    payload: dict[str, Any] = {
        "epoch": epoch, "method": method, "dims": dims, "n": int(len(coords)),
        "latent": latent_name, "latent_dim": int(latents.shape[1]),
        "indices": list(viz.indices), "labels": viz.y.tolist(),
    }
    if getattr(viz, "split", None) is not None:  # the subset includes training digits (config viz_split)
        payload["split"], payload["trained"] = list(viz.split), list(viz.trained)
    if "logits" in outputs:
        payload["predicted"] = outputs["logits"].argmax(1).tolist()
    if "qc" in outputs:
        payload["component"] = outputs["qc"].argmax(1).tolist()
    payload.update(
        coords=np.round(coords, 6).tolist(),
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
                saved = read_json(path, root=run_dir)  # no link followed inside the run
                return np.asarray(saved["coords"], dtype=np.float64), dict(saved.get("params") or {})
            except (OSError, ValueError, KeyError):
                return None
    return None
