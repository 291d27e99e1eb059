"""Interrogation of a model with plain arrays: sensitivity grids, the metric in bins, worst objects."""

from __future__ import annotations

import numpy as np
import pytest

from mlproj.analyse import interrogation as ask
from mlproj.analyse.summary import Case, ResolvedMetric
from mlproj.analyse.types import MetricBin, Summary


def _case(name="accuracy", params=None, threshold=0.9, margin=0.02, greater=True, binary=False):
    label = name + ("(" + ", ".join(f"{k}={v:g}" for k, v in params.items()) + ")" if params else "")
    return Case("galaxy", (1,), (ResolvedMetric(name, params or {}, label, greater, binary),), threshold, margin)


def test_sensitivity_inputs_vary_one_feature_over_its_range_the_others_at_their_median():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(0, 100, 5000), rng.normal(3, 1, 5000), rng.uniform(0, 1, 5000)])
    grid, levels, inputs = ask.sensitivity_inputs(X, 0, points=11)
    assert grid[0] == pytest.approx(np.quantile(X[:, 0], 0.01)) and grid[-1] == pytest.approx(np.quantile(X[:, 0], 0.99))
    assert inputs.shape == (11, 3) and levels.size == 0
    assert np.allclose(inputs[:, 1], np.median(X[:, 1])) and np.array_equal(inputs[:, 0], grid)
    grid, levels, inputs = ask.sensitivity_inputs(X, 0, by=2, points=11)
    assert inputs.shape == (33, 3) and np.allclose(levels, np.quantile(X[:, 2], [0.1, 0.5, 0.9]))
    assert np.allclose(inputs[11:22, 2], levels[1]) and np.allclose(inputs[11:22, 1], np.median(X[:, 1]))


def test_sensitivity_curve_keeps_one_curve_per_level():
    curve = ask.sensitivity_curve("r", np.array([1.0, 2.0]), np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]), "p(galaxy)",
                                  by="g_r", by_values=np.array([0.1, 0.5, 0.9]))
    assert curve.predictions == [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]] and curve.by == "g_r"
    assert Summary.from_dict  # the part round-trips through JSON
    assert type(curve).from_dict(curve.to_dict()) == curve


def _fading(n=4000, seed=0):
    """Accuracy that falls with a magnitude: correct with probability 1 below 20, 0.6 above."""
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(16, 24, n)
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < np.where(magnitude < 20, 0.995, 0.6)
    predicted = np.where(correct, y, 1 - y)
    p = np.where(predicted == 1, 0.8, 0.2)
    return magnitude, y, np.column_stack([1 - p, p])


def test_the_metric_in_bins_has_wilson_intervals_and_says_where_the_finish_line_stops():
    magnitude, y, proba = _fading()
    binned = ask.metric_in_bins("classification", _case(), "r", magnitude, y, proba, n_bins=8, confidence=0.9)
    assert len(binned.bins) == 8 and sum(b.n for b in binned.bins) == 4000
    assert all(b.method == "Wilson" and b.interval[0] <= b.value <= b.interval[1] for b in binned.bins)
    assert [b.state for b in binned.bins] == ["reached"] * 4 + ["not_reached"] * 4
    assert binned.met_up_to == pytest.approx(binned.bins[3].high) and 19.5 < binned.met_up_to < 20.5
    assert "met up to r = " in binned.detail and "misses it" in binned.detail
    again = type(binned).from_dict(binned.to_dict())
    assert again == binned


def test_a_non_rate_metric_gets_a_bootstrap_interval_per_bin_and_an_operating_point_keeps_its_threshold():
    magnitude, y, proba = _fading()
    rng = np.random.default_rng(1)
    score = np.clip(proba[:, 1] + rng.normal(0, 0.05, len(y)), 0, 1)
    proba = np.column_stack([1 - score, score])
    auc = ask.metric_in_bins("classification", _case("roc_auc", binary=True, threshold=0.8), "r", magnitude, y, proba,
                             n_bins=4, confidence=0.9)
    assert all(b.method.startswith("bootstrap") for b in auc.bins)
    assert auc.bins[0].value > 0.95 and auc.bins[-1].value < 0.8
    tpr = ask.metric_in_bins("classification", _case("tpr_at_fpr", {"fpr": 0.1}, binary=True, threshold=0.5), "r",
                             magnitude, y, proba, n_bins=4, confidence=0.9)
    assert all(b.method == "Wilson" for b in tpr.bins) and tpr.bins[0].value > tpr.bins[-1].value


def test_where_the_finish_line_is_met_reads_the_run_of_bins_from_the_first():
    def bins(*states):
        return [MetricBin(float(i), float(i + 1), 10, 0.5, (0.4, 0.6), "Wilson", s) for i, s in enumerate(states)]

    assert ask.finish_line_reach("r", bins("reached", "reached", "undetermined", "reached"), 0.9, 0.0, True)[0] == 2.0
    met, detail = ask.finish_line_reach("r", bins("not_reached", "reached"), 0.9, 0.0, True)
    assert met is None and "not met in the first bin" in detail
    met, detail = ask.finish_line_reach("r", bins("reached", "reached"), 0.9, 0.0, True)
    assert met == 2.0 and "every bin" in detail
    assert ask.finish_line_reach("r", [], 0.9, 0.0, True)[0] is None


def test_worst_objects_are_the_most_confidently_wrong_beside_the_correct_population():
    y = np.array([0, 0, 1, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.05, 0.95], [0.3, 0.7], [0.8, 0.2], [0.1, 0.9], [0.6, 0.4]])
    X = np.column_stack([np.arange(6.0), np.arange(6.0) * 10])
    worst = ask.worst_objects("classification", y, proba, X, ["a", "b"], np.arange(100, 106), 2,
                              classes=["star", "galaxy"], first=["b"])
    assert [o.row for o in worst.objects] == [101, 103]  # p = 0.95 wrong, then 0.8 wrong
    assert worst.objects[0].truth == "star" and worst.objects[0].predicted == "galaxy"
    assert worst.features == ["b", "a"] and worst.objects[0].values == [10.0, 1.0]
    assert [r.label for r in worst.reference] == ["star predicted star", "galaxy predicted galaxy"]
    assert worst.reference[0].n == 2 and worst.reference[0].median == [25.0, 2.5]  # rows 0 and 5


def test_worst_regression_objects_use_the_relative_residual_and_the_outlier_bound():
    y = np.array([0.1, 0.5, 1.0, 2.0])
    mu = np.array([0.1, 0.5, 1.5, 2.3])
    X = np.arange(4.0)[:, None]
    worst = ask.worst_objects("regression", y, mu, X, ["r"], np.arange(4), 1, relative=True, outlier_bound=0.15)
    assert worst.objects[0].row == 2 and worst.objects[0].score == pytest.approx(0.25)
    assert worst.reference[0].n == 3 and "0.15" in worst.correct  # |Δ|/(1+z) = 0, 0, 0.25, 0.1
