"""Tests of what a candidate may be beyond one scikit-learn class (mlproj.plan.estimators):
third-party estimators through allow_imports, Pipelines of allow-listed steps, variants and
nested searches; and the selection rule that prefers a simpler variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlproj.errors import ConfigError
from mlproj.plan.estimators import (
    ModelSpec,
    build_estimator,
    model_specs,
    resolve_specs,
    variant_settings,
)
from mlproj.project.loading import parse_project
from mlproj.science import stats
from tests.conftest import minimal_project_text

PATH = Path("proj/mlproj.yaml")


def loaded(candidates: str, extra: str = "", task: str = "classification"):
    return parse_project(minimal_project_text(task, "baselines: [dummy]\n" + extra + f"candidates:\n{candidates}"),
                         PATH)


def error(candidates: str, extra: str = "", task: str = "classification") -> str:
    with pytest.raises(ConfigError) as info:
        resolve_specs(loaded(candidates, extra, task))
    return info.value.render()


# --------------------------------------------------------------------------- third-party estimators

def test_a_third_party_estimator_needs_its_exact_path_in_allow_imports():
    text = error("  - {name: xgb, estimator: xgboost.XGBClassifier}\n")
    assert "(candidates[0].estimator)" in text and "mlproj.yaml:" in text
    assert "allow_imports does not list" in text and "allow_imports: [xgboost.XGBClassifier]" in text
    # another path of the same library is not the one listed
    text = error("  - {name: xgb, estimator: xgboost.sklearn.XGBClassifier}\n",
                 "allow_imports: [xgboost.XGBClassifier]\n")
    assert "allow_imports does not list" in text


def test_a_bare_third_party_name_says_where_it_comes_from():
    text = error("  - {name: xgb, estimator: XGBClassifier}\n")
    assert "SGDClassifier" not in text
    assert "estimator: xgboost.XGBClassifier" in text and "allow_imports" in text
    assert 'pip install "mlproj[boosting]"' in text


def test_a_listed_path_that_cannot_be_imported_says_what_to_install():
    text = error("  - {name: cb, estimator: catboost_missing.CatBoostClassifier}\n",
                 "allow_imports: [catboost_missing.CatBoostClassifier]\n")
    assert "cannot import 'catboost_missing'" in text and "(candidates[0].estimator)" in text


def test_a_missing_boosting_library_points_to_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if not installed: importing it raises ImportError
    text = error("  - {name: xgb, estimator: xgboost.XGBClassifier}\n", "allow_imports: [xgboost.XGBClassifier]\n")
    assert "cannot import 'xgboost'" in text and 'pip install "mlproj[boosting]"' in text


def test_only_estimators_of_the_task_are_accepted():
    pytest.importorskip("xgboost")
    text = error("  - {name: xgb, estimator: xgboost.XGBRegressor}\n", "allow_imports: [xgboost.XGBRegressor]\n")
    assert "not a scikit-learn-compatible classifier (it is a regressor)" in text
    text = error("  - {name: np, estimator: numpy.ndarray}\n", "allow_imports: [numpy.ndarray]\n")
    assert "not a scikit-learn-compatible classifier" in text


@pytest.mark.parametrize("path", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier"])
def test_an_allowed_third_party_estimator_resolves_and_builds_quietly_on_one_thread(path):
    pytest.importorskip(path.split(".")[0])
    specs = resolve_specs(loaded(f"  - {{name: m, estimator: {path}, params: {{n_estimators: 5}}}}\n",
                                 f"allow_imports: [{path}]\n"))
    spec = specs[-1]
    assert spec.imports == (path,) and spec.simplicity == 2  # gradient-boosted trees
    estimator = build_estimator(spec, "classification", seed=7)
    params = estimator.get_params()
    assert params["n_jobs"] == 1 and params["random_state"] == 7 and params["n_estimators"] == 5
    assert spec.identity()["third_party_defaults"][path]["n_jobs"] == 1


def test_keys_of_projects_without_the_new_keys_do_not_change():
    spec = ModelSpec("hgb", "HistGradientBoostingClassifier", {"max_iter": 5})
    assert spec.identity() == {"estimator": "HistGradientBoostingClassifier", "params": {"max_iter": 5},
                               "scale": False}
    [*_, plain] = model_specs(loaded("  - {name: hgb, estimator: HistGradientBoostingClassifier}\n").project)
    assert (plain.steps, plain.search, plain.parent, plain.imports) == (None, None, None, ())


# --------------------------------------------------------------------------- pipelines

PIPELINE = ("  - name: pipe\n    estimator: Pipeline\n    steps:\n"
            "      - {estimator: StandardScaler}\n      - {estimator: PCA, params: {n_components: 2}}\n"
            "      - {estimator: LogisticRegression, params: {max_iter: 1000}}\n")


def test_a_pipeline_of_allowed_steps_builds_and_predicts():
    [*_, spec] = resolve_specs(loaded(PIPELINE))
    assert [s["name"] for s in spec.steps] == ["standardscaler", "pca", "logisticregression"]
    assert spec.simplicity == 1  # ranked by its estimator: linear
    assert spec.identity()["steps"][1] == {"name": "pca", "estimator": "PCA", "params": {"n_components": 2}}
    model = build_estimator(spec, "classification", seed=0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    assert model.fit(X, y).predict_proba(X).shape == (60, 2)
    assert model.named_steps["pca"].n_components == 2


@pytest.mark.parametrize(("steps", "where", "says"), [
    ("[{estimator: StandardScaler}, {estimator: RandomForestClassifier}, {estimator: LogisticRegression}]",
     "candidates[0].steps[1].estimator", "an estimator can only be the last step"),
    ("[{estimator: SelectFromModel}, {estimator: LogisticRegression}]", "candidates[0].steps[0].estimator",
     "not an allowed transformer"),
    ("[{estimator: FunctionTransformer}, {estimator: LogisticRegression}]", "candidates[0].steps[0].estimator",
     "not an allowed transformer"),
    ("[{estimator: StandardScaler}, {estimator: PCA}]", "candidates[0].steps[1].estimator", "unknown estimator"),
    ("[{estimator: os.system}, {estimator: LogisticRegression}]", "candidates[0].steps[0].estimator",
     "allow_imports does not list"),
    ("[{estimator: PCA, params: {n_componentz: 2}}, {estimator: LogisticRegression}]",
     "candidates[0].steps[0].params", "did you mean 'n_components'"),
])
def test_a_step_that_is_not_allowed_is_refused_where_it_is_written(steps, where, says):
    text = error(f"  - {{name: pipe, estimator: Pipeline, steps: {steps}}}\n")
    assert f"({where})" in text and says in text, text


def test_pipeline_params_name_their_step():
    text = error("  - {name: pipe, estimator: Pipeline, params: {C: 1}, steps: [{estimator: StandardScaler}, "
                 "{estimator: LogisticRegression}]}\n")
    assert "(candidates[0].params)" in text and "<step>__<param>" in text
    with pytest.raises(ConfigError, match="only `estimator: Pipeline` takes"):
        loaded("  - {name: x, estimator: LogisticRegression, steps: [{estimator: StandardScaler}]}\n")


# --------------------------------------------------------------------------- variants

def test_variants_are_models_of_their_own_on_the_same_folds():
    specs = model_specs(loaded("  - name: hgb\n    estimator: HistGradientBoostingClassifier\n"
                               "    params: {max_iter: 50, learning_rate: 0.1}\n"
                               "    variants: {shallow: {max_depth: 3}, few: {max_iter: 10}}\n").project)
    names = [s.name for s in specs]
    assert names == ["dummy", "hgb", "hgb.shallow", "hgb.few"]
    shallow, few = specs[2], specs[3]
    assert shallow.parent == "hgb" and shallow.role == "candidate" and shallow.changes == {"max_depth": 3}
    assert shallow.params == {"learning_rate": 0.1, "max_depth": 3, "max_iter": 50}
    assert few.params["max_iter"] == 10
    assert "parent" not in shallow.identity()  # the fit is what the params say, whoever asks for it


def test_a_variant_name_that_collides_is_refused():
    with pytest.raises(ConfigError) as info:
        loaded("  - {name: a.b, estimator: LogisticRegression}\n"
               "  - {name: a, estimator: LogisticRegression, variants: {b: {C: 0.1}}}\n")
    assert "candidates[1].variants" in info.value.render() and "'a.b'" in info.value.render()


def test_invalid_variant_params_point_at_the_variant():
    text = error("  - {name: lr, estimator: LogisticRegression, variants: {bad: {CC: 1}}}\n")
    assert "(candidates[0].variants.bad)" in text and "did you mean 'C'" in text


@pytest.mark.parametrize(("changes", "settings"), [
    ({"max_depth": 3}, -1), ({"max_iter": 10}, -1), ({"max_leaf_nodes": 63}, 1), ({"l2_regularization": 1.0}, -1),
    ({"learning_rate": 0.05}, 0), ({"max_depth": 3, "max_iter": 500}, 0),
])
def test_a_variant_knows_whether_it_is_a_simpler_sub_model(changes, settings):
    from sklearn.ensemble import HistGradientBoostingClassifier

    parent = HistGradientBoostingClassifier(max_iter=100)
    assert variant_settings(parent, HistGradientBoostingClassifier(**{"max_iter": 100, **changes}), changes) == settings


def test_resolved_variants_carry_their_settings():
    specs = resolve_specs(loaded("  - name: rf\n    estimator: RandomForestClassifier\n"
                                 "    variants: {few: {n_estimators: 20}, many: {n_estimators: 500}}\n"))
    assert {s.name: s.settings for s in specs if s.parent} == {"rf.few": -1, "rf.many": 1}


def test_selection_prefers_the_equivalent_variant_with_fewer_settings():
    rng = np.random.default_rng(1)
    base = 0.9 + 0.01 * rng.normal(size=10)
    parent = stats.Candidate("hgb", list(base), simplicity=2, fit_seconds=0.5)
    # as good (within a margin far above the noise), same family, slower to fit, but a simpler sub-model
    variant = stats.Candidate("hgb.shallow", list(base + 0.0005), simplicity=2, fit_seconds=0.9, settings=-1)
    larger = stats.Candidate("hgb.big", list(base + 0.001), simplicity=2, fit_seconds=0.1, settings=1)
    chosen = stats.select_model([parent, variant, larger], folds=5, repeats=2, margin=0.05)
    assert chosen.selected == "hgb.shallow"
    assert "simpler variant" in chosen.reason
    # without its settings the faster fit would have won
    plain = stats.Candidate("hgb.shallow", list(base + 0.0005), simplicity=2, fit_seconds=0.9)
    assert stats.select_model([parent, plain], folds=5, repeats=2, margin=0.05).selected == "hgb"
    # a simpler family still comes first
    linear = stats.Candidate("logistic", list(base), simplicity=1, fit_seconds=2.0)
    assert stats.select_model([parent, variant, linear], folds=5, repeats=2, margin=0.05).selected == "logistic"


def test_selection_keeps_the_parent_when_the_variant_is_worse():
    rng = np.random.default_rng(2)
    base = 0.9 + 0.005 * rng.normal(size=10)
    parent = stats.Candidate("hgb", list(base), 2, 0.5)
    variant = stats.Candidate("hgb.shallow", list(base - 0.1), 2, 0.1, settings=-1)
    assert stats.select_model([parent, variant], folds=5, repeats=2, margin=0.01).selected == "hgb"


# --------------------------------------------------------------------------- nested search

def test_a_search_enters_the_identity_with_its_scoring():
    specs = model_specs(loaded("  - name: hgb\n    estimator: HistGradientBoostingClassifier\n"
                               "    search: {max_leaf_nodes: [7, 15]}\n    search_folds: 4\n"
                               "    variants: {shallow: {max_depth: 2}, fixed: {max_leaf_nodes: 7}}\n").project)
    hgb, shallow, fixed = specs[1:]
    assert hgb.search == {"grid": {"max_leaf_nodes": [7, 15]}, "folds": 4, "iterations": None,
                          "scoring": {"metric": "roc_auc", "params": {}, "positives": [0], "greater_is_better": True}}
    assert hgb.identity()["search"] == hgb.search
    assert shallow.search["grid"] == {"max_leaf_nodes": [7, 15]}
    assert fixed.search is None  # the variant fixes the parameter the search would tune


def test_search_parameters_are_checked():
    text = error("  - {name: h, estimator: HistGradientBoostingClassifier, search: {max_depth: [2, -1]}}\n")
    assert "(candidates[0].search)" in text and "max_depth = -1" in text
    with pytest.raises(ConfigError, match="sets search_iterations but has no search"):
        loaded("  - {name: h, estimator: HistGradientBoostingClassifier, search_iterations: 3}\n")
