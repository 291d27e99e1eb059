"""Tests of mlproj.execute.forests: batched forests predict exactly what the whole forest predicts."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor

import mlproj.execute.forests as forests
from mlproj.execute.forests import as_float32_rows, fit_predict_in_batches, needs_batches


def catalogue(n: int = 240, classes: int = 2, seed: int = 0, missing: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.digitize(X[:, 0] + 0.8 * rng.normal(size=n), np.linspace(-1, 1, classes - 1)) if classes > 1 else None
    if missing:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def batched(forest, X_train, y_train, X_valid, budget_trees: float = 2.5, tree_jobs: int = 1):
    """fit_predict_in_batches with a budget of about `budget_trees` trees of this forest's size."""
    probe = type(forest)(n_estimators=1, random_state=0).fit(X_train, y_train).estimators_[0]
    with mock.patch.object(forests, "TREE_BUDGET_BYTES", int(budget_trees * forests._size_of(probe))):
        return fit_predict_in_batches(forest, X_train, y_train, X_valid, tree_jobs)


def whole_forest(forest, X_train, y_train, X_valid):
    forest.fit(X_train, y_train)
    forest.set_params(n_jobs=None)  # summed in tree order, as mlproj predicts (threads sum in any order)
    return forest.predict_proba(X_valid) if hasattr(forest, "predict_proba") else forest.predict(X_valid)


@pytest.mark.filterwarnings("ignore:class_weight presets")  # same rows in every batch
@pytest.mark.parametrize("make", [
    lambda: RandomForestClassifier(n_estimators=10, random_state=3),
    lambda: RandomForestClassifier(n_estimators=7, random_state=3, n_jobs=2, class_weight="balanced_subsample"),
    lambda: ExtraTreesClassifier(n_estimators=9, random_state=1, max_features=2),
])
@pytest.mark.parametrize("classes", [2, 3])
def test_batched_classifier_probabilities_are_identical(make, classes):
    X, y = catalogue(classes=classes)
    expected = whole_forest(make(), X[:180], y[:180], X[180:])
    forest = make()
    got = batched(forest, X[:180], y[:180], X[180:], tree_jobs=2)
    np.testing.assert_array_equal(got, expected)
    assert forest.get_params()["n_estimators"] == make().get_params()["n_estimators"]
    assert not forest.get_params()["warm_start"]  # the settings are restored for clones
    assert all(tree is None for tree in forest.estimators_)  # no tree is kept
    assert len(forest.estimators_) == forest.n_estimators


@pytest.mark.parametrize("make", [
    lambda: RandomForestRegressor(n_estimators=8, random_state=2),
    lambda: ExtraTreesRegressor(n_estimators=5, random_state=2, n_jobs=2),
])
def test_batched_regressor_predictions_are_identical(make):
    X, _ = catalogue()
    y = X[:, 0] ** 2 + X[:, 1]
    np.testing.assert_array_equal(batched(make(), X[:180], y[:180], X[180:]),
                                  whole_forest(make(), X[:180], y[:180], X[180:]))


def test_batched_forest_with_missing_values_is_identical():
    X, y = catalogue(missing=True)
    make = lambda: RandomForestClassifier(n_estimators=6, random_state=0)  # noqa: E731
    np.testing.assert_array_equal(batched(make(), X[:180], y[:180], X[180:], 4),
                                  whole_forest(make(), X[:180], y[:180], X[180:]))


@settings(max_examples=15, deadline=None)
@given(n_estimators=st.integers(1, 12), budget=st.floats(0.5, 13), tree_jobs=st.integers(1, 3),
       seed=st.integers(0, 2**31 - 1))
def test_any_batch_size_gives_the_whole_forest(n_estimators, budget, tree_jobs, seed):
    X, y = catalogue(n=80, seed=seed % 1000)
    make = lambda: RandomForestClassifier(n_estimators=n_estimators, random_state=seed)  # noqa: E731
    np.testing.assert_array_equal(batched(make(), X[:60], y[:60], X[60:], budget, tree_jobs),
                                  whole_forest(make(), X[:60], y[:60], X[60:]))


def test_float32_rows_match_numpy():
    X = np.random.default_rng(0).normal(size=(1000, 3)) * 1e3
    rows = np.random.default_rng(1).permutation(1000)[:700]
    got = as_float32_rows(X, rows, chunk=64)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, X[rows].astype(np.float32))


def test_batches_are_whole_rounds_within_the_budget(monkeypatch):
    monkeypatch.setattr(forests, "TREE_BUDGET_BYTES", 1000)
    assert forests._next_batch(tree_bytes=100, remaining=50, tree_jobs=4) == 8  # 10 fit, 2 rounds of 4
    assert forests._next_batch(tree_bytes=100, remaining=5, tree_jobs=4) == 5
    assert forests._next_batch(tree_bytes=5000, remaining=50, tree_jobs=4) == 4  # one tree per thread at least


def test_only_large_forests_are_batched():
    assert not needs_batches(RandomForestClassifier(), 100_000)  # the whole forest at once
    assert needs_batches(RandomForestClassifier(), 800_000)
    assert not needs_batches(RandomForestClassifier(n_estimators=1), 800_000)
    assert not needs_batches(RandomForestClassifier(oob_score=True), 800_000)  # needs every tree
    assert not needs_batches(RandomForestRegressor(warm_start=True), 800_000)


def test_forest_setting_of_the_user_is_kept():
    from mlproj.execute.forests import forest_in, grows_trees_in_threads
    from mlproj.plan.estimators import ModelSpec, build_estimator

    mine = ModelSpec("rf", "RandomForestClassifier", {"n_jobs": 1}, simplicity=2)
    assert not grows_trees_in_threads(mine)
    scaled = ModelSpec("rf", "ExtraTreesClassifier", {}, scale=True, simplicity=2)
    assert grows_trees_in_threads(scaled)
    assert type(forest_in(build_estimator(scaled, "classification", 0), scaled)).__name__ == "ExtraTreesClassifier"
    tree = ModelSpec("tree", "DecisionTreeClassifier", {"max_depth": 3}, simplicity=2)
    assert forest_in(build_estimator(tree, "classification", 0), tree) is None  # a single tree
    calibrated = ModelSpec("rf", "RandomForestClassifier", {}, calibration="isotonic", simplicity=2)
    assert forest_in(build_estimator(calibrated, "classification", 0), calibrated) is None
