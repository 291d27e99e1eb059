"""Tests of mlproj.execute.feature_sets: an ablation's fit sees its columns only, replaced columns
hold the training fold's value on every row, and augmented copies recompute derived features
from every drawn column before being cut down."""

from __future__ import annotations

import numpy as np

from mlproj.execute.feature_sets import FeatureView, localise
from mlproj.execute.tasks import FitData, fit_and_predict
from mlproj.plan.estimators import ModelSpec
from tests.execute.helpers import call


def data(n: int = 90, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    signal = y + rng.normal(0, 0.5, n)
    noise = rng.normal(size=n)
    X = np.column_stack([signal, noise, signal - noise])  # the third is derived: signal - noise
    return np.ascontiguousarray(X), y


def test_dropped_and_replaced_columns():
    X, y = data()
    train, valid = np.arange(60), np.arange(60, 90)
    spec = ModelSpec("lr", "LogisticRegression")
    view = FeatureView((0, 1), ((1, "median"),))
    local_call, local = localise(call(spec, train, valid, view=view), FitData(X, y))
    assert local.X.shape == (90, 2) and local_call.view is None
    np.testing.assert_array_equal(local.X[:, 0], X[:, 0])
    # The training fold's median, on the validation rows too: no information of the validation rows.
    assert np.all(local.X[:, 1] == np.median(X[train, 1]))
    assert X is not local.X and np.isfinite(X).all()  # the shared array is untouched


def test_replaced_mean_ignores_missing_values():
    X, y = data()
    X[0, 1] = np.nan
    train = np.arange(60)
    _, local = localise(call(ModelSpec("lr", "LogisticRegression"), train, np.arange(60, 90),
                             view=FeatureView((0, 1, 2), ((1, "mean"),))), FitData(X, y))
    assert np.all(local.X[:, 1] == np.nanmean(X[train, 1]))


def test_a_fit_on_a_feature_set_equals_a_fit_on_those_columns():
    X, y = data()
    train, valid = np.arange(60), np.arange(60, 90)
    spec = ModelSpec("lr", "LogisticRegression")
    ablated = fit_and_predict(call(spec, train, valid, view=FeatureView((1,))), FitData(X, y))
    alone = fit_and_predict(call(spec, train, valid), FitData(np.ascontiguousarray(X[:, [1]]), y))
    assert ablated.error is None
    np.testing.assert_array_equal(ablated.predictions, alone.predictions)


def test_augmented_copies_recompute_derived_features_then_keep_the_feature_set():
    X, y = data()
    errors = np.zeros_like(X)
    errors[:, :2] = 0.1
    seen = []

    def recompute(drawn, rows):
        seen.append(drawn.shape[1])
        drawn[:, 2] = drawn[:, 0] - drawn[:, 1]
        return drawn

    train, valid = np.arange(60), np.arange(60, 90)
    spec = ModelSpec("lr", "LogisticRegression", augment=2)
    view = FeatureView((0, 2), ((0, "mean"),))
    local_call, local = localise(call(spec, train, valid, view=view, draws=2),
                                 FitData(X, y, errors=errors, recompute=recompute))
    drawn = local.recompute(local.X[train].copy(), train)
    assert seen == [3]  # recomputed from every column, as for the full model
    assert drawn.shape == (60, 2)
    assert np.all(drawn[:, 0] == np.mean(X[train, 0]))  # filled again after the recomputation
    assert np.all(local.errors[:, 0] == 0)  # a replaced value is not drawn
    output = fit_and_predict(call(spec, train, valid, view=view, draws=2),
                             FitData(X, y, errors=errors, recompute=recompute))
    assert output.error is None and output.predictions.shape == (30, 2)
