"""UMAP through latentdeck vs bare umap-learn, and projection quality (trustworthiness, k = 15).

(1) Host cost: the artifact engine's UMAP projection of 5,000 x 16 AE latents (2-D and 3-D fits via the
plugin, payload, trustworthiness, atomic files, events) divided by bare ``umap.UMAP(random_state=0,
n_components=d).fit_transform`` of the same latents for d = 2 and 3. Cold fits both (no previous
epoch). Alternating rounds; target ratio <= 1.15. numba is compiled first.
(4) Trustworthiness (k = 15) of UMAP 2-D and PCA 2-D of the trained AE's latents, as the host records
it (a seeded 3,000-point subset above 3,000 points) and on all 5,000 points. Goal for UMAP >= 0.95.

    .venv/bin/python bench/umap_cost.py [--rounds 3] [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="n_jobs value")

    import umap
    from sklearn.manifold import trustworthiness

    from latent_data import HostEngine, ae_latents, warm_numba

    data = ae_latents()
    last = max(data["per_epoch"])
    x = data["per_epoch"][last][: args.n]
    jit_s = warm_numba()

    host, bare, parts = [], [], []
    results = None
    for _ in range(args.rounds):
        engine = HostEngine(len(x), data["labels"], ["umap"])
        started = time.perf_counter()
        results = engine.project(x, epoch=1)
        host.append(time.perf_counter() - started)
        fits = [e["data"]["compute_ms"] for e in _events(engine) if e["type"] == "projection.progress"
                and e["data"].get("stage") == "done"]
        parts.append(sum(fits) / 1000)
        engine.close()
        started = time.perf_counter()
        for dims in (2, 3):
            umap.UMAP(n_components=dims, random_state=0).fit_transform(x)
        bare.append(time.perf_counter() - started)

    pca_engine = HostEngine(len(x), data["labels"], ["pca"])
    pca = pca_engine.project(x, epoch=1)["pca"]
    pca_engine.close()
    from latentdeck.engine.projections import trustworthiness as host_trust

    umap2, pca2 = results["umap"][2].coords, pca[2].coords
    ratios = [h / b for h, b in zip(host, bare)]
    print(json.dumps({
        "n": len(x), "dim": int(x.shape[1]), "latents": f"AE (latent_dim 16) after epoch {last} on mnist-5k",
        "rounds": args.rounds, "numba_warmup_s": round(jit_s, 1),
        "host_umap_2d_3d_s": [round(v, 2) for v in host], "bare_umap_2d_3d_s": [round(v, 2) for v in bare],
        "host_fit_only_s": [round(v, 2) for v in parts],
        "ratio_per_round": [round(r, 3) for r in ratios], "ratio_median": round(statistics.median(ratios), 3),
        "ratio_of_medians": round(statistics.median(host) / statistics.median(bare), 3), "target": 1.15,
        "trustworthiness_k15": {
            "umap_2d_host_3000": host_trust(x, umap2)["value"], "pca_2d_host_3000": host_trust(x, pca2)["value"],
            "umap_2d_all": round(float(trustworthiness(x, umap2, n_neighbors=15)), 4),
            "pca_2d_all": round(float(trustworthiness(x, pca2, n_neighbors=15)), 4),
            "umap_3d_host_3000": host_trust(x, results["umap"][3].coords)["value"],
            "pca_3d_host_3000": host_trust(x, pca[3].coords)["value"], "goal_umap_2d": 0.95},
    }, indent=1))
    return 0


def _events(engine):
    from latentdeck.store.events import read_events

    return list(read_events(engine.run_dir / "events.jsonl"))


if __name__ == "__main__":
    raise SystemExit(main())
