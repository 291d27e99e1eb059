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
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlproj.analyse.types import (
    CaseResult,
    Coverage,
    DataDescription,
    Estimate,
    ModelInfo,
    ModelScores,
    PitResult,
    PrimaryMetric,
    Proportion,
    RateCounts,
    Summary,
    TestCaseScores,
    TestInterval,
    TestRate,
    TestScores,
    TimeTrend,
    finite,
)
from mlproj.plan.compile import Plan, Task
from mlproj.plan.estimators import ignores_features
from mlproj.project.schema import MetricSection, Project
from mlproj.science import batch_metrics, metrics, stats

if TYPE_CHECKING:
    from mlproj.execute.cache import TaskOutput


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


# ------------------------------------------------------------------------------------------ pooling


def pool_folds(predictions: dict[int, np.ndarray], valid: dict[int, np.ndarray], folds: Iterable[int]
               ) -> tuple[np.ndarray, np.ndarray]:
    """The out-of-fold predictions of `folds`, stacked in that order, with the rows they predict:
    (rows, predictions), rows[i] the development row of predictions[i]. `valid`: fold -> its
    validation rows. The one place out-of-fold predictions are pooled."""
    folds = list(folds)
    return np.concatenate([valid[f] for f in folds]), np.concatenate([predictions[f] for f in folds])


def pooled_development_predictions(plan: Plan, outputs: dict[str, TaskOutput], model: str
                                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, predictions) of `model`'s out-of-fold predictions of repeat 0, which predict every
    development object once, folds in order; None if any of its folds has no predictions."""
    found: dict[int, np.ndarray] = {}
    for task in plan.tasks:
        if task.model == model and task.repeat == 0:
            output = outputs.get(task.key)
            predictions = output.loaded() if output is not None else None
            if predictions is None:
                return None
            found[task.fold] = predictions
    if not found:
        return None
    folds = sorted(found)
    return pool_folds(found, {f: plan.split(0, f).valid for f in folds}, folds)


def as_columns(predictions: np.ndarray) -> np.ndarray:
    """Regression predictions as (mean[, unscaled σ]) columns."""
    return predictions if predictions.ndim == 2 else predictions[:, None]


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
                 ) -> tuple[dict[int, dict[str, float]], dict[str, RateCounts]]:
    """Metrics of every fold of one model × repeat, and the pooled operating-point counts.

    Returns ({fold: {column: value}}, {column: counts}) where counts pool the folds (every
    development object once) for rate metrics: the numbers behind a Wilson interval.
    `blind`: the model ignores the features (see _transfer).
    """
    repeat_splits = {fold: plan.split(repeat, fold) for fold in fold_outputs}
    values: dict[int, dict[str, float]] = {fold: {} for fold in fold_outputs}
    pooled: dict[str, RateCounts] = {}
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
                        selected = selection_counts(case, metric, y[valid], usable[fold], is_main)
                        for key in counts if selected is not None else ():
                            counts[key] += selected[key]
            if counts["n_positive"] or counts["n_negative"]:
                pooled[column] = rate_record(metric.name, counts)
        for method in case.uncertainty_methods:
            for fold in fold_outputs:
                others = [f for f in usable if f != fold]
                if fold not in usable or not others:
                    values[fold].update({uncertainty_column(m, method): math.nan for m in UNCERTAINTY_SCORES})
                    continue
                reference_rows, reference = pool_folds(usable, {f: repeat_splits[f].valid for f in others}, others)
                sigma = predicted_sigma(method, y[reference_rows], as_columns(reference), usable[fold])
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

    global: the RMS residual (one σ for everyone); residual, quantile, ensemble: the unscaled
    spread times the factor that gives unit-scale standardised residuals on the reference.
    conformal: MAPIE's intervals were calibrated inside the training fold, so their σ-equivalent
    (95% half-width / 1.96) is used as it is: rescaling it would void the coverage guarantee.
    """
    from mlproj.science.sigma import CALIBRATED_IN_FOLD

    n = len(point_prediction(predictions))
    if method == "global" or predictions.ndim == 1 or reference.shape[1] < 2:
        return np.full(n, global_sigma(y_reference, reference[:, 0]))
    if method in CALIBRATED_IN_FOLD:
        return np.maximum(predictions[:, 1], 1e-12)
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
    reference_rows, reference = pool_folds(usable, {f: splits[f].valid for f in others}, others)
    reference_score = _positive_score(case, reference, is_main)
    valid = splits[fold].valid
    return metrics.transferred_point(metric.name, metric.params, np.isin(y[reference_rows], case.positives),
                                     reference_score, np.isin(y[valid], case.positives), score)


