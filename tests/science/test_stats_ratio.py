"""Tests of the general Nadeau-Bengio correction in mlproj.science.stats: `val_train_ratio`.

K-fold has n_val/n_train = 1/(k-1); other designs (equal-size sliding time windows, DESIGN §6)
have their own ratio, and `summarize`, `compare` and `select_model` must use it. None keeps
K-fold, which baycomp.two_on_single is the oracle of.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from mlproj.science.stats import Candidate, compare, select_model, summarize

scores = st.lists(st.floats(-100, 100, allow_nan=False), min_size=5, max_size=5)
ratios = st.floats(0.01, 5.0)


@settings(max_examples=200, deadline=None)
@given(scores, ratios, st.sampled_from([0.8, 0.9, 0.95]))
def test_summarize_uses_the_general_correction(x, ratio, confidence):
    sd = float(np.std(x, ddof=1))
    assume(sd > 1e-6)
    s = summarize(x, folds=5, repeats=1, confidence=confidence, val_train_ratio=ratio)
    se = sd * math.sqrt(1 / 5 + ratio)
    assert s.se == pytest.approx(se, rel=1e-12)
    half = scipy_stats.t.ppf(0.5 + confidence / 2, 4) * se
    assert s.interval == pytest.approx((np.mean(x) - half, np.mean(x) + half), rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(scores, scores, ratios, st.floats(0, 5))
def test_compare_is_the_corrected_t_posterior_with_the_given_ratio(a, b, ratio, margin):
    d = np.array(b) - np.array(a)
    sd = float(np.std(d, ddof=1))
    assume(sd > 1e-6)
    c = compare(a, b, folds=5, repeats=1, margin=margin, val_train_ratio=ratio)
    scale = sd * math.sqrt(1 / 5 + ratio)
    posterior = scipy_stats.t(4, loc=d.mean(), scale=scale)
    assert c.se == pytest.approx(scale, rel=1e-12)
    assert c.p_better == pytest.approx(posterior.sf(margin), abs=1e-9)
    assert c.p_worse == pytest.approx(posterior.cdf(-margin), abs=1e-9)


def test_none_is_k_fold_and_k_fold_is_unchanged():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.01, 10), rng.normal(0.81, 0.01, 10)
    assert summarize(a, 5, 2) == summarize(a, 5, 2, val_train_ratio=None) == summarize(a, 5, 2,
                                                                                      val_train_ratio=1 / 4)
    assert compare(a, b, folds=5, repeats=2, margin=0.005) == compare(a, b, folds=5, repeats=2, margin=0.005,
                                                                     val_train_ratio=1 / 4)
    baycomp = pytest.importorskip("baycomp")
    probs = baycomp.two_on_single(a, b, rope=0.005, runs=2)
    c = compare(a, b, folds=5, repeats=2, margin=0.005, val_train_ratio=None)
    assert (c.p_worse, c.p_equivalent, c.p_better) == pytest.approx(probs, rel=1e-7, abs=1e-12)


def test_a_larger_ratio_widens_the_interval_and_weakens_a_decision():
    """Sliding time windows (n_val ≈ n_train) carry more correlation than 5-fold's 1/4."""
    a = [0.80, 0.81, 0.79, 0.80, 0.82]
    b = [0.83, 0.835, 0.82, 0.826, 0.84]
    k_fold = compare(a, b, folds=5, repeats=1, margin=0.005)
    windows = compare(a, b, folds=5, repeats=1, margin=0.005, val_train_ratio=1.0)
    assert windows.se > k_fold.se and windows.p_better < k_fold.p_better
    assert summarize(a, 5, 1, val_train_ratio=1.0).se > summarize(a, 5, 1).se


def test_select_model_compares_with_the_given_ratio():
    a = Candidate("simple", [0.80, 0.81, 0.79, 0.80, 0.82], simplicity=1, fit_seconds=1.0)
    b = Candidate("complex", [0.83, 0.835, 0.82, 0.826, 0.84], simplicity=2, fit_seconds=2.0)
    chosen = select_model([a, b], folds=5, repeats=1, margin=0.005, val_train_ratio=1.0)
    direct = compare(b.scores, a.scores, names=("complex", "simple"), folds=5, repeats=1, margin=0.005,
                     val_train_ratio=1.0)
    assert chosen.comparisons == [direct]
    assert chosen.comparisons != select_model([a, b], folds=5, repeats=1, margin=0.005).comparisons


def test_a_negative_ratio_is_a_programming_error():
    with pytest.raises(ValueError, match="val_train_ratio"):
        summarize([0.1, 0.2, 0.3, 0.4, 0.5], 5, 1, val_train_ratio=-0.1)
    with pytest.raises(ValueError, match="val_train_ratio"):
        compare([0.1] * 5, [0.2, 0.1, 0.3, 0.2, 0.1], folds=5, repeats=1, margin=0.0, val_train_ratio=-1.0)
