"""Power analysis (paper §2.2): "merging galaxies make up 1% or 0.01% of 10,000 galaxies —
can the method distinguish these two hypotheses?" The worked numbers come from the project's
issue; the oracles below are scipy's binomial written out independently of mlproj.science.power."""

import json

import numpy as np
import pytest
from scipy.stats import binom

from mlproj.science.metrics import tpr_at_fpr, wilson_interval
from mlproj.science.power import (
    OperatingPointPower,
    Rates,
    best_operating_point,
    power_analysis,
    required_negatives,
    resolution_note,
)

N, FRACS = 10_000, (0.01, 0.0001)  # the paper's example, 1% vs 0.01%


# ------------------------------------------------------------------ worked examples

def test_known_rates_give_exact_binomial_and_full_power():
    r = power_analysis(Rates(8, 10, 1, 100, known=True), N, FRACS)  # TPR 0.80, FPR 0.010
    assert r.expected_counts == pytest.approx((179.0, 100.79))
    assert r.null_index == 1 and r.passed and r.power == pytest.approx(1.0, abs=1e-3)
    # oracle: smallest c with P(S >= c) <= alpha under Binomial(N, p0)
    p0, p1 = 0.0001 * 0.8 + 0.9999 * 0.01, 0.01 * 0.8 + 0.99 * 0.01
    c = r.critical_count
    assert binom.sf(c - 1, N, p0) <= 0.05 < binom.sf(c - 2, N, p0)
    assert r.power == pytest.approx(binom.sf(c - 1, N, p1))
    assert "100.8 selected objects expected if f = 0.0001 and 179.0 if f = 0.01" in r.detail
    exact = Rates.exact(0.8, 0.01)
    assert exact.tpr == 0.8 and power_analysis(exact, N, FRACS).critical_count == c


@pytest.mark.parametrize("tp, power, tol, passed", [(400, 0.9, 0.03, True), (250, 0.54, 0.04, False)])
def test_measured_rates_cost_power(tp, power, tol, passed):
    # 20 FP of 2000 negatives: the FPR is uncertain by ~±25%, i.e. ±25 objects in 10,000 —
    # comparable to the 1% signal, so the measured rates lose much of the known-rate power.
    r = power_analysis(Rates(tp, 500, 20, 2000), N, FRACS)
    assert r.power == pytest.approx(power, abs=tol) and r.passed is passed
    assert r.pairwise == [{"a": 0.01, "b": 0.0001, "null": 0.0001,
                           "critical_count": r.critical_count, "power": r.power}]
    known = power_analysis(Rates(tp, 500, 20, 2000, known=True), N, FRACS)
    assert r.critical_count > known.critical_count and r.power < known.power


def test_critical_count_is_the_predictive_quantile():
    # oracle: the predictive pmf = mean over the same Beta draws of Binomial pmfs, summed.
    rates, draws, seed = Rates(400, 500, 20, 2000), 2000, 3
    r = power_analysis(rates, N, FRACS, draws=draws, seed=seed)
    rng = np.random.default_rng(seed)  # documented draw order: TPR, then FPR
    tpr, fpr = rng.beta(401, 101, draws), rng.beta(21, 1981, draws)
    grid = np.arange(N + 1)

    def tail(f, c):
        p = f * tpr + (1 - f) * fpr
        return binom.pmf(grid[c:c + 600, None], N, p[None, :]).mean(axis=1).sum()

    c = r.critical_count
    assert tail(0.0001, c) <= 0.05 < tail(0.0001, c - 1)
    assert r.power == pytest.approx(tail(0.01, c), abs=1e-6)


def test_order_of_fractions_and_more_than_two():
    a = power_analysis(Rates(400, 500, 20, 2000), N, (0.0001, 0.01))
    b = power_analysis(Rates(400, 500, 20, 2000), N, FRACS)
    assert (a.null_index, b.null_index) == (0, 1)
    assert (a.critical_count, a.power) == (b.critical_count, b.power)
    r = power_analysis(Rates(400, 500, 20, 2000), N, (0.01, 0.001, 0.0001))
    assert len(r.pairwise) == 3 and r.fractions[r.null_index] == 0.0001
    vs_null = [p["power"] for p in r.pairwise if p["null"] == 0.0001]
    assert r.power == min(vs_null) < 0.2 and not r.passed  # 0.1% vs 0.01% is the weak pair
    assert "closest alternative, f = 0.001" in r.detail


def test_inverted_classifier_and_hopeless_cases():
    # TPR < FPR: the larger fraction selects fewer objects, so it is the null.
    r = power_analysis(Rates(1, 100, 30, 100, known=True), 1000, (0.1, 0.5))
    assert r.null_index == 1 and r.expected_counts[1] < r.expected_counts[0]
    # too few objects: no count is rare enough under the null -> never reject, power 0
    r = power_analysis(Rates(5, 10, 1, 3), 5, (0.0, 0.0001), alpha=0.001)
    assert r.critical_count == 6 and r.power == 0.0 and "no count up to 5" in r.detail