def rate_record(name: str, counts: dict, confidence: float = 0.95) -> RateCounts:
    """A rate with the counts it comes from and its Wilson interval (paper §2.3: rates need N)."""
    tp, fp = counts["true_positives"], counts["false_positives"]
    n_pos, n_neg = counts["n_positive"], counts["n_negative"]
    k, n = proportion_of(name, counts)
    low, high = metrics.wilson_interval(k, n, confidence) if n else (math.nan, math.nan)
    return RateCounts(tp, fp, n_pos, n_neg, value=finite(k / n if n else math.nan),
                      achieved_fpr=finite(fp / n_neg if n_neg else math.nan),
                      achieved_tpr=finite(tp / n_pos if n_pos else math.nan),
                      wilson=(finite(low), finite(high)), confidence=confidence)


def proportion_of(name: str, counts: dict) -> tuple[int, int]:
    """(k, n) of a rate counted at a selection (`counts`: true/false positives, positives and
    negatives): what the metric's `rate_of` says its objects are."""
    tp, fp = counts["true_positives"], counts["false_positives"]
    rate_of = metrics.METRICS[name].rate_of
    if rate_of == "selected":  # purity
        return tp, tp + fp
    if rate_of == "negatives":  # fpr_at_fnr
        return fp, counts["n_negative"]
    return tp, counts["n_positive"]  # tpr_at_fpr, completeness


def _proportions(case: Case, rows: list[dict], pooled: dict[str, RateCounts]) -> dict[str, Proportion]:
    """The pooled out-of-fold counts of each rate metric of `case` for one model (repeat 0: every
    development object once). A rate of all objects (accuracy, outlier fraction) is k/n of each
    fold's n_valid objects, so k is read back exactly; a fold without a score adds nothing."""
    out = {}
    for metric in case.metrics:
        rate_of = metrics.METRICS[metric.name].rate_of
        column = case.column(metric)
        if rate_of == "objects":
            scored = [r for r in rows if r["repeat"] == 0 and not math.isnan(r[column])]
            if scored:
                out[metric.label] = Proportion(sum(round(r[column] * r["n_valid"]) for r in scored),
                                               sum(r["n_valid"] for r in scored))
        elif rate_of is not None and pooled.get(column):
            rate = pooled[column]
            out[metric.label] = Proportion(*proportion_of(metric.name, vars(rate)))
    return out


# ------------------------------------------------------------------------------------------ tables


def results_rows(plan: Plan, outputs: dict[str, TaskOutput], y: np.ndarray, cases: list[Case]
                 ) -> tuple[list[dict], dict[str, dict[str, RateCounts]]]:
    """One row per cross-validation task (plan order), and per model the pooled rate counts of repeat 0."""
    by_model_repeat: dict[tuple[str, int], dict[int, Task]] = {}
    for task in plan.tasks:
        by_model_repeat.setdefault((task.model, task.repeat), {})[task.fold] = task
    fold_values: dict[str, dict[str, float]] = {}
    rates: dict[str, dict[str, RateCounts]] = {}
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


def summarize_models(plan: Plan, rows: list[dict]) -> list[ModelInfo]:
    """Per model: fit information, shared by every case."""
    models = []
    for spec in plan.models:
        mine = [r for r in rows if r["model"] == spec.name]
        errors = sorted({r["error"] for r in mine if r["error"]})
        fit = [r["fit_seconds"] for r in mine if not math.isnan(r["fit_seconds"])]
        models.append(ModelInfo(
            name=spec.name, role=spec.role, estimator=spec.estimator, params=spec.params,
            scale=spec.scale, simplicity=spec.simplicity,
            fit_seconds=float(np.mean(fit)) if fit else None,
            failed_tasks=sum(1 for r in mine if r["error"]),
            n_tasks=len(mine),
            errors=errors,
            parent=spec.parent,
            settings=spec.settings if spec.parent is not None else None,
        ))
    return models


