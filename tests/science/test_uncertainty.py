"""Tests for mlproj.science.uncertainty: scores and checks of predicted uncertainties.

Oracles are independent of the implementation: known closed-form values, numerical
integrals of the CRPS definition, scikit-learn's calibration_curve for the binning, and
simulated predictions whose miscalibration is known by construction (the paper, section 5.2:
U-shaped / peaked / lopsided PIT histograms; 68% error bars containing 68%).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from mlproj.science.metrics import wilson_interval
from mlproj.science.uncertainty import (
    COVERAGE_68,
    COVERAGE_95,
    NOMINAL_COVERAGE,
    PIT_SHAPES,
    UNCERTAINTY_METRICS,
    Z_95,
    Coverage,
    PitCheck,
    Reliability,
    coverage,
    coverage_finding,
    coverage_interval,
    excludes_nominal,
    expected_calibration_error,
    gaussian_crps,
    gaussian_nll,
    nominal_label,
    pit_check,
    pit_values,
    reliability,
    score_binary,
    score_gaussian,
)


def _gaussians(n: int, seed: int, *, sigma_scale: float = 1.0, bias: float = 0.0):
    """Truths drawn from N(mu, sigma); returns (y, mu, predicted sigma). Predicted sigma is the
    true one times `sigma_scale`; `bias` shifts the truths by bias * sigma."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 3.0, n)
    sigma = rng.uniform(0.2, 2.0, n)          # heteroscedastic, as per-object error bars are
    y = mu + sigma * (rng.normal(size=n) + bias)
    return y, mu, sigma * sigma_scale


# --------------------------------------------------------------------------- NLL and CRPS

def test_nll_standard_normal_at_zero():
    assert gaussian_nll([0.0], [0.0], [1.0]) == pytest.approx(0.5 * math.log(2 * math.pi), abs=1e-12)
    assert gaussian_nll([0.0], [0.0], [1.0]) == pytest.approx(0.9189385, abs=1e-7)


def test_nll_is_mean_of_minus_logpdf():
    y, mu, sigma = _gaussians(50, 1)
    expected = -np.mean([math.log(stats.norm.pdf(a, b, c)) for a, b, c in zip(y, mu, sigma)])
    assert gaussian_nll(y, mu, sigma) == pytest.approx(expected, rel=1e-12)


def test_crps_standard_normal_at_zero():
    # 2 phi(0) - 1/sqrt(pi) = (sqrt(2) - 1) / sqrt(pi)
    assert gaussian_crps([0.0], [0.0], [1.0]) == pytest.approx(0.2336950, abs=1e-7)
    assert gaussian_crps([0.0], [0.0], [1.0]) == pytest.approx((math.sqrt(2) - 1) / math.sqrt(math.pi))


def _crps_by_integral(y: float, mu: float, sigma: float) -> float:
    # The definition (Gneiting & Raftery 2007, eq. 20): integral of (F(x) - 1{x >= y})^2 dx,
    # split at y where the indicator jumps.
    F = stats.norm(mu, sigma).cdf
    below, _ = integrate.quad(lambda x: F(x) ** 2, -np.inf, y)
    above, _ = integrate.quad(lambda x: (1 - F(x)) ** 2, y, np.inf)
    return below + above


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crps_closed_form_matches_numerical_integral(seed):
    rng = np.random.default_rng(seed)
    y, mu, sigma = rng.normal(0, 2), rng.normal(0, 2), rng.uniform(0.1, 3)
    assert gaussian_crps([y], [mu], [sigma]) == pytest.approx(_crps_by_integral(y, mu, sigma), rel=1e-6)


def test_crps_is_mean_over_objects_and_tends_to_abs_error():
    ys, mus, sigmas = [0.3, -1.0], [0.0, 0.5], [0.5, 2.0]
    single = [gaussian_crps([a], [b], [c]) for a, b, c in zip(ys, mus, sigmas)]
    assert gaussian_crps(ys, mus, sigmas) == pytest.approx(np.mean(single))
    # sigma -> 0: the PDF becomes a point estimate and the CRPS its absolute error
    assert gaussian_crps([1.0], [0.0], [1e-9]) == pytest.approx(1.0, rel=1e-6)


