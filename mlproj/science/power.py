"""Power analysis: can a classifier with measured TPR/FPR tell two hypotheses apart?

The paper (§2.2) asks for problem statements of the form "it is unknown whether merging
galaxies make up 1% or 0.01% of this sample of 10,000 galaxies; can the method distinguish
these two hypotheses?", and notes that the true- and false-positive rates of the method are
what decide it (a power analysis). Here: applying the classifier to N survey objects of
which a fraction f is positive selects S ~ Binomial(N, f·TPR + (1−f)·FPR) objects. The
hypothesis with the smaller expected count is the null; we reject it when S ≥ c, with c the
smallest count for which P(S ≥ c | null) ≤ α, and the power is P(S ≥ c | alternative).

The rates are themselves measured on a finite validation sample (TP of N⁺ positives, FP of
N⁻ negatives), and with a rare class the FPR uncertainty usually dominates: 20 false positives
among 2,000 negatives leave the FPR uncertain by ±25%, i.e. ±25 objects in a 10,000-object
survey — comparable to the signal of a 1% population. So TPR and FPR are drawn from their
flat-prior posteriors Beta(k+1, n−k+1) and S is predicted by averaging the binomial over the
draws (the predictive distribution), for the critical count and for the power alike. The same
(TPR, FPR) draws serve every hypothesis: the rates belong to the classifier, not to the
hypothesis. ``Rates(..., known=True)`` skips the draws (exact binomial).

Pure functions (numpy/scipy; scikit-learn only for the ROC scan), deterministic given `seed`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations

import numpy as np
from scipy.special import bdtrc

from mlproj.science.metrics import wilson_interval
from mlproj.science.numbers import probability

__all__ = [
    "OperatingPointPower",
    "PowerResult",
    "Rates",
    "best_operating_point",
    "power_analysis",
    "required_negatives",
    "resolution_note",
]


@dataclass(frozen=True)
class Rates:
    """A measured operating point: TP of N⁺ positives and FP of N⁻ negatives selected."""

    true_positives: int
    n_positive: int
    false_positives: int
    n_negative: int
    known: bool = False  # True: TPR = TP/N⁺ and FPR = FP/N⁻ are exact (no posterior draws)

    def __post_init__(self):
        for k, n, what in ((self.true_positives, self.n_positive, "true positives"),
                           (self.false_positives, self.n_negative, "false positives")):
            if int(k) != k or int(n) != n or n < 1 or not 0 <= k <= n:
                raise ValueError(f"{what}: need integer counts 0 <= k <= n with n >= 1, got {k} of {n}")

    @classmethod
    def exact(cls, tpr: float, fpr: float, resolution: int = 1_000_000) -> Rates:
        """Rates given as numbers rather than counts, treated as exact (`known=True`)."""
        return cls(round(tpr * resolution), resolution, round(fpr * resolution), resolution, True)

    @property
    def tpr(self) -> float:
        return self.true_positives / self.n_positive

    @property
    def fpr(self) -> float:
        return self.false_positives / self.n_negative


@dataclass(frozen=True)
class PowerResult:
    fractions: tuple[float, ...]          # hypothesised positive fractions, as given
    sample_size: int
    alpha: float
    target_power: float
    expected_counts: tuple[float, ...]    # N·(f·TPR + (1−f)·FPR) at the point estimates
    null_index: int                       # the hypothesis with the smallest expected count
    critical_count: int                   # reject the null if S >= critical_count
    power: float                          # weakest alternative vs the null
    pairwise: list[dict]                  # every pair i<j: {"a", "b", "null", "critical_count", "power"}
    passed: bool                          # power >= target_power
    detail: str                           # one sentence for a person

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fractions"], d["expected_counts"] = list(self.fractions), list(self.expected_counts)
        return d


@dataclass(frozen=True)
class OperatingPointPower:
    threshold: float
    tpr: float
    fpr: float
    power: float
    critical_count: int


# --------------------------------------------------------------------------- internals

def _tail(c: int, n: int, p: np.ndarray) -> float:
    """Predictive P(S >= c) = mean over the rate draws of the binomial survival function."""
    if c <= 0:
        return 1.0
    if c > n:
        return 0.0
    return float(np.mean(bdtrc(c - 1, n, p)))  # bdtrc(k, n, p) = P(S > k); vectorised ufunc


def _critical(n: int, p: np.ndarray, alpha: float) -> int:
    """Smallest c with P(S >= c) <= alpha; n + 1 if even S = n is not rare enough.

    The tail falls with c. Start at the normal-approximation guess (predictive mean and
    variance, the latter including the spread of the rates), gallop to a bracket with
    tail(lo) > alpha >= tail(hi), then bisect: ~6 evaluations of the vectorised tail.
    """
    from scipy.stats import norm

    m = n * float(p.mean())
    sd = math.sqrt(n * float(np.mean(p * (1 - p))) + n * n * float(p.var()))
    guess = min(n + 1, max(1, math.ceil(m + float(norm.isf(alpha)) * sd)))
    step = max(1, math.ceil(0.1 * sd))
    if _tail(guess, n, p) <= alpha:
        hi = guess
        while _tail(lo := max(0, hi - step), n, p) <= alpha:  # tail(0) = 1 > alpha ends it
            hi, step = lo, 2 * step
    else:
        lo = guess
        while _tail(hi := min(n + 1, lo + step), n, p) > alpha:  # tail(n + 1) = 0 ends it
            lo, step = hi, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _tail(mid, n, p) <= alpha:
            hi = mid
        else:
            lo = mid
    return hi


def _decimals(x: float) -> int:
    """Decimals for two significant figures, at least two: 0.80, 0.010, 0.0012."""
    return 2 if not x > 0 else max(2, 1 - math.floor(math.log10(x)))


def _fmt_rate(x: float) -> str:
    return f"{x:.{_decimals(x)}f}"


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --------------------------------------------------------------------------- power

def power_analysis(rates: Rates, sample_size: int, fractions: Sequence[float], *, alpha: float = 0.05,
                   target_power: float = 0.8, draws: int = 20000, seed: int = 0) -> PowerResult:
    """Power of a one-sided count test separating hypothesised positive fractions (paper §2.2).

    The null is the fraction with the smallest expected selected count; with more than two
    fractions every other one is an alternative and the weakest pair is reported.
    """
    fr = tuple(float(f) for f in fractions)
    n = int(sample_size)
    if len(fr) < 2 or not all(0.0 <= f <= 1.0 for f in fr):
        raise ValueError(f"need at least two fractions in [0, 1], got {fr}")
    if n != sample_size or n < 1:
        raise ValueError(f"sample_size must be a positive integer, got {sample_size}")
    if not 0 < alpha < 1 or not 0 < target_power <= 1 or draws < 1:
        raise ValueError("need 0 < alpha < 1, 0 < target_power <= 1 and draws >= 1")

    if rates.known:
        tpr, fpr = np.array([rates.tpr]), np.array([rates.fpr])
    else:  # flat-prior posteriors of the measured rates; one set of draws for all hypotheses
        rng = np.random.default_rng(seed)
        tp, fp = rates.true_positives, rates.false_positives
        tpr = rng.beta(tp + 1, rates.n_positive - tp + 1, size=draws)
        fpr = rng.beta(fp + 1, rates.n_negative - fp + 1, size=draws)
    p = [f * tpr + (1 - f) * fpr for f in fr]
    expected = tuple(n * (f * rates.tpr + (1 - f) * rates.fpr) for f in fr)

    crit: dict[int, int] = {}  # critical count per null hypothesis, computed once

    def critical(i: int) -> int:
        if i not in crit:
            crit[i] = _critical(n, p[i], alpha)
        return crit[i]

    null = int(np.argmin(expected))
    c = critical(null)
    alt_power = {k: _tail(c, n, p[k]) for k in range(len(fr)) if k != null}
    weakest = min(alt_power, key=alt_power.get)
    power = alt_power[weakest]

    pairwise = []
    for i, j in combinations(range(len(fr)), 2):
        lo, hi = (i, j) if expected[i] <= expected[j] else (j, i)
        pw = alt_power[hi] if lo == null else _tail(critical(lo), n, p[hi])
        pairwise.append({"a": fr[i], "b": fr[j], "null": fr[lo], "critical_count": critical(lo),
                         "power": pw})

    passed = power >= target_power
    how = ("taken as exact" if rates.known else
           f"measured on {rates.n_positive} positives and {rates.n_negative} negatives")
    order = sorted(range(len(fr)), key=lambda k: expected[k])
    counts = [f"{expected[order[0]]:.1f} selected objects expected if f = {fr[order[0]]:g}"]
    counts += [f"{expected[k]:.1f} if f = {fr[k]:g}" for k in order[1:]]
    test = (f"selecting ≥ {c} rejects f = {fr[null]:g} at α = {alpha:g} with power {probability(power, 2)}"
            if c <= n else f"no count up to {n} rejects f = {fr[null]:g} at α = {alpha:g}")
    if len(fr) > 2:
        test += f" against the closest alternative, f = {fr[weakest]:g}"
    detail = (f"With TPR {_fmt_rate(rates.tpr)} and FPR {_fmt_rate(rates.fpr)} ({how}), {n} objects "
              f"give {_listing(counts)}; {test}, {'meeting' if passed else 'short of'} the "
              f"target {target_power:.2f}.")
    return PowerResult(fr, n, float(alpha), float(target_power), expected, null, c, power,
                       pairwise, passed, detail)


def best_operating_point(is_positive: np.ndarray, score: np.ndarray, sample_size: int,
                         fractions: Sequence[float], *, alpha: float = 0.05, target_power: float = 0.8,
                         draws: int = 4000, seed: int = 0, max_points: int = 200,
                         ) -> tuple[OperatingPointPower, list[OperatingPointPower]]:
    """Scan the ROC curve for the threshold with the highest power (paper §2.2).

    A fixed "TPR at FPR = 1%" is not necessarily the best selection for a given science
    question: a looser cut may gain more signal than contamination noise, or vice versa. Each
    point uses the counts measured there (so its own rate uncertainty) and the same `seed`
    (common random numbers keep the scanned curve smooth). Ties go to the stricter threshold.
    Returns (best point, scanned points in order of increasing FPR).
    """
    from sklearn.metrics import roc_curve

    y = np.asarray(is_positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("need both positives and negatives to scan the ROC curve")
    fpr, tpr, thr = roc_curve(y, np.asarray(score, dtype=float), drop_intermediate=True)
    keep = np.flatnonzero(np.isfinite(thr))  # the first point (select nothing) says nothing
    if len(keep) > max_points:  # thin evenly in rank along the curve
        keep = keep[np.unique(np.round(np.linspace(0, len(keep) - 1, max_points)).astype(int))]
    curve = []
    for k in keep:
        rates = Rates(round(float(tpr[k]) * n_pos), n_pos, round(float(fpr[k]) * n_neg), n_neg)
        res = power_analysis(rates, sample_size, fractions, alpha=alpha, target_power=target_power,
                             draws=draws, seed=seed)
        curve.append(OperatingPointPower(float(thr[k]), float(tpr[k]), float(fpr[k]), res.power,
                                         res.critical_count))
    best = max(curve, key=lambda op: op.power)  # first maximum = strictest threshold
    return best, curve


# --------------------------------------------------------------------------- resolution

def _resolved(rate: float, n: int, tolerance: float, confidence: float) -> bool:
    low, high = wilson_interval(rate * n, n, confidence)
    return high - rate <= tolerance and rate - low <= tolerance


def required_negatives(rate: float, tolerance: float, confidence: float = 0.95) -> int:
    """Smallest validation sample n whose Wilson interval around `rate` lies within ±tolerance.

    Both sides must fit; the wider one decides (the upper side for small rates). The count is
    the expected one, rate·n, not round(rate·n): rounding makes the condition flip back and
    forth with n (for 1%, ±0.5%: first met at 2134, unmet again at 2150–2213, 2251–2294, ...,
    met for good from 2454), whereas rate·n is monotone in n and gives the design number
    2271 ("≈ 2,300 negatives"). Doubling then bisection; the neighbours are checked.
    """
    if not 0 <= rate < 1 or not 0 < tolerance or not 0 < confidence < 1:
        raise ValueError("need 0 <= rate < 1, tolerance > 0 and 0 < confidence < 1")
    hi = 1
    while not _resolved(rate, hi, tolerance, confidence):
        hi *= 2
        if hi > 2**48:
            raise ValueError(f"no sample size resolves {rate} to ±{tolerance}")
    lo = hi // 2  # unresolved (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _resolved(rate, mid, tolerance, confidence) else (mid, hi)
    assert hi == 1 or not _resolved(rate, hi - 1, tolerance, confidence)
    assert _resolved(rate, hi + 1, tolerance, confidence)
    return hi


def resolution_note(k: int, n: int, target_rate: float, tolerance: float, what: str,
                    confidence: float = 0.95, *, unit: str | None = None) -> str | None:
    """None if the Wilson interval of k/n is within ±tolerance of k/n, else one clause, e.g.
    "the FPR of 0.010 is measured on only 1000 negatives (95% Wilson interval [0.0054, 0.0183]);
    resolving it to ±0.005 needs about 2300 negatives".

    `unit` names what n counts; by default "negatives" for an FPR, "positives" for a TPR or
    completeness, "objects" otherwise. The "needs about" figure is computed at `target_rate`
    and rounded up to two significant figures.
    """
    rate = k / n if n > 0 else float("nan")
    low, high = wilson_interval(k, n, confidence)
    if n > 0 and high - rate <= tolerance and rate - low <= tolerance:
        return None
    if unit is None:
        w = what.lower()
        unit = ("negatives" if "fpr" in w or "false" in w else
                "positives" if "tpr" in w or "true" in w or "complete" in w else "objects")
    need = required_negatives(target_rate, tolerance, confidence)
    step = 10 ** max(0, len(str(need)) - 2)
    need = -(-need // step) * step
    shown = _fmt_rate(rate) if n > 0 else "undefined"
    d = _decimals(rate) + 1  # the interval one digit finer than the rate
    return (f"the {what} of {shown} is measured on only {n} {unit} ({confidence * 100:g}% Wilson "
            f"interval [{low:.{d}f}, {high:.{d}f}]); resolving it to ±{tolerance:g} "
            f"needs about {need} {unit}")
