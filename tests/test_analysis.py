"""Tests of mlproj.analysis: metric labels, the results table and per-model summaries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mlproj.analysis import resolve_metrics, results_rows, score_final, summarize_models
from mlproj.config import parse_project
from mlproj.errors import ConfigError
from mlproj.execute import TaskOutput
from mlproj.models import ModelSpec
from mlproj.plan import compile_plan


def project(primary: str = "{name: tpr_at_fpr, fpr: 0.01}", secondary: str = "[]", task: str = "classification",
            folds: int = 2, repeats: int = 2):
    rest = ("classes: {a: \"c == 'A'\", b: \"c == 'B'\"}\npositive: b\n" if task == "classification" else "")
    text = (f"name: p\nobjective: {{statement: s, task: {task}}}\ndata: {{path: x.csv, label: c}}\n{rest}"
            f"metric: {{primary: {primary}, secondary: {secondary}}}\nfinish_line: {{threshold: 0.5}}\n"
            f"validation: {{folds: {folds}, repeats: {repeats}, test_size: 0.25}}\n")
    return parse_project(text, Path("mlproj.yaml")).project


# --------------------------------------------------------------------------- metric labels

def test_resolve_metrics_labels_and_directions():
    metrics = resolve_metrics(project(secondary="[roc_auc, brier, completeness, {name: purity, threshold: 0.8}]"))
    assert [m.label for m in metrics] == ["tpr_at_fpr(fpr=0.01)", "roc_auc", "brier",
                                          "completeness(threshold=0.5)", "purity(threshold=0.8)"]
    assert [m.greater_is_better for m in metrics] == [True, True, False, True, True]
    assert metrics[0].name == "tpr_at_fpr" and metrics[0].params == {"fpr": 0.01}


def test_resolve_metrics_fills_defaults_and_dedups():
    metrics = resolve_metrics(project(primary="tpr_at_fpr",
                                      secondary="[{name: tpr_at_fpr, fpr: 0.01}, roc_auc, roc_auc, "
                                                "{name: tpr_at_fpr, fpr: 0.001}]"))
    assert [m.label for m in metrics] == ["tpr_at_fpr(fpr=0.01)", "roc_auc", "tpr_at_fpr(fpr=0.001)"]


def test_resolve_metrics_integer_param_label_matches_float():
    a = resolve_metrics(project(primary="{name: completeness, threshold: 1}"))[0]
    b = resolve_metrics(project(primary="{name: completeness, threshold: 1.0}"))[0]
    assert a.label == b.label == "completeness(threshold=1)"


def test_resolve_metrics_regression():
    metrics = resolve_metrics(project(primary="rmse", secondary="[sigma_nmad, r2]", task="regression"))
    assert [m.label for m in metrics] == ["rmse", "sigma_nmad(relative=True)",  "r2"]
    assert [m.greater_is_better for m in metrics] == [False, False, True]


# --------------------------------------------------------------------------- results and summaries

N = 24
Y = np.array([0, 1] * (N // 2), dtype=np.int64)
MODELS = [ModelSpec("dummy", "UninformativeClassifier", role="baseline", simplicity=0),
          ModelSpec("oracle", "LogisticRegression", simplicity=1)]


def tiny_plan():
    proj = project(secondary="[roc_auc, accuracy]")
    return proj, compile_plan(proj, MODELS, Y, ["x"], "fp")


def oracle_proba(rows):
    return np.eye(2)[Y[rows]] * 0.8 + 0.1


def hand_outputs(plan, *, skip_oracle_task: int | None = None, failing_oracle_task: int | None = None):
    outputs = {}
    oracle_tasks = [t for t in plan.tasks if t.model == "oracle"]
    for task in plan.tasks:
        _, valid = plan.rows_for(task)
        if task.model == "dummy":
            outputs[task.key] = TaskOutput(task.key, np.full((len(valid), 2), 0.5), 0.01)
            continue
        index = oracle_tasks.index(task)
        if index == skip_oracle_task:
            continue
        if index == failing_oracle_task:
            outputs[task.key] = TaskOutput(task.key, None, 0.02, error="ValueError: boom")
            continue
        outputs[task.key] = TaskOutput(task.key, oracle_proba(valid), 0.5, cached=index == 0)
    return outputs


def test_results_rows_one_per_task_in_plan_order():
    proj, plan = tiny_plan()
    metric_list = resolve_metrics(proj)
    rows = results_rows(plan, hand_outputs(plan), Y, metric_list, positive=1)
    assert len(rows) == len(plan.tasks) == 8
    assert [(r["model"], r["repeat"], r["fold"]) for r in rows] == [(t.model, t.repeat, t.fold) for t in plan.tasks]
    first = rows[0]
    assert list(first) == ["model", "role", "repeat", "fold", "seed", "n_valid", "tpr_at_fpr(fpr=0.01)",
                           "roc_auc", "accuracy", "fit_seconds", "cached", "error"]
    for row in rows:
        assert row["n_valid"] == 9
        assert row["error"] == ""
        if row["model"] == "oracle":
            assert row["roc_auc"] == 1.0 and row["accuracy"] == 1.0 and row["tpr_at_fpr(fpr=0.01)"] == 1.0
            assert row["role"] == "candidate" and row["fit_seconds"] == 0.5
        else:
            assert row["roc_auc"] == 0.5 and row["tpr_at_fpr(fpr=0.01)"] == 0.0
            assert row["role"] == "baseline"
    assert [r["cached"] for r in rows if r["model"] == "oracle"] == [True, False, False, False]
    json.dumps(rows)


def test_results_rows_missing_and_failed_tasks():
    proj, plan = tiny_plan()
    rows = results_rows(plan, hand_outputs(plan, skip_oracle_task=1, failing_oracle_task=2), Y,
                        resolve_metrics(proj), positive=1)
    oracle = [r for r in rows if r["model"] == "oracle"]
    assert oracle[1]["error"] == "not run" and math.isnan(oracle[1]["roc_auc"]) and math.isnan(oracle[1]["fit_seconds"])
    assert oracle[2]["error"] == "ValueError: boom" and math.isnan(oracle[2]["accuracy"])
    assert oracle[2]["fit_seconds"] == 0.02


def test_summarize_models():
    proj, plan = tiny_plan()
    metric_list = resolve_metrics(proj)
    rows = results_rows(plan, hand_outputs(plan, failing_oracle_task=3), Y, metric_list, positive=1)
    summary = summarize_models(plan, rows, metric_list, confidence=0.9)
    assert [m["name"] for m in summary] == ["dummy", "oracle"]
    dummy, oracle = summary
    assert dummy["role"] == "baseline" and dummy["simplicity"] == 0 and dummy["estimator"] == "UninformativeClassifier"
    assert dummy["scores"] == [0.0] * 4
    assert dummy["failed_tasks"] == 0 and dummy["errors"] == []
    assert dummy["metrics"]["roc_auc"]["mean"] == 0.5 and dummy["metrics"]["roc_auc"]["n"] == 4
    assert dummy["fit_seconds"] == pytest.approx(0.01)
    assert oracle["scores"] == [1.0, 1.0, 1.0, None]  # repeat-major, failed fold is None
    assert oracle["failed_tasks"] == 1 and oracle["errors"] == ["ValueError: boom"]
    assert oracle["metrics"]["accuracy"]["mean"] == 1.0 and oracle["metrics"]["accuracy"]["n"] == 3
    assert oracle["fit_seconds"] == pytest.approx((0.5 * 3 + 0.02) / 4)
    assert set(oracle["metrics"]) == {m.label for m in metric_list}
    json.dumps(summary, allow_nan=False)


def test_score_final_with_operating_point():
    proj, plan = tiny_plan()
    metric_list = resolve_metrics(proj)
    final = plan.final_tasks["oracle"]
    output = TaskOutput(final.key, oracle_proba(plan.test), 0.3)
    result = score_final(final, output, plan, Y, metric_list, positive=1)
    assert result["model"] == "oracle" and result["n_test"] == 6 and result["error"] is None
    assert result["metrics"] == {"tpr_at_fpr(fpr=0.01)": 1.0, "roc_auc": 1.0, "accuracy": 1.0}
    point = result["operating_point"]
    assert point["n_positive"] == 3 and point["n_negative"] == 3
    assert point["true_positives"] == 3 and point["false_positives"] == 0
    low, high = point["wilson_95"]
    assert 0 < low < 1 and high == 1.0
    json.dumps(result, allow_nan=False)


def test_score_final_failed_output():
    proj, plan = tiny_plan()
    final = plan.final_tasks["oracle"]
    result = score_final(final, TaskOutput(final.key, None, 0.1, error="ValueError: x"), plan, Y,
                         resolve_metrics(proj), positive=1)
    assert result["error"] == "ValueError: x"
    assert all(v is None for v in result["metrics"].values())
    assert "operating_point" not in result


def test_resolve_metrics_rejects_unknown_metric_spec():
    from mlproj.analysis import _resolve
    from mlproj.config import MetricSpec

    with pytest.raises(ConfigError):
        _resolve(MetricSpec(name="nope"), "classification")
