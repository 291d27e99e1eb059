"""Tests of mlproj.report.figure_data: the numbers each figure draws, checked against scikit-learn,
numpy and hand counts, without drawing anything."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from mlproj.report import figure_data as fd
from mlproj.science.metrics import wilson_interval


def binary(n=400, seed=0):
    rng = np.random.default_rng(seed)
    pos = rng.random(n) < 0.4
    return pos, pos + rng.normal(0, 0.7, n)


def test_importing_the_figure_data_imports_no_matplotlib():
    code = "import mlproj.report.figure_data, sys; assert 'matplotlib' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_roc_data_is_sklearn_roc_curve():
    pos, score = binary()
    data = fd.roc_data(["m"], ["candidate"], pos, [score])
    fpr, tpr, thresholds = skm.roc_curve(pos, score, drop_intermediate=True)
    curve = data.curves[0]
    np.testing.assert_array_equal(curve.x, fpr)
    np.testing.assert_array_equal(curve.y, tpr)
    np.testing.assert_array_equal(curve.thresholds, thresholds)
    assert curve.area == pytest.approx(skm.roc_auc_score(pos, score))
    assert (curve.n_pos, curve.n_neg) == (pos.sum(), (~pos).sum())


def test_long_roc_curves_are_thinned_keeping_their_ends():
    pos, score = binary(20000, seed=3)
    full = skm.roc_curve(pos, score)[0]
    curve = fd.roc_data(["m"], ["candidate"], pos, [score], max_points=500).curves[0]
    assert full.size > 500 >= curve.x.size > 400
    assert (curve.x[0], curve.x[-1]) == (full[0], full[-1])
    assert curve.area == pytest.approx(skm.roc_auc_score(pos, score))  # of the full curve


def test_roc_of_one_class_or_equal_scores_or_nans():
    pos, score = binary()
    score = score.copy()
    score[:10] = np.nan
    data = fd.roc_data(["one class", "constant", "nans"], ["baseline", "baseline", "candidate"],
                       [np.ones(50, bool), pos, pos], [np.arange(50.0), np.full(pos.size, 0.3), score])
    one, constant, nans = data.curves
    assert not one.defined and one.area is None
    assert constant.area == pytest.approx(0.5)
    assert nans.n_dropped == 10 and nans.n_pos + nans.n_neg == pos.size - 10
    np.testing.assert_array_equal(nans.x, skm.roc_curve(pos[10:], score[10:])[0])


def test_roles_of_the_plan_map_to_figure_roles():
    assert [fd.model_role(n, r) for n, r in [("dummy", "baseline"), ("historical", "baseline"),
                                             ("logistic", "baseline"), ("hgb", "candidate"), ("x", "standard")]] \
        == ["dummy", "historical", "baseline", "candidate", "baseline"]


def test_completeness_and_contamination_are_the_hand_counts_at_each_threshold():
    pos, score = binary(300, seed=1)
    curve = fd.completeness_contamination_data(["m"], ["candidate"], pos, [score]).curves[0]
    for k in (0, len(curve.thresholds) // 2, len(curve.thresholds) - 1):
        chosen = score >= curve.thresholds[k]
        tp, fp, fn = np.sum(chosen & pos), np.sum(chosen & ~pos), np.sum(~chosen & pos)
        assert curve.y[k] == pytest.approx(tp / (tp + fn))
        assert curve.x[k] == pytest.approx(fp / (tp + fp))


def test_the_operating_point_and_its_wilson_boxes_are_wilson_intervals_of_the_counts():
    pos, score = binary(500, seed=2)
    op = fd.operating_point_at(pos, score, 0.9, name="m")
    chosen = score >= 0.9
    tp, fp = int(np.sum(chosen & pos)), int(np.sum(chosen & ~pos))
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    assert (op.tp, op.n_pos, op.fp, op.n_neg) == (tp, n_pos, fp, n_neg)
    assert op.fpr == fp / n_neg and op.tpr == tp / n_pos and op.contamination == fp / (tp + fp)
    assert op.fpr_interval == wilson_interval(fp, n_neg)
    assert op.tpr_interval == wilson_interval(tp, n_pos)
    assert op.contamination_interval == wilson_interval(fp, tp + fp)
    assert fd.operating_point(0, 10, 0, 5).contamination is None  # nothing selected: undefined


def test_a_log_fpr_axis_for_operating_points_below_five_percent():
    pos, score = binary(2000, seed=4)
    low = fd.operating_point(30, 800, 3, 1200)
    assert fd.roc_data(["m"], ["candidate"], pos, [score], operating=low).log_x
    assert not fd.roc_data(["m"], ["candidate"], pos, [score], operating=fd.operating_point(700, 800, 300, 1200)).log_x
    data = fd.roc_data(["m"], ["candidate"], pos, [score], operating=low)
    assert data.x_min == pytest.approx(0.5 / (~pos).sum())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(-5, 5, allow_nan=False)), min_size=2, max_size=80))
def test_roc_curves_are_monotone_and_end_at_one(pairs):
    pos = np.array([p for p, _ in pairs])
    score = np.array([s for _, s in pairs])
    curve = fd.roc_data(["m"], ["candidate"], pos, [score]).curves[0]
    if pos.all() or not pos.any():
        assert not curve.defined
        return
    assert np.all(np.diff(curve.x) >= 0) and np.all(np.diff(curve.y) >= 0)
    assert (curve.x[0], curve.y[0], curve.x[-1], curve.y[-1]) == (0, 0, 1, 1)
    assert 0 <= curve.area <= 1


def test_comparison_data_keeps_the_order_and_marks_undefined_values():
    data = fd.comparison_data(["dummy", "rf", "hgb", "mlp"], ["baseline", "baseline", "candidate", "candidate"],
                              [0.5, 0.9, 0.95, None], [0.0, 0.01, float("nan"), None],
                              [(0.5, 0.5), (0.88, 0.92), None, (None, 1.0)], ["worse", "equivalent", None, "odd"],
                              "hgb", 0.93, -0.01, "ROC AUC", True)
    assert [r.name for r in data.rows] == ["dummy", "rf", "hgb", "mlp"]
    assert [r.role for r in data.rows] == ["dummy", "baseline", "candidate", "candidate"]
    assert [r.decision for r in data.rows] == ["worse", "equivalent", "selected", "n/a"]
    assert data.rows[2].se is None and data.rows[3].mean is None and data.rows[3].interval is None
    assert data.margin == 0.01 and data.rows[2].selected


def test_binned_medians_are_numpy_medians_of_the_truth_quantile_bins():
    rng = np.random.default_rng(5)
    y = rng.gamma(2, 0.4, 3000)
    p = y + rng.normal(0, 0.05, y.size)
    p[:7] = np.nan
    data = fd.predicted_vs_true_data(y, p, target_name="redshift", n_bins=10, outlier_bound=0.15, relative=True)
    keep = np.isfinite(p)
    y, p = y[keep], p[keep]
    assert data.n_total == y.size and data.n_dropped == 7
    np.testing.assert_allclose(data.bin_edges, np.quantile(y, np.linspace(0, 1, 11)))
    for b in range(10):
        lo, hi = data.bin_edges[b], data.bin_edges[b + 1]
        in_bin = (y >= lo) & ((y < hi) if b < 9 else (y <= hi))
        assert data.median[b] == np.median(p[in_bin])
        assert data.bin_centre[b] == np.median(y[in_bin])
        assert (data.p16[b], data.p84[b]) == tuple(np.quantile(p[in_bin], [0.16, 0.84]))
        assert data.bin_counts[b] == in_bin.sum()
    assert data.outlier_fraction == np.mean(np.abs((p - y) / (1 + y)) > 0.15)
    x, lower, upper = data.outlier_lines()
    np.testing.assert_allclose(upper - x, 0.15 * (1 + x))


def test_predicted_vs_true_subsamples_deterministically():
    rng = np.random.default_rng(6)
    y = rng.normal(size=30000)
    first = fd.predicted_vs_true_data(y, y + 1, max_points=20000)
    again = fd.predicted_vs_true_data(y.copy(), y + 1, max_points=20000)
    assert first.y.size == 20000 and first.n_total == 30000
    np.testing.assert_array_equal(first.y, again.y)
    np.testing.assert_allclose(first.y_pred - first.y, 1.0)  # pairs stay pairs
    x, lower, upper = fd.predicted_vs_true_data(y, y, outlier_bound=0.5, relative=False).outlier_lines()
    np.testing.assert_allclose(upper - x, 0.5)


def test_subsample_indices_are_deterministic_and_distinct():
    a, b = fd.subsample_indices(10000, 2000, seed=3), fd.subsample_indices(10000, 2000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert np.unique(a).size == 2000 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(fd.subsample_indices(5, 2000), np.arange(5))


def test_pit_density_and_its_binomial_band():
    counts, edges = [10, 30, 20, 40], [0, 0.25, 0.5, 0.75, 1.0]
    data = fd.pit_data(counts, edges)
    assert data.total == 100
    np.testing.assert_allclose(data.density, [0.4, 1.2, 0.8, 1.6])
    sigma = np.sqrt(0.25 * 0.75 / 100) / 0.25
    np.testing.assert_allclose(data.band_high, 1 + 2 * sigma)
    np.testing.assert_allclose(data.band_low, 1 - 2 * sigma)
    with pytest.raises(ValueError):
        fd.pit_data([1, 2], [0, 1])


def test_reliability_data_leaves_empty_and_undefined_bins_out():
    data = fd.reliability_data([0.1, None, 0.5, 0.9], [0.12, 0.3, float("nan"), 0.85], [50, 0, 10, 40],
                               [(0.05, 0.2), None, None, (0.75, 0.92)], 0.03)
    np.testing.assert_array_equal(data.mean_predicted, [0.1, 0.9])
    np.testing.assert_array_equal(data.counts, [50, 40])
    np.testing.assert_array_equal(data.interval_low, [0.05, 0.75])
    assert data.ece == 0.03


def test_coverage_fractions_are_hand_counts_with_wilson_intervals():
    rng = np.random.default_rng(7)
    n = 600
    sigma = np.exp(rng.normal(-2, 1.2, n))
    mu = rng.normal(size=n)
    y = mu + rng.normal(size=n) * sigma
    y[0] = np.nan
    sigma[1] = 0.0
    data = fd.coverage_data(y, mu, sigma)
    assert data.n_dropped == 2 and data.counts.sum() == n - 2
    assert data.bin_edges.size == 11  # 598 objects: 10 bins of at least 30
    assert data.log_x
    keep = np.isfinite(y) & (sigma > 0)
    y, mu, sigma = y[keep], mu[keep], sigma[keep]
    for b in range(10):
        lo, hi = data.bin_edges[b], data.bin_edges[b + 1]
        in_bin = (sigma >= lo) & ((sigma < hi) if b < 9 else (sigma <= hi))
        for i, k in enumerate((1.0, 1.96)):
            inside = int(np.sum(np.abs(y[in_bin] - mu[in_bin]) <= k * sigma[in_bin]))
            assert data.inside[i][b] == inside
            assert data.fraction[i][b] == inside / in_bin.sum()
            assert (data.interval_low[i][b], data.interval_high[i][b]) == wilson_interval(inside, int(in_bin.sum()))
    assert fd.coverage_data(y[:40], mu[:40], sigma[:40]).counts.size == 1  # few objects: fewer bins


def test_corner_ranges_exclude_a_sentinel_and_widen_constant_columns():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(1000, 3))
    X[:3, 0] = -99.0
    X[:, 2] = 4.0
    data = fd.corner_data(X, ["g", "r", "const"], rng.integers(0, 2, 1000), ["galaxy", "star"])
    lo, hi = data.ranges[0]
    assert lo > -10 and hi < 10
    lo, hi = data.ranges[2]
    assert lo < 4 < hi


def test_corner_data_drops_nan_rows_per_class_caps_features_and_points():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(5003, 10))
    X[5, 3] = np.nan
    X[6, 9] = np.nan  # not drawn: beyond max_features
    labels = np.r_[np.zeros(5000, int), np.ones(3, int)]
    data = fd.corner_data(X, [f"f{i}" for i in range(10)], labels, ["galaxy", "star"], max_features=8)
    assert len(data.feature_names) == 8 and data.n_features_given == 10
    galaxy, star = data.classes
    assert (galaxy.n_total, galaxy.n_finite, len(galaxy.points)) == (5000, 4999, 2000)
    assert galaxy.style == "contours" and star.style == "points" and len(star.points) == 3
    again = fd.corner_data(X, [f"f{i}" for i in range(10)], labels, ["galaxy", "star"], max_features=8)
    np.testing.assert_array_equal(galaxy.points, again.classes[0].points)
    finite = X[:5000, :8][np.all(np.isfinite(X[:5000, :8]), axis=1)]
    counts, edges = np.histogram(finite[:, 0], bins=data.bin_edges(0))
    np.testing.assert_allclose(galaxy.hist[0], counts / (counts.sum() * np.diff(edges)))


def test_corner_data_of_a_regression_is_one_class():
    data = fd.corner_data(np.arange(20.0).reshape(10, 2), ["a", "b"])
    assert [c.name for c in data.classes] == ["all objects"] and data.classes[0].n_total == 10
