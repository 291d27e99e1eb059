"""Tests of mlproj.plan.compile: compilation is pure, paired, leak-free and content-addressed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlproj.plan.compile import FINAL_FOLD, compile_plan
from mlproj.plan.estimators import ModelSpec, model_specs
from mlproj.project.loading import parse_project
from mlproj.project.schema import Project
from tests.conftest import minimal_project_text

FEATURES = ["u", "g", "r"]


def make_project(task: str = "classification", *, folds: int = 3, repeats: int = 2, seed: int = 0,
                 test_size: float = 0.25, candidates: str = "") -> Project:
    text = minimal_project_text(
        task, f"validation: {{folds: {folds}, repeats: {repeats}, seed: {seed}, test_size: {test_size}}}\n"
        + (f"candidates:\n{candidates}" if candidates else ""))
    return parse_project(text, Path("mlproj.yaml")).project


def labels(n: int = 80, positive_fraction: float = 0.25) -> np.ndarray:
    y = np.zeros(n, dtype=np.int64)
    y[: int(n * positive_fraction)] = 1
    return np.random.default_rng(3).permutation(y)


def plan_of(project=None, y=None, features=FEATURES, fingerprint="abc", models=None):
    project = project or make_project()
    y = labels() if y is None else y
    models = model_specs(project) if models is None else models
    return compile_plan(project, models, y, features, fingerprint, library_version="1.9")


def test_deterministic():
    a, b = plan_of(), plan_of()
    assert [t.key for t in a.tasks] == [t.key for t in b.tasks]
    assert {k: t.key for k, t in a.final_tasks.items()} == {k: t.key for k, t in b.final_tasks.items()}
    np.testing.assert_array_equal(a.test, b.test)
    for sa, sb in zip(a.splits, b.splits):
        np.testing.assert_array_equal(sa.train, sb.train)
        np.testing.assert_array_equal(sa.valid, sb.valid)
    assert a.to_dict() == b.to_dict()


def test_stratified_test_split_keeps_class_fractions():
    y = labels(200, 0.1)
    plan = plan_of(make_project(test_size=0.25), y)
    assert len(plan.test) == 50 and len(plan.development) == 150
    assert y[plan.test].mean() == pytest.approx(0.1, abs=0.01)
    assert y[plan.development].mean() == pytest.approx(0.1, abs=0.01)
    for split in plan.splits:  # stratified folds too
        assert y[split.valid].mean() == pytest.approx(0.1, abs=0.04)


def test_test_and_development_partition_rows():
    plan = plan_of()
    assert np.intersect1d(plan.test, plan.development).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([plan.test, plan.development])), np.arange(80))
    assert np.all(np.diff(plan.test) > 0) and np.all(np.diff(plan.development) > 0)


def test_splits_identical_across_models_and_seeds():
    plan = plan_of()
    assert len(plan.splits) == plan.folds * plan.repeats == 6
    for split in plan.splits:
        assert split.seed == 0 + split.repeat
    by_model: dict[str, list] = {}
    for task in plan.tasks:
        by_model.setdefault(task.model, []).append((task.repeat, task.fold, task.seed))
        train, valid = plan.rows_for(task)
        split = plan.split(task.repeat, task.fold)
        assert train is split.train and valid is split.valid
    designs = list(by_model.values())
    assert len(designs) == len(plan.models) == 3
    assert all(d == designs[0] for d in designs)


def test_seeds_follow_base_seed():
    plan = plan_of(make_project(seed=10, repeats=3))
    assert sorted({(s.repeat, s.seed) for s in plan.splits}) == [(0, 10), (1, 11), (2, 12)]
    assert all(t.seed == 10 + t.repeat for t in plan.tasks)
    assert all(t.seed == 10 and t.fold == FINAL_FOLD and t.is_final for t in plan.final_tasks.values())


def test_valid_folds_of_a_repeat_partition_development():
    plan = plan_of()
    for repeat in range(plan.repeats):
        valids = [plan.split(repeat, fold).valid for fold in range(plan.folds)]
        joined = np.concatenate(valids)
        assert len(joined) == len(np.unique(joined))
        np.testing.assert_array_equal(np.sort(joined), plan.development)
        for fold in range(plan.folds):
            split = plan.split(repeat, fold)
            assert np.intersect1d(split.train, split.valid).size == 0
            np.testing.assert_array_equal(np.sort(np.concatenate([split.train, split.valid])), plan.development)


def test_test_rows_never_in_any_fold():
    plan = plan_of()
    test = set(plan.test.tolist())
    for split in plan.splits:
        assert test.isdisjoint(split.train.tolist())
        assert test.isdisjoint(split.valid.tolist())
    final = next(iter(plan.final_tasks.values()))
    train, valid = plan.rows_for(final)
    np.testing.assert_array_equal(train, plan.development)
    np.testing.assert_array_equal(valid, plan.test)


def test_regression_uses_plain_kfold():
    y = np.linspace(0, 1, 60)
    plan = plan_of(make_project("regression"), y)
    assert plan.task_kind == "regression"
    assert len(plan.test) == 15
    assert [m.name for m in plan.models] == ["dummy", "linear", "random_forest"]


def test_task_keys_unique_per_model_and_split():
    plan = plan_of()
    assert len({t.key for t in plan.tasks}) == len(plan.tasks)
    assert all(len(t.key) == 64 for t in plan.tasks)


def _keys(plan, model_name):
    return [t.key for t in plan.tasks if t.model == model_name] + [plan.final_tasks[model_name].key]


def test_task_keys_change_with_params():
    base = make_project(candidates="  - {name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 10}}\n")
    other = make_project(candidates="  - {name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 20}}\n")
    a, b = plan_of(base), plan_of(other)
    assert set(_keys(a, "hgb")).isdisjoint(_keys(b, "hgb"))
    assert _keys(a, "dummy") == _keys(b, "dummy")  # other models are unaffected


def test_task_keys_change_with_scale():
    spec = ModelSpec("m", "LogisticRegression")
    a = plan_of(models=[spec])
    b = plan_of(models=[replace(spec, scale=True)])
    assert set(_keys(a, "m")).isdisjoint(_keys(b, "m"))


def test_task_keys_change_with_features_fingerprint_and_seed():
    reference = set(_keys(plan_of(), "dummy"))
    assert reference.isdisjoint(_keys(plan_of(features=["u", "g"]), "dummy"))
    assert reference.isdisjoint(_keys(plan_of(features=["g", "u", "r"]), "dummy"))
    assert reference.isdisjoint(_keys(plan_of(fingerprint="other"), "dummy"))
    assert reference.isdisjoint(_keys(plan_of(make_project(seed=1)), "dummy"))


def test_task_keys_change_with_library_version():
    project = make_project()
    a = compile_plan(project, model_specs(project), labels(), FEATURES, "abc", library_version="1.9")
    b = compile_plan(project, model_specs(project), labels(), FEATURES, "abc", library_version="1.10")
    assert set(_keys(a, "dummy")).isdisjoint(_keys(b, "dummy"))


def test_task_keys_unchanged_when_model_renamed():
    a = make_project(candidates="  - {name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 10}}\n")
    b = make_project(candidates="  - {name: boosted, estimator: HistGradientBoostingClassifier, params: {max_iter: 10}}\n")
    assert _keys(plan_of(a), "hgb") == _keys(plan_of(b), "boosted")


def test_task_keys_unchanged_by_param_order():
    a = make_project(candidates="  - {name: rf, estimator: RandomForestClassifier, params: {n_estimators: 5, max_depth: 3}}\n")
    b = make_project(candidates="  - {name: rf, estimator: RandomForestClassifier, params: {max_depth: 3, n_estimators: 5}}\n")
    assert _keys(plan_of(a), "rf") == _keys(plan_of(b), "rf")


def test_to_dict_json_and_counts():
    project = make_project(folds=4, repeats=3,
                           candidates="  - {name: hgb, estimator: HistGradientBoostingClassifier}\n")
    plan = plan_of(project)
    data = plan.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["total_fits"] == len(plan.models) * 4 * 3 == 48
    assert [m["fits"] for m in data["models"]] == [12, 12, 12, 12]
    assert [m["name"] for m in data["models"]] == ["dummy", "logistic", "random_forest", "hgb"]
    assert data["folds"] == 4 and data["repeats"] == 3 and data["features"] == FEATURES
    assert data["n_development"] + data["n_test"] == 80
    assert len(data["splits"]) == 12 and len(data["tasks"]) == 48
    assert data["data_fingerprint"] == "abc"


def test_tasks_are_model_major():
    plan = plan_of()
    names = [t.model for t in plan.tasks]
    assert names == sorted(names, key=[m.name for m in plan.models].index)


def test_the_plan_carries_the_val_train_ratio_of_its_time_windows():
    """The corrected SE needs the split's own n_val/n_train (DESIGN §6); K-fold plans keep None."""
    text = minimal_project_text("regression", "validation: {strategy: time, folds: 4, test_size: 0.2}\n")
    text = text.replace("data: {path: x.csv, label: c}", "data: {path: x.csv, label: c, order: t}")
    project = parse_project(text, Path("mlproj.yaml")).project
    y = np.random.default_rng(0).normal(size=500)
    plan = compile_plan(project, model_specs(project), y, FEATURES, "abc", order=np.arange(500.0))
    ratio = np.mean([len(s.valid) for s in plan.splits]) / np.mean([len(s.train) for s in plan.splits])
    assert plan.val_train_ratio == pytest.approx(ratio)
    assert plan.to_dict()["val_train_ratio"] == pytest.approx(ratio)
    assert plan_of().val_train_ratio is None
