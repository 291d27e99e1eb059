import math

import numpy as np
import pytest

from mlproj.science import shift as sh


def test_weights_are_normalised_to_mean_one_and_clipped():
    p = np.r_[np.full(98, 0.5), 0.999999, 0.9999999]
    w, clipped = sh.importance_weights(p, 100, 100)
    assert w.mean() == pytest.approx(1.0)
    assert clipped == 2
    assert w.max() == pytest.approx(sh.WEIGHT_CAP, rel=1e-6)  # at the cap of the final mean
    assert w[-1] == pytest.approx(w[-2]) and w[0] == pytest.approx(w[97])


def test_weights_follow_the_density_ratio():
    # p/(1-p) = 3 vs 1/3 with equal sample sizes: the ratio of the two weights is 9
    w, clipped = sh.importance_weights(np.array([0.75, 0.25]), 10, 10)
    assert clipped == 0 and w[0] / w[1] == pytest.approx(9.0)


def test_effective_sample_size():
    assert sh.effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert sh.effective_sample_size(np.r_[1.0, np.zeros(9)]) == pytest.approx(1)
    w = np.r_[np.ones(10), np.full(10, 3.0)]
    assert sh.effective_sample_size(w) == pytest.approx(40 ** 2 / (10 + 90))


def test_ess_warning_below_ten_percent_or_hundred():
    assert sh.ess_warning(500, 1000) is None
    assert "effective sample size of 50" in sh.ess_warning(50, 1000)
    assert sh.ess_warning(90, 200) is not None  # 45% but fewer than 100


def test_out_of_range_fractions():
    X_lab = np.array([[0.0, 10.0], [1.0, 20.0], [np.nan, 15.0]])
    X_app = np.array([[0.5, 25.0], [2.0, 15.0], [np.nan, 5.0], [-1.0, np.nan]])
    per_feature, any_outside = sh.out_of_range(X_lab, X_app)
    assert per_feature.tolist() == [0.5, 0.5]  # a missing value is not outside
    assert any_outside == 1.0


def test_single_feature_auc_says_which_way():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (300, 2)), rng.normal(0, 1, (300, 2))
    b[:, 0] += 2
    auc = sh.single_feature_auc(a, b)
    assert auc[0] > 0.9 and abs(auc[1] - 0.5) < 0.1


def test_domain_classifier_same_distribution_covers_half():
    rng = np.random.default_rng(1)
    fit = sh.domain_classifier(rng.normal(size=(600, 3)), rng.normal(size=(600, 3)), seed=0)
    assert fit.interval[0] <= 0.5 <= fit.interval[1]
    assert len(fit.labelled) == 600 and len(fit.application) == 600


def test_domain_classifier_sees_a_shift():
    rng = np.random.default_rng(2)
    app = rng.normal(size=(400, 3))
    app[:, 1] += 1.5
    fit = sh.domain_classifier(rng.normal(size=(400, 3)), app, seed=0)
    assert fit.interval[0] > 0.7
    assert fit.application.mean() > fit.labelled.mean()


def _rmse_score(y, pred):
    return lambda rows: float(np.sqrt(np.mean((pred[rows] - y[rows]) ** 2)))


def test_weighted_metric_with_unit_weights_is_the_unweighted_one():
    rng = np.random.default_rng(3)
    y = rng.normal(size=800)
    pred = y + rng.normal(scale=0.5, size=800)
    score = _rmse_score(y, pred)
    found = sh.weighted_metric(score, np.ones(800), confidence=0.9, seed=0)
    assert found.interval[0] <= score(np.arange(800)) <= found.interval[1]
    assert found.method == "weighted bootstrap"


def test_weighted_metric_follows_the_weights():
    # errors grow with x; weights that favour large x must give a larger RMSE
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 2000)
    y = np.zeros(2000)
    pred = rng.normal(scale=0.1 + x, size=2000)
    score = _rmse_score(y, pred)
    plain = sh.weighted_metric(score, np.ones(2000), seed=0)
    tilted = sh.weighted_metric(score, np.exp(3 * x), seed=0)
    assert tilted.interval[0] > plain.interval[1]


def test_weighted_metric_on_one_object_says_why():
    found = sh.weighted_metric(lambda rows: 1.0 * len(rows), np.r_[1.0, np.zeros(9)], seed=0)
    assert found.detail and "effective sample size 1" in found.detail


def test_strata_combine_with_the_application_shares():
    # labelled scores spread over [0, 1], application concentrated high; the metric is the mean
    # domain score of the stratum's labelled objects, so the combination lies above the plain mean
    rng = np.random.default_rng(5)
    p_lab = rng.uniform(0, 1, 1000)
    p_app = rng.uniform(0.5, 1, 1000)
    estimate, strata = sh.strata_metric(lambda rows: float(p_lab[rows].mean()), p_lab, p_app, seed=0,
                                        n_resamples=200)
    assert len(strata) == 5
    assert sum(s.share for s in strata) == pytest.approx(1.0)
    assert all(s.low >= 0.5 - 1e-9 or s.low == 0.0 for s in strata)
    assert estimate.value > 0.65 and estimate.interval[0] <= estimate.value <= estimate.interval[1]
    assert estimate.value > p_lab.mean()


def test_strata_without_labelled_objects_are_left_out_and_said():
    p_lab = np.linspace(0, 0.3, 200)
    p_app = np.linspace(0, 1, 500)
    estimate, strata = sh.strata_metric(lambda rows: float(len(rows)), p_lab, p_app, seed=0, n_resamples=50)
    assert any(math.isnan(s.value) for s in strata)
    assert "unmeasured" in estimate.detail and math.isnan(estimate.interval[0])  # most of it uncovered: no interval
    p_lab = np.r_[np.linspace(0, 0.3, 200), np.linspace(0.3, 0.95, 200)]
    p_app = np.r_[np.linspace(0, 0.95, 475), np.full(25, 0.999)]  # 5% beyond every labelled score
    estimate, _ = sh.strata_metric(lambda rows: float(len(rows)), p_lab, p_app, n_strata=20, seed=0, n_resamples=50)
    assert "left out" in estimate.detail and not math.isnan(estimate.interval[0])


def test_histograms_share_edges_and_are_densities():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=500), rng.normal(1, 1, size=500)
    (h,) = sh.histograms(["x"], [a], [b], weights=np.ones(500), bins=20)
    widths = np.diff(h.edges)
    assert len(h.edges) == 21
    assert np.dot(h.labelled, widths) == pytest.approx(1.0)
    assert np.dot(h.application, widths) == pytest.approx(1.0)
    assert h.weighted == pytest.approx(h.labelled)


def test_delong_auc_is_sklearn_auc_and_its_interval_shrinks_with_n():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    score = y + rng.normal(scale=1.5, size=400)
    auc, (lo, hi) = sh.delong_interval(y, score, 0.9)
    assert auc == pytest.approx(roc_auc_score(y, score))
    assert lo < auc < hi
    y4, s4 = np.tile(y, 4), np.tile(score, 4) + rng.normal(scale=1e-9, size=1600)
    _, (lo4, hi4) = sh.delong_interval(y4, s4, 0.9)
    assert (hi4 - lo4) == pytest.approx((hi - lo) / 2, rel=0.05)
