"""Tests of mlproj.science.sigma: σ(x) of regression models, learnt from the training rows only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression

from mlproj.science.sigma import fit_spread, spread_of


def _noisier_where_x1_is_positive(seed: int = 6):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(600, 2))
    y = X[:, 0] + rng.normal(0, 0.05 + 0.3 * (X[:, 1] > 0), 600)
    return X, y


@pytest.mark.parametrize("method", ["residual", "quantile", "ensemble"])
def test_every_sigma_method_gives_a_positive_spread_per_object(method):
    X, y = _noisier_where_x1_is_positive()
    spread, fitted = fit_spread(method, HistGradientBoostingRegressor(max_iter=50), X[:500], y[:500], X[500:], seed=0)
    np.testing.assert_allclose(spread_of(fitted, X[500:]), spread)  # what `mlproj predict` recomputes
    assert spread.shape == (100,) and (spread > 0).all()
    if method != "ensemble":  # the noise level, not the model's variance, is what these learn
        assert spread[X[500:, 1] > 0].mean() > 2 * spread[X[500:, 1] <= 0].mean()


def test_the_spread_has_a_floor_of_a_fifth_of_its_typical_training_value():
    X, y = _noisier_where_x1_is_positive()
    _, fitted = fit_spread("ensemble", LinearRegression(), X[:500], y[:500], X[500:], seed=0)
    raw = spread_of(fitted, X[:500], floor=False)
    assert fitted["floor"] == pytest.approx(0.2 * np.median(np.abs(raw)))
    assert spread_of(fitted, X).min() >= fitted["floor"]


def test_the_same_seed_gives_the_same_spread():
    X, y = _noisier_where_x1_is_positive()
    first = fit_spread("residual", LinearRegression(), X[:500], y[:500], X[500:], seed=4)[0]
    again = fit_spread("residual", LinearRegression(), X[:500], y[:500], X[500:], seed=4)[0]
    np.testing.assert_array_equal(first, again)
