"""The scoring arithmetic: Hungarian matching and accuracy by hand, NMI against scikit-learn, cells."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from latentdeck_clusters.scores import (
    best_matching, cells, confusion, matched_accuracy, matching_rows, normalized_mutual_info)


def test_the_matching_maximises_the_total_where_a_greedy_one_does_not():
    counts = np.array([[5, 4, 0],
                       [4, 0, 0],
                       [0, 0, 3]])
    # greedy (each component its largest digit, first come first served): c0->0 (5), c1 -> nothing it holds, c2->2 (3) = 8
    # best one-to-one: c0->1 (4) + c1->0 (4) + c2->2 (3) = 11 of 16 points
    assert best_matching(counts) == [1, 0, 2]
    assert matched_accuracy(counts, [1, 0, 2]) == pytest.approx(11 / 16)


def test_more_components_than_digits_leave_some_unmatched_and_their_points_wrong():
    counts = np.array([[3, 1],
                       [0, 4],
                       [2, 0],   # non-empty, but digit 0 went to c0 (3 > 2)
                       [0, 0]])  # empty
    matched = best_matching(counts)
    assert matched == [0, 1, None, None]
    assert matched_accuracy(counts, matched) == pytest.approx(7 / 10)  # c2's 2 points count as wrong
    rows = matching_rows(counts, matched)
    assert rows[2] == {"component": 2, "digit": None, "count": 2, "correct": 0, "purity": 0.0}
    assert rows[3] == {"component": 3, "digit": None, "count": 0, "correct": 0, "purity": None}
    assert rows[0] == {"component": 0, "digit": 0, "count": 4, "correct": 3, "purity": 0.75}


def test_an_empty_component_gets_no_digit_even_when_one_is_free():
    counts = np.array([[4, 0, 0],
                       [0, 0, 0],
                       [1, 0, 5]])
    assert best_matching(counts) == [0, None, 2]  # a plain assignment would hand digit 1 to the empty c1
    assert matched_accuracy(counts, [0, None, 2]) == pytest.approx(9 / 10)


def test_a_component_forced_onto_a_digit_it_does_not_hold_keeps_none():
    counts = np.array([[3, 0],
                       [2, 0]])
    assert best_matching(counts) == [0, None]
    assert matched_accuracy(counts, [0, None]) == pytest.approx(3 / 5)


def test_nothing_to_match():
    assert best_matching(np.zeros((3, 2), dtype=int)) == [None, None, None]
    assert matched_accuracy(np.zeros((3, 2), dtype=int), [None] * 3) is None
    assert normalized_mutual_info(np.zeros((3, 2), dtype=int)) is None
    with pytest.raises(ValueError, match="2-D"):
        best_matching(np.zeros(3))


@pytest.mark.parametrize("seed,n,k,c", [(0, 50, 3, 10), (1, 200, 10, 10), (2, 500, 14, 10), (3, 30, 2, 2), (4, 7, 5, 3)])
def test_nmi_agrees_with_scikit_learn(seed, n, k, c):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, c, n)
    components = np.where(rng.random(n) < 0.6, truth % k, rng.integers(0, k, n))  # partly informative
    ours = normalized_mutual_info(confusion(components, truth, k, c))
    assert ours == pytest.approx(normalized_mutual_info_score(truth, components), abs=1e-12)


@pytest.mark.parametrize("components,truth", [
    ([0, 0, 0, 0], [1, 1, 1, 1]),        # one group each: 1 by convention
    ([0, 0, 0, 0], [0, 1, 2, 3]),        # one component: no information, 0
    ([0, 1, 2, 3], [3, 2, 1, 0]),        # a relabelling: 1
    ([0, 0, 1, 1], [0, 1, 0, 1]),        # independent: 0
])
def test_nmi_limit_cases_agree_with_scikit_learn(components, truth):
    ours = normalized_mutual_info(confusion(components, truth, 4, 4))
    assert ours == pytest.approx(normalized_mutual_info_score(truth, components), abs=1e-12)


def test_confusion_and_cells_agree():
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(0, 4, 300), rng.integers(0, 10, 300)
    positions = rng.permutation(1000)[:300]
    counts = confusion(rows, cols, 4, 10)
    grid = cells(rows, cols, 4, 10, positions)
    assert counts.sum() == 300 and counts.shape == (4, 10)
    assert [[len(cell) for cell in row] for row in grid] == counts.tolist()
    for r in range(4):
        for c in range(10):
            expected = sorted(positions[(rows == r) & (cols == c)].tolist())
            assert grid[r][c] == expected


def test_labels_outside_the_range_are_refused_with_their_values():
    with pytest.raises(ValueError, match=r"column labels must lie in 0\.\.9; got values from 0 to 10"):
        confusion([0, 1], [0, 10], 2, 10)
    with pytest.raises(ValueError, match="same length"):
        cells([0, 1], [0], 2, 2)