def _estimate(scores: list[float], plan: Plan, confidence: float,
              bounds: tuple[float, float] = (-math.inf, math.inf), counts: Proportion | None = None) -> Estimate:
    """A metric over the folds; a rate's interval floored by its pooled counts (`counts`, DESIGN §6)."""
    summary = stats.summarize(scores, plan.folds, plan.repeats, confidence, bounds=bounds,
                              val_train_ratio=plan.val_train_ratio)
    if counts is not None:
        summary = stats.floor_rate(summary, counts.successes, counts.trials)
    return Estimate.from_dict(summary.to_dict())


def summarize_cases(plan: Plan, rows: list[dict], cases: list[Case], rates: dict[str, dict[str, RateCounts]],
                    confidence: float) -> list[CaseResult]:
    """Per case and model: every metric's summary, the paired primary scores and pooled rates."""
    out = []
    for case in cases:
        per_model = {}
        for spec in plan.models:
            mine = sorted((r for r in rows if r["model"] == spec.name), key=lambda r: (r["repeat"], r["fold"]))
            pooled = rates.get(spec.name, {})
            proportions = _proportions(case, mine, pooled)
            per_model[spec.name] = ModelScores(
                metrics={m.label: _estimate([r[case.column(m)] for r in mine], plan, confidence,
                                            bounds=metrics.BOUNDS[m.name], counts=proportions.get(m.label))
                         for m in case.metrics},
                proportions=proportions or None,
                scores=[finite(r[case.primary_column]) for r in mine],
                rates={m.label: pooled[case.column(m)] for m in case.metrics if pooled.get(case.column(m))},
                uncertainty={
                    uncertainty_column(name, method): _estimate([r[uncertainty_column(name, method)] for r in mine],
                                                                plan, confidence)
                    for method in case.uncertainty_methods for name in UNCERTAINTY_SCORES
                },
                uncertainty_scores={
                    method: [finite(r[uncertainty_column("crps", method)]) for r in mine]
                    for method in case.uncertainty_methods
                },
                uncertainty_nll_scores={
                    method: [finite(r[uncertainty_column("nll", method)]) for r in mine]
                    for method in case.uncertainty_methods
                } if case.uncertainty_methods else None,
                uncertainty_coverage={method: pooled_coverage(mine, method) for method in case.uncertainty_methods}
                if case.uncertainty_methods else None,
                trend=time_trend([finite(r[case.primary_column]) for r in mine], confidence=confidence)
                if plan.strategy == "time" else None,
            )
        out.append(CaseResult(
            name=case.name,
            positive=list(case.positives),
            required=case.required,
            primary=PrimaryMetric(case.primary.name, case.primary.params, case.primary.label,
                                  case.primary.greater_is_better,
                                  tuple(finite(b) for b in metrics.BOUNDS[case.primary.name])),
            metrics=[m.label for m in case.metrics],
            threshold=case.threshold,
            margin=case.margin,
            uncertainty_methods=list(case.uncertainty_methods),
            uncertainty_criteria={name: value for name, value in case.uncertainty_criteria},
            models=per_model,
        ))
    return out


def pooled_coverage(rows: list[dict], method: str) -> dict[str, Coverage]:
    """The ±1σ and ±1.96σ coverage of `method` over the out-of-fold predictions of repeat 0 (every
    development object once), with the Wilson interval of the pooled counts (DESIGN §6: rates
    have a floor from their counts). A fold's coverage is k/n of its n_valid objects, so k is
    read back exactly; a fold without scores adds nothing."""
    from mlproj.science import uncertainty

    out = {}
    for name, nominal in uncertainty.NOMINAL_COVERAGE.items():
        inside = n = 0
        for row in rows:
            value = row[uncertainty_column(name, method)]
            if row["repeat"] == 0 and not math.isnan(value):
                inside += round(value * row["n_valid"])
                n += row["n_valid"]
        low, high = metrics.wilson_interval(inside, n, 0.95) if n else (math.nan, math.nan)
        out[coverage_label(nominal)] = Coverage(nominal, finite(inside / n if n else math.nan), inside, n,
                                                (finite(low), finite(high)))
    return out


