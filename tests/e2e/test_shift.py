"""Covariate shift end to end (paper §5.5): a bright labelled sample, a faint application sample."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.e2e.helpers import REPO, cli, write_project

DATA = REPO.parent / "shared" / "data" / "mlz-sdss-mgs"

pytestmark = pytest.mark.skipif(not (DATA / "sdss_mgs_train.csv").exists(), reason="shared MLZ data not available")


def _project(application: str = "faint.csv", **shift) -> dict:
    project = {
        "name": "shift-photoz",
        "objective": {"statement": "photo-z of faint galaxies", "task": "regression"},
        "data": {"path": "bright.csv", "label": "zs", "features": ["u", "g", "r", "i", "z"],
                 "derived": {"gr": "g - r", "ri": "r - i"}, "application": application},
        "metric": {"primary": {"name": "sigma_nmad", "relative": True}},
        "finish_line": {"threshold": 0.025, "margin": 0.001},
        "validation": {"folds": 2, "repeats": 1, "test_size": 0.2},
        "baselines": ["dummy"],
        "candidates": [{"name": "hgb", "estimator": "HistGradientBoostingRegressor", "params": {"max_iter": 30}}],
        "report": {"figures": False},
    }
    project["shift"] = {"method": "weights", **shift}
    return project


def _catalogues(folder, same: bool = False):
    train = pd.read_csv(DATA / "sdss_mgs_train.csv").iloc[:3000]
    other = pd.read_csv(DATA / "sdss_mgs_test.csv").iloc[:3000]
    if same:  # two samples of one distribution: a random split of one file
        shuffled = pd.read_csv(DATA / "sdss_mgs_train.csv").sample(frac=1.0, random_state=1)
        labelled, application = shuffled.iloc[:2500], shuffled.iloc[2500:]
    else:  # labelled bright, application faint
        labelled, application = train[train.r < 17.0], other[other.r > 17.3]
    labelled.to_csv(folder / "bright.csv", index=False)
    application.drop(columns=["zs"]).to_csv(folder / "faint.csv", index=False)
    return labelled, application


def test_faint_application_sample_is_flagged(tmp_path):
    _, application = _catalogues(tmp_path)
    write_project(tmp_path, _project(required=True))
    result = cli("run", "-j", "1", cwd=tmp_path)
    assert result.exit_code in (0, 1, 3), result.output
    assert "Covariate shift" in result.stdout
    assert "expected on the application sample" in result.stdout
    run = tmp_path / "runs" / "shift-photoz" / "latest"
    summary = json.loads((run / "summary.json").read_text())
    shift = summary["shift"]
    assert shift["domain_auc"] > 0.8 and shift["domain_interval"][0] > 0.5
    assert 0 < shift["ess"] < shift["n_labelled"]
    r = next(f for f in shift["features"] if f["name"] == "r")
    assert r["outside"] > 0.5  # the faint objects lie beyond the labelled r range
    verdict = json.loads((run / "verdict.json").read_text())
    names = [c["name"] for c in verdict["criteria"]]
    assert "finish_line_on_application" in names
    criterion = next(c for c in verdict["criteria"] if c["name"] == "finish_line_on_application")
    assert criterion["required"] is True
    assert verdict["application"]["basis"] == "application"
    metric = shift["metrics"][0]
    assert metric["expected"] is not None and metric["measured"] is not None
    written = pd.read_csv(run / "application_predictions.csv")
    assert len(written) == len(application) and {"prediction", "extrapolated", "domain_score"} <= set(written)
    assert written["extrapolated"].mean() > 0.5
    assert (run / "models" / "domain.skops").exists()

    predicted = cli("predict", "--data", "faint.csv", "--out", "out.csv", cwd=tmp_path)
    assert predicted.exit_code == 0, predicted.output
    assert "outside the training support (extrapolated=1)" in predicted.stdout
    assert "r beyond the labelled range" in predicted.stdout
    assert "warning" in predicted.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert out["extrapolated"].sum() == written["extrapolated"].sum()
    assert out["domain_score"].between(0, 1).all() and out["domain_score"].mean() > 0.5


def test_same_distribution_shows_no_shift(tmp_path):
    _catalogues(tmp_path, same=True)
    write_project(tmp_path, _project())
    result = cli("run", "-j", "1", cwd=tmp_path)
    assert result.exit_code in (0, 1, 3), result.output
    shift = json.loads((tmp_path / "runs" / "shift-photoz" / "latest" / "summary.json").read_text())["shift"]
    low, high = shift["domain_interval"]
    assert low <= 0.5 <= high
    for metric in shift["metrics"]:  # equal within the error (twice the combined SE of the two intervals)
        se = [(hi - lo) / 2 / 1.645 for lo, hi in (metric["expected_interval"], metric["measured_interval"])]
        assert abs(metric["expected"] - metric["measured"]) < 2 * (se[0] ** 2 + se[1] ** 2) ** 0.5


def test_shift_without_application_is_a_config_error(tmp_path):
    _catalogues(tmp_path)
    project = _project()
    del project["data"]["application"]
    write_project(tmp_path, project)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 2
    assert "data.application" in result.stderr and "mlproj.yaml:" in result.stderr


def test_application_missing_a_feature_column_names_file_and_column(tmp_path):
    _catalogues(tmp_path)
    pd.read_csv(tmp_path / "faint.csv").drop(columns=["i"]).to_csv(tmp_path / "faint.csv", index=False)
    write_project(tmp_path, _project())
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 2
    assert "faint.csv" in result.stderr and "'i'" in result.stderr


def test_the_config_hash_changes_only_when_the_application_sample_is_used(tmp_path):
    from mlproj.project.loading import parse_project

    project = _project()
    del project["data"]["application"], project["shift"]
    plain = parse_project(json.dumps(project), tmp_path / "mlproj.yaml").config_hash
    project["data"]["application"] = None
    assert parse_project(json.dumps(project), tmp_path / "mlproj.yaml").config_hash == plain
    project["data"]["application"] = "faint.csv"
    assert parse_project(json.dumps(project), tmp_path / "mlproj.yaml").config_hash != plain
