"""Tests of mlproj.plan.estimators: the allow-list, baselines, simplicity and the uninformative dummy."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.errors import ConfigError
from mlproj.plan.estimators import (
    SIMPLICITY,
    ModelSpec,
    allowed_estimators,
    build_estimator,
    model_specs,
    resolve_specs,
    supports_missing_values,
)
from mlproj.project.loading import parse_project
from mlproj.science.metrics import tpr_at_fpr
from tests.conftest import minimal_project_text

PATH = Path("proj/mlproj.yaml")


def loaded(task: str = "classification", candidates: str = "", baselines: str | None = None):
    text = minimal_project_text(task, (f"baselines: {baselines}\n" if baselines is not None else "")
                                + (f"candidates:\n{candidates}" if candidates else ""))
    return parse_project(text, PATH)


def resolve_error(candidates: str, task: str = "classification") -> str:
    with pytest.raises(ConfigError) as info:
        resolve_specs(loaded(task, candidates))
    text = info.value.render()
    assert "mlproj.yaml:" in text and "(candidates[0].estimator)" in text
    return text


# --------------------------------------------------------------------------- specs

def test_model_specs_classification_order_and_roles():
    specs = model_specs(loaded(candidates=(
        "  - {name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 5, learning_rate: 0.1}}\n"
        "  - {name: knn, estimator: KNeighborsClassifier, scale: true}\n")).project)
    assert [(s.name, s.estimator, s.role) for s in specs] == [
        ("dummy", "UninformativeClassifier", "baseline"),
        ("logistic", "LogisticRegression", "baseline"),
        ("random_forest", "RandomForestClassifier", "baseline"),
        ("hgb", "HistGradientBoostingClassifier", "candidate"),
        ("knn", "KNeighborsClassifier", "candidate"),
    ]
    assert [s.simplicity for s in specs[:3]] == [0, 1, 2]
    assert specs[1].scale and not specs[2].scale and specs[4].scale
    assert list(specs[3].params) == ["learning_rate", "max_iter"]  # sorted, for stable keys
    assert [s.config_index for s in specs] == [None, None, None, 0, 1]


def test_model_specs_regression_baselines():
    specs = model_specs(loaded("regression").project)
    assert [(s.name, s.estimator) for s in specs] == [
        ("dummy", "DummyRegressor"), ("linear", "LinearRegression"), ("random_forest", "RandomForestRegressor")]
    assert specs[0].params == {"strategy": "median"}


def test_model_specs_baseline_selection():
    specs = model_specs(loaded(baselines="[dummy]",
                               candidates="  - {name: lr, estimator: LogisticRegression}\n").project)
    assert [s.name for s in specs] == ["dummy", "lr"]


def test_identity_excludes_name():
    a = ModelSpec("a", "LogisticRegression", {"C": 1.0})
    b = ModelSpec("b", "LogisticRegression", {"C": 1.0}, role="baseline")
    assert a.identity() == b.identity()
    assert a.identity() != ModelSpec("a", "LogisticRegression", {"C": 2.0}).identity()


# --------------------------------------------------------------------------- resolution errors

def test_unknown_estimator_with_suggestion():
    text = resolve_error("  - {name: a, estimator: HistGradientBoostingClasifier}\n")
    assert "unknown estimator 'HistGradientBoostingClasifier'" in text
    assert "HistGradientBoostingClassifier" in text.split("unknown estimator")[1]


def test_regressor_in_classification_project():
    text = resolve_error("  - {name: a, estimator: RandomForestRegressor}\n")
    assert "is a regressor, but this is a classification project" in text


def test_classifier_in_regression_project():
    text = resolve_error("  - {name: a, estimator: RandomForestClassifier}\n", task="regression")
    assert "is a classifier, but this is a regression project" in text


def test_unknown_param_with_suggestion():
    text = resolve_error("  - {name: a, estimator: RandomForestClassifier, params: {n_estimator: 5}}\n")
    assert "has no parameter 'n_estimator'" in text and "did you mean 'n_estimators'" in text


@pytest.mark.parametrize("params", ["{max_iter: -5}", "{learning_rate: bad}", "{max_depth: {a: 1}}"])
def test_invalid_param_value(params):
    text = resolve_error(f"  - {{name: a, estimator: HistGradientBoostingClassifier, params: {params}}}\n")
    assert "invalid parameters for 'HistGradientBoostingClassifier'" in text


@pytest.mark.parametrize("estimator", ["LinearSVC", "SVC", "RidgeClassifier"])
def test_classifier_without_predict_proba(estimator):
    text = resolve_error(f"  - {{name: a, estimator: {estimator}}}\n")
    assert "does not predict probabilities" in text


def test_meta_estimators_needing_objects_are_not_allowed():
    assert "StackingClassifier" not in allowed_estimators("classification")
    assert "UninformativeClassifier" in allowed_estimators("classification")
    assert "UninformativeClassifier" not in allowed_estimators("regression")


# --------------------------------------------------------------------------- simplicity

def test_simplicity_ranks():
    specs = resolve_specs(loaded(candidates=(
        "  - {name: lr, estimator: LogisticRegression}\n"
        "  - {name: rf, estimator: RandomForestClassifier, params: {n_estimators: 5}}\n"
        "  - {name: knn, estimator: KNeighborsClassifier}\n"
        "  - {name: dummy2, estimator: UninformativeClassifier}\n"
        "  - {name: hgb, estimator: HistGradientBoostingClassifier}\n")))
    ranks = {s.name: s.simplicity for s in specs}
    assert ranks == {"dummy": 0, "logistic": 1, "random_forest": 2, "lr": 1, "rf": 2, "knn": 3,
                     "dummy2": 0, "hgb": 2}
    assert SIMPLICITY == {"dummy": 0, "linear": 1, "trees": 2, "other": 3}


def test_resolve_specs_regression_defaults_valid():
    assert [s.name for s in resolve_specs(loaded("regression"))] == ["dummy", "linear", "random_forest"]


# --------------------------------------------------------------------------- building

def test_build_estimator_sets_random_state_from_seed():
    rf = build_estimator(ModelSpec("rf", "RandomForestClassifier"), "classification", seed=7)
    assert rf.random_state == 7
    fixed = build_estimator(ModelSpec("rf", "RandomForestClassifier", {"random_state": 1}), "classification", seed=7)
    assert fixed.random_state == 1  # an explicit parameter wins
    dummy = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", seed=4)
    assert dummy.random_state == 4
    knn = build_estimator(ModelSpec("knn", "KNeighborsClassifier"), "classification", seed=4)
    assert "random_state" not in knn.get_params()


def test_build_estimator_scale_makes_pipeline():
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    est = build_estimator(ModelSpec("lr", "LogisticRegression", {"max_iter": 50}, scale=True), "classification", 3)
    assert isinstance(est, Pipeline) and isinstance(est.steps[0][1], StandardScaler)
    assert est.steps[-1][1].random_state == 3 and est.steps[-1][1].max_iter == 50


def test_build_estimator_fresh_each_time():
    spec = ModelSpec("rf", "RandomForestClassifier")
    assert build_estimator(spec, "classification", 0) is not build_estimator(spec, "classification", 0)


def test_supports_missing_values():
    assert supports_missing_values(ModelSpec("h", "HistGradientBoostingClassifier"), "classification")
    assert not supports_missing_values(ModelSpec("l", "LogisticRegression", scale=True), "classification")


# --------------------------------------------------------------------------- uninformative classifier

@pytest.fixture(scope="module")
def uninformative_fit():
    rng = np.random.default_rng(0)
    n = 100_000
    y = (rng.random(n) < 0.3).astype(np.int64)
    X = np.zeros((n, 2))
    est = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", seed=5).fit(X, y)
    return est, X, y


def test_uninformative_tpr_at_fpr_is_the_diagonal(uninformative_fit):
    est, X, y = uninformative_fit
    point = tpr_at_fpr(y == 1, est.predict_proba(X)[:, 1], 0.01)
    assert point.value == pytest.approx(0.01, abs=0.003)
    assert point.achieved_fpr <= 0.01


def test_uninformative_proba_is_the_prior(uninformative_fit):
    est, X, y = uninformative_fit
    proba = est.predict_proba(X)
    prior = np.bincount(y) / len(y)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.abs(proba - prior).max() <= 1e-6
    np.testing.assert_array_equal(est.predict(X[:5]), [0] * 5)
    np.testing.assert_array_equal(est.classes_, [0, 1])


def test_uninformative_is_seeded(uninformative_fit):
    est, X, y = uninformative_fit
    np.testing.assert_array_equal(est.predict_proba(X[:100]), est.predict_proba(X[:100]))
    other = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", seed=6).fit(X[:100], y[:100])
    assert not np.array_equal(other.predict_proba(X[:100]), est.predict_proba(X[:100]))


def test_uninformative_multiclass_rows_sum_to_one():
    y = np.array([0, 1, 2, 2, 2, 1] * 10)
    est = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", 0).fit(np.zeros((60, 1)), y)
    proba = est.predict_proba(np.zeros((7, 1)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(proba, np.tile([1 / 6, 2 / 6, 3 / 6], (7, 1)), atol=1e-6)


def test_uninformative_pickles(uninformative_fit):
    est, X, _ = uninformative_fit
    clone = pickle.loads(pickle.dumps(est))
    assert type(clone).__name__ == "UninformativeClassifier"
    np.testing.assert_array_equal(clone.predict_proba(X[:50]), est.predict_proba(X[:50]))
    np.testing.assert_array_equal(clone.prior_, est.prior_)


@pytest.mark.slow
def test_uninformative_unpickles_in_a_fresh_process():
    est = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", 1)
    est.fit(np.zeros((4, 1)), np.array([0, 1, 1, 1]))
    code = ("import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); "
            "print(type(m).__name__, m.prior_.tolist())")
    result = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(est), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "UninformativeClassifier [0.25, 0.75]"


def test_fast_lookup_agrees_with_the_complete_allow_list():
    from mlproj.plan.estimators import allowed_estimators, estimator_class

    for task in ("classification", "regression"):
        allowed = allowed_estimators(task)
        for name, cls in allowed.items():
            found = estimator_class(name, task)
            assert found is None or found is cls, name  # None: found by the complete list instead
        assert estimator_class("RandomForestRegressor", "classification") is None
        assert estimator_class("OneVsRestClassifier", task) is None  # needs an estimator object


def test_estimators_command_lists_the_allow_list():
    from tests.e2e.helpers import cli

    result = cli("estimators", "--task", "regression")
    assert result.exit_code == 0
    assert "HistGradientBoostingRegressor" in result.stdout and "LogisticRegression" not in result.stdout


def test_estimators_command_says_which_classifiers_give_probabilities():
    from tests.e2e.helpers import cli

    result = cli("estimators")
    assert result.exit_code == 0 and "Warning" not in result.output  # deprecated classes are built quietly
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()[1:]}
    assert rows["HistGradientBoostingClassifier"] == "trees yes"
    assert rows["LinearSVC"] == "linear no"  # a linear model, whatever sklearn.svm holds
    assert rows["SVC"] == "other with some params (see its documentation)"
    assert rows["QuadraticDiscriminantAnalysis"] == "other yes"


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("baselines", ["[dummy]", "[standard]", "[dummy, standard]"])
def test_names_reserved_by_the_config_are_those_of_the_baselines_run(task, baselines):
    """mlproj.project.rules cannot import this module (verdict must stay light), so it lists the
    baseline names itself; they must be the ones model_specs gives."""
    from mlproj.project.rules import baseline_names as _baseline_names

    project = loaded(task, "  - {name: mine, estimator: DecisionTree%s}\n" % (
        "Classifier" if task == "classification" else "Regressor"), baselines=baselines).project
    assert _baseline_names(project) == {s.name for s in model_specs(project) if s.role == "baseline"}


# The dummy's tie-breaker belongs to the object, not to its row (issue 22, point 9).

def _fold_predictions(X, y, folds, seed=0):
    """The dummy's positive-class score of every validation object, per fold, keyed by object id."""
    out = []
    for train, valid in folds:
        est = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", seed)
        est.fit(X[train], y[train])
        out.append(est.predict_proba(X[valid])[:, 1])
    return out


