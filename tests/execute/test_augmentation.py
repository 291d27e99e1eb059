"""Measurement errors in (augmentation needs them) and predicted uncertainties out (σ methods), paper §5.1–5.2.

The draws themselves and σ(x) are tested in tests/science/test_augmentation.py and test_sigma.py."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mlproj.analyse.summary import predicted_sigma, score_uncertainty
from mlproj.project.loading import parse_project


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
