"""Measurement errors in (augmentation) and predicted uncertainties out (σ methods), paper §5.1–5.2."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mlproj.analyse.summary import predicted_sigma, score_uncertainty
from mlproj.execute.tasks import augmented_training_set
from mlproj.plan.compile import compile_plan
from mlproj.plan.estimators import model_specs
from mlproj.project.config import parse_project


def test_augmented_copies_come_from_training_rows_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    errors = np.abs(rng.normal(0.1, 0.02, size=(200, 3)))
    y = rng.normal(size=200)
    project = parse_project(yaml.safe_dump({
        "name": "t", "objective": {"statement": "s", "task": "regression"},
        "data": {"path": "x.csv", "label": "y", "errors": {"a": "ea"}, "augment": 3},
        "metric": {"primary": "rmse"}, "finish_line": {"threshold": 1.0},
        "validation": {"folds": 4, "repeats": 2}}), __import__("pathlib").Path("p.yaml")).project
    plan = compile_plan(project, model_specs(project), y, ["a", "b", "c"], "fingerprint")
    for split in plan.splits:
        X_aug, y_aug, source = augmented_training_set(X, y, errors, split.train, 3, split.seed)
        assert len(source) == 4 * len(split.train)
        assert set(source) == set(split.train)
        assert not set(source) & set(split.valid) and not set(source) & set(plan.test)
        np.testing.assert_array_equal(y_aug, y[source])
        # the first block is the original rows; the copies scatter by the given errors
        np.testing.assert_array_equal(X_aug[: len(split.train)], X[split.train])
        z = (X_aug[len(split.train):] - X[source[len(split.train):]]) / errors[source[len(split.train):]]
        assert abs(z.std() - 1) < 0.1 and abs(z.mean()) < 0.1
    # deterministic for a seed
    a = augmented_training_set(X, y, errors, plan.splits[0].train, 2, 7)[0]
    b = augmented_training_set(X, y, errors, plan.splits[0].train, 2, 7)[0]
    np.testing.assert_array_equal(a, b)


def test_augment_needs_errors():
    from mlproj.errors import ConfigError

    text = yaml.safe_dump({"name": "t", "objective": {"statement": "s", "task": "regression"},
                           "data": {"path": "x.csv", "label": "y", "augment": 3},
                           "metric": {"primary": "rmse"}, "finish_line": {"threshold": 1.0}})
    with pytest.raises(ConfigError, match="data.errors"):
        parse_project(text, __import__("pathlib").Path("p.yaml"))


def test_global_sigma_is_the_rms_of_other_objects_residuals():
    y_ref = np.array([0.0, 1.0, 2.0, 3.0])
    reference = np.array([[0.5], [1.5], [1.5], [3.5]])
    sigma = predicted_sigma("global", y_ref, reference, np.array([10.0, 20.0]))
    np.testing.assert_allclose(sigma, [0.5, 0.5])


def test_residual_sigma_is_rescaled_to_unit_variance_on_the_reference():
    rng = np.random.default_rng(1)
    s_hat = rng.uniform(0.5, 2.0, 20000)
    truth_sigma = 3.0 * s_hat  # the second model is right up to a factor 3
    y_ref = rng.normal(0, truth_sigma)
    reference = np.column_stack([np.zeros_like(y_ref), s_hat])
    sigma = predicted_sigma("residual", y_ref, reference, np.array([[0.0, 1.0], [0.0, 2.0]]))
    np.testing.assert_allclose(sigma, [3.0, 6.0], rtol=0.03)


def test_calibrated_sigma_scores_like_a_calibrated_gaussian():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=20000)
    y = mu + rng.normal(size=20000)
    scores = score_uncertainty("global", y, mu, np.ones_like(mu))
    assert scores["coverage_68[global]"] == pytest.approx(0.683, abs=0.01)
    assert scores["coverage_95[global]"] == pytest.approx(0.954, abs=0.01)
    assert scores["crps[global]"] == pytest.approx(0.5641896, abs=0.01)  # E[CRPS] of N(0,1) = 1/sqrt(pi)
    too_narrow = score_uncertainty("global", y, mu, 0.5 * np.ones_like(mu))
    assert too_narrow["coverage_68[global]"] < 0.45 and too_narrow["pit_ks[global]"] > scores["pit_ks[global]"]


def test_pull_toward_the_training_prior_is_flagged_at_the_edges_only_when_present():
    from mlproj.analyse.summary import toward_prior

    rng = np.random.default_rng(4)
    y = rng.gamma(2.0, 0.05, 5000)
    shrunk = np.median(y) + 0.5 * (y - np.median(y)) + rng.normal(0, 0.005, y.size)
    report = toward_prior(y, shrunk)
    assert report["overall_slope"] == pytest.approx(0.5, abs=0.05)
    assert report["pulled"][0] and report["pulled"][-1]
    assert "pulled toward the bulk" in report["detail"]
    # neighbouring flagged bins on one side of the median are one range: here one below, one above
    assert sum(report["pulled"]) > 2 and report["detail"].count("[") == 2

    honest = y + rng.normal(0, 0.005, y.size)
    report = toward_prior(y, honest)
    assert not any(report["pulled"]) and report["detail"] is None
    assert report["overall_slope"] == pytest.approx(1.0, abs=0.05)


def test_calibration_record_of_calibrated_probabilities():
    from mlproj.analyse.summary import calibration_record

    rng = np.random.default_rng(5)
    p = rng.uniform(size=20000)
    record = calibration_record(rng.uniform(size=p.size) < p, p)
    assert record["ece"] < 0.02 and len(record["counts"]) == 10


@pytest.mark.parametrize("method", ["residual", "quantile", "ensemble"])
def test_every_sigma_method_gives_a_positive_spread_per_object(method):
    from sklearn.ensemble import HistGradientBoostingRegressor

    from mlproj.execute.tasks import _spread, spread_of

    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, size=(600, 2))
    y = X[:, 0] + rng.normal(0, 0.05 + 0.3 * (X[:, 1] > 0), 600)  # noisier where x1 > 0
    spread, fitted = _spread(method, HistGradientBoostingRegressor(max_iter=50), X[:500], y[:500], X[500:], seed=0)
    np.testing.assert_allclose(spread_of(fitted, X[500:]), spread)  # what `mlproj predict` recomputes
    assert spread.shape == (100,) and (spread > 0).all()
    if method != "ensemble":  # the noise level, not the model's variance, is what these learn
        assert spread[X[500:, 1] > 0].mean() > 2 * spread[X[500:, 1] <= 0].mean()
