"""From task outputs to the results table and the summary of every model.

Results: one row per task with every metric (recomputed from cached predictions, so adding a
secondary metric needs no refit). Summary: per model and metric, the mean with the
Nadeau–Bengio corrected uncertainty, plus the paired primary scores the verdict compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlproj import metrics, stats
from mlproj.config import MetricSpec, Project
from mlproj.execute import TaskOutput
from mlproj.plan import Plan, Task


@dataclass(frozen=True)
class ResolvedMetric:
    name: str
    params: dict
    label: str  # column name in results.csv, e.g. "tpr_at_fpr(fpr=0.01)"
    greater_is_better: bool


def resolve_metrics(project: Project) -> list[ResolvedMetric]:
    """Primary first, then secondaries, with defaults filled in (duplicates dropped)."""
    task = project.objective.task
    resolved: list[ResolvedMetric] = []
    for spec in [project.metric.primary, *project.metric.secondary]:
        item = _resolve(spec, task)
        if item.label not in [r.label for r in resolved]:
            resolved.append(item)
    return resolved


def _resolve(spec: MetricSpec, task: str) -> ResolvedMetric:
    info = metrics.metric_info(spec.name, task)
    params = metrics.validate_params(spec.name, spec.params, task)
    label = spec.name + ("(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in params.items()) + ")" if params else "")
    return ResolvedMetric(spec.name, params, label, info.greater_is_better)


def score_task(task_kind: str, metric_list: list[ResolvedMetric], y_true: np.ndarray,
               predictions: np.ndarray | None, positive: int | None) -> dict[str, float]:
    if predictions is None:
        return {m.label: math.nan for m in metric_list}
    return {
        m.label: float(metrics.compute(m.name, m.params, y_true, predictions, positive=positive))
        for m in metric_list
    }


def results_rows(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray,
                 metric_list: list[ResolvedMetric], positive: int | None) -> list[dict]:
    """One row per cross-validation task, in plan order."""
    rows = []
    for task in plan.tasks:
        output = outputs.get(task.key)
        _, valid = plan.rows_for(task)
        row = {"model": task.model, "role": plan.model(task.model).role, "repeat": task.repeat,
               "fold": task.fold, "seed": task.seed, "n_valid": int(len(valid))}
        predictions = output.predictions if output else None
        row.update(score_task(plan.task_kind, metric_list, y[valid], predictions, positive))
        row["fit_seconds"] = round(output.fit_seconds, 4) if output else math.nan
        row["cached"] = bool(output.cached) if output else False
        row["error"] = (output.error or "") if output else "not run"
        rows.append(row)
    return rows


def summarize_models(plan: Plan, rows: list[dict], metric_list: list[ResolvedMetric],
                     confidence: float) -> list[dict]:
    """Per model: summaries of every metric and the paired primary scores (repeat-major)."""
    primary = metric_list[0].label
    models = []
    for spec in plan.models:
        mine = [r for r in rows if r["model"] == spec.name]
        mine.sort(key=lambda r: (r["repeat"], r["fold"]))
        summaries = {
            m.label: stats.summarize([r[m.label] for r in mine], plan.folds, plan.repeats, confidence).to_dict()
            for m in metric_list
        }
        errors = sorted({r["error"] for r in mine if r["error"]})
        fit = [r["fit_seconds"] for r in mine if not math.isnan(r["fit_seconds"])]
        models.append({
            "name": spec.name, "role": spec.role, "estimator": spec.estimator, "params": spec.params,
            "scale": spec.scale, "simplicity": spec.simplicity,
            "fit_seconds": float(np.mean(fit)) if fit else None,
            "failed_tasks": sum(1 for r in mine if r["error"]),
            "errors": errors,
            "metrics": summaries,
            "scores": [_json_float(r[primary]) for r in mine],
        })
    return models


def score_final(task: Task, output: TaskOutput, plan: Plan, y: np.ndarray, metric_list: list[ResolvedMetric],
                positive: int | None) -> dict:
    """The held-out test result of the selected model, with counts behind rate metrics."""
    test_rows = plan.test
    values = score_task(plan.task_kind, metric_list, y[test_rows], output.predictions, positive)
    result = {"model": task.model, "n_test": int(len(test_rows)), "metrics": {k: _json_float(v) for k, v in values.items()},
              "error": output.error}
    primary = metric_list[0]
    if output.predictions is not None and primary.name in ("tpr_at_fpr", "fpr_at_fnr"):
        is_positive = y[test_rows] == positive
        score = output.predictions[:, positive]
        if primary.name == "tpr_at_fpr":
            point = metrics.tpr_at_fpr(is_positive, score, primary.params["fpr"])
            k, n = point.true_positives, point.n_positive
        else:
            point = metrics.fpr_at_fnr(is_positive, score, primary.params["fnr"])
            k, n = point.false_positives, point.n_negative
        low, high = metrics.wilson_interval(k, n, 0.95)
        result["operating_point"] = {
            "n_positive": point.n_positive, "n_negative": point.n_negative,
            "true_positives": point.true_positives, "false_positives": point.false_positives,
            "achieved_fpr": _json_float(point.achieved_fpr), "achieved_fnr": _json_float(point.achieved_fnr),
            "wilson_95": [_json_float(low), _json_float(high)],
        }
    return result


def _json_float(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
