"""Tests of mlproj.execute.tasks: one FitCall gives one TaskOutput."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlproj.execute.tasks import FitData, fit_and_predict, spread_path
from mlproj.plan.estimators import ModelSpec, build_estimator
from tests.execute.helpers import KEY, MODELS, call, dataset


def test_a_fit_call_is_named_and_frozen():
    one = call(MODELS[1], np.arange(40), np.arange(40, 60), seed=3)
    assert (one.spec, one.task_kind, one.key, one.seed) == (MODELS[1], "classification", KEY, 3)
    assert (one.draws, one.model_path, one.threads, one.tree_jobs) == (0, None, 1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.seed = 4
    assert dataclasses.replace(one, threads=None).threads is None and one.threads == 1


def test_fit_and_predict_probabilities():
    X, y = dataset()
    out = fit_and_predict(call(MODELS[1], np.arange(0, 45), np.arange(45, 60)), FitData(X, y))
    assert out.error is None and not out.cached and out.key == KEY
    assert out.predictions.shape == (15, 2)
    np.testing.assert_allclose(out.predictions.sum(axis=1), 1.0)
    assert out.fit_seconds >= 0


def test_fit_and_predict_class_absent_from_training_gets_zero_column():
    X, y = dataset()
    y3 = y.copy()
    y3[-3:] = 2  # class 2 only in the validation rows
    out = fit_and_predict(call(MODELS[2], np.arange(0, 45), np.arange(45, 60)), FitData(X, y3))
    assert out.error is None and out.predictions.shape == (15, 3)
    np.testing.assert_array_equal(out.predictions[:, 2], 0.0)


def test_fit_and_predict_regression():
    X, y = dataset()
    target = X[:, 0] * 2.0
    spec = ModelSpec("linear", "LinearRegression")
    out = fit_and_predict(call(spec, np.arange(40), np.arange(40, 60), task_kind="regression"), FitData(X, target))
    assert out.error is None and out.predictions.shape == (20,)
    np.testing.assert_allclose(out.predictions, target[40:], atol=1e-9)


def test_a_regression_with_a_sigma_method_predicts_its_spread_beside_the_values(tmp_path):
    from mlproj.plan.estimators import is_allowed_estimator_class
    from mlproj.science.sigma import spread_of
    from mlproj.store.model_files import load_model

    X, y = dataset(n=200)
    target = X[:, 0] * 2.0 + np.random.default_rng(1).normal(0, 0.1, 200)
    spec = ModelSpec("linear", "LinearRegression", uncertainty="quantile")
    path = tmp_path / "m.skops"
    out = fit_and_predict(call(spec, np.arange(150), np.arange(150, 200), task_kind="regression",
                               model_path=str(path)), FitData(X, target))
    assert out.error is None and out.predictions.shape == (50, 2) and (out.predictions[:, 1] > 0).all()
    spread = spread_of(load_model(spread_path(path), is_allowed_estimator_class), X[150:])
    np.testing.assert_array_equal(spread, out.predictions[:, 1])


def test_a_call_with_draws_fits_the_augmented_training_set():
    from mlproj.science.augmentation import augmented_training_set

    X, y = dataset(n=90)
    errors = np.full(X.shape, 0.3)
    train, valid = np.arange(60), np.arange(60, 90)
    spec = ModelSpec("tree", "DecisionTreeClassifier", {"max_depth": 4}, augment=2, simplicity=2)
    out = fit_and_predict(call(spec, train, valid, seed=5, draws=2), FitData(X, y, errors))
    X_aug, y_aug, _ = augmented_training_set(X, y, errors, train, 2, 5)
    expected = build_estimator(spec, "classification", 5).fit(X_aug, y_aug).predict_proba(X[valid])
    np.testing.assert_array_equal(out.predictions, expected)
    plain = fit_and_predict(call(spec, train, valid, seed=5), FitData(X, y, errors))  # draws=0: no copies
    assert not np.array_equal(plain.predictions, out.predictions)


def test_fit_and_predict_captures_estimator_failure():
    X, y = dataset()
    bad = ModelSpec("bad", "HistGradientBoostingClassifier", {"max_iter": -5})
    out = fit_and_predict(call(bad, np.arange(40), np.arange(40, 60)), FitData(X, y))
    assert out.predictions is None
    assert out.error and "max_iter" in out.error


def test_forest_grows_trees_in_threads_with_identical_results(tmp_path):
    from mlproj.plan.estimators import is_allowed_estimator_class as ESTIMATORS
    from mlproj.store.model_files import load_model

    X, y = dataset(n=300)
    train, valid = np.arange(200), np.arange(200, 300)
    spec = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 40}, simplicity=2)
    alone = fit_and_predict(call(spec, train, valid, seed=3, tree_jobs=1), FitData(X, y))
    threaded = fit_and_predict(call(spec, train, valid, seed=3, tree_jobs=2, model_path=str(tmp_path / "rf.skops")),
                               FitData(X, y))
    np.testing.assert_array_equal(alone.predictions, threaded.predictions)
    assert load_model(tmp_path / "rf.skops", ESTIMATORS).get_params()["n_jobs"] is None  # saved as configured


@pytest.mark.parametrize("task_kind", ["classification", "regression"])
def test_large_forests_are_fitted_in_batches_with_the_same_predictions(monkeypatch, task_kind):
    import mlproj.execute.forests as forests
    import mlproj.execute.tasks as tasks

    X, y = dataset(n=400)
    target = y if task_kind == "classification" else X[:, 0] * 2 + y
    name = "RandomForestClassifier" if task_kind == "classification" else "ExtraTreesRegressor"
    spec = ModelSpec("rf", name, {"n_estimators": 11}, simplicity=2)
    one = call(spec, np.arange(300), np.arange(300, 400), seed=5, task_kind=task_kind, tree_jobs=2)
    whole = fit_and_predict(one, FitData(X, target))
    batches = []
    real = tasks.fit_predict_in_batches
    monkeypatch.setattr(tasks, "fit_predict_in_batches", lambda *a: batches.append(a[-1]) or real(*a))
    monkeypatch.setattr(forests, "WHOLE_FOREST_BYTES", 300 * forests.TREE_BYTES_PER_ROW * 3)
    monkeypatch.setattr(forests, "TREE_BUDGET_BYTES", 300 * 8 * 3)  # a few trees
    batched = fit_and_predict(one, FitData(X, target))
    assert batches == [2] and whole.error is None and batched.error is None  # batched, on two threads
    np.testing.assert_array_equal(whole.predictions, batched.predictions)


def test_forest_whose_model_is_kept_is_fitted_whole(tmp_path, monkeypatch):
    import mlproj.execute.forests as forests
    import mlproj.execute.tasks as tasks
    from mlproj.plan.estimators import is_allowed_estimator_class as ESTIMATORS
    from mlproj.store.model_files import load_model

    monkeypatch.setattr(forests, "WHOLE_FOREST_BYTES", 1)
    monkeypatch.setattr(tasks, "fit_predict_in_batches", lambda *a: pytest.fail("a kept model was batched"))
    X, y = dataset(n=200)
    spec = ModelSpec("rf", "RandomForestClassifier", {"n_estimators": 6}, simplicity=2)
    output = fit_and_predict(call(spec, np.arange(150), np.arange(150, 200), seed=1,
                                  model_path=str(tmp_path / "rf.skops")), FitData(X, y))
    assert output.error is None and len(load_model(tmp_path / "rf.skops", ESTIMATORS).estimators_) == 6


def test_training_rows_are_freed_before_the_validation_rows_are_predicted():
    import weakref

    from mlproj.execute.tasks import _fit_predict

    X, y = dataset(n=100)
    X_train = X[np.arange(80)]
    alive = weakref.ref(X_train)

    class Probe:
        classes_ = np.array([0, 1])

        def fit(self, X, y):
            assert alive() is not None
            return self

        def predict_proba(self, X):
            assert alive() is None, "the training rows are still held while predicting"
            return np.full((len(X), 2), 0.5)

    training = [X_train, y[:80], {}]
    del X_train
    got = _fit_predict(Probe(), MODELS[1], "classification", training, X, np.arange(80, 100), 2, 1, keep_trees=False)
    assert got.shape == (20, 2) and training == []
