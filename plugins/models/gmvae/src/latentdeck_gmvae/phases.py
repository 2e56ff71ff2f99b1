"""The phases of a GM-VAE run, as the options set them (``ModelSpec.phases``); epochs count from 1.

- ``pretraining`` (span 1..P, with ``pretrain_epochs`` P > 0): the reconstruction alone; kld_c and
  kld_z are weighted 0, so the components and the prior are not in use yet.
- ``prior_init`` (moment before epoch P + 1, with ``prior_init`` not ``random``): p(z|c) starts from
  clusters of the pretrained codes.
- ``qc_held`` (span P + 1 .. P + H, or to the last epoch with ``qc_hold_to_end``): q(c|x) gets no
  gradient from the loss; the codes gather around the components.
- ``kld_c_anneal`` (span 1..W with ``categorical_kl_anneal``): kld_c's schedule weight ramps up.
- ``entropy_bonus`` (span 1..W with ``entropy_bonus_enable`` and a weight above 0): the usage-entropy bonus
  decays to 0.
"""

from __future__ import annotations

from typing import Any


def phases(options, epochs: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    p = options.pretrain_epochs
    if p > 0:
        after = ("the prior is then initialised from clusters of the codes"
                 if options.prior_init != "random" else "the KL terms switch on after it")
        out.append({"name": "pretraining", "label": "pretraining (recon only)", "kind": "span", "start": 1, "end": p,
                    "text": f"Epochs 1-{p} train the reconstruction alone (kld_c and kld_z weighted 0): the mixture "
                            f"components and the prior are not in use yet; {after} before epoch {p + 1}."})
    if options.prior_init != "random" and p > 0:
        how = "a GMM on a 5-D UMAP of the codes" if options.prior_init == "umap_gmm" else "a diagonal GMM on the codes"
        out.append({"name": "prior_init", "label": "prior initialised", "kind": "moment", "start": p + 1, "end": p + 1,
                    "text": f"Before epoch {p + 1} the prior p(z|c) starts from clusters of the pretrained codes "
                            f"({how}); the loss jumps because the KL terms switch on here."})
        held = epochs if options.qc_hold_to_end else p + options.qc_hold_epochs
        if held > p:
            until = "the last epoch" if options.qc_hold_to_end else f"epoch {held}"
            out.append({"name": "qc_held", "label": "q(c|x) held", "kind": "span", "start": p + 1, "end": held,
                        "text": f"From epoch {p + 1} to {until} q(c|x) gets no gradient from the loss (its value is "
                                "unchanged): the codes gather around the components the init found."
                                + ("" if options.qc_hold_to_end else f" It is released from epoch {held + 1}.")})
    if options.categorical_kl_anneal:
        w = options.categorical_kl_anneal_epochs
        out.append({"name": "kld_c_anneal", "label": "kld_c annealed", "kind": "span", "start": 1, "end": w,
                    "text": f"Epochs 1-{w}: kld_c's weight ramps from 0 to {options.categorical_kl_max_weight:g}."})
    if options.entropy_bonus_enable and options.entropy_bonus_weight > 0:  # a bonus of weight 0 changes nothing
        w = options.entropy_bonus_epochs
        out.append({"name": "entropy_bonus", "label": "entropy bonus", "kind": "span", "start": 1, "end": w,
                    "text": f"Epochs 1-{w}: a bonus for using every component (weight {options.entropy_bonus_weight:g} "
                            "decaying to 0) keeps the mixture from collapsing early."})
    return out
