"""Interrogate the selected model (paper §6.1.3): what has it learned, and where does it fail?

Pure: arrays in, typed parts of the Summary out (seeds explicit).

- Sensitivity curves (`sensitivity_inputs`, `sensitivity_curve`): one feature varied over its
  observed range (1st to 99th percentile of the development objects, SENSITIVITY_POINTS values),
  every other feature at its median; optionally a second feature (`by`) at its 10/50/90%
  quantiles, one curve each. The varied column is set as given, whether measured or derived:
  derived features are *not* recomputed from it (a curve of the magnitude r keeps the colours at
  their medians), so a curve is the model's response to that one input.
- The primary metric in quantile bins of a feature (`metric_in_bins`), on the pooled
  out-of-fold predictions, each with its interval (Wilson for a rate, a bootstrap over the bin's
  objects otherwise) and the finish line judged in the bin; bins in increasing order of the
  feature, and the finish line "met up to" the upper edge of the last bin of the unbroken run of
  bins from the first that reach it ("how faint can we go?"). An operating-point rate
  (tpr_at_fpr) keeps the threshold chosen on every development object: one selection, scored
  bin by bin.
- The most confidently wrong objects (`worst_objects`): classification, wrong with the highest
  probability of the wrong class; regression, the largest |Δ| (Δ = (ŷ − y)/(1 + y) when the
  project's outlier metric is relative, else ŷ − y), beside the median and 16–84% range of the
  correctly handled objects.
"""

from __future__ import annotations

import math

import numpy as np

from mlproj.analyse.summary import (
    Case,
    ResolvedMetric,
    _batch_arrays,
    _positive_score,
    _score_metric,
    point_prediction,
    proportion_of,
    selection_counts,
)
from mlproj.analyse.types import (
    BinnedMetric,
    MetricBin,
    PopulationRange,
    SensitivityCurve,
    WorstObject,
    WorstObjects,
    finite,
)
from mlproj.science import batch_metrics, metrics, stats

__all__ = ["SENSITIVITY_POINTS", "bin_edges", "finish_line_reach", "metric_in_bins", "sensitivity_curve",
           "sensitivity_inputs", "worst_objects"]

SENSITIVITY_POINTS = 50
SENSITIVITY_RANGE = (0.01, 0.99)  # quantiles: the observed range without its most extreme objects
BY_QUANTILES = (0.1, 0.5, 0.9)
BIN_RESAMPLES = 999  # bootstrap resamples per bin (several bins per feature, several features)
WORST_FEATURES = 8  # feature columns in the table of worst objects


# ------------------------------------------------------------------------------ sensitivity


def sensitivity_inputs(X: np.ndarray, feature: int, *, by: int | None = None, points: int = SENSITIVITY_POINTS
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid of the varied feature, values of `by` per curve, inputs): the inputs are one row per
    (curve, grid value), every column at its median over X's finite values, the varied one at the
    grid value, `by` at its 10/50/90% quantile (one curve without `by`)."""
    X = np.asarray(X, dtype=np.float64)
    finite_values = X[:, feature][np.isfinite(X[:, feature])]
    if finite_values.size == 0:
        raise ValueError("the feature has no finite value")
    low, high = np.quantile(finite_values, SENSITIVITY_RANGE)
    grid = np.linspace(low, high, points)
    with np.errstate(all="ignore"):
        medians = np.array([np.nanmedian(X[:, j]) if np.isfinite(X[:, j]).any() else np.nan
                            for j in range(X.shape[1])])
    levels = np.array([])
    if by is not None:
        by_values = X[:, by][np.isfinite(X[:, by])]
        levels = np.quantile(by_values, BY_QUANTILES) if by_values.size else np.array([np.nan])
    blocks = []
    for level in (levels if levels.size else [None]):
        block = np.tile(medians, (points, 1))
        block[:, feature] = grid
        if level is not None:
            block[:, by] = level
        blocks.append(block)
    return grid, levels, np.vstack(blocks)


def sensitivity_curve(feature: str, grid: np.ndarray, predictions: np.ndarray, quantity: str, *,
                      by: str | None = None, by_values: np.ndarray | None = None) -> SensitivityCurve:
    """The curve(s) of one feature from the model's predictions of `sensitivity_inputs`' rows."""
    levels = [] if by_values is None else [float(v) for v in by_values]
    curves = np.asarray(predictions, dtype=np.float64).reshape(max(1, len(levels)), len(grid))
    return SensitivityCurve(feature, [float(v) for v in grid], quantity,
                            [[finite(v) for v in curve] for curve in curves], by if levels else None,
                            [finite(v) for v in levels])


# ------------------------------------------------------------------------------ metric in bins


def bin_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile edges of the finite values (fewer bins when values repeat)."""
    finite_values = values[np.isfinite(values)]
    if finite_values.size == 0:
        return np.array([])
    edges = np.unique(np.quantile(finite_values, np.linspace(0, 1, n_bins + 1)))
    return edges if edges.size >= 2 else np.array([edges[0], edges[0]])


