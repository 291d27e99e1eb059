"""The harness checks on an in-memory model: cases, hybrids and invariance, without a run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlproj.data.dataset import load_dataset
from mlproj.errors import DataError
from mlproj.project.loading import load_project
from mlproj.verdict.judge import harness_check
from mlproj.workflow import harness
from tests.e2e.helpers import write_project
from tests.e2e.test_harness import catalogue, project


def _inputs(tmp_path, checks, *, task="classification", **extra):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    spec = project(checks, **extra)
    if task == "regression":
        spec.update(objective={"statement": "s", "task": "regression"}, metric={"primary": "rmse"},
                    finish_line={"threshold": 1.0, "margin": 0.1})
        spec["data"].update(label="s", features=["w", "m1", "m2"])
        del spec["classes"], spec["positive"]
        spec["candidates"] = [{"name": "lin", "estimator": "LinearRegression"}]
    loaded = load_project(write_project(tmp_path, spec))
    dataset = load_dataset(loaded)
    n = len(dataset.y)
    plan = SimpleNamespace(test=np.arange(n - 100, n), development=np.arange(n - 100), task_kind=task)
    estimator = (LogisticRegression() if task == "classification" else LinearRegression()).fit(
        dataset.X[plan.development], dataset.y[plan.development])
    prepared = SimpleNamespace(loaded=loaded, dataset=dataset, plan=plan)
    return harness.ModelInputs(prepared, "model", estimator), loaded.project.harness


def test_cases_count_the_inputs_that_give_the_expected_class(tmp_path):
    pd.DataFrame({"s": [3.0, -3.0, 3.0, -3.0], "w": 0.0, "m1": 19.0, "m2": 18.5,
                  "expect": ["galaxy", "star", "star", "star"]}).to_csv(tmp_path / "cases.csv", index=False)
    inputs, checks = _inputs(tmp_path, [{"kind": "cases", "path": "cases.csv"},
                                        {"kind": "cases", "path": "cases.csv", "min_fraction": 0.75}])
    strict, lenient = (harness.cases(inputs, check, i) for i, check in enumerate(checks))
    assert strict.value == 0.75 and strict.threshold == 1.0 and strict.passed is False  # cases default: every one
    assert "row 3: galaxy (expected star)" in strict.detail
    assert lenient.passed is True
    assert harness_check(strict).status == "fail" and harness_check(lenient).status == "pass"


def test_cases_compute_derived_features_from_the_raw_columns(tmp_path):
    pd.DataFrame({"s": [3.0], "w": [0.0], "m1": [19.0], "m2": [18.0], "expect": ["galaxy"]}).to_csv(
        tmp_path / "cases.csv", index=False)
    inputs, checks = _inputs(tmp_path, [{"kind": "cases", "path": "cases.csv"}])
    _, X = harness.read_cases(inputs, checks[0], 0)
    assert X[0, inputs.names.index("c")] == 1.0  # c = m1 - m2


def test_regression_cases_check_the_expected_range(tmp_path):
    pd.DataFrame({"w": [0.0, 0.0], "m1": [19.0, 19.0], "m2": [18.5, 18.5], "s_min": [-5.0, 4.0],
                  "s_max": [5.0, None]}).to_csv(tmp_path / "cases.csv", index=False)
    inputs, checks = _inputs(tmp_path, [{"kind": "cases", "path": "cases.csv", "expect": "s"}], task="regression")
    result = harness.cases(inputs, checks[0], 0)
    assert result.value == 0.5 and result.passed is False  # the second prediction (≈ 0) is not ≥ 4


@pytest.mark.parametrize("frame, words", [
    (pd.DataFrame({"s": [1.0], "w": [0.0], "m1": [19.0], "expect": ["galaxy"]}), ["'m2'", "cases.csv"]),
    (pd.DataFrame({"s": [1.0], "w": [0.0], "m1": [19.0], "m2": [18.0]}), ["'expect'"]),
    (pd.DataFrame({"s": [1.0], "w": [0.0], "m1": [19.0], "m2": [18.0], "expect": ["qso"]}), ["'qso'", "classes"]),
])
def test_a_cases_file_that_cannot_be_used_is_a_data_error_naming_file_and_column(tmp_path, frame, words):
    frame.to_csv(tmp_path / "cases.csv", index=False)
    inputs, checks = _inputs(tmp_path, [{"kind": "cases", "path": "cases.csv"}])
    with pytest.raises(DataError) as caught:
        harness.check_harness(SimpleNamespace(loaded=inputs.loaded, dataset=inputs.dataset, plan=inputs.plan))
    assert all(w in caught.value.render() for w in words) and "harness[0].path" in caught.value.render()


def test_hybrids_of_one_class_stay_in_it_and_of_two_classes_do_not(tmp_path):
    inputs, checks = _inputs(tmp_path, [
        {"kind": "hybrid", "combine": ["galaxy", "galaxy"], "expect": "galaxy", "pairs": 300},
        {"kind": "hybrid", "combine": ["galaxy", "star"], "expect": "galaxy", "pairs": 300, "min_fraction": 0.95},
        {"kind": "hybrid", "combine": ["galaxy", "galaxy"], "expect": "galaxy", "fluxes": "magnitude",
         "features": ["m1", "m2"]},
    ])
    same, mixed, magnitudes = (harness.hybrid(inputs, check, i) for i, check in enumerate(checks))
    assert same.passed is True and same.value > 0.95 and same.n == 300 and same.threshold == 0.9
    assert mixed.passed is False and 0.2 < mixed.value < 0.8  # a galaxy and a star average to either
    assert magnitudes.passed is True and "c recomputed" in magnitudes.description


def test_invariance_to_the_signal_fails_and_to_noise_passes_deterministically(tmp_path):
    inputs, checks = _inputs(tmp_path, [{"kind": "invariance", "perturb": {"permute": ["s"]}},
                                        {"kind": "invariance", "perturb": {"permute": "w"}, "tolerance": 0.05},
                                        {"kind": "invariance", "perturb": {"noise": "errors"}}])
    signal, noise, errors = (harness.invariance(inputs, check, i) for i, check in enumerate(checks))
    assert signal.passed is False and signal.value > 0.2 and signal.n == 100
    assert noise.passed is True
    assert errors.passed is True and "m1, m2" in errors.description and "c recomputed" in errors.description
    assert harness.invariance(inputs, checks[0], 0) == signal  # seeded


def test_unmeasured_checks_are_undetermined_criteria():
    check = SimpleNamespace(kind="cases", tolerance=0.01, min_fraction=None, name="x")
    result = harness._unmeasured(check, None, "no model was selected")
    assert result.passed is None and harness_check(result).status == "undetermined"
