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


# ------------------------------------------------------------------ honest σ(x) (issue 22, point 7)


def heteroscedastic_catalogue(n: int, seed: int):
    """A simulated catalogue whose scatter grows with x (σ from 0.02 to 0.52): y = 2x + noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 2))
    sigma = 0.02 + 0.5 * X[:, 0] ** 2
    return X, 2 * X[:, 0] + sigma * rng.normal(size=n), sigma


def test_the_ensemble_sigma_is_predictive_not_only_the_spread_of_its_clones():
    """Five linear fits on parts of 2000 rows agree to ~0.01 while the values scatter by 0.3: the
    spread of the clones alone would make error bars thirty times too small."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(2500, 2))
    y = X[:, 0] + rng.normal(0, 0.3, 2500)
    spread, fitted = fit_spread("ensemble", LinearRegression(), X[:2000], y[:2000], X[2000:], seed=0)
    clones = np.std([m.predict(X[2000:]) for m in fitted["models"]], axis=0)
    assert clones.mean() < 0.05  # what the ensemble σ used to be
    assert fitted["noise"] == pytest.approx(0.3, rel=0.1)
    assert spread.mean() == pytest.approx(0.3, rel=0.1)
    np.testing.assert_allclose(spread, np.sqrt(clones ** 2 + fitted["noise"] ** 2))


def test_conformal_intervals_are_mapies_and_cover_95_percent_of_held_out_objects():
    """Split conformal inside the training rows: the half-widths are MAPIE's (the oracle), the
    marginal 95% coverage on 4000 held-out objects agrees with 0.95 within its Wilson interval,
    and the width follows the scatter, which grows with x.

    The guarantee is over draws of the conformalization rows too: with 6000 training rows about
    1500 conformity scores set the quantile, whose own scatter (sqrt(p(1-p)/1500) = 0.006 at
    95%, 0.012 at 68.27%) is added to the held-out one for the 68.27% check."""
    from mapie.conformity_scores import ResidualNormalisedScore
    from mapie.regression import SplitConformalRegressor
    from sklearn.model_selection import train_test_split

    from mlproj.science.sigma import CONFORMALIZE_FRACTION, Z_95, conformal_half_widths
    from mlproj.science.uncertainty import COVERAGE_68, COVERAGE_95, coverage_interval, excludes_nominal

    X, y, _ = heteroscedastic_catalogue(10000, 1)
    train, held = slice(0, 6000), slice(6000, None)
    model = LinearRegression().fit(X[train], y[train])
    spread, fitted = fit_spread("conformal", model, X[train], y[train], X[held], seed=5)
    half = conformal_half_widths(fitted, X[held])
    np.testing.assert_allclose(spread, half["coverage_95"] / Z_95)
    np.testing.assert_allclose(spread_of(fitted, X[held]), spread)  # what `mlproj predict` recomputes

    fit_rows, conf_rows = train_test_split(np.arange(6000), test_size=CONFORMALIZE_FRACTION, random_state=5)
    oracle = SplitConformalRegressor(LinearRegression(), confidence_level=[COVERAGE_68, COVERAGE_95],
                                     conformity_score=ResidualNormalisedScore(random_state=5), prefit=False)
    oracle.fit(X[fit_rows], y[fit_rows]).conformalize(X[conf_rows], y[conf_rows])
    _, bounds = oracle.predict_interval(X[held])
    np.testing.assert_allclose(half["coverage_68"], (bounds[:, 1, 0] - bounds[:, 0, 0]) / 2, rtol=1e-9)
    np.testing.assert_allclose(half["coverage_95"], (bounds[:, 1, 1] - bounds[:, 0, 1]) / 2, rtol=1e-9)

    mu = model.predict(X[held])
    c95 = coverage_interval(y[held], mu - half["coverage_95"], mu + half["coverage_95"], COVERAGE_95)
    assert not excludes_nominal(c95), c95
    c68 = coverage_interval(y[held], mu - half["coverage_68"], mu + half["coverage_68"], COVERAGE_68)
    n_scores = 0.75 * len(conf_rows)  # MAPIE fits the residual model on a quarter of them
    assert abs(c68.observed - COVERAGE_68) < 3 * np.sqrt(COVERAGE_68 * (1 - COVERAGE_68) * (1 / n_scores + 1 / c68.n))
    wide = X[held][:, 0] > 0.7
    assert half["coverage_95"][wide].mean() > 3 * half["coverage_95"][X[held][:, 0] < 0.3].mean()


def test_a_mis_specified_sigma_is_flagged_on_the_same_catalogue():
    """The one global σ (RMS residual) of the same catalogue: too wide where the scatter is small,
    too narrow where it is large; marginally its ±1σ bars cover far more than 68.27%."""
    from mlproj.science.uncertainty import COVERAGE_68, coverage, coverage_finding

    X, y, _ = heteroscedastic_catalogue(6000, 1)
    model = LinearRegression().fit(X[:2000], y[:2000])
    rms = np.sqrt(np.mean((y[:2000] - model.predict(X[:2000])) ** 2))
    c = coverage(y[2000:], model.predict(X[2000:]), np.full(4000, rms), COVERAGE_68)
    assert c.wilson[0] > COVERAGE_68
    assert "too large (underconfident)" in coverage_finding(c, "global")


def test_conformal_is_deterministic_and_stored_as_plain_data(tmp_path):
    """Seeded, and what is kept is a scikit-learn residual model plus two quantiles: no MAPIE
    object, so the model file passes the allow-list of mlproj.store.model_files."""
    from mlproj.plan.estimators import is_allowed_estimator_class
    from mlproj.science.sigma import conformal_half_widths
    from mlproj.store.model_files import load_model, save_model

    X, y, _ = heteroscedastic_catalogue(900, 2)
    first, fitted = fit_spread("conformal", LinearRegression(), X[:600], y[:600], X[600:], seed=3)
    again, _ = fit_spread("conformal", LinearRegression(), X[:600], y[:600], X[600:], seed=3)
    np.testing.assert_array_equal(first, again)
    assert not any("mapie" in type(v).__module__ for v in [*fitted.values(), *fitted["models"]])
    save_model(fitted, tmp_path / "spread.skops", is_allowed_estimator_class)
    loaded = load_model(tmp_path / "spread.skops", is_allowed_estimator_class)
    for name, half in conformal_half_widths(loaded, X[600:]).items():
        np.testing.assert_allclose(half, conformal_half_widths(fitted, X[600:])[name])


def test_conformal_needs_enough_training_rows_for_a_95_percent_quantile():
    X, y, _ = heteroscedastic_catalogue(40, 0)
    with pytest.raises(ValueError, match="more training rows"):
        fit_spread("conformal", LinearRegression(), X[:30], y[:30], X[30:], seed=0)