def test_sharper_calibrated_predictions_score_better():
    # Informativeness (the paper: overly wide PDFs give lower density at the truth)
    y, mu, sigma = _gaussians(4000, 3)
    assert gaussian_nll(y, mu, sigma) < gaussian_nll(y, mu, 2 * sigma)
    assert gaussian_crps(y, mu, sigma) < gaussian_crps(y, mu, 2 * sigma)
    assert gaussian_crps(y, mu, sigma) < gaussian_crps(y, mu, sigma / 2)


# --------------------------------------------------------------------------- PIT

def test_pit_values():
    np.testing.assert_allclose(pit_values([0.0, 1.0, -2.0], [0.0, 0.0, 0.0], [1.0, 1.0, 2.0]),
                               [0.5, stats.norm.cdf(1.0), stats.norm.cdf(-1.0)])


def test_pit_of_calibrated_gaussians_is_uniform():
    c = pit_check(pit_values(*_gaussians(5000, 42)))
    assert isinstance(c, PitCheck)
    assert c.p_value > 0.01 and not c.flagged and c.shape == "uniform"
    assert sum(c.histogram) == 5000 and len(c.histogram) == 10
    assert c.bin_edges == pytest.approx(np.linspace(0, 1, 11).tolist())
    ks = stats.kstest(pit_values(*_gaussians(5000, 42)), "uniform")
    assert c.ks_statistic == pytest.approx(ks.statistic) and c.p_value == pytest.approx(ks.pvalue)


@pytest.mark.parametrize("kwargs, shape", [
    ({"sigma_scale": 0.5}, "u_shaped"),   # sigma too small: truths land in the tails
    ({"sigma_scale": 2.0}, "peaked"),     # sigma too large: truths bunch in the middle
    ({"bias": 1.0}, "skewed"),            # truths 1 sigma above the predicted means
    ({"bias": -1.0}, "skewed"),
])
def test_pit_diagnoses_miscalibration(kwargs, shape):
    c = pit_check(pit_values(*_gaussians(5000, 42, **kwargs)))
    assert c.flagged and c.p_value < 0.01
    assert c.shape == shape
    assert c.detail.endswith(".") and "KS" in c.detail


def test_pit_skew_detail_names_the_direction():
    assert "biased low" in pit_check(pit_values(*_gaussians(5000, 4, bias=1.0))).detail
    assert "biased high" in pit_check(pit_values(*_gaussians(5000, 4, bias=-1.0))).detail


def test_pit_check_edge_cases():
    empty = pit_check(np.array([]))
    assert math.isnan(empty.ks_statistic) and not empty.flagged and empty.shape in PIT_SHAPES
    assert pit_check([0.1, np.nan, 0.9], bins=2).histogram == [1, 1]
    with pytest.raises(ValueError):
        pit_check([0.5, 1.5])
    with pytest.raises(ValueError):
        pit_check([0.5], bins=0)
    assert pit_check([0.2, 0.4]).to_dict()["histogram"] == [0, 0, 1, 0, 1, 0, 0, 0, 0, 0]


# --------------------------------------------------------------------------- coverage

def test_coverage_known_count():
    # 68 residuals at 0.5 sigma (inside the 68% bars, z = 0.994) and 32 at 2 sigma (outside)
    sigma = np.full(100, 1.5)
    resid = np.r_[np.full(68, 0.5), np.full(32, -2.0)] * sigma
    mu = np.linspace(-3, 3, 100)
    c = coverage(mu + resid, mu, sigma, 0.68)
    assert isinstance(c, Coverage)
    assert (c.inside, c.n, c.nominal) == (68, 100, 0.68)
    assert c.observed == pytest.approx(0.68)
    assert c.wilson == pytest.approx(wilson_interval(68, 100))


