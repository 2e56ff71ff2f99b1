"""Data-driven initialisation of the mixture prior after autoencoder pretraining (``prior_init``).

Before epoch ``pretrain_epochs + 1`` (once), with the model in eval mode and no gradients:

1. encode a seeded random subset of at most ``prior_init_subset`` training images to mu of q(z|x);
2. cluster the codes into K groups: ``gmm`` fits a diagonal Gaussian mixture to mu; ``umap_gmm``
   first embeds mu with UMAP (5-D, 15 neighbours, min_dist 0) and fits a full-covariance Gaussian
   mixture there, so a group can follow a curved cluster of codes (as in N2D, McConville et al.
   2019); each mixture keeps the best of 10 restarts; with ``prior_init_embeddings`` E > 1, E UMAP
   embeddings are clustered and the consensus partition (highest mean NMI to the others) is kept;
3. set p(z|c) to each group's statistics of mu: ``prior_mu[c]`` = mean, ``prior_logvar[c]`` = log of
   the per-dimension variance (at least 1e-3); a group with fewer than 2 members keeps its values;
4. with ``qc_source: "encoder"``, fit the q(c|x) head to the groups (300 full-batch Adam steps of
   cross-entropy on the frozen trunk features), so q(c|x) starts consistent with the new prior.

5. with ``qc_hold_epochs`` H > 0, epochs P + 1 .. P + H keep the loss but stop its gradient through
   q(c|x) (``model.hold_qc``; the values are unchanged): kld_z then only moves the codes and the
   prior, gathering each initial cluster around its component, and the assignments are free again
   from epoch P + H + 1 (a ``qc_released`` update); with ``qc_hold_to_end`` the hold lasts from
   epoch P + 1 to the last epoch and nothing is released (the head keeps the assignments the init
   taught it, read from a trunk that keeps training; the release otherwise trades 4-5 points of
   test accuracy for a lower kld_c, see the README).

No labels are used. The random states come from torch's generator, which the run seed fixes, so
the result is deterministic for a seed. The loss itself never changes: after this step training
follows ``recon + kld_weight * (kld_c + kld_z)`` with the schedules' weights.
"""

from __future__ import annotations

import warnings
from typing import Any

CHUNK = 1000
HEAD_STEPS = 300
UMAP_DIMS, UMAP_NEIGHBORS = 5, 15
RESTARTS = 10  # Gaussian-mixture restarts (the best likelihood wins)


def _codes(model, images):
    import torch

    return torch.cat([model(images[start:start + CHUNK])["mu"] for start in range(0, len(images), CHUNK)])


def _gmm_labels(space, k: int, covariance: str, random_state: int):
    from sklearn.mixture import GaussianMixture

    mixture = GaussianMixture(k, covariance_type=covariance, random_state=random_state, n_init=RESTARTS)
    return mixture.fit(space).predict(space)


def _umap(codes, random_state: int):
    import umap

    with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded UMAP is single-threaded
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        return umap.UMAP(n_components=UMAP_DIMS, n_neighbors=UMAP_NEIGHBORS, min_dist=0.0,
                         random_state=random_state).fit_transform(codes)


def consensus_choice(partitions) -> tuple[int, list[float]]:
    """The partition that agrees most with the others: the index maximising its mean NMI to the rest,
    and every partition's mean NMI (a single partition is its own choice)."""
    from sklearn.metrics import normalized_mutual_info_score

    if len(partitions) == 1:
        return 0, [1.0]
    scores = [sum(normalized_mutual_info_score(a, b) for j, b in enumerate(partitions) if j != i) / (len(partitions) - 1)
              for i, a in enumerate(partitions)]
    return max(range(len(scores)), key=lambda i: (scores[i], -i)), scores


