"""Judging predicted uncertainties: are the error bars and probabilities honest?

A model that predicts a PDF per object (here a Gaussian with mean mu and standard
deviation sigma) is judged on two separate questions (the paper, section 5.2):

* Is it *informative*? The probability density at the true value, multiplied over the
  validation objects, is the recommended quantifier; its mean log is the negative
  log-likelihood (NLL, lower is better). The continuous ranked probability score (CRPS,
  Gneiting & Raftery 2007, JASA 102:359, eq. 21) is a proper score that, unlike the NLL,
  is in the units of y and is not dominated by one object with a tiny sigma.
* Is it *calibrated*? The location of the true value on the predicted CDF (the
  probability integral transform, PIT) is uniform on [0, 1] when the PDFs are right. Its
  histogram tells how they are wrong (Hamill 2001, MWR 129:550, the paper's ref. [32]):
  U-shaped = sigma too small (overconfident), hump = sigma too large, tilted = biased.
  The simplest version, which the paper asks for: do the 68% error bars contain 68% of
  the true values?

For binary classifiers the analogue of calibration is the reliability curve: among objects
given p ~ 0.8, are 80% positive? Summarised by the expected calibration error (ECE).

Conventions shared by every function: rows where any input is NaN are dropped (the same
rows from every array); sigma that is <= 0 or infinite raises ``ValueError("sigma must be
positive")``; with no rows left, scores are NaN. Everything is pure (arrays in, floats or
frozen dataclasses out); scipy and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlproj.science.metrics import wilson_interval
from mlproj.science.stats import jsonable

__all__ = [
    "COVERAGE_68",
    "COVERAGE_95",
    "NOMINAL_COVERAGE",
    "PIT_SHAPES",
    "UNCERTAINTY_METRICS",
    "Z_95",
    "Coverage",
    "PitCheck",
    "Reliability",
    "coverage",
    "coverage_finding",
    "coverage_interval",
    "excludes_nominal",
    "expected_calibration_error",
    "gaussian_crps",
    "gaussian_nll",
    "nominal_label",
    "pit_check",
    "pit_values",
    "reliability",
    "score_binary",
    "score_gaussian",
]

NAN = float("nan")
PIT_SHAPES = ("uniform", "u_shaped", "peaked", "skewed")
PIT_ALPHA = 0.01  # KS p-value below which the PIT histogram is flagged as not uniform

# name -> (greater_is_better, description). For coverage the flag only says which side is
# worse for science (bars too small hide errors); the ideal is the nominal value, not 1.
UNCERTAINTY_METRICS: dict[str, tuple[bool, str]] = {
    "nll": (False, ("Mean negative log-likelihood of the true values under the predicted "
                    "Gaussians (lower = more informative PDFs; the paper's recommended quantifier)")),
    "crps": (False, ("Mean continuous ranked probability score of the predicted Gaussians, in the "
                     "units of the target (lower is better; Gneiting & Raftery 2007)")),
    "coverage_68": (True, ("Fraction of true values inside the predicted 68% (1-sigma) error bars; "
                           "calibrated = 0.683; lower = bars too small, higher = too large")),
    "coverage_95": (True, ("Fraction of true values inside the predicted 95% (1.96-sigma) error bars; "
                           "calibrated = 0.95; lower = bars too small, higher = too large")),
    "pit_ks": (False, ("Kolmogorov-Smirnov distance of the PIT values from uniform "
                       "(0 = perfectly calibrated PDFs)")),
    "ece": (False, ("Expected calibration error of predicted probabilities: count-weighted mean "
                    "|observed fraction - mean predicted| over quantile bins")),
}
# The nominal coverages, defined once (DESIGN §6) and used by every score, the test-set counts
# and the reports: 68.27% = +-1 sigma (erf(1/sqrt 2), not 0.68, so calibrated Gaussians score
# 0.683 and the bars are exactly +-1 sigma), and 95% = +-1.96 sigma.
COVERAGE_68 = math.erf(1 / math.sqrt(2))
COVERAGE_95 = 0.95
Z_95 = 1.959963984540054  # Phi^-1(0.975): the 95% bars are +-Z_95 sigma (what `coverage` computes for 0.95)
NOMINAL_COVERAGE = {"coverage_68": COVERAGE_68, "coverage_95": COVERAGE_95}


# --------------------------------------------------------------------------- helpers



def _columns(*arrays: Any) -> list[np.ndarray]:
    """1-D float arrays of equal length with the rows holding any NaN removed from all."""
    cols = [np.asarray(a, dtype=float).ravel() for a in arrays]
    if len({c.size for c in cols}) > 1:
        raise ValueError(f"inputs must have the same length, got {[c.size for c in cols]}")
    keep = ~np.any([np.isnan(c) for c in cols], axis=0)
    return [c[keep] for c in cols]


def _gaussian(y, mu, sigma) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, mu, sigma = _columns(y, mu, sigma)
    # A zero or infinite sigma makes the NLL/PIT meaningless rather than merely bad; the
    # caller is expected to guard (e.g. floor sigma) before scoring.
    if not np.all(np.isfinite(sigma) & (sigma > 0)):
        raise ValueError("sigma must be positive")
    return y, mu, sigma


def _check_nominal(nominal: float) -> float:
    if not 0.0 < nominal < 1.0:
        raise ValueError(f"nominal coverage must lie strictly between 0 and 1, got {nominal!r}")
    return float(nominal)


def _check_bins(bins: int) -> int:
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    return int(bins)


# --------------------------------------------------------------------------- Gaussian scores

def gaussian_nll(y, mu, sigma) -> float:
    """Mean negative log-likelihood: mean of log(sigma) + 0.5 log(2 pi) + z^2 / 2.

    The paper (section 5.2): the density at the true value, multiplied over the validation
    objects, is the recommended quantifier; this is minus its mean logarithm.
    """
    from scipy.stats import norm

    y, mu, sigma = _gaussian(y, mu, sigma)
    if y.size == 0:
        return NAN
    return float(-np.mean(norm.logpdf(y, loc=mu, scale=sigma)))


def gaussian_crps(y, mu, sigma) -> float:
    """Mean CRPS of Gaussian predictions, closed form (Gneiting & Raftery 2007, eq. 21).

    CRPS(N(mu, sigma^2), y) = sigma [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)],
    z = (y - mu) / sigma; it equals the integral of (F(x) - 1{x >= y})^2 dx. It reduces to
    the absolute error as sigma -> 0, so it can be compared with the MAE of point estimates.
    """
    from scipy.stats import norm

    y, mu, sigma = _gaussian(y, mu, sigma)
    if y.size == 0:
        return NAN
    z = (y - mu) / sigma
    crps = sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))
    return float(np.mean(crps))


def pit_values(y, mu, sigma) -> np.ndarray:
    """Probability integral transform Phi((y - mu) / sigma): where each true value falls on
    its predicted CDF. Uniform on [0, 1] if and only if the predicted PDFs are calibrated."""
    from scipy.stats import norm

    y, mu, sigma = _gaussian(y, mu, sigma)
    return norm.cdf(y, loc=mu, scale=sigma)


# --------------------------------------------------------------------------- PIT histogram

@dataclass(frozen=True)
class PitCheck:
    ks_statistic: float      # sup |ECDF(PIT) - x|, 0 = perfect
    p_value: float           # KS test against U(0, 1)
    histogram: list[int]     # counts in `bins` equal-width bins over [0, 1]
    bin_edges: list[float]
    shape: str               # one of PIT_SHAPES ("uniform" when not flagged)
    flagged: bool            # p_value < 0.01
    detail: str              # one sentence for a scientist

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def pit_check(pit, bins: int = 10, coverages: tuple[Coverage, ...] | list[Coverage] = ()) -> PitCheck:
    """KS test of PIT values against U(0, 1) plus a reading of the histogram's shape.

    The shape (Hamill 2001; the paper's Figure 2) is read off two departures from a flat
    histogram, each as a z-score under uniformity so the larger one names the problem:
      * spread: mass in the outer halves (PIT < 1/4 or > 3/4), 1/2 if uniform. Too much =
        U-shaped (true values land in the tails: sigma too small, overconfident); too little
        = peaked (sigma too large, underconfident).
      * tilt: mass right of 1/2 minus mass left of it, 0 if uniform. A tilt = the true values
        sit systematically on one side of the predicted means (biased predictions).
    These are computed from the PIT values themselves rather than from the binned counts so
    that the verdict does not depend on `bins`. When the KS test does not flag the PIT
    (p >= 0.01) the shape is reported as "uniform": a tendency that is not significant is
    not reported as a diagnosis.

    `coverages` (e.g. the ±1σ and ±1.96σ coverages of the same predictions): the KS test looks at
    the whole PIT distribution and can miss tails that are too heavy or too light, which is what
    a 95% coverage measures directly. When a coverage's Wilson interval excludes its nominal value
    the PIT is flagged too, with the shape the coverage implies (below nominal: too small σ,
    u_shaped; above: peaked), and the detail never says the uncertainties look calibrated.
    """
    from scipy.stats import kstest

    bins = _check_bins(bins)
    u = np.asarray(pit, dtype=float).ravel()
    u = u[~np.isnan(u)]
    if np.any((u < 0) | (u > 1)):
        raise ValueError("PIT values must lie in [0, 1]")
    counts, edges = np.histogram(u, bins=bins, range=(0.0, 1.0))
    hist, edge_list = [int(c) for c in counts], [float(e) for e in edges]
    n = u.size
    if n == 0:
        return PitCheck(NAN, NAN, hist, edge_list, "uniform", False,
                        "No objects with a PIT value: calibration cannot be judged.")

    ks = kstest(u, "uniform")
    stat, p = float(ks.statistic), float(ks.pvalue)
    flagged = p < PIT_ALPHA

    outer = float(np.mean((u < 0.25) | (u > 0.75)))
    tilt = float(np.mean(u > 0.5) - np.mean(u < 0.5))
    z_spread = (outer - 0.5) / (0.5 / math.sqrt(n))   # binomial sd of a fraction near 1/2
    z_tilt = tilt * math.sqrt(n)                       # sd of a mean of +-1 signs is 1/sqrt(n)

    findings = [c for c in coverages if excludes_nominal(c)]
    if not flagged and findings:
        worst = findings[-1]  # the widest nominal (95%) says most about the tails
        shape = "u_shaped" if worst.observed < worst.nominal else "peaked"
        detail = (f"the PIT histogram of {n} objects passes the KS test (KS = {stat:.3f}, p = {p:.2g}), but "
                  + "; ".join(coverage_finding(c) for c in findings)
                  + ": the predicted uncertainties are not calibrated.")
        return PitCheck(stat, p, hist, edge_list, shape, True, detail)
    if not flagged:
        shape = "uniform"
        detail = (f"the PIT histogram of {n} objects is consistent with uniform "
                  f"(KS = {stat:.3f}, p = {p:.2g})"
                  + (" and the coverages agree with their nominal values: the predicted uncertainties "
                     "look calibrated." if coverages else
                     ": no sign of miscalibration in its shape (check the coverages too)."))
    elif abs(z_tilt) >= abs(z_spread):
        shape = "skewed"
        side, low_high = ("above", "low") if tilt > 0 else ("below", "high")
        frac = float(np.mean(u > 0.5) if tilt > 0 else np.mean(u < 0.5))
        detail = (f"the PIT histogram is lopsided ({frac:.0%} of true values lie "
                  f"{side} the predicted mean; KS = {stat:.3f}, p = {p:.2g}): the predictions "
                  f"are biased {low_high}.")
    elif z_spread > 0:
        shape = "u_shaped"
        detail = (f"the PIT histogram is U-shaped ({outer:.0%} of true values fall in the outer "
                  f"quartiles of their PDFs, 50% expected; KS = {stat:.3f}, p = {p:.2g}): the "
                  f"predicted uncertainties are too small (overconfident).")
    else:
        shape = "peaked"
        detail = (f"the PIT histogram is peaked (only {outer:.0%} of true values fall in the "
                  f"outer quartiles of their PDFs, 50% expected; KS = {stat:.3f}, p = {p:.2g}): "
                  f"the predicted uncertainties are too large (underconfident).")
    return PitCheck(stat, p, hist, edge_list, shape, flagged, detail)


# --------------------------------------------------------------------------- coverage

@dataclass(frozen=True)
class Coverage:
    nominal: float                 # the content the intervals claim, e.g. 0.68
    observed: float                # fraction of true values inside (NaN when n == 0)
    inside: int
    n: int
    wilson: tuple[float, float]    # 95% Wilson interval on `observed`

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def _coverage(inside: np.ndarray, nominal: float) -> Coverage:
    k, n = int(np.count_nonzero(inside)), int(inside.size)
    # Wilson rather than the normal approximation: coverage sits near 0 or 1 for 95%/99%
    # intervals, where the normal interval leaves [0, 1] or collapses to zero width.
    return Coverage(nominal, k / n if n else NAN, k, n, wilson_interval(k, n, 0.95))


def coverage(y, mu, sigma, nominal: float) -> Coverage:
    """Fraction of true values with |y - mu| <= z sigma, z = Phi^-1(1/2 + nominal/2).

    The paper (section 5.2): "verify the output error bars really correspond to 68% in the
    test/validation data". Use nominal = 0.6827 for exactly +-1 sigma bars (0.68 gives
    z = 0.994). A count far below nominal = error bars too small.
    """
    from scipy.stats import norm

    nominal = _check_nominal(nominal)
    y, mu, sigma = _gaussian(y, mu, sigma)
    z = float(norm.ppf(0.5 + nominal / 2))
    return _coverage(np.abs(y - mu) <= z * sigma, nominal)


def excludes_nominal(c: Coverage) -> bool:
    """True when the 95% Wilson interval of the observed coverage excludes the nominal value
    (DESIGN §6: such error bars are flagged, whatever the CRPS says)."""
    low, high = c.wilson
    if c.n == 0 or low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return False
    return not low <= c.nominal <= high


def nominal_label(nominal: float) -> str:
    """68.27%, 95%: the nominal coverage as printed."""
    return f"{100 * nominal:.2f}".rstrip("0").rstrip(".") + "%"


def coverage_finding(c: Coverage, method: str | None = None) -> str | None:
    """One sentence when `excludes_nominal(c)`: which bars, observed coverage, interval, what it means."""
    if not excludes_nominal(c):
        return None
    side = "too small (overconfident)" if c.observed < c.nominal else "too large (underconfident)"
    low, high = c.wilson
    who = f"the {method} σ: " if method else ""
    return (f"{who}{nominal_label(c.nominal)} coverage {c.observed:.3f} ({c.inside}/{c.n} inside), 95% Wilson "
            f"interval [{low:.3f}, {high:.3f}] excludes {c.nominal:.4g}: the error bars are {side}")


def coverage_interval(y, low, high, nominal: float) -> Coverage:
    """Coverage of explicit intervals low <= y <= high, e.g. from quantile regression at the
    0.159 and 0.841 quantiles for nominal 0.68. Same conventions as `coverage`."""
    nominal = _check_nominal(nominal)
    y, low, high = _columns(y, low, high)
    if np.any(low > high):
        raise ValueError("interval low end must not exceed its high end")
    return _coverage((low <= y) & (y <= high), nominal)


# --------------------------------------------------------------------------- classification

@dataclass(frozen=True)
class Reliability:
    mean_predicted: list[float]            # per non-empty bin, mean p
    observed_fraction: list[float]         # per non-empty bin, fraction positive
    counts: list[int]                      # objects per bin
    wilson: list[tuple[float, float]]      # 95% Wilson interval on each observed fraction
    ece: float                             # sum_b (n_b / N) |observed_b - predicted_b|

    def to_dict(self) -> dict:
        return jsonable(asdict(self))


def _binary(is_positive, p) -> tuple[np.ndarray, np.ndarray]:
    t, q = _columns(is_positive, p)
    if not np.all((t == 0) | (t == 1)):
        raise ValueError("is_positive must be boolean (0/1)")
    if np.any((q < 0) | (q > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    return t.astype(bool), q


def reliability(is_positive, p, bins: int = 10) -> Reliability:
    """Reliability curve over quantile bins (equal numbers of objects per bin).

    Quantile rather than equal-width bins because classifier probabilities pile up near 0
    and 1: equal-width bins would leave the middle bins with a handful of objects and
    noisy fractions. The binning is exactly that of
    ``sklearn.calibration.calibration_curve(strategy="quantile")`` (edges at the
    percentiles of p, interior edges assigned to the lower bin, empty bins dropped), which
    does not return the counts needed for the ECE weights and the Wilson intervals.
    Tied probabilities can make bins unequal or empty.
    """
    bins = _check_bins(bins)
    t, q = _binary(is_positive, p)
    if q.size == 0:
        return Reliability([], [], [], [], NAN)
    edges = np.percentile(q, np.linspace(0, 100, bins + 1))
    ids = np.searchsorted(edges[1:-1], q)
    total = np.bincount(ids, minlength=bins)
    pos = np.bincount(ids, weights=t, minlength=bins)
    psum = np.bincount(ids, weights=q, minlength=bins)
    nz = total > 0
    total, pos, psum = total[nz], pos[nz], psum[nz]
    pred, obs = psum / total, pos / total
    ece = float(np.sum(total / q.size * np.abs(obs - pred)))
    return Reliability(
        mean_predicted=[float(v) for v in pred],
        observed_fraction=[float(v) for v in obs],
        counts=[int(v) for v in total],
        wilson=[wilson_interval(round(k), int(n)) for k, n in zip(pos, total)],
        ece=ece,
    )


def expected_calibration_error(is_positive, p, bins: int = 10) -> float:
    """ECE = sum_b (n_b / N) |observed_b - predicted_b| over quantile bins (see `reliability`).

    Note it has a positive floor from binomial noise of roughly sqrt(p(1-p) / n_b) per bin,
    so compare ECEs only at similar sample sizes and bin counts.
    """
    return reliability(is_positive, p, bins).ece


# --------------------------------------------------------------------------- one-call scores

def score_gaussian(name: str, y, mu, sigma) -> float:
    """Score Gaussian predictions with a metric of UNCERTAINTY_METRICS (not "ece")."""
    if name == "nll":
        return gaussian_nll(y, mu, sigma)
    if name == "crps":
        return gaussian_crps(y, mu, sigma)
    if name in NOMINAL_COVERAGE:
        return coverage(y, mu, sigma, NOMINAL_COVERAGE[name]).observed
    if name == "pit_ks":
        return pit_check(pit_values(y, mu, sigma)).ks_statistic
    if name in UNCERTAINTY_METRICS:
        raise ValueError(f"{name!r} scores class probabilities: use score_binary")
    raise ValueError(f"unknown uncertainty metric {name!r}; known: {', '.join(UNCERTAINTY_METRICS)}")


def score_binary(name: str, is_positive, p, bins: int = 10) -> float:
    """Score binary probabilities: "ece" (this module), "brier" and "log_loss" (scikit-learn;
    these two are catalogued in mlproj.science.metrics.METRICS, listed here for one-call use)."""
    t, q = _binary(is_positive, p)
    if name == "ece":
        return reliability(t, q, bins).ece
    if name not in ("brier", "log_loss"):
        raise ValueError(f"unknown probability metric {name!r}; known: ece, brier, log_loss")
    if q.size == 0:
        return NAN
    from sklearn.metrics import brier_score_loss, log_loss

    if name == "brier":
        return float(brier_score_loss(t, q, pos_label=True))
    # labels= keeps a single-class sample scoreable (sklearn would otherwise refuse it)
    return float(log_loss(t, q, labels=[False, True]))
