"""The arithmetic of cluster quality, on numpy arrays: confusion counts and their cells, the best
one-to-one matching of components to classes, matched accuracy and normalised mutual information.

Conventions: ``rows`` and ``cols`` are integer arrays of the same length n (a component or true class
per point, and a class per point); a confusion matrix is ``counts[r, c]`` = points with row r and
column c. Nothing here knows about models, runs or files.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion(rows, cols, n_rows: int, n_cols: int) -> np.ndarray:
    """``counts[r, c]``: how many points have row ``r`` and column ``c`` (int64, (n_rows, n_cols))."""
    rows, cols = _indices(rows, n_rows, "row"), _indices(cols, n_cols, "column")
    if rows.shape != cols.shape:
        raise ValueError(f"rows and columns must label the same points: {rows.shape[0]} rows, {cols.shape[0]} columns")
    counts = np.zeros((n_rows, n_cols), dtype=np.int64)
    np.add.at(counts, (rows, cols), 1)
    return counts


def cells(rows, cols, n_rows: int, n_cols: int, positions=None) -> list[list[list[int]]]:
    """The points of each confusion cell: ``cells[r][c]`` lists their ``positions`` (default 0..n-1),
    in increasing order, so ``len(cells[r][c]) == confusion(...)[r, c]``."""
    rows, cols = _indices(rows, n_rows, "row"), _indices(cols, n_cols, "column")
    positions = np.arange(rows.shape[0]) if positions is None else np.asarray(positions, dtype=np.int64)
    if positions.shape != rows.shape or cols.shape != rows.shape:
        raise ValueError(f"rows, columns and positions must be the same length: {rows.shape[0]}, {cols.shape[0]}, "
                         f"{positions.shape[0]}")
    out: list[list[list[int]]] = [[[] for _ in range(n_cols)] for _ in range(n_rows)]
    for r, c, p in sorted(zip(rows.tolist(), cols.tolist(), positions.tolist()), key=lambda t: t[2]):
        out[r][c].append(p)
    return out


def best_matching(counts) -> list[int | None]:
    """The class matched to each row (component) under the one-to-one matching of rows to columns that
    maximises the points on matched cells (Hungarian: ``scipy.optimize.linear_sum_assignment``).

    With more rows than columns some rows get no class; so does a row whose matched cell is empty (an
    empty component, or one forced onto a class it holds no point of): ``None`` for those. Empty rows are
    left out of the assignment, which never lowers the matched total (they add nothing to it)."""
    from scipy.optimize import linear_sum_assignment

    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 2:
        raise ValueError(f"a confusion matrix is 2-D (components x classes); got shape {counts.shape}")
    matched: list[int | None] = [None] * counts.shape[0]
    used = np.flatnonzero(counts.sum(1) > 0)
    if used.size == 0 or counts.shape[1] == 0:
        return matched
    row_ids, col_ids = linear_sum_assignment(counts[used], maximize=True)
    for r, c in zip(row_ids.tolist(), col_ids.tolist()):
        component = int(used[r])
        if counts[component, c] > 0:
            matched[component] = int(c)
    return matched


def matched_accuracy(counts, matched: list[int | None]) -> float | None:
    """Share of points on matched cells; points of unmatched rows count as wrong. None without points."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return None
    correct = sum(int(counts[r, c]) for r, c in enumerate(matched) if c is not None)
    return correct / total


def normalized_mutual_info(counts) -> float | None:
    """NMI of the two labellings behind ``counts`` with arithmetic normalisation, MI / ((H(rows) +
    H(cols)) / 2) in nats: scikit-learn's ``normalized_mutual_info_score`` default, with its limit cases
    (both labellings a single group: 1; no shared information: 0). None without points."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts.sum(1) > 0][:, counts.sum(0) > 0]  # labels no point carries do not exist
    total = counts.sum()
    if total == 0:
        return None
    if counts.shape[0] == counts.shape[1] == 1:
        return 1.0
    joint = counts / total
    p_rows, p_cols = joint.sum(1), joint.sum(0)
    nonzero = joint > 0
    mutual = float((joint[nonzero] * np.log(joint[nonzero] / np.outer(p_rows, p_cols)[nonzero])).sum())
    if mutual <= 0:
        return 0.0
    entropy_rows, entropy_cols = _entropy(p_rows), _entropy(p_cols)
    return float(mutual / ((entropy_rows + entropy_cols) / 2))


def matching_rows(counts, matched: list[int | None]) -> list[dict[str, Any]]:
    """Per row (component): ``{component, digit, count, correct, purity}`` (purity = correct / count,
    None for an empty component)."""
    counts = np.asarray(counts, dtype=np.int64)
    rows = []
    for component, digit in enumerate(matched):
        count = int(counts[component].sum())
        correct = int(counts[component, digit]) if digit is not None else 0
        rows.append({"component": component, "digit": digit, "count": count, "correct": correct,
                     "purity": correct / count if count else None})
    return rows


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _indices(values, size: int, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what} labels must be a 1-D array; got shape {array.shape}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise ValueError(f"{what} labels must lie in 0..{size - 1}; got values from {array.min()} to {array.max()}")
    return array