def cluster_codes(codes, k: int, method: str, random_state: int, embeddings: int = 1) -> tuple[Any, dict[str, Any]]:
    """Group labels (n,) for codes (n, d) (numpy float) by ``gmm`` or ``umap_gmm``, and what was done.

    ``umap_gmm`` with ``embeddings`` E > 1 clusters E UMAP embeddings (random states ``random_state + e``)
    and keeps the consensus partition (:func:`consensus_choice`): UMAP's layout varies with its seed,
    and the partition the others agree with most is the least likely to have merged two clusters.
    """
    if method != "umap_gmm":
        return _gmm_labels(codes, k, "diag", random_state), {}
    partitions = [_gmm_labels(_umap(codes, random_state + e), k, "full", random_state + e) for e in range(embeddings)]
    chosen, scores = consensus_choice(partitions)
    return partitions[chosen], {"embeddings": embeddings, "chosen_embedding": chosen,
                                "consensus_nmi": [round(v, 4) for v in scores]}


def initialise_prior(options, model, images) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    k = options.num_components
    random_state = int(torch.randint(0, 2**31 - 1, (1,)))
    subset = torch.randperm(len(images))[:options.prior_init_subset].sort().values
    x = images[subset]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            codes = _codes(model, x)                                            # (n, d)
        # clustered on the CPU (numpy, sklearn); the labels go back to the device the model trains on
        grouped, how = cluster_codes(codes.double().cpu().numpy(), k, options.prior_init, random_state,
                                     options.prior_init_embeddings)
        labels = torch.as_tensor(grouped, device=codes.device)
        sizes = torch.bincount(labels, minlength=k)
        with torch.no_grad():
            for c in range(k):
                members = codes[labels == c]
                if len(members) >= 2:
                    model.prior_mu[c] = members.mean(0)
                    model.prior_logvar[c] = members.var(0).clamp_min(1e-3).log()
        update: dict[str, Any] = {
            "action": "prior_init", "method": options.prior_init, "subset": len(x),
            "random_state": random_state, "group_sizes": sizes.tolist(), **how}
        if options.qc_source == "encoder":
            with torch.no_grad():
                features = torch.cat([model.trunk(x[s:s + CHUNK]) for s in range(0, len(x), CHUNK)])
            head_optimizer = torch.optim.Adam(model.qc_head.parameters(), lr=1e-3)
            with torch.enable_grad():
                for _ in range(HEAD_STEPS):
                    loss = F.cross_entropy(model.qc_head(features), labels)
                    head_optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    head_optimizer.step()
            with torch.no_grad():
                update["head_agreement"] = float((model.qc_head(features).argmax(1) == labels).double().mean())
        return update
    finally:
        model.train(was_training)


def before_epoch(options, schedule, model, images) -> dict[str, Any] | None:
    """Initialise the prior once, before epoch P + 1 (P = ``pretrain_epochs``), and hold q(c|x) in
    epochs P + 1 .. P + ``qc_hold_epochs`` (see the module docstring)."""
    if options.prior_init == "random":
        return None
    start = options.pretrain_epochs + 1
    if options.qc_hold_to_end:
        model.hold_qc = schedule.epoch >= start
    else:
        model.hold_qc = start <= schedule.epoch < start + options.qc_hold_epochs
    if schedule.epoch == start:
        update = {**initialise_prior(options, model, images), "qc_held": model.hold_qc}
        return {**update, "text": _init_text(options, schedule, update)}
    if options.qc_hold_epochs and schedule.epoch == start + options.qc_hold_epochs:
        return {"action": "qc_released", "qc_held": False,
                "text": "q(c|x) released: from this epoch the loss moves the assignments again"}
    return None


def _init_text(options, schedule, update: dict[str, Any]) -> str:
    """The ``model.update`` sentence for people (the run page shows it beside the charts)."""
    sizes = update["group_sizes"]
    how = "a Gaussian mixture on a UMAP of the codes" if options.prior_init == "umap_gmm" else "a Gaussian mixture"
    plural = "s" if options.pretrain_epochs != 1 else ""
    text = (f"after {options.pretrain_epochs} autoencoder epoch{plural}, each p(z|c) starts at one of {len(sizes)} "
            f"clusters of the codes ({how}; {min(sizes)}–{max(sizes)} of {update['subset']} digits each, "
            "no labels used)")
    if options.qc_hold_to_end:
        return text + "; q(c|x) is held from here to the last epoch (no gradient through it, same loss)"
    if options.qc_hold_epochs:
        last = schedule.epoch + options.qc_hold_epochs - 1
        return text + f"; q(c|x) is held until epoch {last} (no gradient through it, same loss)"
    return text
