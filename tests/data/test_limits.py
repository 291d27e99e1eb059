"""Non-detections as bounds (paper §5.1, case 2): magnitudes are fainter than their limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlproj.data.dataset import load_dataset
from mlproj.errors import ConfigError, DataError
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
    with pytest.raises(ConfigError, match="give 'bound'"):
        parse_project(bad, Path("p.yaml"))


# ------------------------------------------------------------------ expressions for flag and bound

FLUX_PROJECT = """
name: flux-limits
objective: {statement: classes from a flux with non-detections, task: classification}
data:
  path: cat.csv
  label: class
  features: [f, g]
  limits: {f: {flag: "f < 2 * e", bound: "2 * e", kind: flux, span: 0.5}}
classes: {bright: "class == 'A'", faint: "class == 'B'"}
positive: bright
metric: {primary: roc_auc}
finish_line: {threshold: 0.6, margin: 0.02}
validation: {folds: 2, repeats: 1}
baselines: [dummy]
candidates: [{name: hgb, estimator: HistGradientBoostingClassifier, params: {max_iter: 20}}]
execution: {n_jobs: 1}
"""


def _flux_catalogue(path: Path, n: int = 300) -> pd.DataFrame:
    """A simulated flux f with its 1σ error e: below 2e, the catalogue's f is noise."""
    rng = np.random.default_rng(1)
    bright = rng.random(n) < 0.5
    e = rng.uniform(0.5, 1.5, n)
    f = rng.normal(np.where(bright, 4.0, 1.5), 1.0, n)
    frame = pd.DataFrame({"f": f, "e": e, "g": rng.normal(0, 1, n) + bright, "class": np.where(bright, "A", "B")})
    frame.to_csv(path, index=False)
    return frame


def _flux_project(tmp_path: Path, text: str = FLUX_PROJECT):
    path = tmp_path / "mlproj.yaml"
    path.write_text(text)
    return parse_project(text, path)


def test_flag_and_bound_expressions_make_bounds_and_an_indicator(tmp_path):
    frame = _flux_catalogue(tmp_path / "cat.csv")
    dataset = load_dataset(_flux_project(tmp_path))
    assert dataset.feature_names == ["f", "g", "f_nondetection"]
    flagged = (frame["f"] < 2 * frame["e"]).to_numpy()
    assert 20 < flagged.sum() < len(frame) - 20
    np.testing.assert_array_equal(dataset.X[:, 2], flagged.astype(float))
    np.testing.assert_allclose(dataset.X[flagged, 0], 2 * frame["e"].to_numpy()[flagged])
    np.testing.assert_allclose(dataset.X[~flagged, 0], frame["f"].to_numpy()[~flagged])
    low, high = dataset.limit_ranges
    np.testing.assert_allclose(high[flagged, 0], 2 * frame["e"].to_numpy()[flagged])
    np.testing.assert_allclose(low[flagged, 0], np.maximum(2 * frame["e"].to_numpy()[flagged] - 0.5, 0))
    assert not any("not among the features" in w for w in dataset.warnings)


def test_limit_is_the_older_name_of_bound_and_keeps_the_hash(tmp_path):
    from mlproj.project.loading import config_hash

    _flux_catalogue(tmp_path / "cat.csv")
    with_limit = _flux_project(tmp_path, FLUX_PROJECT.replace("bound:", "limit:"))
    with_bound = _flux_project(tmp_path)
    np.testing.assert_array_equal(load_dataset(with_limit).X, load_dataset(with_bound).X)
    # `bound` unset is left out of the hash and the task keys: older project files keep theirs.
    assert "bound" not in with_limit.project.data.limits["f"].model_dump(mode="json")
    plain = parse_project(PROJECT, Path("p.yaml"))
    assert "bound" not in plain.project.model_dump(mode="json")["data"]["limits"]["u"]
    assert config_hash(with_limit.project) != config_hash(with_bound.project)
    with pytest.raises(ConfigError, match="not both"):
        parse_project(FLUX_PROJECT.replace('bound: "2 * e"', 'bound: "2 * e", limit: 3'), Path("p.yaml"))


def test_old_flag_columns_keep_their_hash():
    # The hash of PROJECT as it was before `bound` existed (recorded then): older runs stay up to date.
    from mlproj.project.loading import config_hash

    plain = parse_project(PROJECT, Path("p.yaml")).project
    dumped = plain.model_dump(mode="json")["data"]["limits"]["u"]
    assert dumped == {"flag": "u_nodet", "sentinel": None, "limit": None, "kind": "magnitude", "span": 1.5}
    assert config_hash(plain) == "a1ebbf2547dc326ba0b5c3d3c6968ab3a315495e8235f78ebdbb1b769d02b2c9"


@pytest.mark.parametrize(("flag", "bound", "field", "message"), [
    ('"__import__(\'os\').system(\'x\')"', '"2 * e"', "data.limits.f.flag", "not allowed"),
    ('"f < 2 * "', '"2 * e"', "data.limits.f.flag", "not valid syntax"),
    ('"f * 2"', '"2 * e"', "data.limits.f.flag", "no condition"),
    ('"f < 2 * err"', '"2 * e"', "data.limits.f.flag", "'err', which is not in the catalogue"),
    ('"f < 2 * e"', '"e.real"', "data.limits.f.bound", "attribute access"),
    ('"f < 2 * e"', '"f < e"', "data.limits.f.bound", "not a number per object"),
    ('"f < 2 * e"', '"2 * err"', "data.limits.f.bound", "'err', which is not in the catalogue"),
    ('"f < 2 * e"', "err", "data.limits.f", "limit column"),
    ("nodet", '"2 * e"', "data.limits.f", "non-detection flag column"),
])
def test_bad_limit_expressions_name_the_field(tmp_path, flag, bound, field, message):
    _flux_catalogue(tmp_path / "cat.csv")
    text = FLUX_PROJECT.replace('flag: "f < 2 * e", bound: "2 * e"', f"flag: {flag}, bound: {bound}")
    with pytest.raises((ConfigError, DataError)) as caught:
        load_dataset(_flux_project(tmp_path, text))
    rendered = str(caught.value)
    assert f"({field}" in rendered and message in rendered, rendered
    assert "\n" not in rendered


def test_a_limit_on_a_column_that_is_no_feature_says_so(tmp_path):
    _flux_catalogue(tmp_path / "cat.csv")
    text = FLUX_PROJECT.replace("features: [f, g]", "features: [g]\n  derived: {f_log: \"log10(clip(f, 0.01, 100))\"}")
    dataset = load_dataset(_flux_project(tmp_path, text))
    assert "f_nondetection" not in dataset.feature_names
    warning = next(w for w in dataset.warnings if "not among the features" in w)
    assert "'f'" in warning and "f_nondetection" in warning and "f_log" in warning and "data.features" in warning


def test_flux_limit_expressions_run_and_predict_end_to_end(tmp_path):
    _flux_catalogue(tmp_path / "cat.csv")
    (tmp_path / "mlproj.yaml").write_text(FLUX_PROJECT.replace("features: [f, g]", "features: [g]"))
    checked = cli("check", cwd=tmp_path)
    assert checked.exit_code == 0, checked.output
    assert "not among the features" in checked.output and "f_nondetection" in checked.output
    (tmp_path / "mlproj.yaml").write_text(FLUX_PROJECT)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    predicted = cli("predict", "--data", "cat.csv", "--out", "out.csv", cwd=tmp_path)
    assert predicted.exit_code == 0, predicted.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == 300
