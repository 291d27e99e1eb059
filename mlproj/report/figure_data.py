"""The numbers each figure of the report draws, computed before anything is drawn.

A figure is data first, drawing second (like scikit-learn's ``RocCurveDisplay.from_predictions``):
every builder here is a pure function of arrays and lists returning a frozen dataclass that tests
check without looking at pixels; ``mlproj.report.figures`` only draws them. No matplotlib here:
numpy, scipy and ``sklearn.metrics`` only (imported where first needed).

Undefined values (None or NaN) never raise: they are carried as None and drawn as "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlproj.science.metrics import wilson_interval

ROLES = ("dummy", "historical", "baseline", "candidate")
DECISIONS = ("improved", "equivalent", "worse", "undetermined")
COVERAGE_LEVELS = (1.0, 1.96)  # |y - mu| <= k sigma
COVERAGE_NOMINAL = (0.6827, 0.95)


def model_role(name: str, role: str | None) -> str:
    """The role a figure colours a model by: dummy | historical | baseline | candidate.

    Accepts the plan's roles ("baseline", "candidate": the dummy and the historical score are
    baselines named "dummy" and "historical") as well as the figure roles themselves and "standard"."""
    r = (role or "candidate").lower()
    if r in ("dummy", "historical", "candidate"):
        return r
    if r in ("baseline", "standard", "standard baseline"):
        return name if name in ("dummy", "historical") else "baseline"
    return "candidate"


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def subsample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a deterministic random subsample of k of n rows (all rows when n <= k)."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def _thin(n: int, k: int) -> np.ndarray:
    """Evenly spaced indices of at most k of n points of a curve, both endpoints kept."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(int))


# ---------------------------------------------------------------- 1. comparison chart

@dataclass(frozen=True)
class ComparisonRow:
    name: str
    role: str  # dummy | historical | baseline | candidate
    mean: float | None  # None: undefined, drawn "n/a"
    se: float | None
    interval: tuple[float, float] | None
    decision: str  # improved | equivalent | worse | undetermined | selected | n/a
    selected: bool


@dataclass(frozen=True)
class ComparisonData:
    rows: tuple[ComparisonRow, ...]  # in the order given, drawn top to bottom
    threshold: float | None
    margin: float | None
    metric_label: str
    greater_is_better: bool
    interval_label: str = "interval"


def comparison_data(names: Sequence[str], roles: Sequence[str], means: Sequence[float | None],
                    ses: Sequence[float | None], intervals: Sequence[tuple[float, float] | None] | None,
                    decisions: Sequence[str | None] | None, selected: str | None, threshold: float | None,
                    margin: float | None, metric_label: str, greater_is_better: bool, *,
                    interval_label: str = "interval") -> ComparisonData:
    """Each model's cross-validated primary metric: mean ± corrected SE, its interval and the decision
    against the selected model ("selected" for that one, "n/a" when unknown)."""
    n = len(names)
    intervals = list(intervals) if intervals is not None else [None] * n
    decisions = list(decisions) if decisions is not None else [None] * n
    if not (len(roles) == len(means) == len(ses) == len(intervals) == len(decisions) == n):
        raise ValueError("names, roles, means, ses, intervals and decisions must have one entry per model")
    rows = []
    for name, role, mean, se, interval, decision in zip(names, roles, means, ses, intervals, decisions):
        lo_hi = None
        if interval is not None:
            lo, hi = _number(interval[0]), _number(interval[1])
            lo_hi = (lo, hi) if lo is not None and hi is not None else None
        is_selected = selected is not None and name == selected
        d = "selected" if is_selected else (decision if decision in DECISIONS else "n/a")
        rows.append(ComparisonRow(str(name), model_role(name, role), _number(mean), _number(se), lo_hi, d,
                                  is_selected))
    m = _number(margin)
    return ComparisonData(tuple(rows), _number(threshold), abs(m) if m is not None else None, metric_label,
                          bool(greater_is_better), interval_label)


# ---------------------------------------------------------------- operating points (ROC, C-C)

@dataclass(frozen=True)
class OperatingPoint:
    """Counts at the chosen threshold and the Wilson intervals of the rates they give."""
    name: str | None
    tp: int
    n_pos: int
    fp: int
    n_neg: int
    confidence: float
    fpr: float | None  # FP / n_neg
    fpr_interval: tuple[float, float]
    tpr: float | None  # completeness, TP / n_pos
    tpr_interval: tuple[float, float]
    contamination: float | None  # FP / (TP + FP)
    contamination_interval: tuple[float, float]


