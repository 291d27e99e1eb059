"""Tests of mlproj.execute.search: a nested search tunes on the outer training rows only, and
the outer validation rows are predicted by the model refitted with its choice (a leak detector
records every row each inner fit and inner score sees)."""

from __future__ import annotations

import numpy as np
import pytest

from mlproj.execute.cache import Cache
from mlproj.execute.search import SearchScorer, chosen, final_model, parameter_prefix, with_search
from mlproj.execute.tasks import FitCall, FitData, fit_and_predict
from mlproj.plan.estimators import ModelSpec, build_estimator
from tests.execute import leak_detector

RECORDER = "tests.execute.leak_detector.RowRecorder"
SCORING = {"metric": "brier", "params": {}, "positives": [1], "greater_is_better": False}


def _data(n: int = 120):
    rng = np.random.default_rng(0)
    signal = rng.normal(size=n)
    y = (signal + 0.3 * rng.normal(size=n) > 0).astype(int)
    X = np.column_stack([np.arange(n, dtype=float), signal])  # feature 0: the row index
    return X, y


def _spec(grid: dict, iterations: int | None = None, folds: int = 3) -> ModelSpec:
    return ModelSpec("leaky", RECORDER, {}, imports=(RECORDER,),
                     search={"grid": grid, "folds": folds, "iterations": iterations, "scoring": SCORING})


@pytest.mark.parametrize("iterations", [None, 2])
def test_the_inner_search_never_sees_the_outer_validation_rows(iterations):
    X, y = _data()
    rng = np.random.default_rng(1)
    rows = rng.permutation(len(y))
    train, valid = np.sort(rows[:80]), np.sort(rows[80:])
    spec = _spec({"strength": [-1.0, 0.5, 3.0]}, iterations)
    leak_detector.LOG.clear()
    output = fit_and_predict(FitCall(spec, "classification", "k", train, valid, seed=5), FitData(X, y))
    assert output.error is None, output.error
    log = list(leak_detector.LOG)
    fits = [(who, seen) for kind, who, seen in log if kind == "fit"]
    outer_valid, outer_train = set(valid.tolist()), set(train.tolist())
    # inner fits and inner scores (everything before the refit) saw training rows only
    *inner_fits, (refit, refit_rows) = fits
    assert len(inner_fits) == 3 * (iterations or 3)  # inner folds x combinations tried
    for kind, _, seen in log[:log.index(("fit", refit, refit_rows))]:
        assert seen <= outer_train and not seen & outer_valid, kind
    # every inner fold validated on training rows the inner fit did not use
    inner_scored = [seen for kind, _, seen in log if kind == "predict" and seen != set(valid.tolist())]
    assert set().union(*inner_scored) == outer_train
    # the refit used the whole training part, and only it predicted the outer validation rows
    assert refit_rows == outer_train
    outer_predictions = [who for kind, who, seen in log if kind == "predict" and seen & outer_valid]
    assert outer_predictions == [refit]
    # the outer scores come from the refit model's predictions on those rows
    strength = output.search["strength"]
    expected = leak_detector.RowRecorder(strength).fit(X[train], y[train]).predict_proba(X[valid])
    np.testing.assert_array_equal(output.predictions, expected)
    assert strength == 3.0 or iterations  # the grid search finds the best slope


def test_the_choice_is_cached_with_the_predictions(tmp_path):
    X, y = _data()
    spec = _spec({"strength": [0.5, 3.0]})
    output = fit_and_predict(FitCall(spec, "classification", "ab" * 32, np.arange(80), np.arange(80, 120), 0),
                             FitData(X, y))
    cache = Cache(tmp_path)
    cache.put(output)
    hit = cache.get(output.key, 40)
    assert hit.search == output.search == {"strength": 3.0}
    plain = fit_and_predict(FitCall(ModelSpec("plain", RECORDER, {}, imports=(RECORDER,)), "classification",
                                    "cd" * 32, np.arange(80), np.arange(80, 120), 0), FitData(X, y))
    cache.put(plain)
    assert plain.search is None and cache.get(plain.key, 40).search is None
    with np.load(cache.path(plain.key)) as entry:
        assert "search" not in entry.files  # entries of fits without a search are as before


def test_the_search_wraps_scaling_and_calibration_by_their_parameter_names():
    spec = ModelSpec("lr", "LogisticRegression", {"max_iter": 500}, scale=True, calibration="sigmoid",
                     search={"grid": {"C": [0.1, 1.0]}, "folds": 2, "iterations": None, "scoring": SCORING})
    assert parameter_prefix(spec) == "calibratedclassifiercv__estimator__"
    model = with_search(build_estimator(spec, "classification", 0), spec, "classification", 0)
    X, y = _data()
    model.fit(X, y)
    assert set(chosen(model, spec)) == {"C"}
    assert type(final_model(model)).__name__ == "Pipeline"


def test_lower_is_better_metrics_are_negated_for_the_search():
    X, y = _data()
    model = leak_detector.RowRecorder(3.0).fit(X, y)
    brier = SearchScorer("brier", {}, (1,), False, "classification")(model, X, y)
    auc = SearchScorer("roc_auc", {}, (1,), True, "classification")(model, X, y)
    assert brier < 0 < auc <= 1
