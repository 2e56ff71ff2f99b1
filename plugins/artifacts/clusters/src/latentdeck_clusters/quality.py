"""The ``cluster_quality`` payload: how a model's components, and its classifier, agree with the digits.

Labels are used only to score and colour: the mixture's components come from ``argmax q(c|x)``, which
the GM-VAE learns without labels. Positions in ``cells`` are 0..n-1 in the visualization subset's order
(``config.json#/viz_indices``, then ``viz_train_indices``), the order of the projection files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .scores import best_matching, cells, confusion, matched_accuracy, matching_rows, normalized_mutual_info

SOURCE = "the visualization subset (config.json#/viz_indices)"
LABELS_NOTE = "Digit labels are used only to score and colour the components; the GM-VAE never sees them."


def cluster_quality(epoch: int, class_names: list[str], labels, qc=None, logits=None,
                    split: list[str] | None = None) -> dict[str, Any]:
    """The payload from per-point ``labels`` (n,) (None, or negative where unknown), responsibilities
    ``qc`` (n, K) and classifier ``logits`` (n, C); either may be None. ``split``: per point
    ``"heldout"`` | ``"train"`` (None: every point is held out); only held-out points score the classifier."""
    classes = len(class_names)
    n = _count(labels, qc, logits)
    payload: dict[str, Any] = {"epoch": epoch, "n": n, "classes": classes, "class_names": list(class_names),
                               "source": SOURCE}
    labels = None if labels is None else np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels is not None and labels.size and labels.max() >= classes:
        raise ValueError(f"label {int(labels.max())} is outside the dataset's {classes} classes "
                         f"({', '.join(class_names)})")
    labelled = np.zeros(n, dtype=bool) if labels is None else labels >= 0
    payload["labelled"] = int(labelled.sum())
    if not labelled.any():
        payload.update(mixture=None, classifier=None, component_matching=None, note=_no_labels_note(labels, qc, logits))
        return payload
    payload["mixture"] = None if qc is None else _mixture(np.asarray(qc), labels, labelled, classes)
    payload["classifier"] = None if logits is None else _classifier(np.asarray(logits), labels, labelled, classes, split)
    # the explorer's cluster-scores role reads the matching here (SPEC.md "Explorer roles"), by no name of this plugin
    payload["component_matching"] = None if payload["mixture"] is None else payload["mixture"]["matching"]
    if payload["mixture"] is not None:
        payload["mixture_accuracy"] = payload["mixture"]["accuracy"]
        payload["mixture_nmi"] = payload["mixture"]["nmi"]
    if payload["classifier"] is not None and payload["classifier"]["accuracy"] is not None:
        payload["classifier_accuracy"] = payload["classifier"]["accuracy"]
    if labelled.sum() < n:
        payload["unlabelled_note"] = (f"{n - int(labelled.sum())} of the {n} points have no label: they are left "
                                      "out of every score and cell.")
    return payload


def _mixture(qc: np.ndarray, labels: np.ndarray, labelled: np.ndarray, classes: int) -> dict[str, Any]:
    if qc.ndim != 2 or qc.shape[0] != labels.shape[0]:
        raise ValueError(f"q(c|x) must be (n, K) for the subset's {labels.shape[0]} points; got shape {qc.shape}")
    k = qc.shape[1]
    components = qc.argmax(1)[labelled]
    positions = np.flatnonzero(labelled)
    counts = confusion(components, labels[labelled], k, classes)
    matched = best_matching(counts)
    matching = matching_rows(counts, matched)
    out: dict[str, Any] = {
        "components": k, "accuracy": matched_accuracy(counts, matched), "nmi": normalized_mutual_info(counts),
        "matching": matching, "confusion": counts.tolist(),
        "cells": cells(components, labels[labelled], k, classes, positions),
        "labels_note": LABELS_NOTE,
    }
    unmatched = [row for row in matching if row["digit"] is None]
    if unmatched:
        out["unmatched_note"] = _unmatched_note(unmatched, k, classes)
    return out


def _unmatched_note(unmatched: list[dict[str, Any]], k: int, classes: int) -> str:
    names = ", ".join(f"c{row['component']}" for row in unmatched)
    points = sum(row["count"] for row in unmatched)
    why = []
    if k > classes:
        why.append(f"there are {k} components for {classes} digits, and each digit is matched to one component")
    if any(row["count"] == 0 for row in unmatched):
        why.append("an empty component is matched to no digit")
    if any(row["count"] > 0 for row in unmatched) and k <= classes:
        why.append("a component whose every point belongs to digits matched elsewhere keeps no digit")
    plural = "s" if len(unmatched) > 1 else ""
    return (f"Component{plural} {names} {'have' if plural else 'has'} no matched digit ({'; '.join(why)}). "
            f"Their {points} point{'s' if points != 1 else ''} count as wrong in the accuracy.")


def _classifier(logits: np.ndarray, labels: np.ndarray, labelled: np.ndarray, classes: int,
                split: list[str] | None) -> dict[str, Any]:
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0] or logits.shape[1] != classes:
        raise ValueError(f"classifier logits must be (n, {classes}) for the subset's {labels.shape[0]} points and the "
                         f"dataset's {classes} classes; got shape {logits.shape}")
    heldout = np.ones(labels.shape[0], dtype=bool) if split is None else np.array([s == "heldout" for s in split])
    if heldout.shape[0] != labels.shape[0]:
        raise ValueError(f"the split names {heldout.shape[0]} points, the subset has {labels.shape[0]}")
    scored = heldout & labelled
    predicted = logits.argmax(1)[scored]
    truth = labels[scored]
    counts = confusion(truth, predicted, classes, classes)
    n = int(scored.sum())
    out = {"split": "heldout", "n": n, "accuracy": float(np.trace(counts)) / n if n else None,
           "confusion": counts.tolist(), "cells": cells(truth, predicted, classes, classes, np.flatnonzero(scored))}
    if n == 0:
        out["note"] = ("The subset holds no labelled held-out digit (viz_split \"train\"?), and the classifier is scored "
                       "on held-out digits only: it trained on the others.")
    return out


def _no_labels_note(labels, qc, logits) -> str:
    what = " and ".join(x for x, present in (("the components", qc is not None), ("the classifier", logits is not None))
                        if present)
    missing = "has no labels" if labels is None or np.asarray(labels).size == 0 else "has only unknown labels (all negative)"
    return (f"The visualization subset {missing}, so {what or 'nothing'} cannot be scored: there is no accuracy, "
            "NMI or confusion matrix for this run.")


def _count(labels, qc, logits) -> int:
    for value in (qc, logits, labels):
        if value is not None:
            return int(np.asarray(value).shape[0])
    return 0
