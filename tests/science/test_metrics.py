import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.errors import ConfigError
from mlproj.science.metrics import (
    METRICS,
    compute,
    fpr_at_fnr,
    metric_info,
    tpr_at_fpr,
    validate_params,
    wilson_interval,
)

ROOT = Path(__file__).resolve().parents[2]

# 10 objects, 5 positives / 5 negatives, with tied scores (0.8 and 0.6 each hold a P and an N).
# Cumulative (TP, FP) when selecting score >= t:
#   t=inf (0,0)  .9 (1,0)  .8 (2,1)  .7 (3,1)  .6 (4,2)  .5 (4,3)  .4 (4,4)  .3 (5,4)  .1 (5,5)
SCORE = np.array([0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.5, 0.4, 0.3, 0.1])
LABEL = np.array([1, 1, 0, 1, 1, 0, 0, 0, 1, 0], dtype=bool)
PROBA = np.column_stack([1 - SCORE, SCORE])


@pytest.mark.parametrize("alpha, tpr, thr, tp, fp", [
    (0.01, 0.2, 0.9, 1, 0),
    (0.3, 0.6, 0.7, 3, 1),
    (0.4, 0.8, 0.6, 4, 2),   # boundary: FPR exactly alpha is allowed
    (0.7, 0.8, 0.6, 4, 2),   # TPR 0.8 reached at FP=2 and 3: ties -> smallest FPR
    (0.99, 1.0, 0.3, 5, 4),
])
def test_tpr_at_fpr_by_hand(alpha, tpr, thr, tp, fp):
    op = tpr_at_fpr(LABEL, SCORE, alpha)
    assert op.value == pytest.approx(tpr) and op.threshold == pytest.approx(thr)
    assert (op.true_positives, op.false_positives, op.n_positive, op.n_negative) == (tp, fp, 5, 5)
    assert op.achieved_fpr == pytest.approx(fp / 5) and op.achieved_fnr == pytest.approx(1 - tp / 5)
    assert compute("tpr_at_fpr", {"fpr": alpha}, LABEL.astype(int), PROBA, positive=1) \
        == pytest.approx(tpr)


@pytest.mark.parametrize("beta, fpr, thr, tp, fp", [
    (0.05, 0.8, 0.3, 5, 4),
    (0.2, 0.4, 0.6, 4, 2),   # boundary: FNR exactly beta is allowed
    (0.5, 0.2, 0.7, 3, 1),
    (0.7, 0.2, 0.7, 3, 1),   # FPR 0.2 at TP=2 (t=.8) and TP=3 (t=.7): ties -> smaller FNR
])
def test_fpr_at_fnr_by_hand(beta, fpr, thr, tp, fp):
    op = fpr_at_fnr(LABEL, SCORE, beta)
    assert op.value == pytest.approx(fpr) and op.threshold == pytest.approx(thr)
    assert (op.true_positives, op.false_positives) == (tp, fp)
    assert compute("fpr_at_fnr", {"fnr": beta}, LABEL.astype(int), PROBA, positive=1) \
        == pytest.approx(fpr)


def test_tpr_at_fpr_select_nothing():
    op = tpr_at_fpr(np.array([False, True]), np.array([0.9, 0.1]), 0.1)
    assert op.value == 0 and op.threshold == math.inf and op.true_positives == 0


def test_rate_boundary_is_exact_in_counts():
    # 1 - 95/100 > 0.05 in floating point; FNR = 5/100 must still count as <= 0.05
    is_pos = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    score = np.r_[np.linspace(1, 0.5, 100), np.linspace(0.49, 0, 100)]
    score[95:100] = 0.0  # the 5 worst positives tie with the lowest negative
    op = fpr_at_fnr(is_pos, score, 0.05)
    assert op.true_positives == 95 and op.value == 0.0


def test_random_score_tpr_equals_fpr():
    rng = np.random.default_rng(0)
    is_pos = rng.random(200_000) < 0.5
    assert tpr_at_fpr(is_pos, rng.random(200_000), 0.01).value == pytest.approx(0.01, abs=0.003)


def test_completeness_purity():
    y = LABEL.astype(int)
    assert compute("completeness", {"threshold": 0.6}, y, PROBA, positive=1) == pytest.approx(0.8)
    assert compute("purity", {"threshold": 0.6}, y, PROBA, positive=1) == pytest.approx(4 / 6)
    assert compute("completeness", {"threshold": 0.95}, y, PROBA, positive=1) == 0
    assert math.isnan(compute("purity", {"threshold": 0.95}, y, PROBA, positive=1))
    # defaults (threshold 0.5): selected = first 7 -> TP 4, FP 3
    assert compute("purity", {}, y, PROBA, positive=1) == pytest.approx(4 / 7)


# Δ = ŷ - y = [.1, -.1, .3, 0, 1];  Δ/(1+y) = [.1, -.05, .1, 0, .5]
Y_TRUE = np.array([0.0, 1.0, 2.0, 0.5, 1.0])
Y_PRED = np.array([0.1, 0.9, 2.3, 0.5, 2.0])
K_NMAD = 1.482602218505602  # 1 / Phi^-1(3/4)


def test_sigma_nmad_and_outliers_by_hand():
    def c(name, **p):
        return compute(name, validate_params(name, p, "regression"), Y_TRUE, Y_PRED)
    # |Δ - median Δ|: abs -> [0, .2, .2, .1, .9] (median .2); rel -> [0, .15, 0, .1, .4] (median .1)
    assert c("sigma_nmad", relative=False) == pytest.approx(K_NMAD * 0.2)
    assert c("sigma_nmad") == pytest.approx(K_NMAD * 0.1)
    assert c("outlier_fraction", relative=False) == pytest.approx(0.4)
    assert c("outlier_fraction") == pytest.approx(0.2)
    assert c("outlier_fraction", threshold=0.05) == pytest.approx(0.6)


