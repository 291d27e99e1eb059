"""From task outputs to the results table and the summary of every model and science case.

A *case* is one selection the project judges: the main one (top-level positive, metric and
finish line) and any listed under `selections:`. All cases are scored on the same fits: a case
only decides which classes count as positive. Metrics are recomputed from cached predictions,
so adding a secondary metric or a selection needs no refit.

Operating-point rates (TPR at fixed FPR, FPR at fixed FNR) take their threshold from the other
folds of the same repeat and apply it to the fold being scored, never tuning on the objects
that are scored (the test set takes its threshold from the development predictions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlproj.execute.tasks import TaskOutput
from mlproj.plan.compile import Plan, Task
from mlproj.plan.estimators import ignores_features
from mlproj.project.config import MetricSection, Project
from mlproj.science import metrics, stats


@dataclass(frozen=True)
class ResolvedMetric:
    name: str
    params: dict
    label: str  # e.g. "tpr_at_fpr(fpr=0.01)"
    greater_is_better: bool
    binary: bool


@dataclass(frozen=True)
class Case:
    """One science case: which classes are positive, what is measured, where the finish line is."""

    name: str
    positives: tuple[int, ...]  # class indices; empty for regression
    metrics: tuple[ResolvedMetric, ...]
    threshold: float
    margin: float
    required: bool = True
    prefix: str = ""  # column prefix in results.csv when a project has several cases
    uncertainty_methods: tuple[str, ...] = ()  # regression σ(x) methods judged, "global" first
    uncertainty_criteria: tuple[tuple[str, object], ...] = ()  # ("coverage_68", (lo, hi)), ("crps", max)

    @property
    def primary(self) -> ResolvedMetric:
        return self.metrics[0]

    def column(self, metric: ResolvedMetric) -> str:
        return self.prefix + metric.label

    @property
    def primary_column(self) -> str:
        return self.column(self.primary)


# Metrics that only need a ranking of the objects, so a classical score on any scale can be judged.
RANKING_METRICS = {"roc_auc", "tpr_at_fpr", "fpr_at_fnr"}


def resolve_metrics(section: MetricSection, task: str) -> tuple[ResolvedMetric, ...]:
    """Primary first, then secondaries, with defaults filled in (duplicates dropped)."""
    resolved: list[ResolvedMetric] = []
    for spec in [section.primary, *section.secondary]:
        info = metrics.metric_info(spec.name, task)
        params = metrics.validate_params(spec.name, spec.params, task)
        label = spec.name + ("(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in params.items()) + ")" if params else "")
        if label not in [r.label for r in resolved]:
            resolved.append(ResolvedMetric(spec.name, params, label, info.greater_is_better, info.binary))
    return tuple(resolved)


def resolve_cases(project: Project) -> list[Case]:
    task = project.objective.task
    classes = list(project.classes or {})

    def indices(positive) -> tuple[int, ...]:
        if positive is None:
            return ()
        names = [positive] if isinstance(positive, str) else positive
        return tuple(sorted(classes.index(n) for n in names))

    def case_name(positive) -> str:
        if positive is None:
            return project.data.label
        return positive if isinstance(positive, str) else "+".join(positive)

    methods = ()
    if task == "regression":
        methods = ("global",) if project.uncertainty.method == "global" else ("global", project.uncertainty.method)
    criteria = tuple((name, getattr(project.uncertainty, name)) for name in ("coverage_68", "crps")
                     if getattr(project.uncertainty, name) is not None)
    cases = [Case(case_name(project.positive), indices(project.positive), resolve_metrics(project.metric, task),
                  project.finish_line.threshold, project.finish_line.margin, uncertainty_methods=methods,
                  uncertainty_criteria=criteria)]
    for selection in project.selections:
        cases.append(Case(selection.name, indices(selection.positive), resolve_metrics(selection.metric, task),
                          selection.finish_line.threshold, selection.finish_line.margin, selection.required))
    if len(cases) > 1:
        cases = [Case(c.name, c.positives, c.metrics, c.threshold, c.margin, c.required, f"{c.name}:") for c in cases]
    return cases


# ------------------------------------------------------------------------------------------ scoring


def _score_metric(task_kind: str, case: Case, metric: ResolvedMetric, y: np.ndarray, predictions: np.ndarray,
                  is_main: bool) -> float:
    if task_kind == "regression":
        return float(metrics.compute(metric.name, metric.params, y, point_prediction(predictions)))
    if predictions.ndim == 1:  # a historical score ranks objects of the main case, nothing else
        if not (is_main and metric.name in RANKING_METRICS):
            return math.nan  # it is no probability: Brier, log loss or a 0.5 cut would mean nothing
        is_positive = np.isin(y, case.positives)
        return float(metrics.compute(metric.name, metric.params, is_positive.astype(int),
                                     np.c_[1 - predictions, predictions], positive=1))
    if metric.binary:
        is_positive, score = np.isin(y, case.positives), predictions[:, list(case.positives)].sum(axis=1)
        return float(metrics.compute(metric.name, metric.params, is_positive.astype(int), np.c_[1 - score, score],
                                     positive=1))
    return float(metrics.compute(metric.name, metric.params, y, predictions))


def _positive_score(case: Case, predictions: np.ndarray, is_main: bool) -> np.ndarray | None:
    if predictions.ndim == 1:
        return predictions if is_main else None
    return predictions[:, list(case.positives)].sum(axis=1)


def score_repeat(plan: Plan, cases: list[Case], y: np.ndarray, repeat: int,
                 fold_outputs: dict[int, TaskOutput | None], *, blind: bool = False
                 ) -> tuple[dict[int, dict[str, float]], dict[str, dict]]:
    """Metrics of every fold of one model × repeat, and the pooled operating-point counts.

    Returns ({fold: {column: value}}, {column: counts}) where counts pool the folds (every
    development object once) for rate metrics: the numbers behind a Wilson interval.
    `blind`: the model ignores the features (see _transfer).
    """
    repeat_splits = {fold: plan.split(repeat, fold) for fold in fold_outputs}
    values: dict[int, dict[str, float]] = {fold: {} for fold in fold_outputs}
    pooled: dict[str, dict] = {}
    loaded = {f: o.loaded() for f, o in fold_outputs.items() if o is not None}
    usable = {f: p for f, p in loaded.items() if p is not None}
    for index, case in enumerate(cases):
        is_main = index == 0
        for metric in case.metrics:
            column = case.column(metric)
            counts = {"true_positives": 0, "false_positives": 0, "n_positive": 0, "n_negative": 0}
            for fold in fold_outputs:
                valid = repeat_splits[fold].valid
                if fold not in usable:
                    values[fold][column] = math.nan
                    continue
                if plan.task_kind == "classification" and metric.name in metrics.OPERATING_POINT_METRICS:
                    point = _transfer(case, metric, y, usable, repeat_splits, fold, is_main, blind)
                    defined = point is not None and not math.isnan(point.value)
                    values[fold][column] = point.value if defined else math.nan
                    if defined:  # a fold without positives (or negatives) adds nothing to either count
                        for key in counts:
                            counts[key] += getattr(point, key)
                else:
                    values[fold][column] = _score_metric(plan.task_kind, case, metric, y[valid], usable[fold], is_main)
                    if plan.task_kind == "classification" and metric.name in ("completeness", "purity"):
                        score = _positive_score(case, usable[fold], is_main)
                        if score is not None and usable[fold].ndim == 2:
                            selected = score >= metric.params["threshold"]
                            positive = np.isin(y[valid], case.positives)
                            counts["true_positives"] += int((selected & positive).sum())
                            counts["false_positives"] += int((selected & ~positive).sum())
                            counts["n_positive"] += int(positive.sum())
                            counts["n_negative"] += int((~positive).sum())
            if counts["n_positive"] or counts["n_negative"]:
                pooled[column] = rate_record(metric.name, counts)
        for method in case.uncertainty_methods:
            for fold in fold_outputs:
                others = [f for f in usable if f != fold]
                if fold not in usable or not others:
                    values[fold].update({uncertainty_column(m, method): math.nan for m in UNCERTAINTY_SCORES})
                    continue
                reference_rows = np.concatenate([repeat_splits[f].valid for f in others])
                reference = np.concatenate([usable[f] if usable[f].ndim == 2 else usable[f][:, None] for f in others])
                sigma = predicted_sigma(method, y[reference_rows], reference, usable[fold])
                valid = repeat_splits[fold].valid
                values[fold].update(score_uncertainty(method, y[valid], point_prediction(usable[fold]), sigma))
    return values, pooled


# Scores of predicted Gaussian uncertainties (paper §5.2), each with its direction.
UNCERTAINTY_SCORES = {"crps": False, "nll": False, "coverage_68": None, "coverage_95": None, "pit_ks": False}


def uncertainty_column(score: str, method: str) -> str:
    return f"{score}[{method}]"


def point_prediction(predictions: np.ndarray) -> np.ndarray:
    """Regression predictions are the mean, or (mean, unscaled σ) when a σ model is fitted."""
    return predictions[:, 0] if predictions.ndim == 2 else predictions


def predicted_sigma(method: str, y_reference: np.ndarray, reference: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """σ for `predictions`, calibrated on out-of-fold predictions of *other* objects.

    global: the RMS residual (one σ for everyone); residual: the second model's |residual|
    prediction times the factor that gives unit-variance standardised residuals on the reference.
    """
    n = len(point_prediction(predictions))
    if method == "global" or predictions.ndim == 1 or reference.shape[1] < 2:
        return np.full(n, global_sigma(y_reference, reference[:, 0]))
    return np.maximum(predictions[:, 1] * sigma_factor(y_reference, reference), 1e-12)


def global_sigma(y: np.ndarray, mu: np.ndarray) -> float:
    return max(float(np.sqrt(np.mean((y - mu) ** 2))), 1e-12)


def sigma_factor(y_reference: np.ndarray, reference: np.ndarray) -> float:
    """Scale that turns unscaled spreads into σ: the robust scale of the standardised residuals
    (1.4826·median|z| = 1 for a Gaussian), so catastrophic outliers do not inflate every σ."""
    return 1.4826 * float(np.median(np.abs((y_reference - reference[:, 0]) / reference[:, 1])))


def score_uncertainty(method: str, y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> dict[str, float]:
    from mlproj.science import uncertainty

    return {uncertainty_column(name, method): float(uncertainty.score_gaussian(name, y, mu, sigma))
            for name in UNCERTAINTY_SCORES}


def _transfer(case: Case, metric: ResolvedMetric, y: np.ndarray, usable: dict, splits: dict, fold: int,
              is_main: bool, blind: bool = False) -> metrics.OperatingPoint | None:
    """The fold's rate at the operating point chosen on the other folds' predictions.

    A model that ignores the features (the dummy) has its operating point chosen on its own
    fold instead. Its scores are the training fold's class prior plus a tiny random
    tie-breaker, so the prior, which differs from fold to fold by more than the tie-breaker,
    is all a threshold from the other folds would see: it would select all of this fold or none
    of it (TPR 0 or 1). Its own scores carry no information about the labels, so choosing on
    them is not optimistic, and its TPR at FPR α is then α, the ROC diagonal.
    """
    score = _positive_score(case, usable[fold], is_main)
    others = [fold] if blind else [f for f in usable if f != fold]
    if score is None or not others:
        return None
    reference_rows = np.concatenate([splits[f].valid for f in others])
    reference_score = np.concatenate([_positive_score(case, usable[f], is_main) for f in others])
    valid = splits[fold].valid
    return metrics.transferred_point(metric.name, metric.params, np.isin(y[reference_rows], case.positives),
                                     reference_score, np.isin(y[valid], case.positives), score)


def rate_record(name: str, counts: dict, confidence: float = 0.95) -> dict:
    """A rate with the counts it comes from and its Wilson interval (paper §2.3: rates need N)."""
    tp, fp = counts["true_positives"], counts["false_positives"]
    n_pos, n_neg = counts["n_positive"], counts["n_negative"]
    if name == "purity":
        k, n = tp, tp + fp
    elif name == "fpr_at_fnr":
        k, n = fp, n_neg
    else:  # tpr_at_fpr, completeness
        k, n = tp, n_pos
    low, high = metrics.wilson_interval(k, n, confidence) if n else (math.nan, math.nan)
    return {**counts, "value": _json_float(k / n if n else math.nan),
            "achieved_fpr": _json_float(fp / n_neg if n_neg else math.nan),
            "achieved_tpr": _json_float(tp / n_pos if n_pos else math.nan),
            "wilson": [_json_float(low), _json_float(high)], "confidence": confidence}


# ------------------------------------------------------------------------------------------ tables


def results_rows(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray, cases: list[Case]
                 ) -> tuple[list[dict], dict[str, dict[str, dict]]]:
    """One row per cross-validation task (plan order), and per model the pooled rate counts of repeat 0."""
    by_model_repeat: dict[tuple[str, int], dict[int, Task]] = {}
    for task in plan.tasks:
        by_model_repeat.setdefault((task.model, task.repeat), {})[task.fold] = task
    fold_values: dict[str, dict[str, float]] = {}
    rates: dict[str, dict[str, dict]] = {}
    for (model, repeat), tasks in by_model_repeat.items():
        fold_outputs = {fold: outputs.get(t.key) for fold, t in tasks.items()}
        values, pooled = score_repeat(plan, cases, y, repeat, fold_outputs, blind=ignores_features(plan.model(model)))
        for fold, task in tasks.items():
            fold_values[task.key] = values[fold]
        if repeat == 0:
            rates[model] = pooled
    rows = []
    for task in plan.tasks:
        output = outputs.get(task.key)
        _, valid = plan.rows_for(task)
        row = {"model": task.model, "role": plan.model(task.model).role, "repeat": task.repeat,
               "fold": task.fold, "seed": task.seed, "n_valid": int(len(valid))}
        row.update(fold_values[task.key])
        row["fit_seconds"] = round(output.fit_seconds, 4) if output else math.nan
        row["cached"] = bool(output.cached) if output else False
        row["error"] = (output.error or "") if output else "not run"
        rows.append(row)
    return rows, rates


def summarize_models(plan: Plan, rows: list[dict]) -> list[dict]:
    """Per model: fit information, shared by every case."""
    models = []
    for spec in plan.models:
        mine = [r for r in rows if r["model"] == spec.name]
        errors = sorted({r["error"] for r in mine if r["error"]})
        fit = [r["fit_seconds"] for r in mine if not math.isnan(r["fit_seconds"])]
        models.append({
            "name": spec.name, "role": spec.role, "estimator": spec.estimator, "params": spec.params,
            "scale": spec.scale, "simplicity": spec.simplicity,
            "fit_seconds": float(np.mean(fit)) if fit else None,
            "failed_tasks": sum(1 for r in mine if r["error"]),
            "n_tasks": len(mine),
            "errors": errors,
        })
    return models


def summarize_cases(plan: Plan, rows: list[dict], cases: list[Case], rates: dict[str, dict[str, dict]],
                    confidence: float) -> list[dict]:
    """Per case and model: every metric's summary, the paired primary scores and pooled rates."""
    out = []
    for case in cases:
        per_model = {}
        for spec in plan.models:
            mine = sorted((r for r in rows if r["model"] == spec.name), key=lambda r: (r["repeat"], r["fold"]))
            per_model[spec.name] = {
                "metrics": {
                    m.label: stats.summarize([r[case.column(m)] for r in mine], plan.folds, plan.repeats,
                                             confidence, bounds=metrics.BOUNDS[m.name]).to_dict()
                    for m in case.metrics
                },
                "scores": [_json_float(r[case.primary_column]) for r in mine],
                "rates": {m.label: rates.get(spec.name, {}).get(case.column(m)) for m in case.metrics
                          if rates.get(spec.name, {}).get(case.column(m))},
                "uncertainty": {
                    uncertainty_column(name, method): stats.summarize(
                        [r[uncertainty_column(name, method)] for r in mine], plan.folds, plan.repeats,
                        confidence).to_dict()
                    for method in case.uncertainty_methods for name in UNCERTAINTY_SCORES
                },
                "uncertainty_scores": {
                    method: [_json_float(r[uncertainty_column("crps", method)]) for r in mine]
                    for method in case.uncertainty_methods
                },
            }
        out.append({
            "name": case.name,
            "positive": list(case.positives),
            "required": case.required,
            "primary": {"name": case.primary.name, "params": case.primary.params, "label": case.primary.label,
                        "greater_is_better": case.primary.greater_is_better,
                        "bounds": [_json_float(b) for b in metrics.BOUNDS[case.primary.name]]},
            "metrics": [m.label for m in case.metrics],
            "threshold": case.threshold,
            "margin": case.margin,
            "uncertainty_methods": list(case.uncertainty_methods),
            "uncertainty_criteria": {name: value for name, value in case.uncertainty_criteria},
            "models": per_model,
        })
    return out


