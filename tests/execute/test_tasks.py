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


# Augmentation recomputes derived features from each jittered copy (issue 22, point 10; DESIGN §3).

def _colour_dataset(tmp_path, n=120):
    import pandas as pd

    from mlproj.data.dataset import load_dataset
    from tests.e2e.helpers import write_project

    rng = np.random.default_rng(0)
    g = rng.uniform(17, 21, n)
    u = g + rng.normal(1.5, 0.4, n)
    pd.DataFrame({"u": u, "g": g, "u_err": rng.uniform(0.05, 0.2, n), "g_err": rng.uniform(0.05, 0.1, n),
                  "z": 0.1 * (u - g) + 0.2}).to_csv(tmp_path / "cat.csv", index=False)
    path = write_project(tmp_path, {
        "name": "colours", "objective": {"statement": "s", "task": "regression"},
        "data": {"path": "cat.csv", "label": "z", "features": ["u", "g"], "derived": {"u_g": "u - g"},
                 "errors": {"u": "u_err", "g": "g_err"}, "augment": 3},
        "metric": {"primary": "rmse"}, "finish_line": {"threshold": 0.5}})
    from mlproj.project.loading import load_project

    return load_dataset(load_project(path))


def test_augmented_copies_recompute_the_colour_from_their_jittered_magnitudes(tmp_path):
    from mlproj.execute.tasks import _training_rows

    data = _colour_dataset(tmp_path)
    assert data.feature_names == ["u", "g", "u_g"]
    fit_data = FitData(data.X, data.y, data.errors, data.limit_ranges, data.recompute)
    spec = ModelSpec("linear", "LinearRegression", augment=3)
    train = np.arange(0, 90)
    one = call(spec, train, np.arange(90, 120), seed=2, task_kind="regression", draws=3)
    X_train, y_train, _ = _training_rows(one, build_estimator(spec, "regression", 2), fit_data)
    assert len(X_train) == 4 * 90
    copies = X_train[90:]
    assert not np.allclose(copies[:, 0], data.X[np.repeat(train, 3), 0])  # magnitudes scattered ...
    np.testing.assert_allclose(copies[:, 2], copies[:, 0] - copies[:, 1], atol=1e-12)  # ... colour recomputed
    np.testing.assert_array_equal(X_train[:90], data.X[train])  # the originals are untouched
    out = fit_and_predict(one, fit_data)
    assert out.error is None and out.predictions.shape == (30,)


def test_fit_data_with_a_recomputation_pickles_for_process_workers(tmp_path):
    import pickle

    from mlproj.science.augmentation import augmented_training_set

    data = _colour_dataset(tmp_path)
    fit_data = FitData(data.X, data.y, data.errors, data.limit_ranges, data.recompute)
    clone = pickle.loads(pickle.dumps(fit_data))
    train = np.arange(50)
    a = augmented_training_set(fit_data.X, fit_data.y, fit_data.errors, train, 2, 1, recompute=fit_data.recompute)[0]
    b = augmented_training_set(clone.X, clone.y, clone.errors, train, 2, 1, recompute=clone.recompute)[0]
    np.testing.assert_array_equal(a, b)


def test_the_task_key_of_an_augmented_model_changes_with_the_recomputation():
    from pathlib import Path

    from mlproj.plan.compile import compile_plan
    from mlproj.plan.estimators import model_specs
    from mlproj.project.loading import parse_project

    def keys(derived: str, augment: int = 2) -> list[str]:
        text = ("name: p\nobjective: {statement: s, task: regression}\n"
                f"data: {{path: x.csv, label: c, features: [u, g], derived: {{u_g: '{derived}'}}, "
                f"errors: {{u: eu}}, augment: {augment}}}\n"
                "metric: {primary: rmse}\nfinish_line: {threshold: 0.5}\n")
        project = parse_project(text, Path("mlproj.yaml")).project
        plan = compile_plan(project, model_specs(project), np.arange(40.0), ["u", "g", "u_g"], "f")
        return [t.key for t in plan.tasks if t.model == "linear"]

    assert set(keys("u - g")).isdisjoint(keys("g - u"))
    # fits made before copies recomputed their derived features are not reused
    assert ModelSpec("m", "LinearRegression", augment=2).identity()["augment"] != 2


def test_a_derived_feature_reading_a_column_without_errors_keeps_that_column_fixed(tmp_path):
    """u_g = u - g with only g a feature with errors: copies move g, and u_g with it, u stays."""
    import pandas as pd

    from mlproj.data.dataset import load_dataset
    from mlproj.project.loading import load_project
    from tests.e2e.helpers import write_project

    rng = np.random.default_rng(3)
    n = 60
    g = rng.uniform(17, 21, n)
    u = g + rng.normal(1.5, 0.4, n)
    pd.DataFrame({"u": u, "g": g, "g_err": np.full(n, 0.1), "e_ug": np.full(n, 0.2),
                  "z": rng.normal(size=n)}).to_csv(tmp_path / "cat.csv", index=False)
    path = write_project(tmp_path, {
        "name": "colours", "objective": {"statement": "s", "task": "regression"},
        "data": {"path": "cat.csv", "label": "z", "features": ["g"], "derived": {"u_g": "u - g"},
                 "errors": {"g": "g_err", "u_g": "e_ug"}, "augment": 2},
        "metric": {"primary": "rmse"}, "finish_line": {"threshold": 0.5}})
    data = load_dataset(load_project(path))
    assert data.feature_names == ["g", "u_g"] and data.recompute.recomputed == ["u_g"]
    # its own error is not used: it follows g
    assert any("data.errors of the derived feature(s) u_g are not used" in w for w in data.warnings)
    rows = np.arange(10, 50)
    from mlproj.science.augmentation import augmented_training_set

    X_aug, _, source = augmented_training_set(data.X, data.y, data.errors, rows, 2, 0, data.limit_ranges,
                                              data.recompute)
    copies, origin = X_aug[40:], source[40:]
    np.testing.assert_allclose(copies[:, 1], u[origin] - copies[:, 0], atol=1e-12)
    assert np.std(copies[:, 0] - g[origin]) > 0.05