def test_wilson():
    lo, hi = wilson_interval(20, 2000)
    assert lo == pytest.approx(0.0065, abs=1e-4) and hi == pytest.approx(0.0154, abs=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1 and lo == pytest.approx(1 - 0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_sklearn_wrappers_agree():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300)
    def cl(name):
        return compute(name, {}, y, proba, positive=2, classes=["a", "b", "c"])
    assert cl("accuracy") == pytest.approx(skm.accuracy_score(y, proba.argmax(1)))
    assert cl("balanced_accuracy") == pytest.approx(skm.balanced_accuracy_score(y, proba.argmax(1)))
    assert cl("log_loss") == pytest.approx(skm.log_loss(y, proba))
    assert cl("roc_auc") == pytest.approx(skm.roc_auc_score(y == 2, proba[:, 2]))
    assert cl("brier") == pytest.approx(np.mean(((y == 2) - proba[:, 2]) ** 2))
    t, p = rng.normal(size=100), rng.normal(size=100)
    def rg(name):
        return compute(name, {}, t, p)
    assert rg("rmse") == pytest.approx(np.sqrt(np.mean((t - p) ** 2)))
    assert rg("mae") == pytest.approx(np.mean(np.abs(t - p)))
    assert rg("median_abs_error") == pytest.approx(np.median(np.abs(t - p)))
    assert rg("max_abs_error") == pytest.approx(np.max(np.abs(t - p)))
    assert rg("r2") == pytest.approx(skm.r2_score(t, p))


def test_log_loss_uses_all_labels():
    # class 2 absent from this fold must not shrink the label set
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    assert compute("log_loss", {}, np.array([0, 1]), proba) == pytest.approx(-np.log(0.7))


@pytest.mark.parametrize("name", [n for n, m in METRICS.items() if m.binary])
def test_one_class_fold_is_nan(name):
    y = np.zeros(10, int)
    proba = np.column_stack([np.linspace(0, 1, 10), 1 - np.linspace(0, 1, 10)])
    assert math.isnan(compute(name, METRICS[name].params, y, proba, positive=1))


def test_positive_required_for_multiclass():
    with pytest.raises(ValueError):
        compute("roc_auc", {}, np.array([0, 1, 2]), np.eye(3))


def test_metric_info_errors():
    assert metric_info("tpr_at_fpr", "classification").binary
    with pytest.raises(ConfigError, match="tpr_at_fpr"):
        metric_info("tpr_at_fp", "classification")
    with pytest.raises(ConfigError, match="regression metric") as e:
        metric_info("rmse", "classification")
    assert "roc_auc" in str(e.value)  # lists the valid classification metrics


def test_validate_params():
    assert validate_params("tpr_at_fpr", {}, "classification") == {"fpr": 0.01}
    assert validate_params("outlier_fraction", {"threshold": 1}, "regression") == \
        {"threshold": 1.0, "relative": True}
    with pytest.raises(ConfigError, match="fpr"):
        validate_params("tpr_at_fpr", {"fpr": 2}, "classification")
    with pytest.raises(ConfigError, match="'alpha'.*fpr"):
        validate_params("tpr_at_fpr", {"alpha": 0.1}, "classification")
    with pytest.raises(ConfigError, match="no parameters"):
        validate_params("rmse", {"x": 1}, "regression")
    for bad in [("fnr", 0), ("fnr", True), ("fnr", "5%")]:
        with pytest.raises(ConfigError):
            validate_params("fpr_at_fnr", dict([bad]), "classification")
    with pytest.raises(ConfigError):
        validate_params("purity", {"threshold": 1.5}, "classification")
    with pytest.raises(ConfigError):
        validate_params("outlier_fraction", {"threshold": 0}, "regression")
    with pytest.raises(ConfigError):
        validate_params("sigma_nmad", {"relative": "yes"}, "regression")


def test_import_does_not_load_sklearn():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-c",
                    "import mlproj.science.metrics, sys; assert 'sklearn' not in sys.modules"],
                   cwd=ROOT, env=env, check=True)


# ------------------------------------------------------------------ target domains (issue 22.8)

def test_relative_metrics_need_one_plus_the_target_positive():
    from mlproj.science.metrics import target_domain

    for name in ("sigma_nmad", "outlier_fraction"):
        domain = target_domain(name, validate_params(name, {}, "regression"))  # relative by default
        assert domain is not None and domain.condition == "1 + y > 0"
        np.testing.assert_array_equal(domain.contains(np.array([-1.0, -2.0, -0.5, 0.0, 3.0, np.nan])),
                                      [False, False, True, True, True, True])  # NaN: missing, not out of it
        assert target_domain(name, validate_params(name, {"relative": False}, "regression")) is None
    for name in ("rmse", "mae", "median_abs_error", "max_abs_error", "r2", "roc_auc", "tpr_at_fpr"):
        assert target_domain(name, {}) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.999, 10.0, allow_nan=False), min_size=3, max_size=50), st.integers(0, 2**32 - 1))
def test_inside_the_domain_relative_metrics_are_finite_and_quiet(targets, seed):
    import warnings

    from mlproj.science.metrics import target_domain

    y = np.asarray(targets)
    assert target_domain("sigma_nmad", {"relative": True}).contains(y).all()
    predictions = y + np.random.default_rng(seed).normal(scale=0.05, size=len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning for any target in the domain
        for name in ("sigma_nmad", "outlier_fraction"):
            assert math.isfinite(compute(name, {"relative": True}, y, predictions))