def operating_point(tp: int, n_pos: int, fp: int, n_neg: int, *, name: str | None = None,
                    confidence: float = 0.95) -> OperatingPoint:
    """The operating point of counts TP of n_pos positives and FP of n_neg negatives, with the Wilson
    intervals of FPR (FP of n_neg), completeness (TP of n_pos) and contamination (FP of TP + FP)."""
    tp, n_pos, fp, n_neg = int(tp), int(n_pos), int(fp), int(n_neg)
    if not (0 <= tp <= n_pos and 0 <= fp <= n_neg):
        raise ValueError(f"counts out of range: TP {tp} of {n_pos}, FP {fp} of {n_neg}")
    selected = tp + fp
    return OperatingPoint(
        name, tp, n_pos, fp, n_neg, confidence,
        fp / n_neg if n_neg else None, wilson_interval(fp, n_neg, confidence),
        tp / n_pos if n_pos else None, wilson_interval(tp, n_pos, confidence),
        fp / selected if selected else None, wilson_interval(fp, selected, confidence),
    )


def operating_point_at(is_positive, score, threshold: float, *, name: str | None = None,
                       confidence: float = 0.95) -> OperatingPoint:
    """The operating point of selecting score >= threshold (objects with a non-finite score dropped)."""
    pos, s = _clean_binary(is_positive, score)
    chosen = s >= threshold
    return operating_point(int(np.sum(chosen & pos)), int(np.sum(pos)), int(np.sum(chosen & ~pos)),
                           int(np.sum(~pos)), name=name, confidence=confidence)


def _clean_binary(is_positive, score) -> tuple[np.ndarray, np.ndarray]:
    pos = np.asarray(is_positive).astype(bool).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if pos.shape != s.shape:
        raise ValueError(f"{pos.size} labels but {s.size} scores")
    keep = np.isfinite(s)
    return pos[keep], s[keep]


# ---------------------------------------------------------------- 2. ROC, 3. completeness-contamination

@dataclass(frozen=True)
class Curve:
    name: str
    role: str
    selected: bool
    x: np.ndarray  # ROC: FPR; C-C: contamination
    y: np.ndarray  # ROC: TPR; C-C: completeness
    thresholds: np.ndarray
    area: float | None  # ROC: AUC; None when undefined (one class only)
    n_pos: int
    n_neg: int
    n_dropped: int  # objects without a finite score

    @property
    def defined(self) -> bool:
        return self.x.size > 0


@dataclass(frozen=True)
class CurveData:
    kind: str  # "roc" | "completeness_contamination"
    curves: tuple[Curve, ...]
    operating_point: OperatingPoint | None
    log_x: bool
    x_min: float  # left end of a log x axis


def _per_model(is_positive, n_models: int) -> list:
    if isinstance(is_positive, (list, tuple)) and len(is_positive) == n_models and n_models and \
            np.ndim(is_positive[0]) == 1:
        return list(is_positive)
    return [is_positive] * n_models


def _curves(kind, names, roles, is_positive, scores, selected, max_points) -> list[Curve]:
    import sklearn.metrics as skm

    if not (len(names) == len(roles) == len(scores)):
        raise ValueError("names, roles and scores must have one entry per model")
    out = []
    for name, role, positives, score in zip(names, roles, _per_model(is_positive, len(names)), scores):
        pos, s = _clean_binary(positives, score)
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        dropped = int(np.size(score) - s.size)
        empty = np.array([], dtype=float)
        x = y = t = empty
        area = None
        if n_pos and n_neg:
            if kind == "roc":
                x, y, t = skm.roc_curve(pos, s, drop_intermediate=True)
                area = float(skm.auc(x, y))
            else:
                precision, recall, t = skm.precision_recall_curve(pos, s, drop_intermediate=True)
                # the last pair (recall 0, precision 1) is sklearn's convention, no threshold gives it
                x, y = 1.0 - precision[:-1], recall[:-1]
            keep = _thin(x.size, max_points)
            x, y, t = x[keep], y[keep], t[keep]
        out.append(Curve(str(name), model_role(name, role), selected is not None and name == selected,
                         np.asarray(x, float), np.asarray(y, float), np.asarray(t, float), area, n_pos, n_neg,
                         dropped))
    return out


