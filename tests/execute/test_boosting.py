"""Tests of mlproj.execute.boosting: gradient boosting given its early-stopping rows by mlproj is the
same model, bit for bit, as the one that splits them off itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestClassifier

from mlproj.execute.boosting import validation_split
from mlproj.execute.tasks import FitCall, FitData, fit_and_predict
from mlproj.plan.estimators import ModelSpec


def catalogue(n: int, classes: int | None = 2, seed: int = 0, missing: bool = False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    signal = X[:, 0] - X[:, 1] * X[:, 2] + rng.normal(size=n)
    y = signal if classes is None else np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))
    if missing:
        X[rng.random(X.shape) < 0.05] = np.nan
    return X, y


def with_own_split(estimator, X, y, train):
    """Fit as mlproj does: the two parts of the split taken straight from the table."""
    inner, held = validation_split(estimator, y[train])
    rows, val = train[inner], train[held]
    return estimator.fit(X[rows], y[rows], X_val=X[val], y_val=y[val])


def outputs(model, X):
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


@pytest.mark.parametrize("make, classes, missing", [
    (lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0), 2, False),
    (lambda: HistGradientBoostingClassifier(max_iter=15, random_state=7, n_iter_no_change=2), 3, True),
    (lambda: HistGradientBoostingClassifier(max_iter=10, random_state=1, early_stopping=True,
                                            validation_fraction=0.2, scoring="roc_auc"), 2, False),
    (lambda: HistGradientBoostingRegressor(max_iter=15, random_state=4), None, True),
    (lambda: HistGradientBoostingRegressor(max_iter=10, random_state=5, validation_fraction=1500,
                                           loss="absolute_error"), None, False),
])
def test_same_model_as_a_plain_fit(make, classes, missing):
    X, y = catalogue(16_000, classes, missing=missing)
    train = np.random.default_rng(1).permutation(len(y))[:14_000]
    valid = np.setdiff1d(np.arange(len(y)), train)
    plain = make().fit(X[train], y[train])
    own = with_own_split(make(), X, y, train)
    assert plain.do_early_stopping_ and own.do_early_stopping_
    assert own.n_iter_ == plain.n_iter_
    np.testing.assert_array_equal(own.validation_score_, plain.validation_score_)
    np.testing.assert_array_equal(outputs(own, X[valid]), outputs(plain, X[valid]))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), fraction=st.floats(0.05, 0.5), n=st.integers(12_000, 14_000))
def test_same_model_for_any_seed_and_fraction(seed, fraction, n):
    X, y = catalogue(n + 500, 2, seed=seed % 1000)
    train = np.arange(n)
    make = lambda: HistGradientBoostingClassifier(max_iter=4, random_state=seed, validation_fraction=fraction,  # noqa: E731
                                                  n_iter_no_change=1)
    split = validation_split(make(), y[train])
    if split is None:  # too few rows left for scikit-learn's automatic early stopping
        assert n * (1 - fraction) <= 10_000 + 1
        return
    np.testing.assert_array_equal(outputs(with_own_split(make(), X, y, train), X[n:]),
                                  outputs(make().fit(X[train], y[train]), X[n:]))


@pytest.mark.parametrize("estimator, n", [
    (HistGradientBoostingClassifier(random_state=0), 10_000),  # no early stopping at all
    (HistGradientBoostingClassifier(random_state=0), 11_000),  # the inner part alone would not stop early
    (HistGradientBoostingClassifier(random_state=0, early_stopping=False), 50_000),
    (HistGradientBoostingClassifier(random_state=0, class_weight="balanced"), 50_000),
    (HistGradientBoostingClassifier(random_state=None), 50_000),
    (HistGradientBoostingClassifier(random_state=0, warm_start=True), 50_000),
    (HistGradientBoostingClassifier(random_state=0, validation_fraction=None), 50_000),
    (HistGradientBoostingClassifier(random_state=0, categorical_features=[0]), 50_000),
    (RandomForestClassifier(random_state=0), 50_000),
])
def test_left_to_scikit_learn_where_the_split_cannot_be_reproduced(estimator, n):
    y = np.arange(n) % 2
    assert validation_split(estimator, y) is None


def test_a_class_only_in_the_validation_part_is_left_to_scikit_learn(monkeypatch):
    import sklearn.model_selection

    y = np.zeros(20_000, dtype=int)
    y[:2] = 1
    rare_held_out = lambda rows, **_: (rows[2:18_000], np.concatenate([rows[:2], rows[18_000:]]))  # noqa: E731
    monkeypatch.setattr(sklearn.model_selection, "train_test_split", rare_held_out)
    assert validation_split(HistGradientBoostingClassifier(random_state=0), y) is None


def test_a_class_of_one_object_fails_as_scikit_learn_fails():
    X, y = catalogue(20_000, 2)
    y[0] = 2
    with pytest.raises(ValueError) as plain:
        HistGradientBoostingClassifier(max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError) as own:
        validation_split(HistGradientBoostingClassifier(max_iter=2, random_state=0), y)
    assert "least populated class" in str(own.value) and "least populated class" in str(plain.value)


def test_a_run_fit_predicts_what_the_plain_estimator_predicts(tmp_path):
    X, y = catalogue(15_000, 2)
    train, valid = np.arange(12_000), np.arange(12_000, 15_000)
    spec = ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 20})
    call = FitCall(spec, "classification", "k" * 64, train, valid, 3, model_path=str(tmp_path / "m.skops"))
    output = fit_and_predict(call, FitData(X, y))
    expected = HistGradientBoostingClassifier(max_iter=20, random_state=3).fit(X[train], y[train])
    np.testing.assert_array_equal(output.predictions, expected.predict_proba(X[valid]))
