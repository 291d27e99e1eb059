"""The example configs on the shared real catalogues, run end to end through the CLI.

The SDSS test recomputes the logistic baseline with plain scikit-learn on the same splits: the
number mlproj reports must be the number anyone would get by hand.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import REPO, cli, copy_config, latest, runs_latest

pytestmark = pytest.mark.slow  # every test here runs the CLI on a shared real catalogue

SDSS_CONFIG = REPO / "configs" / "sdss-galaxy-purity.yaml"
MLZ_CONFIG = REPO / "configs" / "mlz-photoz.yaml"


@pytest.fixture(scope="module")
def sdss_run(tmp_path_factory, shared_data):
    folder = tmp_path_factory.mktemp("sdss")
    copy_config(SDSS_CONFIG, folder, execution__n_jobs=2)
    result = cli("run", cwd=folder)
    assert result.exit_code == 0, result.output
    return folder, result


def _threshold_by_hand(is_positive: np.ndarray, score: np.ndarray, alpha: float) -> float:
    """Independent of mlproj.science.metrics: the lowest score threshold whose FPR is at most α."""
    negatives = np.sort(score[~is_positive])[::-1]
    allowed_fp = int(np.floor(alpha * len(negatives) + 1e-9))
    candidates = np.unique(score)[::-1]  # select score >= t, t from high to low
    best = np.inf
    for t in candidates:
        if (negatives >= t).sum() > allowed_fp:
            break
        best = t
    return best


def test_sdss_logistic_baseline_matches_plain_scikit_learn(sdss_run):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folder, _ = sdss_run
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    table = pd.read_csv(project["data"]["path"])
    for name, expression in project["data"].get("derived", {}).items():
        a, b = [part.strip() for part in expression.split("-")]  # the config's colours are "x - y"
        table[name] = table[a] - table[b]
    features = list(project["data"]["features"]) + [d for d in project["data"].get("derived", {})
                                                    if d not in project["data"]["features"]]
    galaxy = (table["class"] == "GALAXY").to_numpy()
    labels = np.where(galaxy, 0, 1)  # class order of the config: galaxy first
    X = table[features].to_numpy(float)
    validation = project["validation"]
    rows = np.arange(len(table))
    dev, _ = train_test_split(rows, test_size=validation.get("test_size", 0.2), random_state=validation.get("seed", 0),
                              stratify=labels)
    dev = np.sort(dev)
    alpha = project["metric"]["primary"]["fpr"]
    scores = []
    for repeat in range(validation.get("repeats", 3)):
        seed = validation.get("seed", 0) + repeat
        folds = list(StratifiedKFold(validation.get("folds", 5), shuffle=True, random_state=seed).split(dev, labels[dev]))
        predicted = []
        for train, valid in folds:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
            model.fit(X[dev[train]], labels[dev[train]])
            predicted.append(model.predict_proba(X[dev[valid]])[:, 0])
        # The threshold for a fold comes from the other folds' predictions, then is applied to it.
        for j, (_, valid) in enumerate(folds):
            others = [i for i in range(len(folds)) if i != j]
            rows = np.concatenate([dev[folds[i][1]] for i in others])
            threshold = _threshold_by_hand(galaxy[rows], np.concatenate([predicted[i] for i in others]), alpha)
            selected = predicted[j] >= threshold
            scores.append(float(selected[galaxy[dev[valid]]].mean()))

    summary = latest(folder, "summary.json")
    case = summary["cases"][0]
    logistic = case["models"]["logistic"]
    label = case["primary"]["label"]
    assert logistic["scores"] == pytest.approx(scores, abs=1e-12)
    assert logistic["metrics"][label]["mean"] == pytest.approx(np.mean(scores), abs=1e-12)


def test_sdss_run_directory_and_verdict(sdss_run):
    folder, result = sdss_run
    run = runs_latest(folder)
    for name in ("project.yaml", "plan.json", "results.csv", "summary.json", "verdict.json", "environment.json"):
        assert (run / name).is_file(), name
    verdict = latest(folder, "verdict.json")
    assert verdict["status"] in {"pass", "fail", "undetermined"}
    assert {"name", "mean", "se", "interval", "n"} <= set(verdict["primary"])
    for criterion in verdict["criteria"]:
        assert {"name", "status", "value", "threshold", "detail"} <= set(criterion)
    for comparison in verdict["comparisons"]:
        assert {"a", "b", "difference", "interval", "p_better", "p_equivalent", "p_worse", "decision"} <= set(comparison)
    # Every model beats nothing by chance: the dummy's TPR at 1% FPR is about 1%.
    case = latest(folder, "summary.json")["cases"][0]
    assert case["models"]["dummy"]["metrics"][case["primary"]["label"]]["mean"] < 0.05
    with open(run / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    plan = latest(folder, "plan.json")
    assert len(rows) == plan["total_fits"]
    assert "VERDICT" in result.stdout
    code = cli("verdict", cwd=folder).exit_code
    assert code == {"pass": 0, "fail": 1, "undetermined": 3}[verdict["status"]]


def test_mlz_photoz_regression(tmp_path, shared_data):
    copy_config(MLZ_CONFIG, tmp_path, execution__n_jobs=2)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    verdict = latest(tmp_path, "verdict.json")
    summary = latest(tmp_path, "summary.json")
    assert summary["task"] == "regression"
    case = summary["cases"][0]
    assert case["primary"]["greater_is_better"] is False
    # σ_NMAD of a photo-z random forest on SDSS MGS is below 0.025; predicting the median is far worse.
    by_name = {name: m["metrics"][case["primary"]["label"]]["mean"] for name, m in case["models"].items()}
    assert by_name["random_forest"] < 0.025
    assert by_name["dummy"] > 2 * by_name["random_forest"]
    assert verdict["selected_model"] != "dummy"
    assert cli("verdict", cwd=tmp_path).exit_code == verdict["exit_code"]