def roc_data(names: Sequence[str], roles: Sequence[str], is_positive, scores: Sequence, *,
             selected: str | None = None, operating: OperatingPoint | None = None, log_x: bool | None = None,
             max_points: int = 2000) -> CurveData:
    """ROC curves, ``sklearn.metrics.roc_curve(is_positive, score)`` per model (drop_intermediate, thinned
    to at most max_points keeping the endpoints), AUC, and the operating point with its Wilson box.

    is_positive: one boolean array for all models, or a list of one per model. Objects with a non-finite
    score are dropped from that model's curve; a model whose objects are all of one class has no curve.
    log_x (None): a log FPR axis when the operating point's FPR < 0.05, starting near 1/n_neg."""
    curves = _curves("roc", names, roles, is_positive, scores, selected, max_points)
    n_neg = max([c.n_neg for c in curves] + [operating.n_neg if operating else 0, 1])
    if log_x is None:
        log_x = operating is not None and operating.fpr is not None and operating.fpr < 0.05
    return CurveData("roc", tuple(curves), operating, bool(log_x), 0.5 / n_neg)


def completeness_contamination_data(names: Sequence[str], roles: Sequence[str], is_positive, scores: Sequence, *,
                                    selected: str | None = None, operating: OperatingPoint | None = None,
                                    log_x: bool | None = None, max_points: int = 2000) -> CurveData:
    """Completeness TP/(TP+FN) against contamination FP/(TP+FP) over the thresholds of
    ``sklearn.metrics.precision_recall_curve`` (contamination = 1 − precision), per model, with the
    operating point's Wilson box (completeness of TP/n_pos, contamination of FP/(TP+FP)).
    log_x (None): log contamination when the operating point's contamination < 0.05."""
    curves = _curves("completeness_contamination", names, roles, is_positive, scores, selected, max_points)
    if log_x is None:
        log_x = operating is not None and operating.contamination is not None and operating.contamination < 0.05
    n_sel = max([c.n_pos + c.n_neg for c in curves] + [operating.tp + operating.fp if operating else 0, 1])
    return CurveData("completeness_contamination", tuple(curves), operating, bool(log_x), 0.5 / n_sel)


# ---------------------------------------------------------------- 4. predicted vs true

@dataclass(frozen=True)
class PredictedVsTrueData:
    y: np.ndarray  # the drawn points (a deterministic subsample above max_points)
    y_pred: np.ndarray
    n_total: int  # objects with finite truth and prediction
    n_dropped: int  # objects without
    bin_edges: np.ndarray  # quantile bins of the truth (all finite objects)
    bin_centre: np.ndarray  # median truth per bin
    median: np.ndarray  # median prediction per bin
    p16: np.ndarray
    p84: np.ndarray
    bin_counts: np.ndarray
    limits: tuple[float, float]  # both axes
    target_name: str
    outlier_bound: float | None
    relative: bool
    outlier_fraction: float | None  # of all finite objects, when outlier_bound is given

    def outlier_lines(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(y, lower ŷ, upper ŷ): ŷ = y ± b(1 + y) when relative, else ŷ = y ± b."""
        x = np.array(self.limits, dtype=float)
        b = float(self.outlier_bound or 0.0)
        width = b * (1 + x) if self.relative else np.full_like(x, b)
        return x, x - width, x + width


def bin_membership(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value for bins [e_i, e_i+1), the last one closed; -1 outside."""
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] = len(edges) - 2
    idx[(values < edges[0]) | (values > edges[-1])] = -1
    return idx


def _quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
    return edges if edges.size >= 2 else np.array([values.min(), values.max()], dtype=float)