def summarize_run(plan: Plan, rows: list[dict], cases: list[Case], rates: dict[str, dict[str, RateCounts]], *,
                  project: str, confidence: float, data: DataDescription, warnings: list[str]) -> Summary:
    """The cross-validated Summary: models and cases. The held-out test, power and diagnostics
    are added once the verdict has selected the models they are about."""
    return Summary(project=project, task=plan.task_kind, folds=plan.folds, repeats=plan.repeats,
                   confidence=confidence, data=data, models=summarize_models(plan, rows),
                   cases=summarize_cases(plan, rows, cases, rates, confidence), warnings=list(warnings),
                   val_train_ratio=plan.val_train_ratio)


def time_trend(scores: list[float | None], *, confidence: float) -> TimeTrend | None:
    """The drift of a metric across time-ordered windows (`scores`, earliest first), or None
    with fewer than three defined windows (a line through two points has no uncertainty).

    Least squares over the window index, scipy.stats.linregress: its slope, standard error and
    two-sided p of slope = 0 (Student t, n − 2 degrees of freedom). Windows without a score keep
    their place in time.
    """
    from scipy import stats as scipy_stats

    index = np.array([i for i, v in enumerate(scores) if v is not None], dtype=np.float64)
    values = np.array([v for v in scores if v is not None], dtype=np.float64)
    if len(values) < 3:
        return None
    if np.ptp(values) == 0:  # no drift at all; linregress would divide 0 by 0
        return TimeTrend(list(scores), 0.0, 0.0, None, False, confidence)
    fit = scipy_stats.linregress(index, values)
    p_value = finite(fit.pvalue)
    return TimeTrend(list(scores), finite(fit.slope), finite(fit.stderr), p_value,
                     p_value is not None and p_value < 1.0 - confidence, confidence)


def trend_warning(summary: Summary, case_name: str, model: str | None) -> str | None:
    """One sentence when the selected model's skill drifts significantly across the time windows."""
    case = next((c for c in summary.cases if c.name == case_name), None)
    scores = case.models.get(model) if case is not None and model is not None else None
    trend = scores.trend if scores is not None else None
    if trend is None or not trend.significant:
        return None
    better = (trend.slope > 0) == case.primary.greater_is_better
    where = f" ({case.name})" if len(summary.cases) > 1 else ""
    return (f"the {case.primary.label} of {model}{where} drifts with time across the {len(trend.scores)} validation "
            f"windows ({'better' if better else 'worse'} by {abs(trend.slope):.3g} ± {trend.slope_se:.2g} per window, "
            f"p = {trend.p_value:.2g}): the mean over the windows is not the skill to expect on the newest data, "
            "and the latest window is the better guide")


