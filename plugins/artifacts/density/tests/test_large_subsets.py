"""Density at large visualization subsets (70,000 points): the bandwidth search's cost is bounded and the
Monte Carlo TV's mixture density is the plain formula, bit for bit."""

from __future__ import annotations

import math

import numpy as np

from latentdeck_density.estimate import cross_validated_bandwidth, evenly_spaced, mixture_pdf


def _clusters(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (10, 2))
    return centres[np.arange(n) % 10] + rng.normal(0, 0.4, (n, 2))


def test_up_to_the_reference_size_every_point_is_scored_against():
    points = _clusters(3000)
    h, details = cross_validated_bandwidth(points, 0.05, 900.0, reference=3000)
    assert details["reference_points"] == 3000
    assert cross_validated_bandwidth(points, 0.05, 900.0, reference=10**9) == (h, {**details})


def test_above_the_reference_size_the_search_uses_evenly_spaced_codes():
    points = _clusters(5000)
    h, details = cross_validated_bandwidth(points, 0.05, 900.0, reference=1000)
    assert details["reference_points"] == 1000
    assert details["scored_points"] == 600
    assert details["scott"] == cross_validated_bandwidth(points, 0.05, 900.0, reference=5000)[1]["scott"]  # of all
    # the interleaved subset's codes stand for the whole: the width lands near the full search's
    h_full, _ = cross_validated_bandwidth(points, 0.05, 900.0, reference=5000)
    assert abs(math.log(h / h_full)) < math.log(1.5)


def test_evenly_spaced_keeps_ends_and_count():
    picked = evenly_spaced(70_000, 10_000)
    assert len(picked) == 10_000 and picked[0] == 0 and picked[-1] == 69_999
    assert list(evenly_spaced(5, 10)) == [0, 1, 2, 3, 4]


def test_mixture_pdf_is_the_plain_formula_bit_for_bit():
    rng = np.random.default_rng(3)
    m = 700  # over two chunks
    means = rng.normal(size=(m, 2))
    a = rng.normal(size=(m, 2, 2)) * 0.3
    covariances = a @ a.transpose(0, 2, 1) + np.eye(2) * 0.01
    weights = rng.random(m)
    weights /= weights.sum()
    x = rng.normal(size=(300, 2))
    det = covariances[:, 0, 0] * covariances[:, 1, 1] - covariances[:, 0, 1] ** 2
    inv_a, inv_b, inv_c = covariances[:, 1, 1] / det, -covariances[:, 0, 1] / det, covariances[:, 0, 0] / det
    norm = weights / (2 * math.pi * np.sqrt(det))
    expected = np.zeros(len(x))
    for start in range(0, m, 256):
        part = slice(start, start + 256)
        dx = x[:, None, 0] - means[None, part, 0]
        dy = x[:, None, 1] - means[None, part, 1]
        q = inv_a[part] * dx * dx + 2 * inv_b[part] * dx * dy + inv_c[part] * dy * dy
        expected += np.exp(-0.5 * q) @ norm[part]
    assert np.array_equal(mixture_pdf(x, means, covariances, weights), expected)
