"""Covariate shift as part of the Summary (paper §5.5): pure, arrays in, a ShiftResult out.

The domain classifier sees the labelled development rows and the application rows (never the
held-out test set); the metrics are every model's pooled out-of-fold predictions of repeat 0
(the predictions the cross-validated rates pool), scored as measured and as expected on the
application sample (science.shift: weighted or stratified bootstrap).
"""

from __future__ import annotations

import math

import numpy as np

from mlproj.analyse.summary import Case, _score_metric
from mlproj.analyse.types import (
    ShiftFeature,
    ShiftHistogram,
    ShiftMetric,
    ShiftResult,
    ShiftStratum,
)
from mlproj.science import shift as sh

KEY_FEATURES = 4  # histograms of the features whose own AUC departs most from 0.5


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def shift_result(X_labelled: np.ndarray, X_application: np.ndarray, names: list[str], *, method: str,
                 required: bool, application: str, seed: int, confidence: float, task_kind: str, case: Case,
                 y_labelled: np.ndarray, pooled: dict[str, tuple[np.ndarray, np.ndarray]],
                 n_resamples: int = sh.RESAMPLES) -> tuple[ShiftResult, np.ndarray]:
    """The ShiftResult and the labelled rows' importance weights. `pooled[model] = (positions, predictions)`:
    positions index the rows of X_labelled / y_labelled."""
    fit = sh.domain_classifier(X_labelled, X_application, seed=seed, confidence=confidence)
    n_lab, n_app = len(X_labelled), len(X_application)
    weights, clipped = sh.importance_weights(fit.labelled, n_lab, n_app)
    ess = sh.effective_sample_size(weights)
    fractions, any_outside = sh.out_of_range(X_labelled, X_application)
    low, high = sh.support_of(X_labelled)
    aucs = sh.single_feature_auc(X_labelled, X_application)
    features = [ShiftFeature(n, _finite(a), float(f), _finite(lo), _finite(hi))
                for n, a, f, lo, hi in zip(names, aucs, fractions, low, high)]
    order = sorted(range(len(names)), key=lambda j: -abs((aucs[j] if math.isfinite(aucs[j]) else 0.5) - 0.5))
    key = order[:KEY_FEATURES]
    histograms = [ShiftHistogram(h.name, h.edges, h.labelled, h.application, h.weighted) for h in sh.histograms(
        [names[j] for j in key], [X_labelled[:, j] for j in key], [X_application[:, j] for j in key], weights)]
    scores = sh.histograms(["domain score"], [fit.labelled], [fit.application], bins=25)[0]
    wh = sh.histograms(["weight"], [weights], [weights], bins=30)[0]
    warnings = []
    if (found := sh.ess_warning(ess, n_lab)) is not None:
        warnings.append(found)
    iv = [_finite(v) for v in fit.interval]
    if iv[0] is not None and iv[0] > 0.5:
        top = ", ".join(f"{names[j]} (AUC {aucs[j]:.2f})" for j in key[:3] if math.isfinite(aucs[j]))
        warnings.append(f"covariate shift: a classifier tells the labelled from the application sample with AUC "
                        f"{fit.auc:.3f} [{iv[0]:.3f}, {iv[1]:.3f}], driven by {top}; {any_outside:.0%} of the "
                        "application objects lie outside the labelled range of some feature (paper §5.5)")
    result = ShiftResult(method, required, application, n_lab, n_app, _finite(fit.auc), iv, confidence, fit.method,
                         features, any_outside, ess, clipped, sh.WEIGHT_CAP, float(weights.max()), histograms,
                         ShiftHistogram("domain score", scores.edges, scores.labelled, scores.application),
                         ShiftHistogram("weight", wh.edges, wh.labelled, []), warnings=warnings)
    metric = case.primary
    for model, (positions, predictions) in pooled.items():
        y = y_labelled[positions]

        def score(rows: np.ndarray, y=y, predictions=predictions) -> float:
            return _score_metric(task_kind, case, metric, y[rows], predictions[rows], True)

        measured = score(np.arange(len(y)))
        plain = sh.weighted_metric(score, np.ones(len(y)), confidence=confidence, seed=seed, n_resamples=n_resamples)
        strata: list[ShiftStratum] = []
        if method == "strata":
            expected, found = sh.strata_metric(score, fit.labelled[positions], fit.application,
                                               confidence=confidence, seed=seed, n_resamples=n_resamples)
            strata = [ShiftStratum(s.low, s.high, s.share, s.n_labelled, _finite(s.value)) for s in found]
        else:
            expected = sh.weighted_metric(score, weights[positions], confidence=confidence, seed=seed,
                                          n_resamples=n_resamples)
        result.metrics.append(ShiftMetric(
            model, metric.label, _finite(measured), [_finite(v) for v in plain.interval], _finite(expected.value),
            [_finite(v) for v in expected.interval], expected.method, confidence, len(y), strata,
            expected.detail))
    return result, weights