def test_determinism_and_json():
    args = (Rates(400, 500, 20, 2000), N, FRACS)
    a, b = power_analysis(*args, seed=7), power_analysis(*args, seed=7)
    assert a == b and a.to_dict() == b.to_dict()
    assert power_analysis(*args, seed=8).power != a.power
    d = json.loads(json.dumps(a.to_dict()))
    assert d["fractions"] == [0.01, 0.0001] and d["critical_count"] == a.critical_count


@pytest.mark.parametrize("bad", [
    lambda: Rates(501, 500, 20, 2000), lambda: Rates(1, 0, 0, 10), lambda: Rates(1.5, 10, 0, 10),
    lambda: power_analysis(Rates(4, 5, 1, 10), N, (0.01,)),
    lambda: power_analysis(Rates(4, 5, 1, 10), N, (0.01, 1.5)),
    lambda: power_analysis(Rates(4, 5, 1, 10), 0, FRACS),
    lambda: power_analysis(Rates(4, 5, 1, 10), N, FRACS, alpha=0),
])
def test_invalid_input(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.fixture
def tails(monkeypatch):
    """The size of the draws of every binomial tail evaluated (bdtrc, the one costly step)."""
    from mlproj.science import power

    sizes: list[int] = []
    original = power.bdtrc
    monkeypatch.setattr(power, "bdtrc", lambda k, n, p: sizes.append(np.size(p)) or original(k, n, p))
    return sizes


def test_power_analysis_evaluates_few_vectorised_tails(tails):
    """Speed by construction, not by the clock: the critical count is found by galloping and
    bisection (a handful of tails, growing with log N, not a scan of counts), and each tail is
    one vectorised call over all posterior draws (no Python loop over draws)."""
    power_analysis(Rates(400, 500, 20, 2000), N, FRACS, draws=20000)
    assert 1 <= len(tails) <= 12 and set(tails) == {20000}
    tails.clear()
    power_analysis(Rates(400, 500, 20, 2000), 10**10, FRACS, draws=20000)
    assert len(tails) <= 40 and set(tails) == {20000}  # a scan would need ~10^5 counts here


# ------------------------------------------------------------------ operating point scan

def test_best_operating_point_beats_the_one_percent_cut(tails):
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    s = np.r_[rng.normal(2, 1, 2000), rng.normal(0, 1, 2000)]
    best, curve = best_operating_point(y, s, N, FRACS)
    # the cost is bounded by construction: at most max_points analyses of a few vectorised tails
    assert len(tails) <= 8 * 200 and set(tails) == {4000}
    assert isinstance(best, OperatingPointPower) and best in curve and len(curve) <= 200
    assert best.power == max(op.power for op in curve)
    assert np.all(np.diff([op.fpr for op in curve]) >= 0)
    near = min(curve, key=lambda op: abs(op.fpr - 0.01))
    assert best.power >= near.power
    # the conventional "TPR at FPR <= 1%" point, analysed on its own (MC noise ~0.01 at 4000 draws)
    op = tpr_at_fpr(y, s, 0.01)
    fixed = power_analysis(Rates(op.true_positives, 2000, op.false_positives, 2000), N, FRACS, draws=4000)
    assert best.power >= fixed.power - 0.02
    small_best, small = best_operating_point(y, s, N, FRACS, max_points=20)
    assert len(small) <= 20 and small_best in small
    assert (small_best, small) == best_operating_point(y, s, N, FRACS, max_points=20)  # seeded


# ------------------------------------------------------------------ how many negatives

def test_required_negatives():
    lo, hi = wilson_interval(20, 2000)
    assert (round(lo, 4), round(hi, 4)) == (0.0065, 0.0154)
    n = required_negatives(0.01, 0.005)
    assert 2000 <= n <= 2600 and n == 2271  # "FPR 1% needs ≈ 2,300 negatives for ±0.5%"

    def ok(m):
        return max(wilson_interval(0.01 * m, m)[1] - 0.01, 0.01 - wilson_interval(0.01 * m, m)[0]) <= 0.005

    assert ok(n) and not ok(n - 1)
    assert required_negatives(0.01, 0.0025) > 3 * n  # half the tolerance, ~4x the sample
    assert required_negatives(0.01, 0.005, confidence=0.68) < n
    assert required_negatives(0.5, 0.05) == pytest.approx(385, abs=5)  # textbook ±5% poll size


def test_resolution_note():
    note = resolution_note(10, 1000, 0.01, 0.005, "FPR")
    assert note == ("the FPR of 0.010 is measured on only 1000 negatives (95% Wilson interval "
                    "[0.0054, 0.0183]); resolving it to ±0.005 needs about 2300 negatives")
    assert resolution_note(100, 10000, 0.01, 0.005, "FPR") is None
    assert "positives" in resolution_note(40, 50, 0.8, 0.02, "TPR")
    assert resolution_note(0, 0, 0.01, 0.005, "FPR", unit="stars").endswith("stars")
