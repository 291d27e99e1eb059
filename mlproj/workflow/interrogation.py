"""Interrogate the selected model of a run (paper §6.1.3; the questions in mlproj.analyse.interrogation).

Sensitivity curves ask the final fit (the model `mlproj predict` applies) about inputs built from
the development objects; the metric in bins and the worst objects read the pooled out-of-fold
predictions of the first repeat (every development object predicted once, by a model that did
not see it). The figures are drawn from the Summary alone (`figure_jobs`), so `mlproj report`
draws them again without the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlproj.analyse import interrogation as ask
from mlproj.analyse.types import InterrogationResult, Summary
from mlproj.errors import ConfigError
from mlproj.report import interrogation as report

__all__ = ["figure_jobs", "interrogate"]


def interrogate(prepared, summary: Summary, model: str, model_path: Path | None,
                pooled: tuple[np.ndarray, np.ndarray] | None) -> InterrogationResult:
    loaded, dataset, plan = prepared.loaded, prepared.dataset, prepared.plan
    asked = loaded.project.interrogate
    case = prepared.cases[0]
    names = list(dataset.feature_names)
    result = InterrogationResult(model)

    def column(name: str, field: str) -> int:
        if name not in names:
            raise ConfigError(f"interrogate.{field} names {name!r}, which is not a feature",
                              where=loaded.where("interrogate", field), hint=f"the features are: {', '.join(names)}")
        return names.index(name)

    if asked.sensitivity:
        by = column(asked.by, "by") if asked.by else None
        if model_path is None or not Path(model_path).exists():
            result.notes.append(f"no sensitivity curves: {model} has no fitted model (the historical method's "
                                "output, or a failed final fit)")
        else:
            from mlproj.workflow.harness import load_final_model, predict

            estimator = load_final_model(Path(model_path), prepared.loaded.project.allow_imports)
            X = dataset.X[np.asarray(plan.development)]
            classes = dataset.classes or []
            quantity = ("p(" + " + ".join(classes[i] for i in case.positives) + ")" if plan.task_kind ==
                        "classification" else f"predicted {loaded.project.data.label}")
            for name in asked.sensitivity:
                j = column(name, "sensitivity")
                if by == j:
                    raise ConfigError(f"interrogate.by is {name!r}, a feature its sensitivity curve varies",
                                      where=loaded.where("interrogate", "by"), hint="hold another feature fixed")
                grid, levels, inputs = ask.sensitivity_inputs(X, j, by=by)
                predictions = predict(estimator, inputs, plan.task_kind, len(classes))
                if plan.task_kind == "classification":
                    predictions = predictions[:, list(case.positives)].sum(axis=1)
                result.sensitivity.append(ask.sensitivity_curve(name, grid, predictions, quantity, by=asked.by,
                                                                by_values=levels if by is not None else None))
    if pooled is None:
        if asked.bins or asked.worst:
            result.notes.append(f"no metric in bins and no worst objects: {model} has no out-of-fold predictions "
                                "of every development object")
        return result
    rows, predictions = pooled
    y, X = dataset.y[rows], dataset.X[rows]
    seed = plan.splits[0].seed if plan.splits else 0
    for name in asked.bins:
        j = column(name, "bins")
        result.bins.append(ask.metric_in_bins(plan.task_kind, case, name, X[:, j], y, predictions,
                                              n_bins=asked.n_bins, confidence=loaded.project.validation.confidence,
                                              seed=seed))
    if asked.worst:
        if plan.task_kind == "classification" and predictions.ndim != 2:
            result.notes.append(f"no worst objects: {model} gives a score, not class probabilities")
        else:
            bound, relative = _outlier_bound(loaded.project)
            result.worst = ask.worst_objects(plan.task_kind, y, predictions, X, names, rows, asked.worst,
                                             classes=dataset.classes, relative=relative, outlier_bound=bound,
                                             first=list(asked.sensitivity) + list(asked.bins))
    return result


def _outlier_bound(project) -> tuple[float | None, bool]:
    """The outlier bound and convention of the project's outlier_fraction metric, if it has one
    (DESIGN §6: |Δ| > 0.15 with Δ = (ŷ − y)/(1 + y)); else none, and relative Δ for sigma_nmad."""
    specs = [project.metric.primary, *project.metric.secondary]
    for spec in specs:
        if spec.name == "outlier_fraction":
            params = {"threshold": 0.15, "relative": True, **spec.params}
            return float(params["threshold"]), bool(params["relative"])
    for spec in specs:
        if spec.name == "sigma_nmad":
            return None, bool({"relative": True, **spec.params}["relative"])
    return None, False


def figure_jobs(summary: Summary) -> list:
    """The interrogation's figures (sensitivity curves, the metric in bins), from the Summary alone."""
    from mlproj.workflow.report_figures import FigureJob

    result = summary.interrogation
    if result is None:
        return []
    jobs = []
    for curve in result.sensitivity:
        by = (f", one curve per 10/50/90% quantile of {curve.by}" if curve.by else "")
        jobs.append(FigureJob(
            report.sensitivity_stem(curve.feature), "sensitivity", report.sensitivity_data(curve),
            f"Sensitivity of {result.model} to {curve.feature}: {curve.quantity} as {curve.feature} varies over "
            f"its observed range (1st–99th percentile), every other feature at its median{by}.",
            f"sensitivity curve of {curve.feature}"))
    for binned in result.bins:
        jobs.append(FigureJob(
            report.bins_stem(binned.feature), "metric_bins", report.bins_data(binned),
            f"{binned.metric} of {result.model} (out of fold) in quantile bins of {binned.feature}, with "
            f"{binned.confidence:.0%} intervals (vertical bars; the horizontal bars span each bin) and the finish "
            f"line {binned.threshold:g} with its margin shaded: {binned.detail}.",
            f"{binned.metric} in bins of {binned.feature}"))
    return jobs
