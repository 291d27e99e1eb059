"""Tests of mlproj.science.batch_metrics: every batched metric gives metrics.compute's number, row by row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.science import batch_metrics, metrics

CLASSIFICATION = ["roc_auc", "brier"]
REGRESSION = [("rmse", {}), ("mae", {}), ("median_abs_error", {}), ("max_abs_error", {}), ("r2", {}),
              ("sigma_nmad", {"relative": True}), ("sigma_nmad", {"relative": False})]


def _same(batched: float, single: float) -> bool:
    return (math.isnan(batched) and math.isnan(single)) or batched == pytest.approx(single, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.sampled_from(CLASSIFICATION), st.booleans())
def test_batched_classification_metrics_agree_with_compute(seed, n, name, ties):
    rng = np.random.default_rng(seed)
    is_positive = rng.random((5, n)) < rng.uniform(0.05, 0.95)
    score = rng.integers(0, 4, (5, n)) / 4 if ties else rng.random((5, n))  # ties: a coarse score
    got = batch_metrics.batched(name, {})(is_positive, score)
    for row in range(5):
        single = metrics.compute(name, {}, is_positive[row].astype(int),
                                 np.c_[1 - score[row], score[row]], positive=1)
        assert _same(got[row], single)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.sampled_from(REGRESSION))
def test_batched_regression_metrics_agree_with_compute(seed, n, metric):
    name, params = metric
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 3, (4, n))
    prediction = y + rng.normal(0, 0.2, (4, n))
    full = metrics.validate_params(name, params, "regression")
    got = batch_metrics.batched(name, full)(y, prediction)
    for row in range(4):
        assert _same(got[row], metrics.compute(name, full, y[row], prediction[row]))


def test_metrics_without_a_batched_form_are_scored_one_by_one():
    assert batch_metrics.batched("log_loss", {}) is None
    assert batch_metrics.batched("balanced_accuracy", {}) is None
