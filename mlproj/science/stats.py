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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mlproj.science.numbers import significant, significant_interval

__all__ = [
    "DECISIONS", "ScoreSummary", "Comparison", "Candidate", "Selection", "FinishLine",
    "corrected_se", "corrected_se_from_sd", "kfold_val_train_ratio", "summarize", "compare", "select_model", "judge_finish_line", "significant",
    "significant_interval",
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
              bounds: tuple[float, float] = (-math.inf, math.inf)) -> ScoreSummary:
    """Mean, SDs and a Student-t interval (dof n-1) using the corrected SE.

    NaN scores (e.g. a fold where a metric is undefined because it holds one
    class) are dropped rather than imputed: imputing would invent information.
    `bounds`: the values the metric can take (a rate lies in [0, 1]). The interval is cut to
    them: the true mean lies inside, so the cut interval covers it as often.
    """
    _check_confidence(confidence)
    x = _as_scores(scores)
    _check_design(x.size, folds, repeats)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(x.mean()) if n else NAN
    if n < 2:
        return ScoreSummary(mean, NAN, NAN, NAN, (NAN, NAN), n, folds, repeats, confidence)
    sd = float(np.std(x, ddof=1))
    se = corrected_se_from_sd(sd, n, kfold_val_train_ratio(folds))
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
            decision_probability: float = 0.95) -> Comparison:
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
    scale = corrected_se_from_sd(float(np.std(d, ddof=1)), n, kfold_val_train_ratio(folds))
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
                 decision_probability: float = 0.95) -> Selection:
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
    best = min(ranked, key=lambda c: (sign * means[c.name], c.simplicity, _fit_key(c), c.name))
    comparisons = [compare(best.scores, c.scores, names=(best.name, c.name), folds=folds,
                           repeats=repeats, margin=margin, greater_is_better=greater_is_better,
                           confidence=confidence, decision_probability=decision_probability)
                   for c in candidates if c is not best]
    equiv_names = {cmp.b for cmp in comparisons if cmp.decision == "equivalent"}
    pool = [best] + [c for c in candidates if c.name in equiv_names]
    chosen = min(pool, key=lambda c: (c.simplicity, _fit_key(c), c.name))
    m = f"\u00b1{margin:g}"
    if chosen is best:
        if len(pool) == 1:
            reason = f"{best.name} has the best mean and no other model is shown to be equivalent to it within {m}"
        else:
            reason = f"{best.name} has the best mean and no simpler model is shown to be equivalent to it within {m}"
    elif chosen.simplicity < best.simplicity:
        reason = f"{chosen.name} is equivalent to {best.name} within {m} and is simpler"
    elif _fit_key(chosen) < _fit_key(best):
        reason = f"{chosen.name} is equivalent to {best.name} within {m}, as simple, and faster to fit"
    else:
        reason = (f"{chosen.name} is equivalent to {best.name} within {m}, as simple and as fast, "
                  f"and comes first by name")
    return Selection(chosen.name, best.name, [c.name for c in pool], reason, comparisons)


# --------------------------------------------------------------------------- finish line

@dataclass(frozen=True)
class FinishLine:
    state: str                      # reached | not_reached | undetermined
    threshold: float
    margin: float
    mean: float
    interval: tuple[float, float]
    detail: str
    extra_factor: float | None      # undetermined only: needed growth of the validation sample

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def judge_finish_line(summary: ScoreSummary, threshold: float, margin: float,
                      greater_is_better: bool = True) -> FinishLine:
    """Has the model reached the target score, judged by the corrected interval?

    "Reached" needs the mean on the right side of the threshold and the whole
    interval within `margin` of it; "not reached" needs the whole interval on the
    wrong side. In between, the data cannot tell, and we say by how much the
    validation sample would have to grow, assuming se ~ 1/sqrt(N) (bigger catalogue,
    same design) and the same t quantile.
    """
    if margin < 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be finite and >= 0, got {margin!r}")
    mean, (lo, hi) = summary.mean, summary.interval
    pct = f"{summary.confidence * 100:g}%"
    # Digits the uncertainty supports (0.912, not 0.91234); resolved at call time, defined below.
    iv = significant_interval(lo, hi, summary.se)
    shown_mean = significant(mean, summary.se).split(" \u00b1")[0]

    def out(state: str, detail: str, factor: float | None = None) -> FinishLine:
        return FinishLine(state, float(threshold), float(margin), mean, (lo, hi), detail, factor)

    if not all(map(math.isfinite, (mean, lo, hi))):
        return out("undetermined", f"too few finite scores ({summary.n}) to judge the finish line")
    # Mirror lower-is-better onto greater-is-better: flip signs of everything.
    s = 1.0 if greater_is_better else -1.0
    m_, t_, lo_, hi_ = s * mean, s * threshold, min(s * lo, s * hi), max(s * lo, s * hi)
    side, other = ("above", "below") if greater_is_better else ("below", "above")
    tol = threshold - s * margin
    if m_ >= t_ and lo_ >= t_ - margin:
        return out("reached", f"the mean {shown_mean} is {side} the threshold {threshold:g} and the "
                              f"{pct} interval {iv} does not go {other} {tol:g} "
                              f"(threshold {'-' if greater_is_better else '+'} margin {margin:g})")
    if hi_ < t_:
        return out("not_reached", f"the whole {pct} interval {iv} lies {other} the threshold {threshold:g}")
    required = (m_ - (t_ - margin)) if m_ >= t_ else (t_ - m_)
    half = (hi_ - lo_) / 2.0
    factor = math.inf if required <= 0 else max(1.0, (half / required) ** 2)
    more = ("the mean lies exactly on the boundary, so no sample size resolves it"
            if math.isinf(factor) else f"the validation sample would have to be about {factor:.3g} times larger to decide")
    return out("undetermined", f"the {pct} interval {iv} straddles the threshold {threshold:g} "
                               f"(margin {margin:g}); {more}", factor)
