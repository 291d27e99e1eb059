"""Metrics of many resamples at once, for the bootstrap of a held-out test set.

`scipy.stats.bootstrap` scores a metric on thousands of resamples of the test objects. Through
scikit-learn each score costs milliseconds of argument checking, so a bootstrap of an AUC would
take seconds per run; scored as numpy arrays of shape (resamples, objects) it takes
milliseconds. Each function here gives the same number as `metrics.compute` for every row
(tests/science/test_batch_metrics.py checks them against it); a metric without one is scored
resample by resample instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["batched"]


def _single_class(is_positive: np.ndarray) -> np.ndarray:
    n_positive = is_positive.sum(axis=-1)
    return (n_positive == 0) | (n_positive == is_positive.shape[-1])


def _roc_auc(is_positive: np.ndarray, score: np.ndarray, params: dict) -> np.ndarray:
    # The Mann-Whitney form of the AUC with average ranks: ties count one half, as in roc_auc_score.
    from scipy.stats import rankdata

    ranks = rankdata(score, axis=-1)
    n_pos = is_positive.sum(axis=-1)
    n_neg = is_positive.shape[-1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * is_positive).sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where(_single_class(is_positive), np.nan, auc)


def _brier(is_positive: np.ndarray, score: np.ndarray, params: dict) -> np.ndarray:
    value = np.mean((score - is_positive) ** 2, axis=-1)
    return np.where(_single_class(is_positive), np.nan, value)


def _delta(y: np.ndarray, prediction: np.ndarray, relative: bool) -> np.ndarray:
    d = prediction - y
    return d / (1 + y) if relative else d


def _sigma_nmad(y, prediction, params):
    from scipy.stats import median_abs_deviation

    return median_abs_deviation(_delta(y, prediction, params["relative"]), axis=-1, scale="normal")


def _r2(y, prediction, params):
    total = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    residual = ((y - prediction) ** 2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 1 - residual / total, np.nan)  # a constant truth has no R²


# name -> f(truth, prediction, params): binary classification takes (is_positive, positive score).
_BATCHED: dict[str, Callable[[np.ndarray, np.ndarray, dict], np.ndarray]] = {
    "roc_auc": _roc_auc,
    "brier": _brier,
    "rmse": lambda y, p, params: np.sqrt(np.mean((p - y) ** 2, axis=-1)),
    "mae": lambda y, p, params: np.mean(np.abs(p - y), axis=-1),
    "median_abs_error": lambda y, p, params: np.median(np.abs(p - y), axis=-1),
    "max_abs_error": lambda y, p, params: np.max(np.abs(p - y), axis=-1),
    "sigma_nmad": _sigma_nmad,
    "r2": _r2,
}


def batched(name: str, params: dict) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """f(truth, prediction) scoring every row of (resamples, objects) arrays, or None if the metric
    has no batched form. Classification metrics here are binary: truth is the positive-class
    indicator, prediction the positive-class score."""
    function = _BATCHED.get(name)
    if function is None:
        return None
    return lambda truth, prediction: np.asarray(function(np.asarray(truth, dtype=float),
                                                         np.asarray(prediction, dtype=float), params), dtype=float)
