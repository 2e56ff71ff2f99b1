"""The cluster_quality payload from hand-made responsibilities, logits and labels."""

from __future__ import annotations

import numpy as np
import pytest

from latentdeck_clusters.quality import LABELS_NOTE, cluster_quality

NAMES = [str(i) for i in range(3)]


def one_hot(rows, k):
    return np.eye(k)[np.asarray(rows)] * 0.8 + 0.2 / k  # argmax is the row, softened


def test_a_mixture_payload_by_hand():
    labels = [0, 0, 0, 1, 1, 2, 2, 2]
    components = [2, 2, 0, 1, 1, 0, 0, 3]  # c2 -> 0 (2 of 2), c1 -> 1 (2 of 2), c0 -> 2 (2 of 3), c3 unmatched
    payload = cluster_quality(5, NAMES, labels, qc=one_hot(components, 4))
    mixture = payload["mixture"]
    assert (payload["epoch"], payload["n"], payload["classes"], payload["class_names"]) == (5, 8, 3, NAMES)
    assert mixture["components"] == 4 and mixture["accuracy"] == pytest.approx(6 / 8)
    assert payload["mixture_accuracy"] == mixture["accuracy"] and payload["mixture_nmi"] == mixture["nmi"]
    assert [row["digit"] for row in mixture["matching"]] == [2, 1, 0, None]
    # the explorer's cluster-scores role reads the same rows from a field named after no plugin
    assert payload["component_matching"] == mixture["matching"]
    assert mixture["matching"][0] == {"component": 0, "digit": 2, "count": 3, "correct": 2, "purity": pytest.approx(2 / 3)}
    assert mixture["confusion"] == [[1, 0, 2], [0, 2, 0], [2, 0, 0], [0, 0, 1]]
    assert mixture["cells"][0] == [[2], [], [5, 6]] and mixture["cells"][3] == [[], [], [7]]
    assert mixture["labels_note"] == LABELS_NOTE
    assert "c3" in mixture["unmatched_note"] and "4 components for 3 digits" in mixture["unmatched_note"]
    assert "1 point count as wrong" in mixture["unmatched_note"]
    assert payload["classifier"] is None and "classifier_accuracy" not in payload and "note" not in payload


def test_every_component_matched_has_no_unmatched_note():
    payload = cluster_quality(1, NAMES, [0, 1, 2, 2], qc=one_hot([1, 2, 0, 0], 3))
    assert payload["mixture_accuracy"] == 1.0 and payload["mixture_nmi"] == pytest.approx(1.0)
    assert "unmatched_note" not in payload["mixture"]


def test_the_classifier_is_scored_on_held_out_points_only_with_subset_positions():
    labels = [0, 1, 2, 2, 1, 0]
    predicted = [0, 2, 2, 1, 1, 1]
    split = ["heldout", "heldout", "heldout", "heldout", "train", "train"]
    payload = cluster_quality(3, NAMES, labels, logits=one_hot(predicted, 3), split=split)
    classifier = payload["classifier"]
    assert classifier["split"] == "heldout" and classifier["n"] == 4
    assert classifier["accuracy"] == payload["classifier_accuracy"] == pytest.approx(2 / 4)
    assert classifier["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]  # rows: true digit, columns: predicted
    assert classifier["cells"][1][2] == [1] and classifier["cells"][2][1] == [3] and classifier["cells"][2][2] == [2]
    assert payload["mixture"] is None and "mixture_accuracy" not in payload
    everything = cluster_quality(3, NAMES, labels, logits=one_hot(predicted, 3), split=None)["classifier"]
    assert everything["n"] == 6 and everything["cells"][0][1] == [5]
    assert "note" not in everything
    trained_only = cluster_quality(3, NAMES, labels, logits=one_hot(predicted, 3), split=["train"] * 6)
    assert trained_only["classifier"]["n"] == 0 and trained_only["classifier"]["accuracy"] is None
    assert "held-out digits only" in trained_only["classifier"]["note"] and "classifier_accuracy" not in trained_only


@pytest.mark.parametrize("labels,why", [(None, "has no labels"), ([-1] * 4, "only unknown labels")])
def test_without_labels_nothing_is_scored_and_a_note_says_why(labels, why):
    payload = cluster_quality(2, NAMES, labels, qc=one_hot([0, 1, 2, 0], 3), logits=one_hot([0, 1, 2, 0], 3))
    assert payload["mixture"] is None and payload["classifier"] is None and payload["n"] == 4
    assert payload["component_matching"] is None
    assert why in payload["note"] and "the components and the classifier cannot be scored" in payload["note"]
    assert not {"mixture_accuracy", "mixture_nmi", "classifier_accuracy"} & set(payload)


def test_unlabelled_points_are_left_out_and_said_so():
    payload = cluster_quality(1, NAMES, [0, -1, 1, 2], qc=one_hot([0, 0, 1, 2], 3))
    assert payload["labelled"] == 3 and payload["mixture_accuracy"] == 1.0
    assert sum(map(sum, payload["mixture"]["confusion"])) == 3 and payload["mixture"]["cells"][0][0] == [0]
    assert "1 of the 4 points have no label" in payload["unlabelled_note"]


def test_bad_shapes_and_labels_are_named():
    with pytest.raises(ValueError, match="label 3 is outside the dataset's 3 classes"):
        cluster_quality(1, NAMES, [0, 3], qc=one_hot([0, 1], 2))
    with pytest.raises(ValueError, match=r"logits must be \(n, 3\)"):
        cluster_quality(1, NAMES, [0, 1], logits=np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"q\(c\|x\) must be \(n, K\)"):
        cluster_quality(1, NAMES, [0, 1, 2], qc=np.zeros((2, 5)))


def test_a_classifier_alone_has_no_component_matching():
    payload = cluster_quality(1, NAMES, [0, 1, 2], logits=one_hot([0, 1, 2], 3))
    assert payload["classifier"]["accuracy"] == 1.0 and payload["component_matching"] is None
