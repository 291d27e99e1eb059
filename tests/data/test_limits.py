"""Non-detections as bounds (paper §5.1, case 2): magnitudes are fainter than their limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlproj.data.dataset import load_dataset
from mlproj.errors import ConfigError
from mlproj.project.loading import parse_project
from mlproj.science.augmentation import augmented_training_set
from tests.e2e.helpers import cli

PROJECT = """
name: limits
objective: {statement: galaxies with u-band non-detections, task: classification}
data:
  path: cat.csv
  label: class
  features: [u, g, r]
  errors: {g: g_err}
  limits: {u: {flag: u_nodet, kind: magnitude, span: 1.5}}
  augment: 3
classes: {galaxy: "class == 'GALAXY'", star: "class == 'STAR'"}
positive: galaxy
metric: {primary: roc_auc}
finish_line: {threshold: 0.7, margin: 0.02}
validation: {folds: 3, repeats: 1}
baselines: [dummy]
candidates: [{name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 30}}]
execution: {n_jobs: 1}
"""
DEPTH = 22.0


def _catalogue(path: Path, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    galaxy = rng.random(n) < 0.5
    u_true = rng.normal(21.0, 1.0, n) + galaxy * 0.8
    nodet = u_true > DEPTH
    frame = pd.DataFrame({
        "u": np.where(nodet, DEPTH, u_true),  # the catalogue gives the limit for non-detections
        "u_nodet": nodet.astype(int),
        "g": rng.normal(20, 1, n) + galaxy * 0.5, "g_err": 0.05,
        "r": rng.normal(19, 1, n), "class": np.where(galaxy, "GALAXY", "STAR"),
    })
    frame.to_csv(path, index=False)
    return frame


def test_non_detections_become_bounds_with_an_indicator(tmp_path):
    frame = _catalogue(tmp_path / "cat.csv")
    (tmp_path / "mlproj.yaml").write_text(PROJECT)
    dataset = load_dataset(parse_project(PROJECT, tmp_path / "mlproj.yaml"))
    assert dataset.feature_names == ["u", "g", "r", "u_nondetection"]
    flagged = frame["u_nodet"].to_numpy() == 1
    assert flagged.sum() > 20
    np.testing.assert_array_equal(dataset.X[:, 3], flagged.astype(float))
    np.testing.assert_allclose(dataset.X[flagged, 0], DEPTH)
    low, high = dataset.limit_ranges
    np.testing.assert_allclose(low[flagged, 0], DEPTH)
    np.testing.assert_allclose(high[flagged, 0], DEPTH + 1.5)
    assert np.isnan(low[~flagged, 0]).all() and np.isnan(low[:, 1]).all()

    train = np.arange(0, 300)
    X_aug, y_aug, source = augmented_training_set(dataset.X, dataset.y, dataset.errors, train, 3, 0,
                                                  dataset.limit_ranges)
    copies = slice(len(train), None)
    copied_flag = flagged[source[copies]]
    u_copies = X_aug[copies, 0]
    # A non-detection's copies are fainter than the limit (magnitudes flip the direction) ...
    assert (u_copies[copied_flag] >= DEPTH).all() and (u_copies[copied_flag] <= DEPTH + 1.5).all()
    assert u_copies[copied_flag].std() > 0.3
    # ... detections are untouched where no error is given, and g scatters by its error.
    np.testing.assert_array_equal(u_copies[~copied_flag], dataset.X[source[copies], 0][~copied_flag])
    g_noise = (X_aug[copies, 1] - dataset.X[source[copies], 1]) / 0.05
    assert abs(g_noise.std() - 1) < 0.1
    assert set(source) == set(train)


def test_limits_run_end_to_end(tmp_path):
    _catalogue(tmp_path / "cat.csv")
    (tmp_path / "mlproj.yaml").write_text(PROJECT)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output


def test_limit_needs_exactly_one_marker():
    bad = PROJECT.replace("{flag: u_nodet, kind: magnitude, span: 1.5}", "{kind: magnitude}")
    with pytest.raises(ConfigError, match="exactly one of 'flag'"):
        parse_project(bad, Path("p.yaml"))
    bad = PROJECT.replace("{flag: u_nodet, kind: magnitude, span: 1.5}", "{sentinel: 99}")
    with pytest.raises(ConfigError, match="give 'limit'"):
        parse_project(bad, Path("p.yaml"))
