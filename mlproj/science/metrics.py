"""Scoring functions and their catalogue.

The catalogue (``METRICS``, ``metric_info``, ``validate_params``) is pure data so the
config loader, ``mlproj schema`` and ``--help`` can import it without paying for
scikit-learn/scipy; those are imported inside the functions that compute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlproj.errors import ConfigError

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    task: str  # "classification" | "regression"
    greater_is_better: bool
    params: dict[str, float | bool | str | None]  # allowed parameters -> defaults
    description: str
    binary: bool  # computed one-vs-rest for the positive class
    # A rate is a fraction k/n of counted objects, so its counts give it a Wilson interval (DESIGN §6):
    # the objects n counts ("positives", "negatives", "selected" or "objects"); None: not a rate.
    rate_of: str | None = None

    @property
    def is_rate(self) -> bool:
        return self.rate_of is not None


def _m(name, task, gib, params, description, binary=False, rate_of=None):
    return MetricInfo(name, task, gib, params, description, binary, rate_of)


_C, _R = "classification", "regression"
METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        _m("tpr_at_fpr", _C, True, {"fpr": 0.01},
           "Completeness (true-positive rate) reached while letting in at most a fraction `fpr` "
           "of the negatives (contaminants)", True, "positives"),
        _m("fpr_at_fnr", _C, False, {"fnr": 0.05},
           "Fraction of negatives (contaminants) let in when at most a fraction `fnr` of the "
           "positives may be lost", True, "negatives"),
        _m("completeness", _C, True, {"threshold": 0.5},
           "Completeness (recall) of the positive class, selecting objects with score >= `threshold`",
           True, "positives"),
        _m("purity", _C, True, {"threshold": 0.5},
           "Purity (precision) of the sample selected with score >= `threshold`; NaN if nothing "
           "is selected", True, "selected"),
        _m("roc_auc", _C, True, {},
           "Area under the ROC curve for the positive class versus the rest (0.5 = random ranking)",
           True),
        _m("accuracy", _C, True, {},
           "Fraction of objects whose most probable class is the true class", rate_of="objects"),
        _m("balanced_accuracy", _C, True, {},
           "Mean per-class completeness of the most probable class (insensitive to class imbalance)"),
        _m("log_loss", _C, False, {},
           "Multi-class cross-entropy of the predicted probabilities (lower is better)"),
        _m("brier", _C, False, {},
           "Brier score: mean squared error of the positive-class probability (lower is better)",
           True),
        _m("rmse", _R, False, {}, "Root-mean-square error of the predictions"),
        _m("mae", _R, False, {}, "Mean absolute error of the predictions"),
        _m("median_abs_error", _R, False, {},
           "Median absolute error (robust to catastrophic outliers)"),
        _m("max_abs_error", _R, False, {}, "Largest absolute error (the worst object)"),
        _m("sigma_nmad", _R, False, {"relative": True},
           "Normalised median absolute deviation 1.4826*median(|D - median D|) with "
           "D = (pred-true)/(1+true) if `relative` (photo-z convention) else pred-true"),
        _m("outlier_fraction", _R, False, {"threshold": 0.15, "relative": True},
           "Fraction of catastrophic outliers, |D| > `threshold`, with D as for sigma_nmad", rate_of="objects"),
        _m("r2", _R, True, {}, "Coefficient of determination R^2 (1 = perfect, 0 = predicts the mean)"),
    ]
}


# The values each metric can take: the true mean lies inside, so intervals are cut to them, and
# a finish line outside them is a mistake (every model would reach it, or none could).
_FRACTIONS = ("tpr_at_fpr", "fpr_at_fnr", "completeness", "purity", "roc_auc", "accuracy", "balanced_accuracy",
              "brier", "outlier_fraction")
BOUNDS: dict[str, tuple[float, float]] = {
    **{name: (0.0, math.inf) for name in METRICS},
    **{name: (0.0, 1.0) for name in _FRACTIONS},
    "r2": (-math.inf, 1.0),
}


@dataclass(frozen=True)
class TargetDomain:
    """The targets a metric is defined for: outside them its value means nothing (a division by 0)."""

    condition: str  # of the target y, as a user reads it: "1 + y > 0"
    reason: str  # why, in a few words

    def contains(self, y: np.ndarray) -> np.ndarray:
        """Per target: inside the domain. A missing target (NaN) is not judged here: it is dropped."""
        y = np.asarray(y, dtype=np.float64)
        return ~(1.0 + y <= 0.0)  # NaN compares False: counted inside


# Δ = (ŷ − y)/(1 + y), the photo-z convention: undefined at 1 + y = 0, and its sign and scale are
# meaningless below (a redshift is > −1); -1 is a common code for "no spectroscopic redshift".
_RELATIVE = TargetDomain("1 + y > 0", "Δ = (ŷ − y)/(1 + y) divides by 1 + y")


def target_domain(name: str, params: dict | None = None) -> TargetDomain | None:
    """The domain of the targets `name` (with validated `params`) is defined for; None: every target."""
    info = METRICS.get(name)
    if info is None or info.task != "regression" or "relative" not in info.params:
        return None
    relative = {**info.params, **(params or {})}["relative"]
    return _RELATIVE if relative else None


def metric_names(task: str) -> list[str]:
    return [n for n, m in METRICS.items() if m.task == task]


def metric_info(name: str, task: str, *, where: str | None = None) -> MetricInfo:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}", where=where,
                          hint=f"use one of: {', '.join(TASKS)}")
    valid = metric_names(task)
    listing = f"valid {task} metrics: {', '.join(valid)}"
    info = METRICS.get(name)
    if info is None:
        import difflib

        close = difflib.get_close_matches(str(name), valid, n=1)
        hint = (f"did you mean {close[0]!r}? " if close else "") + listing
        raise ConfigError(f"unknown metric {name!r}", where=where, hint=hint)
    if info.task != task:
        raise ConfigError(f"{name!r} is a {info.task} metric, but this is a {task} project",
                          where=where, hint=listing)
    return info


def _number(name: str, param: str, value: Any, where: str | None) -> float:
    # bool is an int subclass: `fpr: true` in YAML is a mistake, not 1.0
    try:
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # a 400-digit YAML integer
        number = math.inf
    if not math.isfinite(number):
        shown = repr(value) if len(repr(value)) < 40 else repr(value)[:37] + "..."
        raise ConfigError(f"parameter {param!r} of metric {name!r} must be a number (finite), got {shown}",
                          where=where)
    return number


def validate_params(name: str, params: dict | None, task: str, *,
                    where: str | None = None) -> dict:
    """Return the parameters with defaults filled in; ConfigError on anything invalid."""
    info = metric_info(name, task, where=where)
    params = dict(params or {})
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        allowed = (f"allowed: {', '.join(info.params)}" if info.params
                   else f"{name!r} takes no parameters")
        raise ConfigError(f"unknown parameter {unknown[0]!r} for metric {name!r}",
                          where=where, hint=allowed)
    out = {**info.params, **params}
    for p, v in out.items():
        if p == "relative":
            if not isinstance(v, bool):
                raise ConfigError(f"parameter 'relative' of metric {name!r} must be true or false,"
                                  f" got {v!r}", where=where)
            continue
        v = out[p] = _number(name, p, v, where)
        if p in ("fpr", "fnr") and not 0 < v < 1:
            raise ConfigError(f"parameter {p!r} of metric {name!r} is a rate and must lie strictly "
                              f"between 0 and 1, got {v:g}", where=where,
                              hint="write it as a fraction, e.g. 0.01 for 1%")
        if p == "threshold" and name == "outlier_fraction" and not v > 0:
            raise ConfigError(f"parameter 'threshold' of metric {name!r} must be > 0, got {v:g}",
                              where=where)
        if p == "threshold" and name != "outlier_fraction" and not 0 <= v <= 1:
            raise ConfigError(f"parameter 'threshold' of metric {name!r} is a probability "
                              f"threshold and must lie in [0, 1], got {v:g}", where=where)
    return out


# ---------------------------------------------------------------- operating points

@dataclass(frozen=True)
class OperatingPoint:
    value: float  # TPR for tpr_at_fpr, FPR for fpr_at_fnr
    threshold: float  # select score >= threshold; +inf means "select nothing"
    n_positive: int
    n_negative: int
    true_positives: int
    false_positives: int
    achieved_fpr: float
    achieved_fnr: float


def _roc_counts(is_positive, score):
    """ROC points as integer counts (FP, TP) with thresholds, or None if a class is absent."""
    from sklearn.metrics import roc_curve

    is_positive = np.asarray(is_positive, dtype=bool).ravel()
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None, n_pos, n_neg
    fpr, tpr, thr = roc_curve(is_positive, np.asarray(score, dtype=float).ravel(),
                              drop_intermediate=False)
    # Work in counts: comparing rates like 1 - 0.95 <= 0.05 fails in floating point.
    fp = np.rint(fpr * n_neg).astype(int)
    tp = np.rint(tpr * n_pos).astype(int)
    return (fp, tp, thr), n_pos, n_neg


def _point(value, i, roc, n_pos, n_neg) -> OperatingPoint:
    fp, tp, thr = roc
    return OperatingPoint(float(value), float(thr[i]), n_pos, n_neg, int(tp[i]), int(fp[i]),
                          float(fp[i] / n_neg), float(1 - tp[i] / n_pos))


def _undefined(n_pos, n_neg) -> OperatingPoint:
    nan = float("nan")
    return OperatingPoint(nan, nan, n_pos, n_neg, 0, 0, nan, nan)


_EPS = 1e-9  # slack for alpha*N landing a hair below an integer


def tpr_at_fpr(is_positive: np.ndarray, score: np.ndarray, fpr: float) -> OperatingPoint:
    """Largest achievable TPR with FPR <= fpr (ties -> smaller FPR). NaN if a class is absent."""
    roc, n_pos, n_neg = _roc_counts(is_positive, score)
    if roc is None:
        return _undefined(n_pos, n_neg)
    fp, tp, _ = roc
    ok = np.flatnonzero(fp <= fpr * n_neg + _EPS)  # never empty: first point is (0, 0)
    best = ok[np.lexsort((fp[ok], -tp[ok]))[0]]
    return _point(tp[best] / n_pos, best, roc, n_pos, n_neg)


def fpr_at_fnr(is_positive: np.ndarray, score: np.ndarray, fnr: float) -> OperatingPoint:
    """Smallest achievable FPR with FNR <= fnr (ties -> smaller FNR). NaN if a class is absent."""
    roc, n_pos, n_neg = _roc_counts(is_positive, score)
    if roc is None:
        return _undefined(n_pos, n_neg)
    fp, tp, _ = roc
    ok = np.flatnonzero(n_pos - tp <= fnr * n_pos + _EPS)  # never empty: last point is (N-, N+)
    best = ok[np.lexsort((-tp[ok], fp[ok]))[0]]
    return _point(fp[best] / n_neg, best, roc, n_pos, n_neg)


OPERATING_POINT_METRICS = {"tpr_at_fpr": "fpr", "fpr_at_fnr": "fnr"}


def transferred_point(name: str, params: dict, reference_positive: np.ndarray, reference_score: np.ndarray,
                      is_positive: np.ndarray, score: np.ndarray) -> OperatingPoint:
    """A rate at an operating point chosen on *other* data, then applied to this data.

    Choosing the threshold on the objects it is scored on is optimistic; choosing it on the
    training folds (or, for the test set, on the development predictions) and applying it here is
    what happens when the selection is used. `value` is the TPR (tpr_at_fpr) or FPR (fpr_at_fnr)
    achieved here; the achieved constraint rate may differ a little from the target.
    """
    finder = {"tpr_at_fpr": tpr_at_fpr, "fpr_at_fnr": fpr_at_fnr}[name]
    target = params[OPERATING_POINT_METRICS[name]]
    reference = finder(reference_positive, reference_score, target)
    is_positive = np.asarray(is_positive, dtype=bool)
    n_pos, n_neg = int(is_positive.sum()), int((~is_positive).sum())
    if np.isnan(reference.threshold) or n_pos == 0 or n_neg == 0:
        return _undefined(n_pos, n_neg)
    selected = np.asarray(score, dtype=float) >= reference.threshold
    tp, fp = int((selected & is_positive).sum()), int((selected & ~is_positive).sum())
    tpr, fpr = tp / n_pos, fp / n_neg
    value = tpr if name == "tpr_at_fpr" else fpr
    return OperatingPoint(float(value), float(reference.threshold), n_pos, n_neg, tp, fp, fpr, 1 - tpr)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n; (0, 1) when n == 0."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.special import ndtri  # norm.ppf without importing scipy.stats (`mlproj verdict` starts fast)

    z = float(ndtri(0.5 + confidence / 2))
    p, z2n = k / n, z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    # exact ends for k = 0 and k = n, which rounding would otherwise leave a hair off
    return (0.0 if k == 0 else centre - half), (1.0 if k == n else centre + half)


# ---------------------------------------------------------------- compute

def _delta(y_true, y_pred, relative: bool) -> np.ndarray:
    d = y_pred - y_true
    return d / (1 + y_true) if relative else d


def compute(name: str, params: dict, y_true: np.ndarray, y_score: np.ndarray, *,
            positive: int | None = None, classes: Sequence | None = None) -> float:
    """Score one metric. Classification: y_true = class indices, y_score = (n, K) probabilities;
    regression: y_score = 1-D predictions. Parameters are assumed validated (defaults filled)."""
    import sklearn.metrics as skm

    info = METRICS[name]
    p = {**info.params, **(params or {})}
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)

    if info.task == "regression":
        y_true = y_true.astype(float).ravel()
        y_pred = y_score.ravel()
        if name == "sigma_nmad":
            from scipy.stats import median_abs_deviation

            return float(median_abs_deviation(_delta(y_true, y_pred, p["relative"]),
                                              scale="normal"))
        if name == "outlier_fraction":
            return float(np.mean(np.abs(_delta(y_true, y_pred, p["relative"])) > p["threshold"]))
        fn = {"rmse": skm.root_mean_squared_error, "mae": skm.mean_absolute_error,
              "median_abs_error": skm.median_absolute_error, "max_abs_error": skm.max_error,
              "r2": skm.r2_score}[name]
        return float(fn(y_true, y_pred))

    if y_score.ndim != 2:
        raise ValueError(f"{name}: y_score must be an (n, K) probability matrix, "
                         f"got shape {y_score.shape}")
    k = y_score.shape[1]
    if classes is not None and len(classes) != k:
        raise ValueError(f"{name}: {len(classes)} classes but y_score has {k} columns")
    y_true = y_true.astype(int).ravel()

    if name in ("accuracy", "balanced_accuracy"):
        fn = skm.accuracy_score if name == "accuracy" else skm.balanced_accuracy_score
        return float(fn(y_true, y_score.argmax(axis=1)))
    if name == "log_loss":
        return float(skm.log_loss(y_true, y_score, labels=list(range(k))))

    if positive is None:
        if k != 2:
            raise ValueError(f"{name} is one-vs-rest: give the positive class for {k} classes")
        positive = 1
    is_pos = y_true == positive
    score = y_score[:, positive]
    # A fold holding a single class has no defined rate/AUC; NaN lets the caller aggregate.
    if is_pos.all() or not is_pos.any():
        return float("nan")
    if name == "tpr_at_fpr":
        return tpr_at_fpr(is_pos, score, p["fpr"]).value
    if name == "fpr_at_fnr":
        return fpr_at_fnr(is_pos, score, p["fnr"]).value
    if name == "roc_auc":
        return float(skm.roc_auc_score(is_pos, score))
    if name == "brier":
        return float(skm.brier_score_loss(is_pos.astype(int), score, pos_label=1))
    selected = score >= p["threshold"]
    if name == "completeness":
        return float(skm.recall_score(is_pos, selected))
    if name == "purity":
        return float(skm.precision_score(is_pos, selected, zero_division=np.nan))
    raise AssertionError(f"metric {name!r} has no implementation")
