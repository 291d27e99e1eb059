"""Tests of mlproj.science.stats: hand-computed values, baycomp oracle constants, properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.science.stats import (
    Candidate,
    FinishLine,
    ScoreSummary,
    TestInterval,
    bootstrap_interval,
    combine_finish_lines,
    compare,
    corrected_se,
    corrected_se_from_sd,
    floor_rate,
    judge_finish_line,
    kfold_val_train_ratio,
    select_model,
    significant,
    summarize,
    wilson,
    wilson_test_interval,
)

NAN = float("nan")
HAND = [0.8, 0.82, 0.79, 0.81, 0.83, 0.8]   # k=3, r=2


# --------------------------------------------------------------------------- corrected SE / summary

def test_corrected_se_hand_example():
    # mean 0.80833..., sum of squared deviations 13/12000, var = 13/60000;
    # se^2 = var * (1/6 + 1/(3-1)) = 13/60000 * 2/3 = 13/90000 -> se = sqrt(13)/300.
    assert corrected_se(HAND, folds=3, repeats=2) == pytest.approx(math.sqrt(13) / 300, rel=1e-12)
    # explicit ratio overrides the K-fold default; ratio 0 gives the naive SE
    assert corrected_se(HAND, 3, 2, test_train_ratio=0.0) == pytest.approx(
        math.sqrt(13 / 60000 / 6), rel=1e-12)



def test_corrected_se_general_form():
    # se = sd * sqrt(1/J + n_val/n_train): an 80/20 hold-out repeated J = 10 times gives 1/10 + 1/4.
    assert corrected_se_from_sd(0.02, 10, 20 / 80) == pytest.approx(0.02 * math.sqrt(0.35), rel=1e-15)
    assert kfold_val_train_ratio(5) == 0.25  # a 5-fold training set is four validation folds


def test_summary_comparison_and_corrected_se_use_one_formula():
    """The K-fold correction is written once: all three give the same bits."""
    x = np.array(HAND)
    zeros = np.zeros_like(x)
    one = corrected_se_from_sd(float(np.std(x, ddof=1)), x.size, kfold_val_train_ratio(3))
    assert corrected_se(x, 3, 2) == one
    assert summarize(x, 3, 2).se == one
    assert compare(x, zeros, folds=3, repeats=2, margin=0.0, greater_is_better=False).se == one

def test_summarize_hand_example():
    s = summarize(HAND, folds=3, repeats=2)
    assert s.mean == pytest.approx(4.85 / 6)
    assert s.sd == pytest.approx(math.sqrt(13 / 60000))
    assert s.se == pytest.approx(math.sqrt(13) / 300)
    assert s.naive_se == pytest.approx(math.sqrt(13 / 60000) / math.sqrt(6))
    assert s.se > s.naive_se
    t = 2.015048372669157     # scipy.stats.t.ppf(0.95, 5)
    assert s.interval == pytest.approx((s.mean - t * s.se, s.mean + t * s.se), rel=1e-9)
    assert (s.n, s.folds, s.repeats, s.confidence) == (6, 3, 2, 0.90)


def test_summarize_cuts_the_interval_to_the_values_the_metric_can_take():
    rates = [0.0, 0.02, 0.0, 0.05, 0.0, 0.01]
    free = summarize(rates, folds=3, repeats=2)
    assert free.interval[0] < 0  # the t interval does not know that a rate cannot be negative
    cut = summarize(rates, folds=3, repeats=2, bounds=(0.0, 1.0))
    assert cut.interval == (0.0, free.interval[1])
    assert (cut.mean, cut.se) == (free.mean, free.se)


def test_summarize_drops_nan():
    s = summarize([0.8, float("nan"), 0.79, 0.81, 0.83, 0.8], folds=3, repeats=2)
    assert s.n == 5
    assert s.mean == pytest.approx(np.mean([0.8, 0.79, 0.81, 0.83, 0.8]))
    assert all(math.isfinite(v) for v in s.interval)


def test_summarize_too_few_scores_and_to_dict():
    s = summarize([0.8, np.nan, np.nan, np.nan], folds=2, repeats=2)
    assert s.n == 1 and s.mean == 0.8
    assert math.isnan(s.se) and all(math.isnan(v) for v in s.interval)
    d = s.to_dict()
    assert d["interval"] == [None, None] and d["se"] is None and d["mean"] == 0.8
    json.dumps(d, allow_nan=False)


def test_summarize_rejects_wrong_number_of_scores():
    with pytest.raises(ValueError):
        summarize(HAND, folds=5, repeats=2)


# --------------------------------------------------------------------------- compare

A = [0.80, 0.81, 0.79, 0.80, 0.82, 0.81]


def test_compare_orientation_greater_is_better():
    b = [x + 0.05 + 0.001 * i for i, x in enumerate(A)]
    c = compare(A, b, names=("old", "new"), folds=3, repeats=2, margin=0.01)
    assert (c.a, c.b) == ("old", "new")
    assert c.difference == pytest.approx(0.0525) and c.decision == "improved"
    assert c.p_better > 0.95 and c.interval[0] < c.difference < c.interval[1]
    rev = compare(b, A, names=("new", "old"), folds=3, repeats=2, margin=0.01)
    assert rev.difference == pytest.approx(-0.0525) and rev.decision == "worse"
    assert rev.p_worse == pytest.approx(c.p_better)


def test_compare_orientation_lower_is_better():
    # b has a *lower* rmse than a, so with greater_is_better=False b is better.
    b = [x - 0.05 - 0.001 * i for i, x in enumerate(A)]
    c = compare(A, b, folds=3, repeats=2, margin=0.01, greater_is_better=False)
    assert c.difference == pytest.approx(0.0525) and c.decision == "improved"
    c2 = compare(A, b, folds=3, repeats=2, margin=0.01, greater_is_better=True)
    assert c2.decision == "worse"


@pytest.mark.parametrize("shift, margin, expected", [
    (0.05, 0.01, "improved"),
    (0.0005, 0.02, "equivalent"),
    (-0.05, 0.01, "worse"),
    (0.01, 0.01, "undetermined"),
])
def test_each_decision_reachable(shift, margin, expected):
    noise = [0.002, -0.001, 0.0015, -0.002, 0.001, -0.0005]
    b = [x + shift + e for x, e in zip(A, noise)]
    c = compare(A, b, folds=3, repeats=2, margin=margin)
    assert c.decision == expected
    assert c.p_better + c.p_equivalent + c.p_worse == pytest.approx(1.0, abs=1e-12)


def test_point_mass():
    c = compare(A, [x + 0.02 for x in A], folds=3, repeats=2, margin=0.01)
    assert c.se == 0.0 and (c.p_better, c.p_equivalent, c.p_worse) == (1.0, 0.0, 0.0)
    assert c.decision == "improved" and c.interval == pytest.approx((0.02, 0.02))
    c = compare(A, [x - 0.02 for x in A], folds=3, repeats=2, margin=0.01)
    assert (c.p_better, c.p_equivalent, c.p_worse) == (0.0, 0.0, 1.0)
    c = compare(A, A, folds=3, repeats=2, margin=0.0)      # |mu| <= 0 counts as equivalent
    assert (c.p_better, c.p_equivalent, c.p_worse) == (0.0, 1.0, 0.0)
    assert c.decision == "equivalent"


def test_compare_nan_pairs_dropped_and_too_few():
    b = [x + 0.05 for x in A]
    b[0], a = float("nan"), list(A)
    a[1] = float("nan")
    c = compare(a, b, folds=3, repeats=2, margin=0.01)
    assert c.n == 4 and c.decision == "improved"
    c = compare([np.nan] * 5 + [0.8], [0.9] * 6, folds=3, repeats=2, margin=0.01)
    assert c.n == 1 and c.decision == "undetermined"
    assert all(math.isnan(p) for p in (c.p_better, c.p_equivalent, c.p_worse))
    json.dumps(c.to_dict(), allow_nan=False)


# Oracle cases from baycomp 1.0.3: two_on_single(x=a, y=b, rope, runs) computes
# diff = y - x and returns (p_left, p_rope, p_right) = (p_worse, p_equivalent, p_better)
# of b relative to a (greater is better); scale^2 = var(diff, ddof=1) * (1/n + 1/(n/runs - 1)).
ORACLE = [
    dict(a=[0.8013, 0.7987, 0.8064, 0.801, 0.7946, 0.8036, 0.813, 0.8095, 0.793, 0.7873],
         b=[0.8182, 0.8189, 0.8148, 0.8199, 0.8084, 0.8199, 0.8303, 0.8279, 0.8151, 0.8125],
         folds=5, repeats=2, rope=0.01,
         probs=(1.4481452697525745e-06, 0.009319958021004271, 0.990678593833726)),
    dict(a=[0.6974, 0.7273, 0.6867, 0.707, 0.7181, 0.7019, 0.6851, 0.6816, 0.6908],
         b=[0.6993, 0.7243, 0.6869, 0.7074, 0.7213, 0.7038, 0.6875, 0.68, 0.6913],
         folds=3, repeats=3, rope=0.01,
         probs=(6.32614016288708e-05, 0.9997815932884297, 0.00015514530994142905)),
    dict(a=[0.6235, 0.6448, 0.5622, 0.6454, 0.6404, 0.6234, 0.6079, 0.5906, 0.6437, 0.6588],
         b=[0.6675, 0.6791, 0.5773, 0.6292, 0.6483, 0.6445, 0.5901, 0.6065, 0.6603, 0.6807],
         folds=10, repeats=1, rope=0.005,
         probs=(0.029528326538200488, 0.13326854103637742, 0.8372031324254221)),
]


@pytest.mark.parametrize("case", ORACLE)
def test_baycomp_oracle_constants(case):
    c = compare(case["a"], case["b"], folds=case["folds"], repeats=case["repeats"], margin=case["rope"])
    assert (c.p_worse, c.p_equivalent, c.p_better) == pytest.approx(case["probs"], rel=1e-7, abs=1e-12)
    # lower-is-better with negated scores is the same comparison
    neg = compare([-x for x in case["a"]], [-x for x in case["b"]], folds=case["folds"],
                  repeats=case["repeats"], margin=case["rope"], greater_is_better=False)
    assert neg.p_better == pytest.approx(c.p_better, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("case", ORACLE)
def test_baycomp_live(case):
    baycomp = pytest.importorskip("baycomp")
    x, y = np.array(case["a"]), np.array(case["b"])
    probs = baycomp.two_on_single(x, y, rope=case["rope"], runs=case["repeats"])
    c = compare(x, y, folds=case["folds"], repeats=case["repeats"], margin=case["rope"])
    assert (c.p_worse, c.p_equivalent, c.p_better) == pytest.approx(probs, rel=1e-7, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 5).flatmap(lambda k: st.tuples(
    st.just(k), st.integers(1, 3).flatmap(lambda r: st.tuples(
        st.just(r),
        st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=k * r, max_size=k * r),
        st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=k * r, max_size=k * r)))),
), st.floats(0, 10), st.booleans())
def test_probabilities_sum_to_one(design, margin, greater):
    k, (r, a, b) = design
    c = compare(a, b, folds=k, repeats=r, margin=margin, greater_is_better=greater)
    total = c.p_better + c.p_equivalent + c.p_worse
    assert abs(total - 1.0) <= 1e-9
    assert min(c.p_better, c.p_equivalent, c.p_worse) >= 0.0


# --------------------------------------------------------------------------- selection

BASE = [0.90, 0.91, 0.89, 0.90, 0.92, 0.91]
NOISE = [0.001, -0.001, 0.0005, -0.0005, 0.001, -0.001]


def _shifted(shift):
    return [x + shift + e for x, e in zip(BASE, NOISE)]


def test_select_simpler_equivalent_model():
    cands = [Candidate("hgb", BASE, 2, 3.0), Candidate("logistic", _shifted(-0.001), 1, 0.2)]
    s = select_model(cands, folds=3, repeats=2, margin=0.01)
    assert s.best == "hgb" and s.selected == "logistic"
    assert s.equivalent_to_best == ["hgb", "logistic"]
    assert s.reason == "logistic is equivalent to hgb within \u00b10.01 and is simpler"
    assert [(c.a, c.b, c.decision) for c in s.comparisons] == [("hgb", "logistic", "equivalent")]
    json.dumps(s.to_dict(), allow_nan=False)


def test_select_best_when_nothing_equivalent():
    cands = [Candidate("logistic", _shifted(-0.05), 1, 0.2), Candidate("hgb", BASE, 2, 3.0)]
    s = select_model(cands, folds=3, repeats=2, margin=0.01)
    assert s.selected == s.best == "hgb" and s.equivalent_to_best == ["hgb"]
    assert s.comparisons[0].decision == "worse"
    assert s.reason.startswith("hgb has the best mean")


def test_select_ties_by_fit_time_then_name():
    cands = [Candidate("rf", BASE, 2, 5.0), Candidate("hgb", _shifted(-0.001), 2, 1.0),
             Candidate("xgb", _shifted(-0.001), 2, 1.0)]
    s = select_model(cands, folds=3, repeats=2, margin=0.01)
    assert s.best == "rf" and s.selected == "hgb" and "faster" in s.reason
    assert s.equivalent_to_best == ["rf", "hgb", "xgb"]


def test_select_lower_is_better_and_nan_never_best():
    cands = [Candidate("broken", [np.nan] * 6, 0, 0.0), Candidate("good", [0.1] * 6, 3, 1.0),
             Candidate("bad", [0.5] * 6, 1, 1.0)]
    s = select_model(cands, folds=3, repeats=2, margin=0.01, greater_is_better=False)
    assert s.best == s.selected == "good"
    assert {c.b: c.decision for c in s.comparisons} == {"broken": "undetermined", "bad": "worse"}


# --------------------------------------------------------------------------- finish line

def _summary(mean, half, confidence=0.90):
    return ScoreSummary(mean, NAN, half / 2, NAN, (mean - half, mean + half), 10, 5, 2, confidence)


@pytest.mark.parametrize("greater, mean, half, state", [
    (True, 0.91, 0.012, "reached"),        # lower end 0.898 >= 0.9 - 0.005
    (True, 0.85, 0.02, "not_reached"),     # upper end 0.87 < 0.9
    (True, 0.91, 0.03, "undetermined"),    # lower end 0.88 < 0.895
    (True, 0.89, 0.02, "undetermined"),    # upper end 0.91 >= 0.9
    (False, 0.89, 0.012, "reached"),       # rmse: upper end 0.902 <= 0.905
    (False, 0.95, 0.02, "not_reached"),    # lower end 0.93 > 0.9
    (False, 0.89, 0.03, "undetermined"),   # upper end 0.92 > 0.905
    (False, 0.91, 0.02, "undetermined"),   # lower end 0.89 <= 0.9
])
def test_finish_line_states(greater, mean, half, state):
    f = judge_finish_line(_summary(mean, half), threshold=0.9, margin=0.005, greater_is_better=greater)
    assert f.state == state and f.detail
    if state == "undetermined":
        assert f.extra_factor > 1
    else:
        assert f.extra_factor is None
    json.dumps(f.to_dict(), allow_nan=False)


def test_finish_line_extra_factor_closed_form():
    f = judge_finish_line(_summary(0.91, 0.03), threshold=0.9, margin=0.005)
    assert f.extra_factor == pytest.approx((0.03 / 0.015) ** 2)   # needs half-width 0.015
    f = judge_finish_line(_summary(0.89, 0.02), threshold=0.9, margin=0.005)
    assert f.extra_factor == pytest.approx(16.0)  # upper end below 0.895 (t - δ, symmetric rule): half-width 0.005
    f = judge_finish_line(_summary(0.9, 0.02), threshold=0.9, margin=0.0)
    assert f.state == "undetermined" and math.isinf(f.extra_factor)
    # shrinking the half-width by sqrt(factor) indeed resolves the state
    g = judge_finish_line(_summary(0.91, 0.03 / 2 * 0.999), threshold=0.9, margin=0.005)
    assert g.state == "reached"


def test_finish_line_from_real_summary_and_nan():
    s = summarize(HAND, 3, 2)
    assert judge_finish_line(s, threshold=0.7, margin=0.01).state == "reached"
    f = judge_finish_line(summarize([0.8, np.nan, np.nan, np.nan], 2, 2), 0.7, 0.01)
    assert f.state == "undetermined" and f.extra_factor is None


def test_not_reached_uses_the_margin_too():
    # [0.883, 0.897]: below the threshold 0.9 but not below 0.9 - 0.005: it cannot be told apart
    # from a score the margin accepts, so it is undetermined, not "not reached".
    f = judge_finish_line(_summary(0.89, 0.007), threshold=0.9, margin=0.005)
    assert f.state == "undetermined" and "straddles 0.9 − 0.005" in f.detail
    # [0.8955, 0.8965]: wholly within the margin below the threshold: reached, whatever the mean
    g = judge_finish_line(_summary(0.896, 0.0005), threshold=0.9, margin=0.005)
    assert g.state == "reached" and "lies above 0.9 − 0.005" in g.detail
    h = judge_finish_line(_summary(0.904, 0.0005), threshold=0.9, margin=0.005, greater_is_better=False)
    assert h.state == "reached" and "lies below 0.9 + 0.005" in h.detail


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 0.3), st.floats(0.0, 1.0), st.floats(0.0, 0.05), st.booleans())
def test_finish_line_rule_is_symmetric_and_mirrored(mean, half, threshold, margin, greater):
    half = max(half, 1e-6)
    lo, hi = mean - half, mean + half
    f = judge_finish_line(_summary(mean, half), threshold, margin, greater_is_better=greater)
    s = 1 if greater else -1
    b = s * (threshold - s * margin)
    low, high = min(s * lo, s * hi), max(s * lo, s * hi)
    expected = "reached" if low >= b else "not_reached" if high < b else "undetermined"
    assert f.state == expected
    # mirroring: the lower-is-better judgement of the negated scores is the same
    mirrored = judge_finish_line(_summary(-mean, half), -threshold, margin, greater_is_better=not greater)
    assert mirrored.state == f.state
    if f.state == "undetermined" and f.extra_factor is not None and math.isfinite(f.extra_factor):
        # shrinking the half-width by sqrt(factor) (a little more) decides it
        root = math.sqrt(f.extra_factor * (1 + 1e-6))
        shrunk = judge_finish_line(_summary(mean, half / root), threshold, margin, greater_is_better=greater)
        assert shrunk.state != "undetermined"


def test_zero_spread_of_a_non_rate_is_undetermined_never_an_interval():
    s = summarize([0.998] * 10, 5, 2)
    assert s.sd == 0 and s.interval[0] == s.interval[1] == pytest.approx(0.998)
    f = judge_finish_line(s, threshold=0.95, margin=0.005)
    assert f.state == "undetermined" and f.extra_factor is None
    assert "all 10 cross-validated fold scores are 0.998 (zero spread)" in f.detail


def test_wilson_agrees_with_scipy():
    from scipy.stats import binomtest

    for k, n, confidence in [(66, 66, 0.95), (17, 17, 0.95), (0, 23, 0.9), (17, 1000, 0.9), (3, 7, 0.99)]:
        expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        assert wilson(k, n, confidence) == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert wilson(66, 66, 0.95)[0] == pytest.approx(0.945, abs=5e-4)   # the example


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.floats(0, 1), st.floats(0.5, 0.999))
def test_wilson_agrees_with_scipy_everywhere(n, fraction, confidence):
    from scipy.stats import binomtest

    k = int(round(fraction * n))
    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert wilson(k, n, confidence) == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_rates_get_a_floor_from_their_counts():
    # 66 development galaxies, every fold finds all of them: the folds agree, the counts are few
    s = summarize([1.0] * 10, 5, 2)
    floored = floor_rate(s, 66, 66)
    assert floored.method == "Wilson" and (floored.successes, floored.trials) == (66, 66)
    assert floored.interval == pytest.approx(wilson(66, 66, 0.9))
    f = judge_finish_line(floored, threshold=0.99, margin=0.0)
    assert f.state == "undetermined" and "(Wilson, 66/66)" in f.detail and f.extra_factor > 1
    # the factor is the growth of the counts that would decide: 66·f of 66·f found gives lo = 0.99
    z = 1.6448536269514722
    assert f.extra_factor == pytest.approx(z * z * 0.99 / 0.01 / 66, rel=1e-6)
    # a corrected-t interval wider than the Wilson one stays, with the counts recorded
    wide = summarize(HAND, 3, 2)
    kept = floor_rate(wide, 8000, 10000)
    assert kept.interval == wide.interval and kept.method == "corrected t" and kept.trials == 10000


def test_val_train_ratio_reaches_every_statistic():
    a, b = HAND, [x + 0.01 for x in HAND[::-1]]
    s = summarize(a, 3, 2, val_train_ratio=2.0)
    assert s.se == pytest.approx(corrected_se_from_sd(np.std(a, ddof=1), 6, 2.0))
    assert summarize(a, 3, 2).se == pytest.approx(corrected_se_from_sd(np.std(a, ddof=1), 6, 0.5))
    c = compare(a, b, folds=3, repeats=2, margin=0.0, val_train_ratio=2.0)
    d = np.asarray(b) - np.asarray(a)
    assert c.se == pytest.approx(corrected_se_from_sd(np.std(d, ddof=1), 6, 2.0))
    sel = select_model([Candidate("x", a, 1, 1.0), Candidate("y", b, 1, 1.0)], folds=3, repeats=2, margin=0.0,
                       val_train_ratio=2.0)
    assert sel.comparisons[0].se == pytest.approx(c.se)


def _test_part(state: str, factor=None) -> FinishLine:
    return FinishLine(state, 0.9, 0.0, 0.9, (0.8, 1.0), f"the test interval: {state}", factor, "test")


@pytest.mark.parametrize("cv, test, expected", [
    ("reached", "reached", "reached"),
    ("reached", "undetermined", "undetermined"),
    ("undetermined", "reached", "undetermined"),
    ("reached", "not_reached", "not_reached"),
    ("not_reached", "reached", "not_reached"),
    ("undetermined", "not_reached", "not_reached"),
    ("undetermined", "undetermined", "undetermined"),
])
def test_the_finish_line_needs_both_intervals(cv, test, expected):
    cross = FinishLine(cv, 0.9, 0.0, 0.9, (0.8, 1.0), f"the cross-validated interval: {cv}", 2.0 if cv ==
                       "undetermined" else None)
    both = combine_finish_lines(cross, _test_part(test, 3.0 if test == "undetermined" else None))
    assert both.state == expected and both.basis == "both"
    assert both.cross_validated == cross and both.test.state == test
    deciding = [name for name, state in (("cross-validated", cv), ("test", test)) if state == expected]
    assert both.detail.startswith(f"the {deciding[0]} interval")  # the reason names which decided
    if expected == "undetermined":
        assert both.extra_factor == max(f for f, st_ in ((2.0, cv), (3.0, test)) if st_ == "undetermined")
    json.dumps(both.to_dict(), allow_nan=False)
    assert combine_finish_lines(cross, None) == cross


def test_test_interval_of_a_rate_is_wilson_of_the_test_counts():
    t = wilson_test_interval(17, 17, 30, 0.95)
    assert t.method == "Wilson" and t.value == 1.0 and t.interval == pytest.approx(wilson(17, 17, 0.95))
    assert t.interval[0] == pytest.approx(0.816, abs=5e-4)  # the example: 17/17 gives [0.816, 1]
    f = judge_finish_line(t, 0.99, 0.0)
    assert f.state == "undetermined" and f.basis == "test" and "more test objects would decide" in f.detail
    assert wilson_test_interval(0, 0, 30, 0.9).method == "none"


def test_bootstrap_interval_agrees_with_scipy():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    x = rng.exponential(size=200)
    got = bootstrap_interval(lambda rows: float(np.mean(x[rows])), 200, 0.9, seed=7)
    expected = bootstrap((np.arange(200),), lambda rows: float(np.mean(x[rows.astype(int)])), n_resamples=1999,
                         vectorized=False, confidence_level=0.9, method="BCa", rng=np.random.default_rng(7))
    assert got.method == "bootstrap BCa" and got.value == pytest.approx(x.mean())
    assert got.interval == pytest.approx((expected.confidence_interval.low, expected.confidence_interval.high))
    assert got == bootstrap_interval(lambda rows: float(np.mean(x[rows])), 200, 0.9, seed=7)  # deterministic
    lo, hi = got.interval
    assert lo < x.mean() < hi


def test_bootstrap_interval_of_a_degenerate_statistic_says_so():
    constant = bootstrap_interval(lambda rows: 1.0, 30, 0.9)
    assert constant.interval == (1.0, 1.0) and "zero spread" in constant.detail
    f = judge_finish_line(constant, 0.95, 0.0)
    assert f.state == "undetermined" and "zero spread" in f.detail
    # undefined on most resamples (e.g. an AUC of a test set with one positive): no interval
    rare = np.zeros(30, bool)
    rare[0] = True
    undefined = bootstrap_interval(lambda rows: 1.0 if rare[rows].any() else float("nan"), 30, 0.9)
    assert undefined.method == "none" and math.isnan(undefined.interval[0])
    assert judge_finish_line(undefined, 0.9, 0.0).state == "undetermined"
    # undefined on a few resamples: BCa gives NaN, the percentile interval of the rest stands in
    x = np.random.default_rng(1).normal(size=40)
    rare = np.zeros(40, bool)
    rare[:6] = True
    partly = bootstrap_interval(lambda rows: float(np.mean(x[rows])) if rare[rows].any() else float("nan"), 40, 0.9)
    assert partly.method in ("bootstrap BCa", "bootstrap percentile") and all(map(math.isfinite, partly.interval))
    assert isinstance(partly, TestInterval)


# --------------------------------------------------------------------------- significant

@pytest.mark.parametrize("value, unc, text", [
    (0.91234, 0.01087, "0.912 \u00b1 0.011"),
    (123.456, 2.1, "123.5 \u00b1 2.1"),
    (3456.0, 1234.0, "3456 \u00b1 1234"),
    (0.5, 0.0996, "0.50 \u00b1 0.10"),
    (-0.0001, 0.012, "0.000 \u00b1 0.012"),
    (0.91234, 0.0, "0.9123"),
    (0.91234, NAN, "0.9123"),
    (NAN, 0.01, "nan"),
])
def test_significant(value, unc, text):
    assert significant(value, unc) == text
