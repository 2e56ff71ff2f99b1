"""Data-driven initialisation of the mixture prior after autoencoder pretraining (``prior_init``).

Before epoch ``pretrain_epochs + 1`` (once), with the model in eval mode and no gradients:

1. encode a seeded random subset of at most ``prior_init_subset`` training images to mu of q(z|x);
2. cluster the codes into K groups: ``gmm`` fits a diagonal Gaussian mixture to mu; ``umap_gmm``
   first embeds mu with UMAP (5-D, 15 neighbours, min_dist 0) and fits a full-covariance Gaussian
   mixture there, so a group can follow a curved cluster of codes (as in N2D, McConville et al.
   2019); both use 3 restarts;
3. set p(z|c) to each group's statistics of mu: ``prior_mu[c]`` = mean, ``prior_logvar[c]`` = log of
   the per-dimension variance (at least 1e-3); a group with fewer than 2 members keeps its values;
4. with ``qc_source: "encoder"``, fit the q(c|x) head to the groups (300 full-batch Adam steps of
   cross-entropy on the frozen trunk features), so q(c|x) starts consistent with the new prior.

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


def _codes(model, images):
    import torch

    return torch.cat([model(images[start:start + CHUNK])["mu"] for start in range(0, len(images), CHUNK)])


def cluster_codes(codes, k: int, method: str, random_state: int):
    """Group labels (n,) for codes (n, d) (numpy float), by ``gmm`` or ``umap_gmm``."""
    from sklearn.mixture import GaussianMixture

    if method == "umap_gmm":
        import umap

        with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded UMAP is single-threaded
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            space = umap.UMAP(n_components=UMAP_DIMS, n_neighbors=UMAP_NEIGHBORS, min_dist=0.0,
                              random_state=random_state).fit_transform(codes)
        covariance = "full"
    else:
        space, covariance = codes, "diag"
    mixture = GaussianMixture(k, covariance_type=covariance, random_state=random_state, n_init=3)
    return mixture.fit(space).predict(space)


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
        labels = torch.as_tensor(cluster_codes(codes.double().numpy(), k, options.prior_init, random_state))
        sizes = torch.bincount(labels, minlength=k)
        with torch.no_grad():
            for c in range(k):
                members = codes[labels == c]
                if len(members) >= 2:
                    model.prior_mu[c] = members.mean(0)
                    model.prior_logvar[c] = members.var(0).clamp_min(1e-3).log()
        update: dict[str, Any] = {
            "action": "prior_init", "method": options.prior_init, "subset": len(x),
            "random_state": random_state, "group_sizes": sizes.tolist()}
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
    """Initialise the prior once, before epoch ``pretrain_epochs + 1`` (see the module docstring)."""
    if options.prior_init == "random" or schedule.epoch != options.pretrain_epochs + 1:
        return None
    return initialise_prior(options, model, images)