def score_test(model: str, predictions: np.ndarray, plan: Plan, y: np.ndarray, cases: list[Case],
               development: tuple[np.ndarray, np.ndarray] | None, only: Collection[str] | None = None, *,
               confidence: float = 0.90) -> TestScores:
    """The held-out test result of one model for every case (or the cases named in `only`: those
    it was selected for), with counts behind rate metrics.

    `development` (pooled_development_predictions: rows and out-of-fold predictions of repeat 0)
    supplies the operating point thresholds, chosen on the development set and applied to the
    test set, and the reference that calibrates the predicted σ. The primary metric gets its test
    interval at `confidence` (`test_interval`), which the finish line is judged on.
    """
    from mlproj.science import uncertainty

    test_rows = plan.test
    result = TestScores(model=model, n_test=int(len(test_rows)))
    for index, case in enumerate(cases):
        is_main = index == 0
        if only is not None and case.name not in only:
            continue
        values, points = {}, {}
        for metric in case.metrics:
            if plan.task_kind == "classification" and metric.name in metrics.OPERATING_POINT_METRICS:
                point = None
                score = _positive_score(case, predictions, is_main)
                reference = _test_reference(case, model, plan, score, development, is_main)
                if score is not None and reference is not None:
                    point = metrics.transferred_point(
                        metric.name, metric.params, np.isin(y[reference[0]], case.positives), reference[1],
                        np.isin(y[test_rows], case.positives), score)
                values[metric.label] = finite(point.value if point else math.nan)
                if point:
                    counts = rate_record(metric.name, {"true_positives": point.true_positives,
                                                       "false_positives": point.false_positives,
                                                       "n_positive": point.n_positive, "n_negative": point.n_negative})
                    points[metric.label] = TestRate(**vars(counts), threshold=finite(point.threshold),
                                                    resolution=resolution_note(metric, counts))
            else:
                values[metric.label] = finite(_score_metric(plan.task_kind, case, metric, y[test_rows],
                                                            predictions, is_main))
        entry = TestCaseScores(metrics=values, rates=points)
        entry.intervals = {case.primary.label: test_interval(plan, case, case.primary, y, predictions, is_main,
                                                             points.get(case.primary.label), confidence)}
        if case.uncertainty_methods and development is not None:
            reference_rows, pooled = development
            reference = as_columns(pooled)
            mu = point_prediction(predictions)
            entry.uncertainty, entry.coverage = {}, {}
            for method in case.uncertainty_methods:
                sigma = predicted_sigma(method, y[reference_rows], reference, predictions)
                entry.uncertainty.update({k: finite(v) for k, v in score_uncertainty(
                    method, y[test_rows], mu, sigma).items()})
                # Counts inside the ±1σ and ±1.96σ intervals, with Wilson intervals on the fractions.
                entry.coverage[method] = {
                    coverage_label(nominal): Coverage.from_dict(
                        uncertainty.coverage(y[test_rows], mu, sigma, nominal).to_dict())
                    for nominal in uncertainty.NOMINAL_COVERAGE.values()}
            last = case.uncertainty_methods[-1]
            entry.pit = _pit(y[test_rows], mu, predicted_sigma(last, y[reference_rows], reference, predictions), last,
                             list(entry.coverage[last].values()))
        result.cases[case.name] = entry
    return result


def test_interval(plan: Plan, case: Case, metric: ResolvedMetric, y: np.ndarray, predictions: np.ndarray,
                  is_main: bool, point: RateCounts | None, confidence: float) -> TestInterval:
    """The held-out test interval of one metric (DESIGN §6): a rate's Wilson interval from its test
    counts (`point`: the counts at the operating point, for tpr_at_fpr and fpr_at_fnr), otherwise
    a bootstrap over the test objects, seeded by the plan."""
    test_rows = plan.test
    n = int(len(test_rows))
    info = metrics.METRICS[metric.name]
    y_test = y[test_rows]
    counts = None
    if info.rate_of == "objects":
        value = _score_metric(plan.task_kind, case, metric, y_test, predictions, is_main)
        counts = None if math.isnan(value) else (round(value * n), n)
    elif info.is_rate and metric.name in metrics.OPERATING_POINT_METRICS:
        counts = None if point is None else proportion_of(metric.name, vars(point))
    elif info.is_rate:
        selected = selection_counts(case, metric, y_test, predictions, is_main)
        counts = None if selected is None else proportion_of(metric.name, selected)
    if info.is_rate:
        if counts is None:
            result = stats.TestInterval(math.nan, (math.nan, math.nan), confidence, "none", n,
                                        detail=f"{metric.label} has no counts on the test set")
        else:
            result = stats.wilson_test_interval(*counts, n, confidence)
    else:
        seed = plan.splits[0].seed if plan.splits else 0
        arrays = _batch_arrays(plan.task_kind, case, metric, y_test, predictions, is_main)
        batched = batch_metrics.batched(metric.name, metric.params) if arrays is not None else None
        if batched is not None:
            truth, prediction = arrays
            result = stats.bootstrap_interval(lambda rows: batched(truth[rows], prediction[rows]), n, confidence,
                                              seed=seed, vectorized=True)
        else:
            def statistic(rows: np.ndarray) -> float:
                return _score_metric(plan.task_kind, case, metric, y_test[rows], predictions[rows], is_main)

            result = stats.bootstrap_interval(statistic, n, confidence, seed=seed)
    return TestInterval.from_dict(result.to_dict())


