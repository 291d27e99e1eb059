"""Issue 3 end to end: selections, hypotheses, leakage, historical baseline, grouped and time splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import REPO, changed, cli, copy_config, latest, runs_latest

SDSS_SELECTIONS = REPO / "configs" / "sdss-selections.yaml"


@pytest.mark.slow
def test_sdss_two_selections_with_hypotheses_and_the_redshift_leak(tmp_path, shared_data):
    copy_config(SDSS_SELECTIONS, tmp_path, execution__n_jobs=2,
                data__features=["u", "g", "r", "i", "z", "redshift"])
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    verdict = latest(tmp_path, "verdict.json")
    names = [c["name"] for c in verdict["criteria"]]
    assert "galaxy: finish_line" in names and "complete-qsos: finish_line" in names
    assert "can_distinguish_hypotheses" in names
    assert {s["selection"] for s in verdict["selections"]} == {"galaxy", "complete-qsos"}
    assert verdict["power"]["power"] is not None and 0 <= verdict["power"]["power"] <= 1
    # The spectroscopic redshift gives the stars away (~1e-5 for stars; stars against the rest AUC
    # 0.9998): one label-leak warning, and no_label_leak fails the verdict.
    stderr = " ".join(result.stderr.split())
    assert stderr.count("label leak:") == 1 and "label leak: redshift" in stderr
    assert [f["feature"] for f in latest(tmp_path, "summary.json")["strong_features"]] == ["redshift"]
    leak = next(c for c in verdict["criteria"] if c["name"] == "no_label_leak")
    assert leak["status"] == "fail" and "redshift" in leak["detail"] and verdict["status"] == "fail"
    text = " ".join(result.stdout.split())
    assert "Selection complete-qsos" in text and "Power analysis" in text
    # Rates carry their counts: N−, FP and a Wilson interval for the test set.
    test = verdict["test"]["cases"]["galaxy"]["rates"]["tpr_at_fpr(fpr=0.01)"]
    assert test["n_negative"] > 0 and len(test["wilson"]) == 2


@pytest.mark.slow
def test_sdss_selections_config_without_leaking_feature_has_no_warning(tmp_path, shared_data):
    copy_config(SDSS_SELECTIONS, tmp_path, execution__n_jobs=2)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "leakage" not in result.stderr


def _catalogue(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    field = rng.integers(0, 30, n)
    offset = rng.normal(0, 0.5, 30)[field]  # each field has its own calibration offset
    is_galaxy = rng.random(n) < 0.5
    x = rng.normal(0, 1, (n, 3)) + is_galaxy[:, None] * 1.2 + offset[:, None]
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "field": field, "mjd": 50000 + rng.random(n) * 3000,
                         "stellarity": 1 / (1 + np.exp(2 * x[:, 0] - 1.2 + rng.normal(0, 1, n))),
                         "class": np.where(is_galaxy, "GALAXY", "STAR")})


def _project(**changes) -> dict:
    project = {
        "name": "splits",
        "objective": {"statement": "Galaxies from three features.", "task": "classification"},
        "data": {"path": "cat.csv", "label": "class", "features": ["a", "b", "c"]},
        "classes": {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"},
        "positive": "galaxy",
        "metric": {"primary": {"name": "tpr_at_fpr", "fpr": 0.05}, "secondary": ["roc_auc"]},
        "finish_line": {"threshold": 0.5, "margin": 0.02},
        "validation": {"folds": 4, "repeats": 2},
        "baselines": ["dummy", "standard"],
        "execution": {"n_jobs": 2},
    }
    return changed(project, **changes)


def _write(folder, project, n=800):
    folder.mkdir(exist_ok=True)
    _catalogue(n).to_csv(folder / "cat.csv", index=False)
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))


@pytest.mark.slow
def test_grouped_split_keeps_fields_together(tmp_path):
    _write(tmp_path, _project(data__groups="field", validation__strategy="group"))
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    plan = latest(tmp_path, "plan.json")
    assert plan["strategy"] == "group"
    table = pd.read_csv(tmp_path / "cat.csv")
    from mlproj.project.loading import load_project
    from mlproj.workflow.run import prepare

    prepared = prepare(load_project(tmp_path / "mlproj.yaml"))
    fields = table["field"].astype(str).to_numpy()
    test_fields = set(fields[prepared.plan.test])
    assert not test_fields & set(fields[prepared.plan.development])
    for split in prepared.plan.splits:
        assert not set(fields[split.train]) & set(fields[split.valid])
    assert "field" not in plan["features"]


def test_time_ordered_split_predicts_forward(tmp_path):
    _write(tmp_path, _project(data__order="mjd", validation__strategy="time"))
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    from mlproj.project.loading import load_project
    from mlproj.workflow.run import prepare

    prepared = prepare(load_project(tmp_path / "mlproj.yaml"))
    mjd = pd.read_csv(tmp_path / "cat.csv")["mjd"].to_numpy()
    plan = prepared.plan
    assert mjd[plan.test].min() >= mjd[plan.development].max()
    for split in plan.splits:
        assert mjd[split.valid].min() >= mjd[split.train].max()
    assert latest(tmp_path, "plan.json")["repeats"] == 1
    assert "repeat" in result.stderr  # the note says why only one repeat is used


@pytest.mark.slow
def test_historical_baseline_is_scored_on_the_same_folds(tmp_path):
    project = _project(baselines=["dummy", "standard", "historical"],
                       historical={"column": "stellarity", "kind": "score", "direction": "lower"})
    _write(tmp_path, project)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    summary = latest(tmp_path, "summary.json")
    case = summary["cases"][0]
    historical = case["models"]["historical"]["metrics"]["tpr_at_fpr(fpr=0.05)"]
    assert historical["n"] == 8 and 0.05 < historical["mean"] < 1
    verdict = latest(tmp_path, "verdict.json")
    assert any(c["a"] == "historical" for c in verdict["comparisons"])
    # Nothing is fitted for the historical method.
    results = pd.read_csv(runs_latest(tmp_path) / "results.csv")
    assert (results.loc[results.model == "historical", "fit_seconds"] == 0).all()


@pytest.mark.slow
def test_same_estimator_as_a_baseline_is_equivalent_and_a_better_one_is_improved(tmp_path):
    same = {"name": "forest_again", "estimator": "RandomForestClassifier", "params": {"random_state": 123}}
    project = _project(candidates=[same], baselines=["dummy", "standard"],
                       metric={"primary": "roc_auc"}, finish_line={"threshold": 0.8, "margin": 0.02})
    rng = np.random.default_rng(3)
    n = 1500
    x = rng.normal(0, 1, (n, 3))
    is_galaxy = (x[:, 0] * x[:, 1] + 0.3 * rng.normal(size=n)) > 0  # not linear: forests beat logistic
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "class": np.where(is_galaxy, "GALAXY", "STAR")})
    tmp_path.mkdir(exist_ok=True)
    frame.to_csv(tmp_path / "cat.csv", index=False)
    (tmp_path / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    assert cli("run", cwd=tmp_path).exit_code == 0
    verdict = latest(tmp_path, "verdict.json")
    decisions = {(c["b"], c["a"]): c["decision"] for c in verdict["comparisons"]}
    forest = verdict["selected_model"]  # the selected model (b) is compared with every other one
    assert forest in ("forest_again", "random_forest")
    twin = "random_forest" if forest == "forest_again" else "forest_again"
    assert decisions[(forest, twin)] == "equivalent"
    assert decisions[(forest, "logistic")] == "improved"


@pytest.mark.slow
def test_mlz_errors_and_residual_uncertainty(tmp_path, shared_data):
    config = REPO / "configs" / "mlz-photoz-uncertainty.yaml"
    copy_config(config, tmp_path, execution__n_jobs=2)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for words in ("sigma_nmad", "outlier_fraction", "CRPS", "NLL", "coverage", "global",
                  "residual"):
        assert words in text, words
    verdict = latest(tmp_path, "verdict.json")
    judged = verdict["selections"][0]["uncertainty"]
    assert set(judged["methods"]) == {"global", "residual"}
    for method in ("global", "residual"):
        values = judged["methods"][method]
        assert 0.5 < values["coverage_68"] < 0.9 and 0.85 < values["coverage_95"] <= 1
        assert values["crps"] > 0
    assert judged["comparisons"][0]["a"] == "global" and judged["comparisons"][0]["b"] == "residual"
    test = verdict["test"]["cases"]["zs"]
    assert {"crps[global]", "crps[residual]", "coverage_68[residual]"} <= set(test["uncertainty"])
    assert "ks_statistic" in test["pit"]
    coverage = test["coverage"]["residual"]["0.6827"]
    assert coverage["n"] == verdict["test"]["n_test"] and len(coverage["wilson"]) == 2
    assert coverage["wilson"][0] <= coverage["observed"] <= coverage["wilson"][1]