def test_coverage_uses_the_two_sided_quantile():
    # 95% bars are +-1.96 sigma: 1.9 sigma inside, 2.0 sigma outside
    c = coverage([1.9, 2.0, -1.9, -2.0], [0.0] * 4, [1.0] * 4, 0.95)
    assert (c.inside, c.n) == (2, 4)


def test_coverage_of_calibrated_gaussians():
    y, mu, sigma = _gaussians(20000, 7)
    assert score_gaussian("coverage_68", y, mu, sigma) == pytest.approx(0.683, abs=0.02)
    assert score_gaussian("coverage_95", y, mu, sigma) == pytest.approx(0.95, abs=0.01)
    c = coverage(y, mu, sigma / 2, 0.68)   # overconfident error bars cover far less
    assert c.wilson[1] < 0.5


def test_coverage_interval():
    y = np.arange(10.0)
    c = coverage_interval(y, y - np.r_[np.ones(7), -np.ones(3)], y + 1, 0.68)
    assert (c.inside, c.n, c.nominal) == (7, 10, 0.68)
    assert c.wilson == pytest.approx(wilson_interval(7, 10))
    # quantile-regression style bounds for calibrated Gaussians
    y, mu, sigma = _gaussians(20000, 8)
    lo, hi = stats.norm.ppf([0.159, 0.841])
    assert coverage_interval(y, mu + lo * sigma, mu + hi * sigma, 0.68).observed == pytest.approx(0.682, abs=0.02)
    with pytest.raises(ValueError):
        coverage_interval([0.0], [1.0], [0.0], 0.68)
    with pytest.raises(ValueError):
        coverage_interval([0.0], [-1.0], [1.0], 68)


# --------------------------------------------------------------------------- edge cases

@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf])
def test_non_positive_sigma_raises(bad):
    for f in (gaussian_nll, gaussian_crps, pit_values):
        with pytest.raises(ValueError, match="sigma must be positive"):
            f([0.0, 1.0], [0.0, 0.0], [1.0, bad])
    with pytest.raises(ValueError, match="sigma must be positive"):
        coverage([0.0], [0.0], [bad], 0.68)


def test_empty_input_gives_nan():
    for name in ("nll", "crps", "coverage_68", "coverage_95", "pit_ks"):
        assert math.isnan(score_gaussian(name, [], [], []))
    assert pit_values([], [], []).size == 0
    c = coverage([], [], [], 0.68)
    assert c.n == 0 and math.isnan(c.observed) and c.wilson == (0.0, 1.0)
    assert math.isnan(expected_calibration_error([], []))
    for name in ("ece", "brier", "log_loss"):
        assert math.isnan(score_binary(name, [], []))


def test_nan_rows_dropped_consistently():
    y, mu, sigma = _gaussians(30, 9)
    y2, mu2, sigma2 = y.copy(), mu.copy(), sigma.copy()
    y2[3], mu2[5], sigma2[7] = np.nan, np.nan, np.nan
    keep = np.ones(30, bool)
    keep[[3, 5, 7]] = False
    for name in ("nll", "crps", "coverage_68", "pit_ks"):
        assert score_gaussian(name, y2, mu2, sigma2) == pytest.approx(
            score_gaussian(name, y[keep], mu[keep], sigma[keep]))
    assert coverage(y2, mu2, sigma2, 0.68).n == 27
    assert pit_values(y2, mu2, sigma2).size == 27


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        gaussian_nll([0.0, 1.0], [0.0], [1.0, 1.0])


# --------------------------------------------------------------------------- reliability

def test_reliability_of_calibrated_probabilities():
    rng = np.random.default_rng(11)
    p = rng.beta(0.5, 0.5, 20000)             # piled up near 0 and 1, like real classifiers
    is_pos = rng.random(20000) < p
    r = reliability(is_pos, p)
    assert isinstance(r, Reliability)
    assert r.ece < 0.02
    assert expected_calibration_error(is_pos, p) == r.ece == score_binary("ece", is_pos, p)
    # quantile bins: (nearly) equal counts
    assert len(r.counts) == 10 and sum(r.counts) == 20000 and max(r.counts) - min(r.counts) <= 1
    # every bin's Wilson interval is the metrics one on that bin's count
    k = [round(f * n) for f, n in zip(r.observed_fraction, r.counts)]
    assert r.wilson == [pytest.approx(wilson_interval(a, b)) for a, b in zip(k, r.counts)]