def _batch_arrays(task_kind: str, case: Case, metric: ResolvedMetric, y: np.ndarray, predictions: np.ndarray,
                  is_main: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(truth, prediction) as the batched metrics take them, scored as `_score_metric` scores:
    regression truth and point predictions; for a binary metric, the positive-class indicator
    and score (a historical score only for the main case's ranking metrics). None: no such form."""
    if task_kind == "regression":
        return y.astype(float), point_prediction(predictions)
    if not metric.binary:
        return None
    if predictions.ndim == 1 and not (is_main and metric.name in RANKING_METRICS):
        return None
    return np.isin(y, case.positives), _positive_score(case, predictions, is_main)


def selection_counts(case: Case, metric: ResolvedMetric, y: np.ndarray, predictions: np.ndarray,
                     is_main: bool) -> dict | None:
    """Counts of the objects selected with score >= the metric's threshold (completeness, purity)
    among the objects `y`, or None without a positive-class score."""
    score = _positive_score(case, predictions, is_main)
    if score is None or predictions.ndim != 2:
        return None
    selected = score >= metric.params["threshold"]
    positive = np.isin(y, case.positives)
    return {"true_positives": int((selected & positive).sum()), "false_positives": int((selected & ~positive).sum()),
            "n_positive": int(positive.sum()), "n_negative": int((~positive).sum())}


def coverage_label(nominal: float) -> str:
    """The key of a nominal coverage in the summary: "0.6827" (±1σ), "0.95" (±1.96σ)."""
    return f"{nominal:.4g}"


def _test_reference(case: Case, model: str, plan: Plan, score: np.ndarray | None,
                    development: tuple[np.ndarray, np.ndarray] | None,
                    is_main: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows and scores the test set's operating point is chosen on: the development set's
    out-of-fold predictions, or for a model that ignores the features its own test scores
    (`score`; see _transfer)."""
    if ignores_features(plan.model(model)):
        return None if score is None else (plan.test, score)
    if development is None:
        return None
    rows, predictions = development
    scores = _positive_score(case, predictions, is_main)
    return None if scores is None else (rows, scores)


def _pit(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, method: str, coverages: list[Coverage]) -> PitResult:
    """PIT histogram and KS check of the test-set predictions (paper §5.2, figure 2), consistent
    with the coverages of the same predictions (never "calibrated" when a coverage is off)."""
    from mlproj.science import uncertainty

    check = uncertainty.pit_check(uncertainty.pit_values(y, mu, sigma), coverages=coverages)
    return PitResult.from_dict({"method": method, **check.to_dict()})


def resolution_note(metric: ResolvedMetric, rate: RateCounts) -> str | None:
    """Whether the sample resolves the operating point's constraint to half its target (paper §2.3)."""
    from mlproj.science import power

    if metric.name == "tpr_at_fpr":
        target = metric.params["fpr"]
        return power.resolution_note(rate.false_positives, rate.n_negative, target, target / 2, "FPR")
    if metric.name == "fpr_at_fnr":
        target = metric.params["fnr"]
        return power.resolution_note(rate.n_positive - rate.true_positives, rate.n_positive, target,
                                     target / 2, "FNR")
    return None


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
        "truth": [finite(v) for v in truth], "predicted": [finite(v) for v in predicted],
        "slope": [finite(v) for v in slope], "pulled": pulled,
        "overall_slope": finite(float(np.polyfit(y, prediction, 1)[0])) if len(y) > 1 else None,
        "detail": ("predictions are pulled toward the bulk of the training sample (paper §5.3): "
                   + "; ".join(flagged) + ". Do not trust them there")
        if flagged else None,
    }