def score_test(model: str, predictions: np.ndarray, plan: Plan, y: np.ndarray, cases: list[Case],
               development_predictions: dict[int, np.ndarray] | None) -> dict:
    """The held-out test result of one model for every case, with counts behind rate metrics.

    `development_predictions` (fold → out-of-fold predictions of repeat 0) supply the operating
    point thresholds: chosen on the development set, applied to the test set.
    """
    test_rows = plan.test
    result = {"model": model, "n_test": int(len(test_rows)), "cases": {}}
    for index, case in enumerate(cases):
        is_main = index == 0
        values, points = {}, {}
        for metric in case.metrics:
            if plan.task_kind == "classification" and metric.name in metrics.OPERATING_POINT_METRICS:
                point = None
                score = _positive_score(case, predictions, is_main)
                reference = _test_reference(case, model, plan, score, development_predictions, is_main)
                if score is not None and reference is not None:
                    point = metrics.transferred_point(
                        metric.name, metric.params, np.isin(y[reference[0]], case.positives), reference[1],
                        np.isin(y[test_rows], case.positives), score)
                values[metric.label] = _json_float(point.value if point else math.nan)
                if point:
                    record = rate_record(metric.name, {"true_positives": point.true_positives,
                                                       "false_positives": point.false_positives,
                                                       "n_positive": point.n_positive, "n_negative": point.n_negative})
                    record["threshold"] = _json_float(point.threshold)
                    record["resolution"] = resolution_note(metric, record)
                    points[metric.label] = record
            else:
                values[metric.label] = _json_float(_score_metric(plan.task_kind, case, metric, y[test_rows],
                                                                 predictions, is_main))
        entry = {"metrics": values, "rates": points}
        if case.uncertainty_methods and development_predictions:
            folds = sorted(development_predictions)
            reference_rows = np.concatenate([plan.split(0, f).valid for f in folds])
            reference = np.concatenate([development_predictions[f] if development_predictions[f].ndim == 2
                                        else development_predictions[f][:, None] for f in folds])
            from mlproj.science import uncertainty

            entry["uncertainty"], entry["coverage"] = {}, {}
            for method in case.uncertainty_methods:
                sigma = predicted_sigma(method, y[reference_rows], reference, predictions)
                entry["uncertainty"].update({k: _json_float(v) for k, v in score_uncertainty(
                    method, y[test_rows], point_prediction(predictions), sigma).items()})
                # Counts inside the 68% and 95% intervals, with Wilson intervals on the fractions.
                entry["coverage"][method] = {
                    str(nominal): uncertainty.coverage(y[test_rows], point_prediction(predictions), sigma,
                                                       nominal).to_dict()
                    for nominal in (0.6827, 0.9545)}
            entry["pit"] = _pit(y[test_rows], point_prediction(predictions),
                                predicted_sigma(case.uncertainty_methods[-1], y[reference_rows], reference, predictions),
                                case.uncertainty_methods[-1])
        result["cases"][case.name] = entry
    return result