def test_reliability_of_squashed_probabilities():
    rng = np.random.default_rng(12)
    p = rng.beta(0.5, 0.5, 20000)
    is_pos = rng.random(20000) < p
    squashed = 0.5 + 0.5 * (p - 0.5)          # underconfident: pulled toward 0.5
    assert expected_calibration_error(is_pos, squashed) > 0.05


def test_reliability_matches_sklearn_calibration_curve():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(13)
    p = rng.random(997)
    is_pos = rng.random(997) < p ** 2
    r = reliability(is_pos, p, bins=7)
    obs, pred = calibration_curve(is_pos, p, n_bins=7, strategy="quantile")
    np.testing.assert_allclose(r.observed_fraction, obs)
    np.testing.assert_allclose(r.mean_predicted, pred)
    # the ECE by its definition
    ece = sum(n / 997 * abs(o - q) for n, o, q in zip(r.counts, obs, pred))
    assert r.ece == pytest.approx(ece)


def test_reliability_with_tied_probabilities_drops_empty_bins():
    p = np.r_[np.full(50, 0.2), np.full(50, 0.8)]
    is_pos = np.r_[np.arange(50) < 10, np.arange(50) < 40]
    r = reliability(is_pos, p)
    assert r.counts == [50, 50]
    assert r.observed_fraction == pytest.approx([0.2, 0.8]) and r.ece == pytest.approx(0.0)


def test_reliability_validates_inputs():
    with pytest.raises(ValueError):
        reliability([True], [1.2])
    with pytest.raises(ValueError):
        reliability([2], [0.5])


def test_score_binary_uses_sklearn():
    from sklearn.metrics import brier_score_loss, log_loss

    is_pos = np.array([True, False, True, True, False])
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.1])
    assert score_binary("brier", is_pos, p) == pytest.approx(brier_score_loss(is_pos, p))
    assert score_binary("log_loss", is_pos, p) == pytest.approx(log_loss(is_pos, p))
    with pytest.raises(ValueError):
        score_binary("auc", is_pos, p)


# --------------------------------------------------------------------------- catalogue

def test_catalogue_and_dispatch():
    assert set(UNCERTAINTY_METRICS) == {"nll", "crps", "coverage_68", "coverage_95", "pit_ks", "ece"}
    assert {k for k, (gib, _) in UNCERTAINTY_METRICS.items() if gib} == {"coverage_68", "coverage_95"}
    assert all(desc for _, desc in UNCERTAINTY_METRICS.values())
    y, mu, sigma = _gaussians(200, 14)
    assert score_gaussian("nll", y, mu, sigma) == gaussian_nll(y, mu, sigma)
    assert score_gaussian("crps", y, mu, sigma) == gaussian_crps(y, mu, sigma)
    assert score_gaussian("pit_ks", y, mu, sigma) == pit_check(pit_values(y, mu, sigma)).ks_statistic
    with pytest.raises(ValueError, match="score_binary"):
        score_gaussian("ece", y, mu, sigma)
    with pytest.raises(ValueError, match="unknown"):
        score_gaussian("rmse", y, mu, sigma)


# --------------------------------------------------------------------------- coverage flags (issue 22, point 7)