def predicted_vs_true_data(y_true, y_pred, *, target_name: str = "target", n_bins: int | None = None,
                           outlier_bound: float | None = None, relative: bool = False, max_points: int = 20_000,
                           seed: int = 0) -> PredictedVsTrueData:
    """Predicted against true values: the points (subsampled deterministically above max_points), the
    median prediction and its 16–84% range in quantile bins of the truth (at least ~30 objects a bin,
    at most 20 bins), and the outlier bounds |Δ| > b with Δ = (ŷ − y)/(1 + y) (relative) or ŷ − y."""
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{y.size} true values but {p.size} predictions")
    keep = np.isfinite(y) & np.isfinite(p)
    y, p = y[keep], p[keep]
    n = y.size
    empty = np.array([], dtype=float)
    if n == 0:
        return PredictedVsTrueData(empty, empty, 0, int((~keep).sum()), empty, empty, empty, empty, empty,
                                   np.array([], dtype=int), (0.0, 1.0), target_name, _number(outlier_bound),
                                   relative, None)
    bins = n_bins if n_bins is not None else min(20, max(1, n // 30))
    edges = _quantile_edges(y, bins)
    member = bin_membership(y, edges)
    centre, med, p16, p84, counts = [], [], [], [], []
    for b in range(edges.size - 1):
        in_bin = member == b
        if not in_bin.any():
            continue
        q16, q50, q84 = np.quantile(p[in_bin], [0.16, 0.5, 0.84])
        centre.append(np.median(y[in_bin]))
        med.append(np.median(p[in_bin]))
        p16.append(q16)
        p84.append(q84)
        counts.append(int(in_bin.sum()))
    lo = min(float(y.min()), float(np.quantile(p, 0.005)))
    hi = max(float(y.max()), float(np.quantile(p, 0.995)))
    pad = 0.03 * (hi - lo) if hi > lo else max(0.5, 0.05 * abs(lo))
    bound = _number(outlier_bound)
    fraction = None
    if bound is not None:
        delta = (p - y) / (1 + y) if relative else p - y
        fraction = float(np.mean(np.abs(delta) > bound))
    drawn = subsample_indices(n, max_points, seed)
    return PredictedVsTrueData(y[drawn], p[drawn], n, int((~keep).sum()), edges, np.array(centre), np.array(med),
                               np.array(p16), np.array(p84), np.array(counts, dtype=int), (lo - pad, hi + pad),
                               target_name, bound, bool(relative), fraction)


# ---------------------------------------------------------------- 5. PIT histogram

@dataclass(frozen=True)
class PitData:
    bin_edges: np.ndarray
    counts: np.ndarray
    density: np.ndarray  # counts / (total · width), 1 for a calibrated model
    total: int
    band_low: np.ndarray  # per bin: 1 − 2σ of the density of Binomial(total, width) counts
    band_high: np.ndarray


def pit_data(histogram: Sequence[int], bin_edges: Sequence[float], total: int | None = None) -> PitData:
    """The PIT histogram as a density, with the ±2σ binomial band of a uniform PIT for `total` objects
    (default: the sum of the counts)."""
    counts = np.asarray(histogram, dtype=float)
    edges = np.asarray(bin_edges, dtype=float)
    if edges.size != counts.size + 1 or np.any(np.diff(edges) <= 0):
        raise ValueError("bin_edges must be increasing with one more entry than histogram")
    n = int(total if total is not None else counts.sum())
    span = edges[-1] - edges[0]
    width = np.diff(edges)
    share = width / span  # a bin's probability under a uniform PIT
    if n > 0:
        density = counts / (n * share)
        sigma = np.sqrt(share * (1 - share) / n) / share
    else:
        density = np.zeros_like(counts)
        sigma = np.zeros_like(counts)
    return PitData(edges, counts.astype(int), density, n, 1 - 2 * sigma, 1 + 2 * sigma)


# ---------------------------------------------------------------- 6. reliability diagram

@dataclass(frozen=True)
class ReliabilityData:
    mean_predicted: np.ndarray  # bins with objects and finite values only
    observed_fraction: np.ndarray
    counts: np.ndarray
    interval_low: np.ndarray
    interval_high: np.ndarray
    ece: float | None
    bin_edges: np.ndarray | None
    show_counts: bool
    label: str | None  # the model


def reliability_data(mean_predicted: Sequence[float | None], observed_fraction: Sequence[float | None],
                     counts: Sequence[int], intervals: Sequence[tuple[float, float] | None] | None,
                     ece: float | None, *, bin_edges: Sequence[float] | None = None, show_counts: bool = True,
                     label: str | None = None) -> ReliabilityData:
    """A reliability diagram from stored per-bin values; empty or undefined bins are left out."""
    n = len(counts)
    intervals = list(intervals) if intervals is not None else [None] * n
    if not (len(mean_predicted) == len(observed_fraction) == len(intervals) == n):
        raise ValueError("mean_predicted, observed_fraction, counts and intervals must have one entry per bin")
    rows = []
    for m, o, c, iv in zip(mean_predicted, observed_fraction, counts, intervals):
        m, o = _number(m), _number(o)
        if m is None or o is None or not c:
            continue
        lo, hi = (_number(iv[0]), _number(iv[1])) if iv is not None else (None, None)
        rows.append((m, o, int(c), o if lo is None else lo, o if hi is None else hi))
    arr = np.array(rows, dtype=float).reshape(-1, 5)
    edges = np.asarray(bin_edges, dtype=float) if bin_edges is not None else None
    return ReliabilityData(arr[:, 0], arr[:, 1], arr[:, 2].astype(int), arr[:, 3], arr[:, 4], _number(ece), edges,
                           bool(show_counts), label)


# ---------------------------------------------------------------- 7. coverage by predicted sigma

@dataclass(frozen=True)
class CoverageData:
    bin_edges: np.ndarray  # quantile bins of sigma
    sigma_centre: np.ndarray  # median sigma per bin
    counts: np.ndarray
    levels: tuple[float, ...]  # k of |y − mu| <= k sigma
    nominal: tuple[float, ...]  # the coverage each level should have
    inside: tuple[np.ndarray, ...]  # per level: objects inside, per bin
    fraction: tuple[np.ndarray, ...]
    interval_low: tuple[np.ndarray, ...]  # Wilson, per level and bin
    interval_high: tuple[np.ndarray, ...]
    log_x: bool
    n_dropped: int  # objects without finite y, mu or a positive finite sigma


def coverage_data(y, mu, sigma, *, n_bins: int | None = None, max_bins: int = 10, min_per_bin: int = 30,
                  confidence: float = 0.95) -> CoverageData:
    """The fraction of objects with |y − mu| <= 1σ and <= 1.96σ in quantile bins of the predicted σ
    (at most max_bins, at least ~min_per_bin objects a bin), each with its Wilson interval."""
    y, mu, sigma = (np.asarray(a, dtype=float).ravel() for a in (y, mu, sigma))
    if not (y.shape == mu.shape == sigma.shape):
        raise ValueError("y, mu and sigma must have the same length")
    keep = np.isfinite(y) & np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0)
    y, mu, sigma = y[keep], mu[keep], sigma[keep]
    n = y.size
    levels, nominal = COVERAGE_LEVELS, COVERAGE_NOMINAL
    if n == 0:
        e = np.array([], dtype=float)
        return CoverageData(e, e, np.array([], int), levels, nominal, (e, e), (e, e), (e, e), (e, e), False,
                            int((~keep).sum()))
    bins = n_bins if n_bins is not None else min(max_bins, max(1, n // min_per_bin))
    edges = _quantile_edges(sigma, bins)
    member = bin_membership(sigma, edges)
    z = np.abs(y - mu) / sigma
    centre, counts = [], []
    inside = [[] for _ in levels]
    lows = [[] for _ in levels]
    highs = [[] for _ in levels]
    for b in range(edges.size - 1):
        in_bin = member == b
        m = int(in_bin.sum())
        if not m:
            continue
        centre.append(float(np.median(sigma[in_bin])))
        counts.append(m)
        for i, k in enumerate(levels):
            kin = int(np.sum(z[in_bin] <= k))
            lo, hi = wilson_interval(kin, m, confidence)
            inside[i].append(kin)
            lows[i].append(lo)
            highs[i].append(hi)
    counts_a = np.array(counts, dtype=int)
    inside_a = tuple(np.array(v, dtype=int) for v in inside)
    return CoverageData(edges, np.array(centre), counts_a, levels, nominal, inside_a,
                        tuple(v / counts_a for v in inside_a), tuple(np.array(v) for v in lows),
                        tuple(np.array(v) for v in highs), bool(sigma.max() > 10 * sigma.min()),
                        int((~keep).sum()))


# ---------------------------------------------------------------- 8. corner plot

@dataclass(frozen=True)
class CornerClass:
    name: str
    n_total: int  # objects of the class
    n_finite: int  # with finite values in every drawn feature
    points: np.ndarray  # (n_drawn, p): a deterministic subsample of the finite rows
    style: str  # "contours" (large classes) | "points"
    hist: np.ndarray  # (p, bins): density of each drawn feature on the shared bins (finite rows)


@dataclass(frozen=True)
class CornerData:
    feature_names: tuple[str, ...]  # the drawn ones
    n_features_given: int
    ranges: tuple[tuple[float, float], ...]  # per drawn feature: robust, never of zero width
    bins: int
    classes: tuple[CornerClass, ...]

    def bin_edges(self, feature: int) -> np.ndarray:
        lo, hi = self.ranges[feature]
        return np.linspace(lo, hi, self.bins + 1)


def robust_range(values: np.ndarray, quantiles: tuple[float, float] = (0.005, 0.995),
                 pad: float = 0.05) -> tuple[float, float]:
    """The quantile range of the finite values, padded by `pad` of its width; a zero-width range (a
    constant column) is widened so it can be binned."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = (float(q) for q in np.quantile(v, quantiles))
    if hi > lo:
        width = hi - lo
        return lo - pad * width, hi + pad * width
    half = max(0.5, 0.05 * abs(lo))
    return lo - half, lo + half


@dataclass(frozen=True)
class Deferred:
    """A figure's data still to be computed from its inputs, by the process that draws it: the
    corner plot's subsampling and ranges then cost the run's main process nothing."""

    function: str  # a function of this module
    args: tuple
    kwargs: dict

    def compute(self):
        return globals()[self.function](*self.args, **self.kwargs)


def corner_data(X, feature_names: Sequence[str], labels=None, class_names: Sequence[str] | None = None, *,
                max_features: int = 8, max_points: int = 2000, bins: int = 20, min_contour: int = 300,
                seed: int = 0, quantiles: tuple[float, float] = (0.005, 0.995)) -> CornerData:
    """The features of a corner plot coloured by class: the first max_features features, rows with a
    non-finite value in any of them dropped per class, at most max_points rows a class (deterministic
    subsample seeded by `seed` and the class), robust shared ranges (quantiles of all finite values,
    so sentinels such as -99 do not squash the panels). Classes of at least min_contour drawn rows with
    most of them inside the ranges are drawn as density contours, smaller ones as points.
    labels: integer class indices into class_names; None (regression): one class, "all objects"."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, p_all = X.shape
    if len(feature_names) != p_all:
        raise ValueError(f"{p_all} features but {len(feature_names)} names")
    p = max(1, min(max_features, p_all))
    X = X[:, :p]
    ranges = tuple(robust_range(X[:, j], quantiles) for j in range(p))
    edges = [np.linspace(lo, hi, bins + 1) for lo, hi in ranges]
    if labels is None:
        groups = [("all objects", np.arange(n))]
    else:
        lab = np.asarray(labels).ravel()
        if lab.size != n:
            raise ValueError(f"{n} rows but {lab.size} labels")
        codes = [int(c) for c in np.unique(lab)]
        names = list(class_names) if class_names is not None else [str(c) for c in codes]
        groups = [(names[c] if 0 <= c < len(names) else str(c), np.flatnonzero(lab == c)) for c in codes]
    classes = []
    for k, (name, rows) in enumerate(groups):
        block = X[rows]
        finite = block[np.all(np.isfinite(block), axis=1)]
        drawn = finite[subsample_indices(len(finite), max_points, seed + k)]
        hist = np.zeros((p, bins))
        inside = np.ones(len(drawn), dtype=bool)
        for j in range(p):
            lo, hi = ranges[j]
            inside &= (drawn[:, j] >= lo) & (drawn[:, j] <= hi)
            if len(finite):
                counts, _ = np.histogram(finite[:, j], bins=edges[j])
                total = counts.sum()
                if total:
                    hist[j] = counts / (total * np.diff(edges[j]))
        # corner's contours need rows inside every pair of ranges (and more rows than features)
        style = "contours" if len(drawn) >= max(min_contour, p + 1) and inside.mean() >= 0.5 else "points"
        classes.append(CornerClass(str(name), int(len(rows)), int(len(finite)), drawn, style, hist))
    return CornerData(tuple(str(f) for f in feature_names[:p]), p_all, ranges, bins, tuple(classes))