def _test_reference(case: Case, model: str, plan: Plan, score: np.ndarray | None,
                    development_predictions: dict[int, np.ndarray] | None,
                    is_main: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows and scores the test set's operating point is chosen on: the development set's
    out-of-fold predictions, or for a model that ignores the features its own test scores
    (`score`; see _transfer)."""
    if ignores_features(plan.model(model)):
        return None if score is None else (plan.test, score)
    if not development_predictions:
        return None
    folds = sorted(development_predictions)
    scores = [_positive_score(case, development_predictions[f], is_main) for f in folds]
    if any(s is None for s in scores):
        return None
    return np.concatenate([plan.split(0, f).valid for f in folds]), np.concatenate(scores)


def _pit(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, method: str) -> dict:
    """PIT histogram and KS check of the test-set predictions (paper §5.2, figure 2)."""
    from mlproj.science import uncertainty

    check = uncertainty.pit_check(uncertainty.pit_values(y, mu, sigma))
    return {"method": method, **check.to_dict()}


def resolution_note(metric: ResolvedMetric, rate: dict) -> str | None:
    """Whether the sample resolves the operating point's constraint to half its target (paper §2.3)."""
    from mlproj.science import power

    if metric.name == "tpr_at_fpr":
        target = metric.params["fpr"]
        return power.resolution_note(rate["false_positives"], rate["n_negative"], target, target / 2, "FPR")
    if metric.name == "fpr_at_fnr":
        target = metric.params["fnr"]
        return power.resolution_note(rate["n_positive"] - rate["true_positives"], rate["n_positive"], target,
                                     target / 2, "FNR")
    return None


def _json_float(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def calibration_record(is_positive: np.ndarray, probability: np.ndarray) -> dict:
    """Reliability curve (quantile bins) and expected calibration error of out-of-fold probabilities."""
    from mlproj.science import uncertainty

    curve = uncertainty.reliability(is_positive, probability)
    return curve.to_dict()


def _runs(flags: list[bool], sides: list[bool]) -> list[list[int]]:
    """Indices of the flagged bins, neighbours on the same side joined into one run."""
    runs: list[list[int]] = []
    for index, flag in enumerate(flags):
        if flag:
            if index and flags[index - 1] and sides[index - 1] == sides[index]:
                runs[-1].append(index)
            else:
                runs.append([index])
    return runs


def toward_prior(y: np.ndarray, prediction: np.ndarray, bins: int = 10) -> dict:
    """Where predictions are pulled toward the bulk of the training sample (paper §5.3, figure 3).

    In quantile bins of the truth: mean truth, mean prediction and the local slope of prediction
    against truth. A bin is flagged when its mean prediction lies between its mean truth and the
    sample median, off by more than half the bin's residual scatter: a bias that large is the
    model's prior showing, not noise.
    """
    order = np.argsort(y, kind="mergesort")
    groups = [g for g in np.array_split(order, bins) if len(g)]
    median = float(np.median(y))
    truth = np.array([y[g].mean() for g in groups])
    predicted = np.array([prediction[g].mean() for g in groups])
    scatter = np.array([(prediction[g] - y[g]).std() for g in groups])
    slope = np.gradient(predicted, truth) if len(groups) > 1 else np.array([math.nan])
    pulled = [bool((t - median) * (p - t) < 0 and abs(p - t) > 0.5 * max(e, 1e-12) and abs(p - median) < abs(t - median))
              for t, p, e in zip(truth, predicted, scatter)]
    # Neighbouring bins on the same side of the median are one range: below it predictions are
    # pulled up, above it down.
    above = [bool(t > median) for t in truth]
    flagged = []
    for run in _runs(pulled, above):
        values = y[np.concatenate([groups[i] for i in run])]
        flagged.append(f"{'down' if above[run[0]] else 'up'} for true values in "
                       f"[{values.min():.3g}, {values.max():.3g}]")
    return {
        "truth": [_json_float(v) for v in truth], "predicted": [_json_float(v) for v in predicted],
        "slope": [_json_float(v) for v in slope], "pulled": pulled,
        "overall_slope": _json_float(float(np.polyfit(y, prediction, 1)[0])) if len(y) > 1 else None,
        "detail": ("predictions are pulled toward the bulk of the training sample (paper §5.3): "
                   + "; ".join(flagged) + ". Do not trust them there")
        if flagged else None,
    }