def _tails_too_heavy(n: int = 3000, seed: int = 7):
    """Predicted σ right for the core, but 8% of the true values scatter 3σ: the photo-z case."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 1.0, n)
    sigma = np.full(n, 0.1)
    scale = np.where(rng.random(n) < 0.08, 3.0, 1.0)
    return mu + sigma * scale * rng.normal(size=n), mu, sigma


@settings(max_examples=200, deadline=None)
@given(inside=st.integers(0, 400), extra=st.integers(0, 400),
       nominal=st.sampled_from([math.erf(1 / math.sqrt(2)), 0.95, 0.5, 0.99]))
def test_a_coverage_is_flagged_exactly_when_its_wilson_interval_excludes_the_nominal_value(inside, extra, nominal):
    n = inside + extra
    c = Coverage(nominal, inside / n if n else math.nan, inside, n, wilson_interval(inside, n, 0.95) if n
                 else (math.nan, math.nan))
    if n == 0:
        assert not excludes_nominal(c) and coverage_finding(c) is None
        return
    # oracle: scipy's Wilson interval of the same counts
    ci = stats.binomtest(inside, n).proportion_ci(0.95, method="wilson")
    expected = not (ci.low - 1e-12 <= nominal <= ci.high + 1e-12)
    assert excludes_nominal(c) == expected
    finding = coverage_finding(c, "residual")
    assert (finding is not None) == expected
    if finding:
        assert finding.startswith("the residual σ: ") and f"{inside}/{n}" in finding
        assert ("too small" in finding) == (inside / n < nominal)


def test_the_coverage_finding_names_the_observed_value_and_the_interval():
    y, mu, sigma = _tails_too_heavy()
    c = coverage(y, mu, sigma, COVERAGE_95)
    low, high = c.wilson
    assert high < 0.95 and excludes_nominal(c)
    finding = coverage_finding(c)
    assert f"95% coverage {c.observed:.3f}" in finding and f"[{low:.3f}, {high:.3f}]" in finding
    assert "excludes 0.95" in finding and "too small (overconfident)" in finding
    assert nominal_label(COVERAGE_68) == "68.27%" and nominal_label(0.95) == "95%"


def test_the_pit_never_says_calibrated_when_a_coverage_is_off():
    """Heavy tails pass the KS test of the PIT (its statistic is dominated by the core) while the
    95% coverage is clearly low: the check must follow the coverage, not say "look calibrated"."""
    y, mu, sigma = _tails_too_heavy()
    pit = pit_values(y, mu, sigma)
    alone = pit_check(pit)
    assert not alone.flagged and "look calibrated" not in alone.detail  # no coverage given: no claim
    coverages = [coverage(y, mu, sigma, nominal) for nominal in NOMINAL_COVERAGE.values()]
    assert excludes_nominal(coverages[1])
    checked = pit_check(pit, coverages=coverages)
    assert checked.flagged and checked.shape == "u_shaped"
    assert "look calibrated" not in checked.detail and "not calibrated" in checked.detail
    assert "95% coverage" in checked.detail
    assert checked.ks_statistic == alone.ks_statistic and checked.histogram == alone.histogram


def test_the_pit_says_calibrated_only_with_agreeing_coverages():
    y, mu, sigma = _gaussians(5000, 42)
    coverages = [coverage(y, mu, sigma, nominal) for nominal in NOMINAL_COVERAGE.values()]
    assert not any(excludes_nominal(c) for c in coverages)
    checked = pit_check(pit_values(y, mu, sigma), coverages=coverages)
    assert not checked.flagged and checked.shape == "uniform" and "look calibrated" in checked.detail


def test_one_definition_of_each_nominal_coverage():
    """68.27% = ±1σ and 95% = ±1.96σ everywhere (the test column once used ±2σ)."""
    assert COVERAGE_68 == pytest.approx(stats.norm.cdf(1) - stats.norm.cdf(-1))
    assert Z_95 == pytest.approx(stats.norm.ppf(0.975), rel=1e-15)
    assert COVERAGE_95 == 0.95 and NOMINAL_COVERAGE == {"coverage_68": COVERAGE_68, "coverage_95": COVERAGE_95}
    mu, sigma = np.zeros(4), np.ones(4)
    # 1.95 σ inside and 1.97 σ outside the 95% bars; ±2σ would count both inside
    assert coverage([1.95, -1.95, 1.97, -1.97], mu, sigma, COVERAGE_95).inside == 2
    assert coverage([0.999, -0.999, 1.001, -1.001], mu, sigma, COVERAGE_68).inside == 2
