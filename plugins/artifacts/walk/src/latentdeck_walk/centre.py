"""Where a ``centre`` walk ends: the centre of a class or of a mixture component, in the walk's latent.

* ``class``: the mean latent (``encode(x)``) of that label's points in the run's visualization subset at
  that epoch — the points the map shows. Default target: the start digit's own label.
* ``component``: the prior mean ``mu_c`` of p(z|c) (models with the ``mixture_prior`` capability: the
  GM-VAE, whose forward pass returns ``prior_mu`` (K, d)). Default target: the start digit's most likely
  component, argmax q(c|x) (models with ``mixture``).

Each returns the centre (float64, (d,)) and the walk's ``to`` record, which says what the centre is.
"""

from __future__ import annotations

from typing import Any

from latentdeck.kit import OnDemandError


def class_centre(latents, labels, target: int | None, label_from: int, num_classes: int, epoch: int):
    """Mean of ``latents`` (n, d) over the rows whose label is ``target`` (default ``label_from``)."""
    import numpy as np

    chosen_by = "request" if target is not None else "the start digit's label"
    target = label_from if target is None else int(target)
    if target >= num_classes:
        raise OnDemandError(f"target {target} is not a class of this dataset: use 0..{num_classes - 1}", 422)
    labels = np.asarray(labels)
    members = labels == target
    n = int(members.sum())
    if n == 0:
        present = ", ".join(str(int(c)) for c in np.unique(labels))
        raise OnDemandError(f"class {target} has no points in the visualization subset ({len(labels)} points; classes "
                            f"present: {present}), so it has no centre there: choose another target", 422)
    centre = np.asarray(latents, dtype=np.float64)[members].mean(0)
    return centre, {"centre": "class", "target": target, "chosen_by": chosen_by, "n": n,
                    "text": f"the mean latent of the {n} points labelled {target} in the visualization subset at "
                            f"epoch {epoch}"}


def component_centre(loaded, x_from, target: int | None):
    """``prior_mu[target]`` of the model's mixture prior (default target: argmax q(c|x_from))."""
    import torch

    capabilities = set(loaded.model_spec.capabilities)
    model = loaded.config["model"]
    if "mixture_prior" not in capabilities:
        raise OnDemandError(f"model {model!r} has no mixture components (no mixture_prior capability: p(z|c) with a "
                            "prior mean per component), so there is no component centre: use centre: class", 422)
    with torch.no_grad():
        out = loaded.model(x_from)
    prior_mu = out["prior_mu"].detach().double()  # (K, d)
    k = int(prior_mu.shape[0])
    qc = out["qc"][0].double() if "mixture" in capabilities and "qc" in out else None
    if target is None and qc is None:
        raise OnDemandError(f"model {model!r} gives no q(c|x) to choose the start digit's component: name one with "
                            f"target (0..{k - 1})", 422)
    chosen_by = "request" if target is not None else "argmax q(c|x) of the start digit"
    target = int(qc.argmax()) if target is None else int(target)
    if target >= k:
        raise OnDemandError(f"target {target} is not a component: model {model!r} has {k} components, "
                            f"use 0..{k - 1}", 422)
    to: dict[str, Any] = {"centre": "component", "target": target, "chosen_by": chosen_by,
                          "q": round(float(qc[target]), 6) if qc is not None else None,
                          "text": f"the prior mean mu_c of component {target} (p(z|c) = N(mu_c, diag sigma_c^2)) at "
                                  f"epoch {loaded.epoch}"}
    return prior_mu[target].numpy(), to