def _class_sorted_catalogue(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], [n * 3 // 4, n - n * 3 // 4])  # every star first, then every galaxy
    X = rng.normal(size=(n, 3))
    return X, y


def test_uninformative_scores_differ_between_the_folds_of_a_class_sorted_catalogue():
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = _class_sorted_catalogue()
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    scores = [roc_auc_score(y[valid], p) for (_, valid), p in zip(folds, _fold_predictions(X, y, folds))]
    assert len(set(scores)) > 1  # one repeat seed, yet not one dummy score for every fold
    assert all(0.3 < s < 0.7 for s in scores)  # still the diagonal


def test_uninformative_scores_do_not_depend_on_row_order():
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    X, y = _class_sorted_catalogue()
    perm = np.random.default_rng(1).permutation(len(y))
    position = np.argsort(perm)  # where each object of the sorted catalogue sits in the shuffled one
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    shuffled_folds = [(np.sort(position[t]), np.sort(position[v])) for t, v in folds]
    sorted_p = _fold_predictions(X, y, folds)
    shuffled_p = _fold_predictions(X[perm], y[perm], shuffled_folds)
    for (_, valid), (_, valid_s), a, b in zip(folds, shuffled_folds, sorted_p, shuffled_p):
        # the same objects get the same scores, wherever their rows are
        np.testing.assert_array_equal(np.sort(a), np.sort(b))
        np.testing.assert_array_equal(a, b[np.searchsorted(valid_s, position[valid])])
        assert roc_auc_score(y[valid], a) == roc_auc_score(y[perm][valid_s], b)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(20, 80))
