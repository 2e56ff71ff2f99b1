"""What each density grid says about itself for the explorer (SPEC.md "Explorer roles", overlay fields):
its ``label``, the ``scale`` it is drawn on, the ``reading`` (how to read its colours), the words at the
scale's ``ends`` and the ``notes`` on how it was computed. The explorer draws any overlay from these fields
and knows no family of this plugin."""

from __future__ import annotations

from typing import Any

LABELS = {
    "posterior": "posterior density",
    "prior": "prior (uniform)",
    "prior_empirical": "prior (empirical)",
    "posterior_minus_prior": "posterior − prior (difference)",
}
READINGS = {
    "posterior": "Where the model puts the codes of real digits: greener = more codes (the aggregate posterior).",
    "prior": "Where the model's prior p(z) puts its mass, every component weighted equally: greener = likely "
             "under the prior.",
    "prior_empirical": "The prior with each component weighted by how much the data uses it (mean q(c|x)).",
    "posterior_minus_prior": (
        "Posterior density minus the prior's (components weighted equally), cell by cell. Green: the codes of "
        "real digits are denser than the prior expects. Grey: the prior puts mass where few codes are (samples "
        "from there decode to digits the model rarely encodes). Nothing drawn: they agree."),
}
CODES_READING = ("Where this model's codes of real digits lie: greener = more codes. It has no prior, so there is "
                 "nothing to compare.")
DIFFERENCE_ENDS = ("prior", "codes")  # negative: the prior's mass few codes use; positive: the codes'


def _number(value: float) -> str:
    """Three significant digits, as the explorer prints numbers."""
    a = abs(value)
    return f"{value:.2e}" if a and (a < 1e-3 or a >= 1e4) else f"{value:.3g}"


def estimator_note(estimator: str, estimator_text: str, bandwidth: Any = None) -> str:
    """``"<estimator>: <how>"``, with the kernel width when a KDE chose one."""
    note = f"{estimator}: {estimator_text}"
    if isinstance(bandwidth, (list, tuple)) and bandwidth:
        note += f" Kernel width {_number(float(bandwidth[0]))} (map units), chosen from the codes."
    return note


def describe_family(family: str, estimator: str, estimator_text: str, bandwidth: Any = None) -> dict[str, Any]:
    """The self-description of a posterior or prior grid: a non-negative density (``scale: sequential``)."""
    reading = CODES_READING if family == "posterior" and estimator == "kde_codes" else READINGS[family]
    return {"label": LABELS[family], "scale": "sequential", "reading": reading,
            "notes": [estimator_note(estimator, estimator_text, bandwidth)]}


def describe_difference(estimator: str) -> dict[str, Any]:
    """The self-description of the signed posterior − prior grid (``scale: signed``)."""
    same = ("Both are the model's own Gaussians pushed exactly through the projection, so the difference is the "
            "model's, not the drawing's." if estimator == "exact_pushforward" else
            f"Both are estimated the same way ({estimator}, one kernel width), so the difference is the model's, "
            "not the smoothing's.")
    return {"label": LABELS["posterior_minus_prior"], "scale": "signed", "reading": READINGS["posterior_minus_prior"],
            "ends": list(DIFFERENCE_ENDS), "notes": [same]}
