import numpy as np
import pytest

from mlproj.analyse.shift import shift_result
from mlproj.analyse.summary import Case, ResolvedMetric
from mlproj.analyse.types import ShiftResult, Summary

CASE = Case("z", (), (ResolvedMetric("rmse", {}, "rmse", False, False),), 0.5, 0.01)


def _result(shifted: bool, method: str = "weights", seed: int = 0):
    rng = np.random.default_rng(seed)
    X_lab = rng.normal(size=(500, 2))
    X_app = rng.normal(size=(400, 2))
    if shifted:
        X_app[:, 0] += 1.5
    y = X_lab[:, 0]
    # errors grow with x0: the application sample (large x0) is harder than the labelled one
    pred = y + rng.normal(size=500) * (0.1 + 0.3 * np.clip(X_lab[:, 0] + 2, 0, None))
    rows = np.arange(500)
    return shift_result(X_lab, X_app, ["a", "b"], method=method, required=True, application="app.csv", seed=0,
                        confidence=0.9, task_kind="regression", case=CASE, y_labelled=y,
                        pooled={"m": (rows, pred)}, n_resamples=300)


def test_a_shift_is_seen_weighted_and_says_which_feature():
    result, weights = _result(True)
    assert result.domain_auc > 0.75 and result.domain_interval[0] > 0.5
    assert weights.mean() == pytest.approx(1.0) and result.ess < 500
    assert result.features[0].auc > 0.75 and abs(result.features[1].auc - 0.5) < 0.1
    assert result.histograms[0].name == "a"  # the key feature first
    metric = result.metric_of("m")
    assert metric.expected > metric.measured  # the harder objects weigh more
    assert any("covariate shift" in w for w in result.warnings)


def test_no_shift_weighted_metric_agrees_with_the_measured_one():
    result, _ = _result(False)
    assert result.domain_interval[0] <= 0.5 <= result.domain_interval[1]
    metric = result.metric_of("m")
    # equal within the error: the difference inside twice the combined standard error of the two intervals
    se = [(hi - lo) / 2 / 1.645 for lo, hi in (metric.expected_interval, metric.measured_interval)]
    assert abs(metric.expected - metric.measured) < 2 * (se[0] ** 2 + se[1] ** 2) ** 0.5
    assert not any("tells the labelled from the application" in w for w in result.warnings)


def test_strata_method_stores_the_strata():
    result, _ = _result(True, method="strata")
    metric = result.metric_of("m")
    assert metric.method == "stratified bootstrap" and len(metric.strata) == 5
    assert sum(s.share for s in metric.strata) == pytest.approx(1.0)


def test_the_shift_result_goes_through_json_and_old_summaries_load_without_it():
    result, _ = _result(True)
    summary = Summary("p", "regression", 2, 1, 0.9, None, [], [], shift=result)
    stored = summary.to_dict()
    back = Summary.from_dict(stored).shift
    assert isinstance(back, ShiftResult) and back.to_dict() == result.to_dict()
    del stored["shift"]
    assert Summary.from_dict(stored).shift is None
    assert "shift" not in Summary("p", "regression", 2, 1, 0.9, None, [], []).to_dict()
