"""Covariate shift between the labelled sample and the application sample (paper §5.5, DESIGN §6).

Pure: arrays in, frozen dataclasses out, every random choice from an explicit seed.

- A domain classifier (HistGradientBoostingClassifier: it takes missing values as they come)
  tells labelled development rows (0) from application rows (1); its out-of-fold probabilities
  (`cross_val_predict`, seeded StratifiedKFold) give the domain AUC, with DeLong's interval
  (analytic: the variance of the per-object placement values), and the domain score of every
  object. An AUC whose interval covers 0.5 means no shift the classifier can see.
- The features that drive it: each feature's own AUC between the two samples, shown as
  max(AUC, 1 − AUC) (cheap, deterministic, and says which way the samples differ by the sign).
- Importance weights of the labelled objects: w = p/(1 − p) · n_labelled/n_application, the
  ratio of the densities p_app(x)/p_lab(x) (Shimodaira 2000), normalised to mean 1 and clipped
  at WEIGHT_CAP times the mean (clip and renormalise until none exceeds it), so that a few labelled objects deep in
  the application's territory cannot carry the whole estimate. The effective sample size
  ESS = (Σw)²/Σw² says how many labelled objects the weighted estimate is worth.
- Weighted metrics: a weighted bootstrap (sampling-importance-resampling): resamples of n
  labelled objects drawn with probabilities w/Σw, each scored by the ordinary metric, so every
  metric (σ_NMAD, a TPR at a fixed FPR with its threshold re-chosen) is weighted without its own
  weighted formula. The estimate is the median of the resamples and the interval their central
  percentiles; with w = 1 it is the plain bootstrap of the unweighted metric.
- Strata: quintiles of the application sample's domain score; each labelled object falls into
  a stratum by its own out-of-fold domain score; the metric per stratum is combined with the
  application's share of each stratum (propensity-score stratification, Rosenbaum & Rubin 1984),
  its interval by a bootstrap within the strata.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "WEIGHT_CAP", "DomainFit", "delong_interval", "domain_classifier", "domain_model", "importance_weights", "effective_sample_size",
    "ess_warning", "out_of_range", "single_feature_auc", "histograms", "weighted_metric", "strata_metric",
    "support_of", "outside_support",
]

WEIGHT_CAP = 20.0  # times the mean weight: a cap, not a percentile, so that an unshifted sample clips nothing
DOMAIN_FOLDS = 5
RESAMPLES = 1000
N_STRATA = 5
ESS_FRACTION = 0.10
ESS_MINIMUM = 100
MAX_UNCOVERED = 0.10  # strata: above this share of the application sample without labelled objects, no interval


@dataclass(frozen=True)
class DomainFit:
    """The domain classifier's out-of-fold scores: P(application | x) of every object."""

    labelled: np.ndarray      # scores of the labelled rows
    application: np.ndarray   # scores of the application rows
    auc: float
    interval: tuple[float, float]
    confidence: float
    method: str               # how the interval was made


