"""`mlproj predict`: the selected model applied to a new catalogue, with uncertainties."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import cli, runs_latest


def _run(tmp_path: Path, template: str) -> Path:
    assert cli("init", str(tmp_path / "demo"), "--template", template).exit_code == 0
    demo = tmp_path / "demo"
    assert cli("run", cwd=demo).exit_code == 0
    return demo


@pytest.mark.slow
def test_classification_predictions_keep_the_input_columns(tmp_path: Path):
    demo = _run(tmp_path, "classification")
    new = pd.read_csv(demo / "catalogue.csv").drop(columns=["class"]).head(200)
    new.insert(0, "objid", np.arange(200))
    new.loc[3, "u"] = np.nan  # a missing measurement in the new data
    new.to_csv(tmp_path / "new.csv", index=False)
    result = cli("predict", "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "out.csv"), cwd=demo)
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns[: len(new.columns)]) == list(new.columns)
    assert (out["objid"] == np.arange(200)).all()
    probabilities = out[[c for c in out.columns if c.startswith("p_")]]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert set(out["predicted_class"]) <= {"galaxy", "other"}
    # the selection at the operating point the run validated (1% contamination), not p >= 0.5
    run = runs_latest(demo)
    selected = json.loads((run / "verdict.json").read_text())["selected_model"]
    info = json.loads((run / "models" / f"{selected}.json").read_text())
    point = info["cases"][0]["operating_point"]
    tested = json.loads((run / "summary.json").read_text())["test"]["models"][selected]["cases"]["galaxy"]
    assert point == {"metric": "tpr_at_fpr(fpr=0.01)", "threshold": tested["rates"][point["metric"]]["threshold"]}
    assert 0.5 < point["threshold"] < 1
    assert (out["selected_galaxy"] == (out["p_galaxy"] >= point["threshold"])).all()


@pytest.mark.slow
def test_predictions_never_overwrite_a_catalogue_and_a_missing_data_file_is_named(tmp_path: Path):
    demo = _run(tmp_path, "classification")
    before = (demo / "catalogue.csv").read_bytes()
    for data, out in (("catalogue.csv", "catalogue.csv"), (str(tmp_path / "new.csv"), "catalogue.csv")):
        if data != "catalogue.csv":
            (tmp_path / "new.csv").write_bytes(before)
        result = cli("predict", "--data", data, "--out", out, cwd=demo)
        assert result.exit_code == 2 and "would overwrite" in result.stderr, result.output
    assert (demo / "catalogue.csv").read_bytes() == before
    missing = cli("predict", "--data", "nowhere.csv", "--out", "o.csv", cwd=demo)
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr and "relative to the folder you run mlproj in" in missing.stderr


@pytest.mark.slow
def test_regression_predictions_have_sigma_and_interval(tmp_path: Path):
    demo = _run(tmp_path, "regression")
    result = cli("predict", "--data", str(demo / "catalogue.csv"), "--out", str(tmp_path / "out.parquet"), cwd=demo)
    assert result.exit_code == 0, result.output
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert {"prediction", "sigma", "low_68", "high_68"} <= set(out.columns)
    assert (out["sigma"] > 0).all()
    np.testing.assert_allclose(out["high_68"] - out["low_68"], 2 * out["sigma"])


@pytest.mark.slow
def test_a_model_file_that_is_not_ours_is_refused(tmp_path: Path):
    demo = _run(tmp_path, "classification")
    models = sorted((runs_latest(demo) / "models").glob("*.skops"))
    assert models
    models[0].write_bytes(b"PK\x03\x04 not a model" * 10)
    result = cli("predict", "--data", str(demo / "catalogue.csv"), "--out", str(tmp_path / "o.csv"), cwd=demo)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.slow
def test_predict_on_a_catalogue_without_the_features(tmp_path: Path):
    demo = _run(tmp_path, "classification")
    pd.DataFrame({"objid": [1, 2]}).to_csv(tmp_path / "bad.csv", index=False)
    result = cli("predict", "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o.csv"), cwd=demo)
    assert result.exit_code == 2
    assert "not in the catalogue" in result.stderr


@pytest.mark.slow
def test_regression_sigma_model_and_input_draws(tmp_path: Path):
    import yaml

    assert cli("init", str(tmp_path / "demo"), "--template", "regression").exit_code == 0
    demo = tmp_path / "demo"
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    features = project["data"]["features"]
    project["data"]["features"] = [f for f in features if f in "ugriz"]
    project["data"]["derived"] = {}
    project["data"]["errors"] = {band: f"{band}_err" for band in project["data"]["features"]}
    project["uncertainty"] = {"method": "residual"}
    project["validation"]["repeats"] = 1
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    assert cli("run", cwd=demo).exit_code == 0
    assert (runs_latest(demo) / "models").glob("*.spread.skops")
    out = tmp_path / "out.csv"
    result = cli("predict", "--data", str(demo / "catalogue.csv"), "--out", str(out), "--draws", "8", cwd=demo)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame["sigma"].std() > 0  # σ(x) varies from object to object
    assert (frame["sigma"] >= frame["sigma_inputs"]).all() and frame["sigma_inputs"].max() > 0
    truth = frame[project["data"]["label"]]
    inside = (abs(truth - frame["prediction"]) <= frame["sigma"]).mean()
    assert 0.55 < inside < 0.95  # in-sample objects, so a little optimistic, but no wild miscalibration
