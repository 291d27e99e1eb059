"""The test harness through the real CLI (paper §2.4): each declared check is a verdict criterion.

A simulated catalogue where `s` carries all the signal and `w` is pure noise: shuffling `s` must
change the predictions (the model relies on it), so a check that demands invariance to it fails
the verdict with that criterion named; shuffling `w`, or noise far below the signal, passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import cli, runs_latest, write_project


def catalogue(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.normal(0, 1, n)
    galaxy = s + rng.normal(0, 0.2, n) > 0
    m1 = rng.uniform(17, 21, n)
    m2 = m1 - rng.normal(0.5, 0.3, n)
    return pd.DataFrame({"s": s, "w": rng.normal(0, 1, n), "m1": m1, "m2": m2,
                         "m1_err": np.full(n, 0.02), "m2_err": np.full(n, 0.02),
                         "class": np.where(galaxy, "GALAXY", "STAR")})


def project(harness: list[dict], **extra) -> dict:
    return {
        "name": "harness-test",
        "objective": {"statement": "s", "task": "classification"},
        "data": {"path": "cat.csv", "label": "class", "features": ["s", "w", "m1", "m2"],
                 "derived": {"c": "m1 - m2"}, "errors": {"m1": "m1_err", "m2": "m2_err"}},
        "classes": {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"},
        "positive": "galaxy",
        "metric": {"primary": "roc_auc"},
        "finish_line": {"threshold": 0.6, "margin": 0.01},
        "validation": {"folds": 2, "repeats": 1, "test_size": 0.25},
        "baselines": ["dummy"],
        "candidates": [{"name": "lr", "estimator": "LogisticRegression", "scale": True}],
        "report": {"figures": False},
        "harness": harness,
        **extra,
    }


def _setup(tmp_path: Path, harness: list[dict], **extra) -> Path:
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, project(harness, **extra))
    return tmp_path


def _criteria(folder: Path) -> dict[str, dict]:
    verdict = json.loads((runs_latest(folder) / "verdict.json").read_text())
    return {c["name"]: c for c in verdict["criteria"]}


def test_a_check_the_model_cannot_pass_fails_the_verdict_and_one_it_passes_shows_as_passed(tmp_path):
    folder = _setup(tmp_path, [
        {"kind": "invariance", "perturb": {"permute": ["s"]}, "tolerance": 0.05},
        {"kind": "invariance", "perturb": {"permute": ["w"]}, "tolerance": 0.05},
        {"kind": "invariance", "perturb": {"noise": 0.001}, "tolerance": 0.02},
        {"kind": "invariance", "perturb": {"noise": "errors"}, "name": "photometric-noise", "tolerance": 0.02},
    ])
    run = cli("run", "-j", "1", cwd=folder)
    assert run.exit_code == 0, run.output  # `run` exits 0 whatever the verdict; `verdict` gives it
    criteria = _criteria(folder)
    relied = criteria["harness: invariance (permute s)"]
    assert relied["status"] == "fail" and relied["value"] > 0.2  # about half the objects change their class
    assert criteria["harness: invariance (permute w)"]["status"] == "pass"
    assert criteria["harness: invariance (noise 0.001)"]["status"] == "pass"
    assert criteria["harness: photometric-noise"]["status"] == "pass"
    assert criteria["finish_line"]["status"] == "pass"  # only the harness fails the verdict

    verdict = cli("verdict", cwd=folder)
    assert verdict.exit_code == 1
    assert "harness: invariance (permute s)" in verdict.output
    summary = json.loads((runs_latest(folder) / "summary.json").read_text())
    assert [h["name"] for h in summary["harness"]][:2] == ["harness: invariance (permute s)",
                                                           "harness: invariance (permute w)"]
    report = (runs_latest(folder) / "report.md").read_text()
    assert "## Test harness" in report and "FAILED" in report and "passed" in report


def test_cases_and_hybrid_checks_pass_and_a_wrong_expectation_fails(tmp_path):
    folder = tmp_path
    pd.DataFrame({"s": [3.0, -3.0, 2.5], "w": [0.0, 0.0, 1.0], "m1": [19.0, 19.0, 20.0], "m2": [18.5, 18.5, 19.0],
                  "expect": ["galaxy", "star", "galaxy"]}).to_csv(folder / "handmade.csv", index=False)
    pd.DataFrame({"s": [3.0], "w": [0.0], "m1": [19.0], "m2": [18.5],
                  "expect": ["star"]}).to_csv(folder / "wrong.csv", index=False)
    _setup(folder, [
        {"kind": "cases", "path": "handmade.csv", "expect": "expect"},
        {"kind": "hybrid", "combine": ["galaxy", "galaxy"], "expect": "galaxy", "fluxes": "magnitude",
         "features": ["m1", "m2"], "pairs": 100},
        {"kind": "cases", "path": "wrong.csv", "name": "wrong-expectation"},
    ])
    run = cli("run", "-j", "1", cwd=folder)
    assert run.exit_code == 0, run.output  # `run` exits 0 whatever the verdict; `verdict` gives it
    criteria = _criteria(folder)
    assert criteria["harness: cases (handmade.csv)"]["status"] == "pass"
    assert criteria["harness: cases (handmade.csv)"]["value"] == 1.0
    assert criteria["harness: hybrid (galaxy + galaxy → galaxy)"]["status"] == "pass"
    wrong = criteria["harness: wrong-expectation"]
    assert wrong["status"] == "fail" and "row 1: galaxy (expected star)" in wrong["detail"]


def test_a_cases_file_without_a_feature_column_is_one_paragraph_naming_file_and_column(tmp_path):
    pd.DataFrame({"s": [1.0], "m1": [19.0], "m2": [18.0], "expect": ["galaxy"]}).to_csv(tmp_path / "bad.csv",
                                                                                      index=False)
    _setup(tmp_path, [{"kind": "cases", "path": "bad.csv"}])
    result = cli("check", cwd=tmp_path)  # before any fit
    assert result.exit_code == 2
    assert "bad.csv" in result.stderr and "'w'" in result.stderr and "harness" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("check, field", [
    ({"kind": "hybrid", "combine": ["galaxy", "qso"], "expect": "galaxy"}, "combine"),
    ({"kind": "hybrid", "combine": ["galaxy", "star"]}, "expect"),
    ({"kind": "cases"}, "harness"),
    ({"kind": "invariance", "perturb": {"permute": ["u"]}}, "permute"),
    ({"kind": "invariance", "perturb": {"noise": -1}}, "noise"),
    ({"kind": "invariance", "perturb": {}}, "perturb"),
])
def test_check_refuses_incomplete_harness_checks_naming_the_field(tmp_path, check, field):
    _setup(tmp_path, [check])
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert field in result.stderr and "harness" in result.stderr
    assert "Traceback" not in result.stderr


def test_noise_at_the_errors_needs_data_errors(tmp_path):
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    spec = project([{"kind": "invariance", "perturb": {"noise": "errors"}}])
    del spec["data"]["errors"]
    write_project(tmp_path, spec)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 2
    assert "data.errors" in result.stderr and "noise" in result.stderr