def test_uninformative_depends_on_the_objects_not_their_order(seed, n):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(n, 2)).astype(float)  # duplicates on purpose
    X[rng.random(n) < 0.1, 0] = np.nan
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    perm = rng.permutation(n)
    est = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", 3).fit(X, y)
    again = build_estimator(ModelSpec("dummy", "UninformativeClassifier"), "classification", 3).fit(X[perm], y[perm])
    a, b = est.predict_proba(X)[:, 1], again.predict_proba(X[perm])[:, 1]
    np.testing.assert_array_equal(np.sort(a), np.sort(b))
    _, inverse, counts = np.unique(np.nan_to_num(X, nan=-1.0), axis=0, return_inverse=True, return_counts=True)
    unique = counts[inverse.ravel()] == 1  # an object without a twin keeps its own score, wherever it is
    np.testing.assert_array_equal(a[perm][unique[perm]], b[unique[perm]])
    assert len(np.unique(a)) == n  # even identical objects are not tied: the diagonal, not a step
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0, atol=1e-12)


def test_the_dummy_tie_breaker_is_part_of_its_task_key():
    """Cached dummy predictions made with the old row-order tie-breaker are not reused."""
    identity = ModelSpec("dummy", "UninformativeClassifier").identity()
    assert identity != {"estimator": "UninformativeClassifier", "params": {}, "scale": False}
    assert ModelSpec("lr", "LogisticRegression").identity() == {"estimator": "LogisticRegression", "params": {},
                                                                 "scale": False}