def domain_classifier(X_labelled: np.ndarray, X_application: np.ndarray, *, seed: int = 0,
                      confidence: float = 0.9, folds: int = DOMAIN_FOLDS, max_iter: int = 200) -> DomainFit:
    """Out-of-fold P(application | x) for both samples and the domain AUC with its interval."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X = np.vstack([X_labelled, X_application])
    y = np.r_[np.zeros(len(X_labelled), dtype=int), np.ones(len(X_application), dtype=int)]
    folds = max(2, min(folds, int(min(len(X_labelled), len(X_application)))))
    model = _classifier(seed, max_iter)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    p = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
    auc, interval = delong_interval(y, p, confidence)
    n = len(X_labelled)
    return DomainFit(p[:n], p[n:], auc, interval, confidence, "DeLong")


def delong_interval(y: np.ndarray, score: np.ndarray, confidence: float) -> tuple[float, tuple[float, float]]:
    """The ROC AUC and its normal interval with DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988,
    from the midranks as in Sun & Xu 2014), clipped to [0, 1]: analytic, so no resampling."""
    from scipy.stats import norm, rankdata

    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 < 2 or n0 < 2:
        return math.nan, (math.nan, math.nan)
    ranks = rankdata(score)
    auc = float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    v10 = (ranks[y] - rankdata(score[y])) / n0       # per positive: the share of negatives below it
    v01 = 1 - (ranks[~y] - rankdata(score[~y])) / n1  # per negative: the share of positives above it
    se = math.sqrt(v10.var(ddof=1) / n1 + v01.var(ddof=1) / n0)
    z = float(norm.ppf(0.5 + confidence / 2))
    return auc, (max(0.0, auc - z * se), min(1.0, auc + z * se))


def domain_model(X_labelled: np.ndarray, X_application: np.ndarray, *, seed: int = 0, max_iter: int = 200):
    """The domain classifier fitted on every labelled and application object (what `mlproj predict`
    applies for a new object's domain score), with the settings of the out-of-fold one."""
    X = np.vstack([X_labelled, X_application])
    y = np.r_[np.zeros(len(X_labelled), dtype=int), np.ones(len(X_application), dtype=int)]
    return _classifier(seed, max_iter).fit(X, y)


def _classifier(seed: int, max_iter: int):
    """Gradient boosting that stops when its own held-out loss stops improving: with no shift it
    stops after a few rounds, its scores stay near the prior and the weights near 1; a boosted
    model run to max_iter would fit noise, scatter the weights and bias the weighted metric."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=max_iter, early_stopping=True, validation_fraction=0.2,
                                          n_iter_no_change=10, min_samples_leaf=20, random_state=seed)


def importance_weights(p_labelled: np.ndarray, n_labelled: int, n_application: int, *,
                       cap: float = WEIGHT_CAP) -> tuple[np.ndarray, int]:
    """w = p/(1−p) · n_labelled/n_application, mean 1, clipped at `cap` × the mean; and how many were clipped."""
    p = np.clip(np.asarray(p_labelled, dtype=float), 1e-6, 1 - 1e-6)
    w = p / (1 - p) * (n_labelled / n_application)
    w = w / w.mean()
    clipped = np.zeros(len(w), dtype=bool)
    # Clipping lowers the mean, which the cap is relative to: repeated until no weight exceeds it
    # (converges in a few rounds: each round only moves the clipped weights toward the cap).
    for _ in range(100):
        over = w > cap * (1 + 1e-9)
        if not over.any():
            break
        clipped |= over
        w = np.minimum(w, cap)
        w = w / w.mean()
    return w, int(clipped.sum())


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (Σw)²/Σw²."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w ** 2).sum()) if len(w) else 0.0


def ess_warning(ess: float, n: int) -> str | None:
    """A warning when the weights leave few effective objects (< 10% of n, or < 100)."""
    if ess >= ESS_FRACTION * n and ess >= ESS_MINIMUM:
        return None
    return (f"covariate shift: the importance weights leave an effective sample size of {ess:.0f} of {n} labelled "
            f"objects ({ess / max(n, 1):.1%}): the metric expected on the application sample rests on few "
            "objects; label objects that resemble the application sample (paper §5.5)")


def out_of_range(X_labelled: np.ndarray, X_application: np.ndarray) -> tuple[np.ndarray, float]:
    """Per feature, the fraction of application objects outside the labelled min–max range (finite
    values only); and the fraction outside on any feature."""
    low, high = support_of(X_labelled)
    outside = outside_support(X_application, low, high)
    if len(X_application) == 0:
        return np.zeros(X_application.shape[1]), 0.0
    return outside.mean(axis=0), float(outside.any(axis=1).mean())


def support_of(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The labelled min and max of every feature (NaN for a feature without a finite value)."""
    X = np.asarray(X, dtype=float)
    finite = np.where(np.isfinite(X), X, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)


def outside_support(X: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(rows, features): the value is finite and lies outside [low, high]; a missing value is not outside."""
    X = np.asarray(X, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(X) & ((X < low) | (X > high))


def single_feature_auc(X_labelled: np.ndarray, X_application: np.ndarray) -> np.ndarray:
    """Per feature, the AUC of the feature alone between the samples (>0.5: larger in the application
    sample), over the objects where it is finite; NaN when one sample has no finite value."""
    from sklearn.metrics import roc_auc_score

    out = np.full(X_labelled.shape[1], np.nan)
    for j in range(X_labelled.shape[1]):
        a, b = X_labelled[:, j], X_application[:, j]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) and len(b):
            out[j] = roc_auc_score(np.r_[np.zeros(len(a)), np.ones(len(b))], np.r_[a, b])
    return out


@dataclass(frozen=True)
class Histogram:
    name: str
    edges: list[float]
    labelled: list[float]     # density per bin
    application: list[float]
    weighted: list[float] = field(default_factory=list)  # the labelled sample reweighted


def histograms(names: list[str], columns_labelled: list[np.ndarray], columns_application: list[np.ndarray],
               weights: np.ndarray | None = None, bins: int = 30) -> list[Histogram]:
    """Density histograms on common edges (0.5–99.5% of both samples together), labelled vs application
    (and the labelled sample reweighted)."""
    out = []
    for name, a, b in zip(names, columns_labelled, columns_application):
        keep_a = np.isfinite(a)
        a_f, b_f = a[keep_a], b[np.isfinite(b)]
        both = np.r_[a_f, b_f]
        if both.size == 0:
            continue
        lo, hi = np.quantile(both, [0.005, 0.995])
        if not hi > lo:
            lo, hi = float(both.min()) - 0.5, float(both.max()) + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        weighted = _density(a_f, edges, weights[keep_a]) if weights is not None else []
        out.append(Histogram(name, [float(e) for e in edges], _density(a_f, edges), _density(b_f, edges), weighted))
    return out


def _density(values: np.ndarray, edges: np.ndarray, w: np.ndarray | None = None) -> list[float]:
    """Densities on `edges`, values beyond them counted in the outer bins."""
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges, weights=w)
    total = counts.sum()
    return [float(c) for c in (counts / total / np.diff(edges) if total else counts)]


@dataclass(frozen=True)
class Estimate:
    value: float
    interval: tuple[float, float]
    confidence: float
    method: str
    n: int
    detail: str | None = None


def _resampled(score: Callable[[np.ndarray], float], draws: np.ndarray) -> np.ndarray:
    return np.array([score(rows) for rows in draws], dtype=float)


def weighted_metric(score: Callable[[np.ndarray], float], weights: np.ndarray, *, confidence: float = 0.9,
                    seed: int = 0, n_resamples: int = RESAMPLES) -> Estimate:
    """The metric under importance weights: median and central interval of `score(rows)` over
    weighted resamples (rows drawn with probability w/Σw; see the module's docstring)."""
    w = np.asarray(weights, dtype=float)
    n = len(w)
    if n < 2 or not np.isfinite(w).all() or w.sum() <= 0:
        return Estimate(math.nan, (math.nan, math.nan), confidence, "none", n, "too few weighted objects")
    rng = np.random.default_rng(seed)
    draws = rng.choice(n, size=(n_resamples, n), replace=True, p=w / w.sum())
    values = _resampled(score, draws)
    found = _from_draws(values, confidence, n, "weighted bootstrap")
    if found.interval[0] == found.interval[1] and math.isfinite(found.value):
        return Estimate(found.value, found.interval, confidence, found.method, n,
                        f"every weighted resample scores {found.value:.4g}: the weights rest on a few objects "
                        f"(effective sample size {effective_sample_size(w):.0f} of {n}), so they give no interval")
    return found


def _from_draws(values: np.ndarray, confidence: float, n: int, method: str) -> Estimate:
    finite = values[np.isfinite(values)]
    if finite.size < 0.9 * max(values.size, 1):
        return Estimate(math.nan, (math.nan, math.nan), confidence, "none", n,
                        f"the metric is undefined on {values.size - finite.size} of {values.size} resamples")
    low, high = np.quantile(finite, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return Estimate(float(np.median(finite)), (float(low), float(high)), confidence, method, n)


@dataclass(frozen=True)
class Stratum:
    low: float                # domain-score range of the stratum (application quantiles)
    high: float
    share: float              # the application sample's share
    n_labelled: int
    value: float              # the metric on the labelled objects of the stratum (NaN: none, or undefined)


def strata_edges(p_application: np.ndarray, n_strata: int = N_STRATA) -> np.ndarray:
    """Inner quantile edges of the application sample's domain score."""
    return np.quantile(np.asarray(p_application, dtype=float), np.linspace(0, 1, n_strata + 1)[1:-1])


def strata_metric(score: Callable[[np.ndarray], float], p_labelled: np.ndarray, p_application: np.ndarray, *,
                  n_strata: int = N_STRATA, confidence: float = 0.9, seed: int = 0,
                  n_resamples: int = RESAMPLES, min_objects: int = 10) -> tuple[Estimate, list[Stratum]]:
    """The metric expected on the application sample by propensity-score strata (module docstring).

    Strata with fewer than `min_objects` labelled objects have no metric; the combination then uses
    the other strata's shares renormalised, and the detail says how much of the application sample
    that leaves out."""
    edges = strata_edges(p_application, n_strata)
    lab = np.searchsorted(edges, p_labelled, side="right")
    app = np.searchsorted(edges, p_application, side="right")
    bounds = np.r_[0.0, edges, 1.0]
    shares = np.bincount(app, minlength=n_strata) / max(len(app), 1)
    members = [np.flatnonzero(lab == k) for k in range(n_strata)]
    strata = []
    for k in range(n_strata):
        value = score(members[k]) if len(members[k]) >= min_objects else math.nan
        strata.append(Stratum(float(bounds[k]), float(bounds[k + 1]), float(shares[k]), len(members[k]),
                              float(value)))
    usable = [k for k in range(n_strata) if math.isfinite(strata[k].value)]
    if not usable:
        return Estimate(math.nan, (math.nan, math.nan), confidence, "none", len(p_labelled),
                        "no stratum has enough labelled objects"), strata
    share = shares[usable] / shares[usable].sum()
    missing = 1 - float(shares[usable].sum())
    point = float(np.dot(share, [strata[k].value for k in usable]))
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples)
    for b in range(n_resamples):
        values[b] = sum(s * score(rng.choice(members[k], size=len(members[k]), replace=True))
                        for s, k in zip(share, usable))
    found = _from_draws(values, confidence, len(p_labelled), "stratified bootstrap")
    if missing > MAX_UNCOVERED:  # the rest of the application sample is unmeasured: no interval stands for it
        return Estimate(point, (math.nan, math.nan), confidence, found.method, len(p_labelled),
                        f"{missing:.0%} of the application sample lies in strata with fewer than {min_objects} "
                        "labelled objects, where the metric is unmeasured; the value shown covers the other "
                        "strata only"), strata
    detail = (f"{missing:.0%} of the application sample lies in strata with fewer than {min_objects} labelled "
              "objects, left out of the combination") if missing > 1e-9 else None
    return Estimate(point, found.interval, confidence, found.method, len(p_labelled), detail or found.detail), strata
