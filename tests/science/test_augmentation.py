"""Tests of mlproj.science.augmentation: draws of the inputs from their measurement uncertainties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.plan.compile import compile_plan
from mlproj.plan.estimators import model_specs
from mlproj.project.loading import parse_project
from mlproj.science.augmentation import augmented_training_set, draw_inputs, input_draws


def test_augmented_copies_come_from_training_rows_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    errors = np.abs(rng.normal(0.1, 0.02, size=(200, 3)))
    y = rng.normal(size=200)
    project = parse_project(yaml.safe_dump({
        "name": "t", "objective": {"statement": "s", "task": "regression"},
        "data": {"path": "x.csv", "label": "y", "errors": {"a": "ea"}, "augment": 3},
        "metric": {"primary": "rmse"}, "finish_line": {"threshold": 1.0},
        "validation": {"folds": 4, "repeats": 2}}), Path("p.yaml")).project
    plan = compile_plan(project, model_specs(project), y, ["a", "b", "c"], "fingerprint")
    for split in plan.splits:
        X_aug, y_aug, source = augmented_training_set(X, y, errors, split.train, 3, split.seed)
        assert len(source) == 4 * len(split.train)
        assert set(source) == set(split.train)
        assert not set(source) & set(split.valid) and not set(source) & set(plan.test)
        np.testing.assert_array_equal(y_aug, y[source])
        # the first block is the original rows; the copies scatter by the given errors
        np.testing.assert_array_equal(X_aug[: len(split.train)], X[split.train])
        z = (X_aug[len(split.train):] - X[source[len(split.train):]]) / errors[source[len(split.train):]]
        assert abs(z.std() - 1) < 0.1 and abs(z.mean()) < 0.1
    # deterministic for a seed
    a = augmented_training_set(X, y, errors, plan.splits[0].train, 2, 7)[0]
    b = augmented_training_set(X, y, errors, plan.splits[0].train, 2, 7)[0]
    np.testing.assert_array_equal(a, b)


def test_non_detections_are_drawn_within_their_range_and_measured_values_by_their_error():
    X = np.array([[1.0, 20.0], [2.0, 21.0], [3.0, 22.0]])
    errors = np.array([[0.1, 0.0], [0.1, 0.0], [0.1, 0.0]])
    ranges = np.full((2, 3, 2), np.nan)
    ranges[:, 1, 1] = [21.0, 23.0]  # row 1's second value is a non-detection in [21, 23]
    rows = np.repeat(np.arange(3), 500)
    drawn = draw_inputs(X, rows, np.random.default_rng(0), errors, ranges)
    limited = drawn[rows == 1, 1]
    assert (limited >= 21.0).all() and (limited <= 23.0).all() and limited.std() > 0.5
    np.testing.assert_array_equal(drawn[rows != 1, 1], X[rows[rows != 1], 1])  # no error: untouched
    z = (drawn[:, 0] - X[rows, 0]) / 0.1
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1
    assert X[1, 1] == 21.0  # the inputs themselves are not changed


def test_input_draws_are_the_gaussian_draws_of_every_row_in_turn():
    """What `mlproj predict --draws` gives: one generator, a whole draw of the rows at a time."""
    rng = np.random.default_rng(3)
    X, errors = rng.normal(size=(50, 4)), np.abs(rng.normal(0.2, 0.05, size=(50, 4)))
    draws = input_draws(X, errors, 3, seed=11)
    same = np.random.default_rng(11)
    expected = [X + same.standard_normal(X.shape) * errors for _ in range(3)]
    assert len(draws) == 3
    for got, want in zip(draws, expected):
        np.testing.assert_array_equal(got, want)
    assert input_draws(X, errors, 0, seed=11) == []


def _colour(drawn: np.ndarray, rows) -> np.ndarray:
    """A stand-in for mlproj.data.dataset.DerivedFeatures: column 2 is u - g."""
    drawn[:, 2] = drawn[:, 0] - drawn[:, 1]
    return drawn


def test_augmented_copies_recompute_derived_features_from_the_drawn_values():
    """Magnitudes are drawn, so the colour of a copy is the difference of its drawn magnitudes
    (DESIGN §3), not the original colour and not a colour jittered apart from them."""
    rng = np.random.default_rng(0)
    u, g = rng.uniform(18, 21, 100), rng.uniform(17, 20, 100)
    X = np.column_stack([u, g, u - g])
    errors = np.column_stack([np.full(100, 0.1), np.full(100, 0.05), np.zeros(100)])
    train = np.arange(80)
    X_aug, _, source = augmented_training_set(X, np.zeros(100), errors, train, 3, 5, recompute=_colour)
    copies = X_aug[80:]
    np.testing.assert_allclose(copies[:, 2], copies[:, 0] - copies[:, 1], atol=1e-12)
    assert np.std(copies[:, 2] - X[source[80:], 2]) == pytest.approx(np.hypot(0.1, 0.05), rel=0.15)
    # the recomputation changes nothing else: the draws are those without it
    plain, _, _ = augmented_training_set(X, np.zeros(100), errors, train, 3, 5)
    np.testing.assert_array_equal(X_aug[:, :2], plain[:, :2])
    np.testing.assert_array_equal(X_aug[:80], X[train])


def test_the_recomputation_is_told_which_rows_it_recomputes():
    seen = []

    def record(drawn, rows):
        seen.append(None if rows is None else rows.copy())
        return drawn

    X, errors = np.ones((6, 3)), np.full((6, 3), 0.1)
    augmented_training_set(X, np.zeros(6), errors, np.array([1, 4]), 2, 0, recompute=record)
    np.testing.assert_array_equal(seen[0], [1, 1, 4, 4])  # the source row of every copy, in order
    input_draws(X, errors, 2, seed=0, recompute=record)
    assert seen[1:] == [None, None]  # every row, once per draw


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_input_draws_keep_each_colour_equal_to_its_drawn_magnitudes(seed, draws):
    rng = np.random.default_rng(seed)
    u, g = rng.uniform(15, 25, 30), rng.uniform(15, 25, 30)
    X = np.column_stack([u, g, u - g])
    errors = np.column_stack([rng.uniform(0, 0.5, 30), rng.uniform(0, 0.5, 30), np.zeros(30)])
    for drawn in input_draws(X, errors, draws, seed, recompute=_colour):
        np.testing.assert_allclose(drawn[:, 2], drawn[:, 0] - drawn[:, 1], atol=1e-9)
    np.testing.assert_array_equal(X[:, 2], u - g)  # the inputs themselves are not changed
