"""kNN in latent space: the knn plugin's index vs scikit-learn, on 10,000 x 16 AE latents.

Latents: the 10,000 real MNIST test digits encoded by the AE trained on mnist-5k (bench/latent_data.py).
Target: k = 15 in <= 0.5 s with the plugin's method (NNDescent above 4,096 points). Reports medians of
several rounds, recall@15 against the exact answer, and what the artifact's ``auto`` picks at the
default subset sizes. numba is compiled before anything is timed.

    .venv/bin/python bench/knn.py [--rounds 5] [--k 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def timed(fn, rounds: int):
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=15)
    args = parser.parse_args()

    import numpy as np
    from sklearn.neighbors import BallTree, KDTree, NearestNeighbors

    from latent_data import ae_latents, warm_numba
    from latentdeck_knn.plugin import latent_neighbors

    x = ae_latents()["t10k"]
    k = args.k
    jit_s = warm_numba()
    latent_neighbors(x[:4500], k, index="nndescent")  # the plugin's exact call, compiled

    exact_nb = KDTree(x).query(x, k=k + 1)[1]
    exact_sets = [set(row) - {i} for i, row in enumerate(exact_nb)]

    def recall(neighbors) -> float:
        return float(np.mean([len(set(row) & exact_sets[i]) / k for i, row in enumerate(neighbors)]))

    rows = {}
    candidates = {
        "plugin_nndescent": lambda: latent_neighbors(x, k, index="nndescent")[0],
        "plugin_kd_tree": lambda: latent_neighbors(x, k, index="kd_tree")[0],
        "sklearn_kd_tree": lambda: KDTree(x).query(x, k=k + 1)[1],
        "sklearn_ball_tree": lambda: BallTree(x).query(x, k=k + 1)[1],
        "sklearn_brute_chunked": lambda: NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x).kneighbors(x)[1],
    }
    for name, fn in candidates.items():
        median, best, nb = timed(fn, args.rounds)
        nb = np.asarray(nb)
        if nb.shape[1] == k + 1:
            nb = [[j for j in row if j != i][:k] for i, row in enumerate(nb)]
        rows[name] = {"median_s": round(median, 3), "min_s": round(best, 3), "recall": round(recall(nb), 4)}
    small = {}
    for n in (512, 4096):
        median, _, _ = timed(lambda: latent_neighbors(x[:n], k), args.rounds)
        small[n] = {"auto": "kd_tree" if n <= 4096 else "nndescent", "median_s": round(median, 4)}
    plugin = rows["plugin_nndescent"]["median_s"]
    print(json.dumps({
        "n": len(x), "dim": int(x.shape[1]), "k": k, "rounds": args.rounds, "numba_warmup_s": round(jit_s, 1),
        "methods": rows, "target_s": 0.5, "plugin_meets_target": plugin <= 0.5,
        "sklearn_kd_tree_over_plugin": round(rows["sklearn_kd_tree"]["median_s"] / plugin, 2),
        "auto_at_subset_sizes": small,
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