def _membership(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value for bins [e_i, e_i+1), the last one closed; -1 for NaN or outside."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = len(edges) - 2
    index[~np.isfinite(values) | (values < edges[0]) | (values > edges[-1])] = -1
    return index


def _bin_interval(task_kind: str, case: Case, metric: ResolvedMetric, y: np.ndarray, predictions: np.ndarray,
                  reference: tuple[np.ndarray, np.ndarray], confidence: float, seed: int) -> stats.TestInterval:
    """The metric on one bin's objects with its interval, as the held-out test set gets it
    (analyse.summary.test_interval): Wilson from the counts of a rate, else a bootstrap."""
    n = len(y)
    info = metrics.METRICS[metric.name]
    counts = None
    if task_kind == "classification" and metric.name in metrics.OPERATING_POINT_METRICS:
        score = _positive_score(case, predictions, True)
        ref_y, ref_predictions = reference
        point = metrics.transferred_point(metric.name, metric.params, np.isin(ref_y, case.positives),
                                          _positive_score(case, ref_predictions, True), np.isin(y, case.positives),
                                          score)
        counts = None if math.isnan(point.value) else proportion_of(metric.name, {
            "true_positives": point.true_positives, "false_positives": point.false_positives,
            "n_positive": point.n_positive, "n_negative": point.n_negative})
    elif info.rate_of == "objects":
        value = _score_metric(task_kind, case, metric, y, predictions, True)
        counts = None if math.isnan(value) else (round(value * n), n)
    elif info.is_rate:
        selected = selection_counts(case, metric, y, predictions, True)
        counts = None if selected is None else proportion_of(metric.name, selected)
    if info.is_rate:
        if counts is None or counts[1] == 0:
            return stats.TestInterval(math.nan, (math.nan, math.nan), confidence, "none", n,
                                      detail=f"{metric.label} has no objects to count in this bin")
        return stats.wilson_test_interval(*counts, n, confidence)
    arrays = _batch_arrays(task_kind, case, metric, y, predictions, True)
    batched = batch_metrics.batched(metric.name, metric.params) if arrays is not None else None
    if batched is not None:
        truth, prediction = arrays
        return stats.bootstrap_interval(lambda rows: batched(truth[rows], prediction[rows]), n, confidence,
                                        seed=seed, n_resamples=BIN_RESAMPLES, vectorized=True)
    return stats.bootstrap_interval(lambda rows: _score_metric(task_kind, case, metric, y[rows], predictions[rows],
                                                               True), n, confidence, seed=seed,
                                    n_resamples=BIN_RESAMPLES)


def metric_in_bins(task_kind: str, case: Case, feature: str, values: np.ndarray, y: np.ndarray,
                   predictions: np.ndarray, *, n_bins: int, confidence: float, seed: int = 0) -> BinnedMetric:
    """The case's primary metric in `n_bins` quantile bins of `values` (the feature of each object
    whose out-of-fold prediction is `predictions`), each with its interval and finish-line state."""
    metric = case.primary
    values = np.asarray(values, dtype=np.float64)
    edges = bin_edges(values, n_bins)
    bins: list[MetricBin] = []
    if edges.size:
        member = _membership(values, edges)
        for b in range(len(edges) - 1):
            rows = np.flatnonzero(member == b)
            if rows.size == 0:
                continue
            result = _bin_interval(task_kind, case, metric, y[rows], predictions[rows], (y, predictions),
                                   confidence, seed)
            state = stats.judge_finish_line(result, case.threshold, case.margin, metric.greater_is_better).state
            bins.append(MetricBin(float(edges[b]), float(edges[b + 1]), int(rows.size), finite(result.value),
                                  (finite(result.interval[0]), finite(result.interval[1])), result.method, state))
    met, detail = finish_line_reach(feature, bins, case.threshold, case.margin, metric.greater_is_better)
    missing = int((~np.isfinite(values)).sum())
    if missing:
        detail += f" ({missing} objects without a value of {feature} are in no bin)"
    return BinnedMetric(feature, metric.label, case.threshold, case.margin, metric.greater_is_better, confidence,
                        bins, met, detail)


def finish_line_reach(feature: str, bins: list[MetricBin], threshold: float, margin: float,
                      greater_is_better: bool) -> tuple[float | None, str]:
    """(the upper edge up to which every bin from the first reaches the finish line, or None;
    the sentence that says so)."""
    line = f"{threshold:g}" + (f" {'−' if greater_is_better else '+'} {margin:g}" if margin else "")
    if not bins:
        return None, f"no object has a value of {feature}"
    reached = 0
    while reached < len(bins) and bins[reached].state == "reached":
        reached += 1
    if reached == len(bins):
        return bins[-1].high, f"the finish line {line} is met in every bin of {feature}, up to {feature} = " \
                              f"{_edge(bins[-1].high)}"
    stop = bins[reached]
    why = ("has no value of the metric (e.g. objects of one class only)" if stop.value is None else
           {"not_reached": "misses it", "undetermined": "cannot decide it (its interval straddles the line or has "
            "no width)"}.get(stop.state, stop.state))
    where = f"[{_edge(stop.low)}, {_edge(stop.high)}]"
    if reached == 0:
        return None, f"the finish line {line} is not met in the first bin of {feature}: the bin {where} {why}"
    return bins[reached - 1].high, (f"the finish line {line} is met up to {feature} = {_edge(bins[reached - 1].high)} "
                                    f"(bins 1–{reached} of {len(bins)}); the bin {where} {why}")


def _edge(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


# ------------------------------------------------------------------------------ worst objects


def worst_objects(task_kind: str, y: np.ndarray, predictions: np.ndarray, X: np.ndarray, names: list[str],
                  rows: np.ndarray, worst: int, *, classes: list[str] | None = None, relative: bool = False,
                  outlier_bound: float | None = None, first: list[str] | None = None) -> WorstObjects:
    """The `worst` most confidently wrong objects, out of fold, with their features (those named in
    `first`, then the others, at most WORST_FEATURES) and the range of the correctly handled ones:
    per class (classification: objects of that class predicted as it), or of every object with
    |Δ| <= `outlier_bound` (regression; without a bound, the better half: |Δ| <= its median)."""
    order_names = list(dict.fromkeys([n for n in first or [] if n in names] + list(names)))[:WORST_FEATURES]
    columns = [names.index(n) for n in order_names]
    X = np.asarray(X, dtype=np.float64)
    if task_kind == "classification":
        predicted = np.argmax(predictions, axis=1)
        confidence = predictions[np.arange(len(predicted)), predicted]
        wrong = np.flatnonzero(predicted != y)
        chosen = wrong[np.argsort(-confidence[wrong], kind="stable")][:worst]
        labels = classes or [str(i) for i in range(predictions.shape[1])]
        objects = [WorstObject(int(rows[i]), labels[int(y[i])], labels[int(predicted[i])], finite(confidence[i]),
                               [finite(X[i, j]) for j in columns]) for i in chosen]
        reference = []
        for k in sorted({int(y[i]) for i in chosen}):
            correct = (y == k) & (predicted == k)
            reference.append(_population(f"{labels[k]} predicted {labels[k]}", X[correct][:, columns]))
        measure, who = "probability of the wrong class", "objects of the class predicted as it (out of fold)"
    else:
        mu = point_prediction(predictions)
        delta = (mu - y) / (1 + y) if relative else mu - y
        size = np.abs(delta)
        order = np.argsort(-np.where(np.isfinite(size), size, -np.inf), kind="stable")
        chosen = order[:worst]
        objects = [WorstObject(int(rows[i]), finite(y[i]), finite(mu[i]), finite(size[i]),
                               [finite(X[i, j]) for j in columns]) for i in chosen]
        bound = outlier_bound if outlier_bound is not None else float(np.nanmedian(size)) if size.size else 0.0
        correct = size <= bound
        what = "|Δ|/(1 + y)" if relative else "|Δ|"
        reference = [_population(f"{what} ≤ {bound:.3g}", X[correct][:, columns])]
        measure = "|(ŷ − y)/(1 + y)|" if relative else "|ŷ − y|"
        who = (f"objects with {what} ≤ {bound:.3g}" + (" (not outliers)" if outlier_bound is not None else
                                                        " (the better half)"))
    return WorstObjects(measure, who, order_names, objects, reference)


def _population(label: str, values: np.ndarray) -> PopulationRange:
    def quantile(q: float) -> list[float | None]:
        out = []
        for j in range(values.shape[1]):
            column = values[:, j][np.isfinite(values[:, j])]
            out.append(finite(np.quantile(column, q)) if column.size else None)
        return out

    return PopulationRange(label, int(values.shape[0]), quantile(0.5), quantile(0.16), quantile(0.84))
