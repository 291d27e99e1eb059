"""Tests of the per-window trend of time-ordered validation (DESIGN §6: "the per-window trend is reported")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from mlproj.analyse.summary import time_trend
from mlproj.analyse.types import ModelScores, TimeTrend


def test_a_drifting_skill_is_a_significant_slope_with_linregress_uncertainty():
    scores = [0.031, 0.034, 0.037, 0.041, 0.044]  # σ_NMAD grows window after window
    trend = time_trend(scores, confidence=0.9)
    fit = scipy_stats.linregress(np.arange(5), scores)
    assert trend.scores == scores
    assert trend.slope == pytest.approx(fit.slope) and trend.slope_se == pytest.approx(fit.stderr)
    assert trend.p_value == pytest.approx(fit.pvalue)
    assert trend.significant


def test_scores_without_a_drift_are_not_flagged():
    trend = time_trend([0.80, 0.83, 0.79, 0.82, 0.80], confidence=0.9)
    assert trend is not None and not trend.significant
    assert trend.p_value > 0.1


def test_too_few_windows_give_no_trend():
    assert time_trend([0.8, None, 0.9], confidence=0.9) is None
    assert time_trend([0.8, 0.9], confidence=0.9) is None


def test_missing_windows_keep_their_place_in_time():
    trend = time_trend([0.1, None, 0.3, 0.4, 0.5], confidence=0.9)
    fit = scipy_stats.linregress([0, 2, 3, 4], [0.1, 0.3, 0.4, 0.5])
    assert trend.slope == pytest.approx(fit.slope)
    assert trend.scores == [0.1, None, 0.3, 0.4, 0.5]


def test_constant_scores_have_no_drift_and_no_warning_from_numpy(recwarn):
    trend = time_trend([0.5] * 5, confidence=0.9)
    assert trend.slope == 0.0 and not trend.significant
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=3, max_size=12), st.sampled_from([0.8, 0.9, 0.95]))
def test_significance_is_the_two_sided_test_at_the_project_confidence(scores, confidence):
    trend = time_trend(scores, confidence=confidence)
    assert trend is not None
    if trend.p_value is not None:
        assert trend.significant == (trend.p_value < 1 - confidence)
    else:
        assert not trend.significant


def test_the_trend_survives_summary_json():
    trend = time_trend([0.031, 0.034, 0.037, 0.041, 0.044], confidence=0.9)
    scores = ModelScores(metrics={}, scores=[0.031, 0.034, 0.037, 0.041, 0.044], trend=trend)
    again = ModelScores.from_dict(scores.to_dict())
    assert again.trend == trend and isinstance(again.trend, TimeTrend)
    assert "trend" not in ModelScores(metrics={}, scores=[]).to_dict()  # K-fold runs: no key
