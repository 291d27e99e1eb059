"""Statistics over repeated K-fold scores: summaries, model comparison, finish line.

Everything here is pure: arrays of scores in, frozen dataclasses out. Scores of
different models are paired (same r repeats x k folds, same seeds), which is what
makes the paired tests below valid.

Why not the textbook standard error: K-fold training sets overlap, so fold scores
are positively correlated and sd/sqrt(n) understates the uncertainty, more so the
more repeats one runs. Nadeau & Bengio (2003, Machine Learning 52:239) give the
corrected variance sd^2 * (1/n + n_test/n_train); Corani & Benavoli (2015, Machine
Learning 100:285) turn the same correction into the Bayesian correlated t-test used
by `compare` (as implemented in the `baycomp` package, `two_on_single`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from mlproj.science.numbers import significant, significant_interval

__all__ = [
    "DECISIONS", "ScoreSummary", "Comparison", "Candidate", "Selection", "FinishLine", "TestInterval",
    "corrected_se", "corrected_se_from_sd", "kfold_val_train_ratio", "summarize", "compare", "select_model",
    "floor_rate", "wilson_test_interval", "bootstrap_interval", "judge_finish_line", "combine_finish_lines",
    "significant", "significant_interval",
]

DECISIONS = ("improved", "equivalent", "worse", "undetermined")
NAN = float("nan")


# --------------------------------------------------------------------------- helpers

def jsonable(obj: Any) -> Any:
    # JSON has no NaN/Infinity; None is the honest "no value" for a report.
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _check_design(size: int, folds: int, repeats: int, *, need_rho: bool = True) -> None:
    if int(repeats) != repeats or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if int(folds) != folds or folds < (2 if need_rho else 1):
        raise ValueError(f"folds must be an integer >= {2 if need_rho else 1}, got {folds!r}")
    if size != folds * repeats:
        raise ValueError(f"expected folds x repeats = {folds} x {repeats} = {folds * repeats} scores, got {size}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _as_scores(scores: Any) -> np.ndarray:
    return np.asarray(scores, dtype=float).ravel()


def _t_quantile(confidence: float, df: int) -> float:
    # scipy.special, not scipy.stats: the same Student-t functions without ~0.4 s of imports,
    # which `mlproj verdict` would otherwise spend before printing anything.
    from scipy.special import stdtrit
    return float(stdtrit(df, 0.5 + confidence / 2.0))


def _ratio(folds: int, val_train_ratio: float | None) -> float:
    if val_train_ratio is None:
        return kfold_val_train_ratio(folds)
    ratio = float(val_train_ratio)
    if not (math.isfinite(ratio) and ratio >= 0):
        raise ValueError(f"val_train_ratio (n_val/n_train) must be finite and >= 0, got {val_train_ratio!r}")
    return ratio


def _finite_mean(scores: Any) -> float:
    x = _as_scores(scores)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else NAN


# --------------------------------------------------------------------------- summary

@dataclass(frozen=True)
class ScoreSummary:
    mean: float
    sd: float
    se: float                       # Nadeau-Bengio corrected standard error
    naive_se: float                 # sd/sqrt(n): shown only to contrast with `se`
    interval: tuple[float, float]   # mean +- t(n-1) * se at `confidence`
    n: int                          # finite scores used
    folds: int
    repeats: int
    confidence: float
    # How `interval` was made: "corrected t", or "Wilson" when the pooled counts of a rate give the
    # wider interval (`floor_rate`); the counts are kept either way.
    method: str = "corrected t"
    successes: int | None = None
    trials: int | None = None

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def kfold_val_train_ratio(folds: int) -> float:
    """n_val/n_train of K-fold: each validation fold holds 1/k of the data, its training set (k-1)/k."""
    return 1.0 / (folds - 1)


def corrected_se_from_sd(sd: float, n: int, val_train_ratio: float) -> float:
    """Nadeau-Bengio corrected standard error, general form (DESIGN §6).

    se = sd * sqrt(1/J + n_val/n_train) over J scores with standard deviation `sd` (ddof=1);
    for K-fold, n_val/n_train = 1/(k-1) (`kfold_val_train_ratio`). The ratio term does not
    shrink with more repeats: repeating CV cannot remove the correlation induced by
    overlapping training sets. The one place the formula is written: summaries, comparisons
    and `corrected_se` all call it.
    """
    return sd * math.sqrt(1.0 / n + val_train_ratio)


def corrected_se(scores, folds: int, repeats: int, test_train_ratio: float | None = None) -> float:
    """Nadeau-Bengio corrected standard error of the mean of r x k CV scores.

    `corrected_se_from_sd` of the scores, with the K-fold ratio 1/(k-1) unless
    `test_train_ratio` (n_val/n_train) is given. Non-finite scores are dropped and n counts
    the rest (n = k*r when all are finite).
    """
    x = _as_scores(scores)
    _check_design(x.size, folds, repeats, need_rho=test_train_ratio is None)
    ratio = kfold_val_train_ratio(folds) if test_train_ratio is None else float(test_train_ratio)
    if ratio < 0:
        raise ValueError(f"test_train_ratio must be >= 0, got {ratio!r}")
    x = x[np.isfinite(x)]
    if x.size < 2:
        return NAN
    return float(corrected_se_from_sd(np.std(x, ddof=1), x.size, ratio))


def summarize(scores, folds: int, repeats: int, confidence: float = 0.90,
              bounds: tuple[float, float] = (-math.inf, math.inf),
              val_train_ratio: float | None = None) -> ScoreSummary:
    """Mean, SDs and a Student-t interval (dof n-1) using the corrected SE.

    NaN scores (e.g. a fold where a metric is undefined because it holds one
    class) are dropped rather than imputed: imputing would invent information.
    `bounds`: the values the metric can take (a rate lies in [0, 1]). The interval is cut to
    them: the true mean lies inside, so the cut interval covers it as often.
    `val_train_ratio`: n_val/n_train of the splits (None: K-fold, 1/(k-1)).
    """
    _check_confidence(confidence)
    x = _as_scores(scores)
    _check_design(x.size, folds, repeats)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else NAN
    if n < 2:
        return ScoreSummary(mean, NAN, NAN, NAN, (NAN, NAN), n, folds, repeats, confidence)
    # Identical scores have no spread; np.std can leave a rounding residue (1e-16) that would
    # pass for an interval.
    sd = 0.0 if np.ptp(x) == 0 else float(np.std(x, ddof=1))
    se = corrected_se_from_sd(sd, n, _ratio(folds, val_train_ratio))
    half = _t_quantile(confidence, n - 1) * se
    interval = (max(mean - half, bounds[0]), min(mean + half, bounds[1]))
    return ScoreSummary(mean, sd, se, sd / math.sqrt(n), interval, n, folds, repeats, confidence)


# --------------------------------------------------------------------------- comparison

@dataclass(frozen=True)
class Comparison:
    a: str
    b: str                          # compared against a; positive difference = b is better
    difference: float
    se: float                       # posterior scale of the mean difference
    interval: tuple[float, float]   # central credible (= corrected t) interval at `confidence`
    p_better: float                 # P(mu > margin): b better than a
    p_equivalent: float             # P(|mu| <= margin)
    p_worse: float                  # P(mu < -margin)
    margin: float
    decision: str                   # improved | equivalent | worse | undetermined
    confidence: float = 0.90
    n: int = 0                      # finite pairs used

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def compare(scores_a, scores_b, *, names: Sequence[str] = ("a", "b"), folds: int, repeats: int,
            margin: float, greater_is_better: bool = True, confidence: float = 0.90,
            decision_probability: float = 0.95, val_train_ratio: float | None = None) -> Comparison:
    """Bayesian correlated t-test of b against a (Corani & Benavoli 2015).

    With a flat prior, the posterior of the mean paired difference is Student-t with
    df n-1, location mean(d) and scale sd(d)*sqrt(1/n + rho/(1-rho)), rho = 1/k: the
    Nadeau-Bengio correction again, because the paired differences share the fold
    correlation. The margin is a region of practical equivalence, so "no difference"
    can be *concluded*, not merely "not rejected". Matches baycomp.two_on_single(a, b,
    rope=margin, runs=repeats) as (p_worse, p_equivalent, p_better) when
    greater_is_better, except that with margin 0 and a zero point-mass difference we
    report equivalence (baycomp splits 0.5/0.5).
    """
    _check_confidence(confidence)
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be finite and >= 0, got {margin!r}")
    a, b = _as_scores(scores_a), _as_scores(scores_b)
    if a.size != b.size:
        raise ValueError(f"paired scores differ in length: {a.size} vs {b.size}")
    _check_design(a.size, folds, repeats)
    d = (b - a) if greater_is_better else (a - b)
    d = d[np.isfinite(d)]           # a pair is unusable if either score is missing
    n = int(d.size)
    name_a, name_b = names
    mean = float(d.mean()) if n else NAN
    if n < 2:
        return Comparison(name_a, name_b, mean, NAN, (NAN, NAN), NAN, NAN, NAN, float(margin),
                          "undetermined", confidence, n)
    scale = corrected_se_from_sd(float(np.std(d, ddof=1)), n, _ratio(folds, val_train_ratio))
    if scale == 0.0:
        # Identical differences: the posterior degenerates to a point mass at the
        # mean (as in baycomp); the boundary |mu| == margin counts as equivalent.
        p_worse, p_better = float(mean < -margin), float(mean > margin)
        interval = (mean, mean)
    else:
        from scipy.special import stdtr
        p_worse = float(stdtr(n - 1, (-margin - mean) / scale))
        p_better = float(stdtr(n - 1, (mean - margin) / scale))  # P(μ > δ) = P(T < (d̄ − δ)/s)
        half = _t_quantile(confidence, n - 1) * scale
        interval = (mean - half, mean + half)
    p_equiv = max(0.0, 1.0 - p_worse - p_better)
    if p_better >= decision_probability:
        decision = "improved"
    elif p_equiv >= decision_probability:
        decision = "equivalent"
    elif p_worse >= decision_probability:
        decision = "worse"
    else:
        decision = "undetermined"
    return Comparison(name_a, name_b, mean, scale, interval, p_better, p_equiv, p_worse,
                      float(margin), decision, confidence, n)


# --------------------------------------------------------------------------- selection

@dataclass(frozen=True)
class Candidate:
    name: str
    scores: Sequence[float]
    simplicity: int                 # lower = simpler: dummy 0 < linear 1 < tree ensembles 2 < others 3
    fit_seconds: float              # mean fit time per fold
    # A variant against its parent (DESIGN §6, "then variants with fewer settings"): -1 a simpler
    # sub-model (fewer or shallower trees, more regularisation), +1 a larger one, 0 neither.
    settings: int = 0


@dataclass(frozen=True)
class Selection:
    selected: str
    best: str                       # highest mean (lowest if lower is better)
    equivalent_to_best: list[str]   # best first, then models "equivalent" to it, input order
    reason: str
    comparisons: list[Comparison] = field(default_factory=list)   # a = best, b = each other model

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def _fit_key(c: Candidate) -> float:
    return c.fit_seconds if math.isfinite(c.fit_seconds) else math.inf


def select_model(candidates: Sequence[Candidate], *, folds: int, repeats: int, margin: float,
                 greater_is_better: bool = True, confidence: float = 0.90,
                 decision_probability: float = 0.95, val_train_ratio: float | None = None) -> Selection:
    """Pick the simplest model practically equivalent to the best one.

    A higher mean that is within the equivalence margin is not evidence of a better
    model, so parsimony decides; ties go to the faster fit, then the name (for
    determinism). Models whose scores are all NaN never become best.
    """
    if not candidates:
        raise ValueError("select_model needs at least one candidate")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be unique, got {names}")
    means = {c.name: _finite_mean(c.scores) for c in candidates}
    ranked = [c for c in candidates if math.isfinite(means[c.name])]
    if not ranked:
        raise ValueError("no candidate has a finite mean score")
    sign = -1.0 if greater_is_better else 1.0
    best = min(ranked, key=lambda c: (sign * means[c.name], c.simplicity, c.settings, _fit_key(c), c.name))
    comparisons = [compare(best.scores, c.scores, names=(best.name, c.name), folds=folds,
                           repeats=repeats, margin=margin, greater_is_better=greater_is_better,
                           confidence=confidence, decision_probability=decision_probability,
                           val_train_ratio=val_train_ratio)
                   for c in candidates if c is not best]
    equiv_names = {cmp.b for cmp in comparisons if cmp.decision == "equivalent"}
    pool = [best] + [c for c in candidates if c.name in equiv_names]
    chosen = min(pool, key=lambda c: (c.simplicity, c.settings, _fit_key(c), c.name))
    m = f"\u00b1{margin:g}"
    if chosen is best:
        if len(pool) == 1:
            reason = f"{best.name} has the best mean and no other model is shown to be equivalent to it within {m}"
        else:
            reason = f"{best.name} has the best mean and no simpler model is shown to be equivalent to it within {m}"
    elif chosen.simplicity < best.simplicity:
        reason = f"{chosen.name} is equivalent to {best.name} within {m} and is simpler"
    elif chosen.settings < best.settings:
        reason = (f"{chosen.name} is equivalent to {best.name} within {m} and is a simpler variant "
                  "(fewer settings)")
    elif _fit_key(chosen) < _fit_key(best):
        reason = f"{chosen.name} is equivalent to {best.name} within {m}, as simple, and faster to fit"
    else:
        reason = (f"{chosen.name} is equivalent to {best.name} within {m}, as simple and as fast, "
                  f"and comes first by name")
    return Selection(chosen.name, best.name, [c.name for c in pool], reason, comparisons)


# --------------------------------------------------------------------------- intervals of rates and test sets

def floor_rate(summary: ScoreSummary, successes: int, trials: int) -> ScoreSummary:
    """A rate's cross-validated summary with the floor its counts put under the interval (DESIGN §6).

    Fold scores of a rate can agree exactly (every fold finds all its galaxies) while the counts
    behind them are few: zero spread across folds is not certainty. The interval becomes the
    wider of the corrected-t interval and the Wilson interval of the pooled out-of-fold counts
    (`successes` of `trials`: one repeat's folds, every development object once) at the same
    confidence. The counts are recorded either way.
    """
    counted = replace(summary, successes=int(successes), trials=int(trials))
    if trials <= 0 or not all(map(math.isfinite, summary.interval)):
        return counted
    low, high = wilson(successes, trials, summary.confidence)
    lo, hi = summary.interval
    return replace(counted, interval=(low, high), method="Wilson") if high - low > hi - lo else counted


def wilson_z(confidence: float) -> float:
    """The normal quantile of a two-sided interval at `confidence` (1.645 at 90%)."""
    from scipy.special import ndtri

    return float(ndtri(0.5 + confidence / 2))


def wilson(successes: float, trials: float, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of successes/trials (scipy's binomtest(...).proportion_ci(method="wilson"))."""
    from mlproj.science.metrics import wilson_interval

    return wilson_interval(successes, trials, confidence)


@dataclass(frozen=True)
class TestInterval:
    """The held-out test score of one metric and its interval (DESIGN §6): Wilson from the test
    counts for a rate, a bootstrap over the test objects otherwise."""

    __test__ = False  # not a pytest class

    value: float
    interval: tuple[float, float]
    confidence: float
    method: str                     # Wilson | bootstrap BCa | bootstrap percentile | none
    n: int                          # test objects
    successes: int | None = None    # Wilson: the rate is successes/trials
    trials: int | None = None
    detail: str | None = None       # why the interval is missing or has no width

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def wilson_test_interval(successes: int, trials: int, n: int, confidence: float) -> TestInterval:
    """The test interval of a rate: the Wilson interval of its test counts."""
    _check_confidence(confidence)
    if trials <= 0:
        return TestInterval(NAN, (NAN, NAN), confidence, "none", n, int(successes), int(trials),
                            "the rate has no objects to count on the test set")
    return TestInterval(successes / trials, wilson(successes, trials, confidence), confidence, "Wilson", n,
                        int(successes), int(trials))


BOOTSTRAP_RESAMPLES = 1999
BCA_MAX_OBJECTS = 2000  # BCa's jackknife scores the metric once per object: beyond this, percentile


def bootstrap_interval(statistic: Callable[[np.ndarray], Any], n: int, confidence: float, *, seed: int = 0,
                       n_resamples: int = BOOTSTRAP_RESAMPLES, vectorized: bool = False) -> TestInterval:
    """The interval of a metric over `n` test objects from `scipy.stats.bootstrap`.

    `statistic(rows)` scores the test objects `rows` (indices, with repeats); `vectorized`: it
    takes a (resamples, n) array of rows and returns one score per resample (much faster: see
    batch_metrics). BCa (Efron 1987) up to BCA_MAX_OBJECTS: an AUC near 1, an RMSE or a σ_NMAD
    have skewed sampling distributions, where the percentile interval sits off-centre and BCa
    corrects it to second order. Its
    acceleration needs a jackknife (n more scores), so larger test sets, whose bootstrap
    distribution is close to normal anyway, use the percentile interval. The seed makes the
    interval reproducible. Resamples on which the metric is undefined (no positives drawn) are
    left out; a metric that is the same on every resample (an AUC of 1 on a perfectly separated
    test set) has no interval, and the result says so: zero spread is not certainty.
    """
    import warnings

    _check_confidence(confidence)
    rows = np.arange(int(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a degenerate or partly undefined statistic: handled below
        if vectorized:
            def score(r: np.ndarray, axis: int = -1) -> np.ndarray:
                return np.asarray(statistic(np.moveaxis(r, axis, -1).astype(int)), dtype=float)

            value = float(score(rows[None, :])[0]) if n else NAN
        else:
            def score(r: np.ndarray) -> float:
                return float(statistic(r.astype(int)))

            value = score(rows) if n else NAN
        if n < 2 or not math.isfinite(value):
            return TestInterval(value, (NAN, NAN), confidence, "none", int(n),
                                detail=f"the metric is undefined on the {n} test objects")
        from scipy.stats import bootstrap

        method = "BCa" if n <= BCA_MAX_OBJECTS else "percentile"
        result = bootstrap((rows,), score, n_resamples=n_resamples, vectorized=vectorized,
                           batch=max(1, 4_000_000 // max(n, 1)) if vectorized else None,  # ~32 MB at a time
                           confidence_level=confidence, method=method, rng=np.random.default_rng(seed))
    draws = np.asarray(result.bootstrap_distribution, dtype=float)
    finite = draws[np.isfinite(draws)]
    if finite.size < 0.9 * draws.size:
        return TestInterval(value, (NAN, NAN), confidence, "none", int(n),
                            detail=f"the metric is undefined on {draws.size - finite.size} of {draws.size} "
                                   f"bootstrap resamples of the {n} test objects (too few of a class)")
    if finite.min() == finite.max():
        return TestInterval(value, (value, value), confidence, f"bootstrap {method}", int(n),
                            detail=f"every bootstrap resample of the {n} test objects scores {value:.4g} "
                                   "(zero spread), so the test set gives no interval")
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        # BCa is undefined when some resamples are (their jackknife or bias term is NaN): the
        # percentile interval of the defined resamples is the graceful fallback.
        method = "percentile"
        low, high = (float(q) for q in np.quantile(finite, [0.5 - confidence / 2, 0.5 + confidence / 2]))
    return TestInterval(value, (low, high), confidence, f"bootstrap {method}", int(n))


# --------------------------------------------------------------------------- finish line

@dataclass(frozen=True)
class FinishLine:
    state: str                      # reached | not_reached | undetermined
    threshold: float
    margin: float
    mean: float                     # the cross-validated mean (of a test-only judgement: the test score)
    interval: tuple[float, float]
    detail: str                     # why, first the interval(s) that decided
    extra_factor: float | None      # undetermined only: growth of the sample that would decide
    basis: str = "cross-validated"  # the interval judged: cross-validated | test | both
    cross_validated: FinishLine | None = None   # the parts of a judgement on both
    test: FinishLine | None = None

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def _boundary_text(threshold: float, margin: float, greater_is_better: bool) -> str:
    return f"{threshold:g}" if margin == 0 else f"{threshold:g} {'−' if greater_is_better else '+'} {margin:g}"


def _times(factor: float) -> str:
    return f"{factor:.2g}" if factor < 10 else f"{factor:.0f}"


def _interval_at(value: float, lo: float, hi: float, trials: int | None, confidence: float,
                 factor: float) -> tuple[float, float]:
    """The interval a `factor` times larger sample would give with the same estimate: Wilson from
    the same proportion, otherwise each end's distance shrinking as 1/sqrt(N)."""
    if trials is not None:
        return wilson(value * trials * factor, trials * factor, confidence)
    root = math.sqrt(factor)
    return value - (value - lo) / root, value + (hi - value) / root


def _deciding_factor(value: float, lo: float, hi: float, boundary: float, sign: float, trials: int | None,
                     confidence: float) -> float:
    """The smallest growth of the sample that decides, by bisection (inf: none does)."""
    def decided(factor: float) -> bool:
        a, b = _interval_at(value, lo, hi, trials, confidence, factor)
        a, b = min(sign * a, sign * b), max(sign * a, sign * b)
        return a >= sign * boundary or b < sign * boundary

    low, high = 1.0, 1e12
    if not decided(high):
        return math.inf
    for _ in range(200):  # in log space: 1e12 to machine precision
        middle = math.sqrt(low * high)
        if decided(middle):
            high = middle
        else:
            low = middle
        if high / low - 1 < 1e-12:
            break
    return high


def judge_finish_line(summary: ScoreSummary | TestInterval, threshold: float, margin: float,
                      greater_is_better: bool = True) -> FinishLine:
    """Has the model reached the target score, judged by an interval (DESIGN §6)?

    Symmetric in the margin: with interval [lo, hi] of a higher-is-better metric, *reached* if
    lo >= t - δ, *not reached* if hi < t - δ, else *undetermined*, mirrored for lower-is-better.
    `summary`: the cross-validated ScoreSummary (a rate's interval floored by its counts,
    `floor_rate`) or the held-out TestInterval. When undetermined, the detail says how much
    larger the sample would have to be to decide, with the same estimate: the corrected-t or
    bootstrap half-widths shrinking as 1/sqrt(N), a Wilson interval recomputed from the counts.
    An interval of zero width (every fold, or every resample, scores the same) decides nothing:
    zero spread is not certainty.
    """
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be finite and >= 0, got {margin!r}")
    test = isinstance(summary, TestInterval)
    value = summary.value if test else summary.mean
    lo, hi = summary.interval
    pct = f"{summary.confidence * 100:g}%"
    what, objects = ("test", "test objects") if test else ("cross-validated", "development objects")
    # Digits: from the SE of a corrected-t interval; from the half-width of a Wilson or bootstrap one.
    se = (hi - lo) / 2 if test or summary.method == "Wilson" else summary.se
    if summary.method == "Wilson":
        source = f" (Wilson, {summary.successes}/{summary.trials})"
    elif test and summary.method.startswith("bootstrap"):
        source = f" ({summary.method} over {summary.n} objects)"
    else:
        source = ""
    iv = significant_interval(lo, hi, se)
    bound = _boundary_text(threshold, margin, greater_is_better)

    def out(state: str, detail: str, factor: float | None = None) -> FinishLine:
        return FinishLine(state, float(threshold), float(margin), value, (lo, hi), detail, factor,
                          "test" if test else "cross-validated")

    if not all(map(math.isfinite, (value, lo, hi))):
        why = (summary.detail or "no test interval") if test else f"too few finite scores ({summary.n})"
        return out("undetermined", f"no {what} interval: {why}")
    if lo == hi:
        if test:
            why = summary.detail or f"the {what} interval has no width"
        else:
            why = (f"all {summary.n} cross-validated fold scores are {value:.4g} (zero spread), which is not "
                   "certainty and gives no interval")
        return out("undetermined", f"{why}; the {what} finish line cannot be judged (a rate metric, whose "
                                   "counts give an interval, or more objects would)")
    s = 1.0 if greater_is_better else -1.0
    boundary = threshold - s * margin
    lo_, hi_ = min(s * lo, s * hi), max(s * lo, s * hi)
    side, other = ("above", "below") if greater_is_better else ("below", "above")
    shown = f"the {what} {pct} interval {iv}{source}"
    if lo_ >= s * boundary:
        return out("reached", f"{shown} lies {side} {bound}")
    if hi_ < s * boundary:
        return out("not_reached", f"{shown} lies {other} {bound}")
    trials = summary.trials if summary.method == "Wilson" else None
    centre = summary.successes / trials if trials else value  # Wilson: the pooled proportion
    factor = _deciding_factor(centre, lo, hi, boundary, s, trials, summary.confidence)
    more = (f"the estimate lies on {boundary:g} itself, so no sample size would decide" if math.isinf(factor)
            else f"about {_times(factor)}× more {objects} would decide")
    return out("undetermined", f"{shown} straddles {bound}; {more}", factor)


def combine_finish_lines(cross_validated: FinishLine, test: FinishLine | None) -> FinishLine:
    """The finish line judged on both intervals (DESIGN §6): reached only if both are, not reached
    if either is, otherwise undetermined; the detail names the interval(s) that decided first.
    Without a test judgement (no test set scored yet) the cross-validated one stands alone."""
    if test is None:
        return cross_validated
    parts = (cross_validated, test)
    states = [p.state for p in parts]
    if "not_reached" in states:
        state = "not_reached"
    elif states == ["reached", "reached"]:
        state = "reached"
    else:
        state = "undetermined"
    deciding = [p for p in parts if p.state == state] if state != "reached" else list(parts)
    rest = [p for p in parts if p not in deciding]
    detail = "; ".join(p.detail for p in deciding)
    if rest:
        detail += " (" + "; ".join(f"{p.detail.split(';')[0]}: {p.state.replace('_', ' ')}" for p in rest) + ")"
    factor = None
    if state == "undetermined":
        factors = [p.extra_factor for p in deciding]
        # Both samples grow with the catalogue: the larger growth decides both.
        factor = None if any(f is None for f in factors) else max(factors)
    return FinishLine(state, cross_validated.threshold, cross_validated.margin, cross_validated.mean,
                      cross_validated.interval, detail, factor, "both", cross_validated, test)
