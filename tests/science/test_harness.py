"""The harness's perturbations and measures, with plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

from mlproj.science import harness


def test_noise_touches_only_the_named_columns_and_the_recompute_follows():
    X = np.column_stack([np.zeros(1000), np.ones(1000), np.zeros(1000)])

    def colour(drawn, rows):
        drawn[:, 2] = drawn[:, 0] - drawn[:, 1]
        return drawn

    out = harness.perturb_noise(X, 0.1, [0], np.random.default_rng(0), colour)
    assert np.all(out[:, 1] == 1) and 0.09 < out[:, 0].std() < 0.11
    assert np.allclose(out[:, 2], out[:, 0] - 1)
    assert np.all(X == np.column_stack([np.zeros(1000), np.ones(1000), np.zeros(1000)]))  # a copy


def test_noise_at_per_object_errors_scales_each_object():
    X = np.zeros((2000, 1))
    sigma = np.r_[np.full(1000, 0.01), np.full(1000, 1.0)][:, None]
    out = harness.perturb_noise(X, sigma, [0], np.random.default_rng(1))
    assert out[:1000].std() < 0.02 and 0.9 < out[1000:].std() < 1.1


def test_permute_shuffles_the_columns_together_across_objects():
    X = np.column_stack([np.arange(100.0), np.arange(100.0) * 2, np.arange(100.0)])
    out = harness.perturb_permute(X, [0, 1], np.random.default_rng(0))
    assert not np.array_equal(out[:, 0], X[:, 0]) and sorted(out[:, 0]) == list(X[:, 0])
    assert np.array_equal(out[:, 1], 2 * out[:, 0])  # one permutation for both
    assert np.array_equal(out[:, 2], X[:, 2])


def test_changed_fraction_counts_changed_most_probable_classes():
    before = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    after = np.array([[0.6, 0.4], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
    assert harness.changed_fraction(before, after) == 0.5
    assert harness.median_change(np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.0, 5.0])) == pytest.approx(0.1)


def test_magnitudes_combine_as_summed_fluxes():
    combined = harness.combine(np.array([20.0, 18.0]), np.array([20.0, 25.0]), "magnitude")
    assert combined[0] == pytest.approx(20 - 2.5 * np.log10(2))  # two equal objects: 0.753 mag brighter
    assert combined[1] == pytest.approx(-2.5 * np.log10(10 ** -7.2 + 10 ** -10), rel=1e-12)
    assert harness.combine(np.array([1.0]), np.array([3.0]), "flux")[0] == 4.0
    assert harness.combine(np.array([1.0]), np.array([3.0]), "mean")[0] == 2.0
    with pytest.raises(ValueError):
        harness.combine(np.array([1.0]), np.array([1.0]), "sum")


def test_pairs_of_one_class_never_pair_an_object_with_itself():
    rows = np.array([3, 7, 9])
    a, b = harness.pair_rows(rows, rows, 500, np.random.default_rng(0))
    assert len(a) == 500 and not np.any(a == b) and set(a) | set(b) <= set(rows)
    a, b = harness.pair_rows(rows, np.array([], dtype=int), 10, np.random.default_rng(0))
    assert len(a) == 0


def test_combined_pairs_combine_the_named_columns_and_average_the_others():
    X = np.array([[20.0, 1.0, 0.0], [20.0, 3.0, 0.0]])

    def recompute(drawn, rows):
        drawn[:, 2] = drawn[:, 0] + drawn[:, 1]
        return drawn

    out = harness.combine_pairs(X, np.array([0]), np.array([1]), "magnitude", [0], recompute)
    assert out[0, 0] == pytest.approx(20 - 2.5 * np.log10(2)) and out[0, 1] == 2.0
    assert out[0, 2] == pytest.approx(out[0, 0] + 2.0)


def test_passes_reads_the_direction_and_refuses_to_judge_nan():
    assert harness.passes(0.01, 0.01, at_most=True) is True
    assert harness.passes(0.02, 0.01, at_most=True) is False
    assert harness.passes(0.9, 0.9, at_most=False) is True
    assert harness.passes(float("nan"), 0.9, at_most=False) is None
