"""The GM-VAE's loss components, each an unweighted batch mean, all analytic (no sampling).

With q(c|x) = softmax(qc_logits) over K components, q(z|x) = N(mu, diag(exp(logvar))) and the
learned prior p(z|c) = N(prior_mu[c], diag(exp(prior_logvar[c]))):

    kld_c            = KL(q(c|x) || uniform(K)) = sum_c q(c|x) (log q(c|x) + log K)
    kld_z            = E_{q(c|x)}[ KL(q(z|x) || p(z|c)) ] = sum_c q(c|x) KL(N(mu, s2) || N(mu_c, s2_c))
    qc_usage_entropy = H(mean over the batch of q(c|x)): how evenly the batch uses the components
"""

from __future__ import annotations

import math


def gaussian_kl(mu, logvar, prior_mu, prior_logvar):
    """KL(N(mu, diag e^logvar) || N(prior_mu[c], diag e^prior_logvar[c])) for every example and
    component: (b, d), (b, d), (K, d), (K, d) -> (b, K), in nats."""
    mu, logvar = mu.unsqueeze(1), logvar.unsqueeze(1)                      # (b, 1, d)
    ratio = (logvar.exp() + (mu - prior_mu).pow(2)) / prior_logvar.exp()   # (b, K, d)
    return 0.5 * (prior_logvar - logvar + ratio - 1).sum(-1)               # (b, K)


def kld_c(outputs, batch):
    """KL(q(c|x) || uniform(K)), averaged over the batch."""
    import torch.nn.functional as F

    log_q = F.log_softmax(outputs["qc_logits"], dim=1)  # (b, K)
    return (log_q.exp() * (log_q + math.log(log_q.shape[1]))).sum(1).mean()


def kld_z(outputs, batch):
    """E_{q(c|x)}[KL(q(z|x) || p(z|c))], the q(c|x)-weighted sum over components, batch mean."""
    kl = gaussian_kl(outputs["mu"], outputs["logvar"], outputs["prior_mu"], outputs["prior_logvar"])  # (b, K)
    return (outputs["qc"] * kl).sum(1).mean()


def qc_usage_entropy(outputs, batch):
    """Entropy (nats) of the batch's mean responsibilities: log K when every component is used
    equally, 0 when the whole batch goes to one. The entropy bonus subtracts it from the loss."""
    import torch

    p = outputs["qc"].mean(0)  # (K,)
    return -torch.special.xlogy(p, p).sum()
