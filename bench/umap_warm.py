"""Warm-started UMAP vs cold UMAP on consecutive-epoch latents (5,000 x 16 AE latents, 2-D).

For each pair of consecutive epochs (e, e+1): a cold fit of epoch e is the previous embedding; epoch
e+1 is fitted warm (the plugin: init = previous, warm_epochs) and cold (the plugin with
warm_start=false: spectral init, 500 epochs). Reports time warm / cold (target <= 0.5), the median
point displacement from epoch e to e+1 as a fraction of the plot span (both layouts centred and
scaled by their larger axis span, as a renderer fitting bounds would show them; for the cold fit also
after the best rotation/reflection, i.e. Procrustes, which favours cold), and trustworthiness
(k = 15, 3,000-point subset) of both. Then a small sweep of warm_epochs. numba is compiled first.

    .venv/bin/python bench/umap_warm.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings


def unit(coords):
    import numpy as np

    c = coords - (coords.max(0) + coords.min(0)) / 2
    return c / np.ptp(coords, axis=0).max()


def displacement(a, b, procrustes: bool = False) -> float:
    import numpy as np

    a, b = unit(a), unit(b)
    if procrustes:
        u, _, vt = np.linalg.svd(b.T @ a)
        b = b @ (u @ vt)
    return float(np.median(np.linalg.norm(a - b, axis=1)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--pairs", default="1-2,3-4")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="n_jobs value")

    from latent_data import ae_latents, warm_numba
    from latentdeck.engine.projections import trustworthiness
    from latentdeck_umap.plugin import UMAPOptions, fit

    data = ae_latents()
    jit_s = warm_numba()

    def timed_fit(x, options, init=None):
        started = time.perf_counter()
        result = fit(x, 2, 0, options, init)
        return result, time.perf_counter() - started

    pairs = []
    for pair in args.pairs.split(","):
        e0, e1 = (int(v) for v in pair.split("-"))
        x0, x1 = data["per_epoch"][e0][: args.n], data["per_epoch"][e1][: args.n]
        prev, _ = timed_fit(x0, UMAPOptions())
        warm, warm_s = timed_fit(x1, UMAPOptions(), prev.coords)
        cold, cold_s = timed_fit(x1, UMAPOptions(warm_start=False), prev.coords)
        assert warm.params["warm_start"] and not cold.params["warm_start"]
        pairs.append({
            "epochs": [e0, e1], "warm_s": round(warm_s, 2), "cold_s": round(cold_s, 2),
            "warm_over_cold": round(warm_s / cold_s, 3),
            "median_displacement_of_span": {
                "warm": round(displacement(prev.coords, warm.coords), 4),
                "cold": round(displacement(prev.coords, cold.coords), 4),
                "cold_after_procrustes": round(displacement(prev.coords, cold.coords, procrustes=True), 4)},
            "trustworthiness_k15": {"warm": round(trustworthiness(x1, warm.coords)["value"], 4),
                                    "cold": round(trustworthiness(x1, cold.coords)["value"], 4)},
        })
    e0, e1 = (int(v) for v in args.pairs.split(",")[-1].split("-"))
    x0, x1 = data["per_epoch"][e0][: args.n], data["per_epoch"][e1][: args.n]
    prev, _ = timed_fit(x0, UMAPOptions())
    sweep = []
    for epochs, lr in ((30, 0.5), (60, 0.5), (100, 0.5), (60, 1.0), (60, 0.25)):
        result, seconds = timed_fit(x1, UMAPOptions(warm_epochs=epochs, warm_learning_rate=lr), prev.coords)
        sweep.append({"warm_epochs": epochs, "warm_learning_rate": lr, "s": round(seconds, 2),
                      "displacement": round(displacement(prev.coords, result.coords), 4),
                      "trustworthiness": round(trustworthiness(x1, result.coords)["value"], 4)})
    print(json.dumps({"n": args.n, "numba_warmup_s": round(jit_s, 1), "defaults": UMAPOptions().model_dump(),
                      "pairs": pairs, "target_warm_over_cold": 0.5, "warm_sweep": sweep}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
