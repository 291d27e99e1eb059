"""Third-party estimators (allow_imports) and Pipeline candidates from a project file, end to end:
`mlproj run` fits them, `mlproj predict` loads their model files back; a path not in allow_imports
is refused with the usual one paragraph (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import cli, runs_latest


def _project(tmp_path: Path, candidates: list[dict], **top) -> Path:
    demo = tmp_path / "demo"
    assert cli("init", str(demo), "--template", "classification").exit_code == 0
    table = pd.read_csv(demo / "catalogue.csv").head(900)
    table.to_csv(demo / "catalogue.csv", index=False)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["validation"].update({"folds": 3, "repeats": 1})
    project["baselines"] = ["dummy"]
    project["candidates"] = candidates
    project.update(top)
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return demo


def _predict(demo: Path, tmp_path: Path) -> pd.DataFrame:
    new = pd.read_csv(demo / "catalogue.csv").drop(columns=["class"]).head(50)
    new.to_csv(tmp_path / "new.csv", index=False)
    result = cli("predict", "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "out.csv"), cwd=demo)
    assert result.exit_code == 0, result.output
    return pd.read_csv(tmp_path / "out.csv")


@pytest.mark.parametrize("path", ["xgboost.XGBClassifier", "lightgbm.LGBMClassifier", "catboost.CatBoostClassifier"])
def test_a_boosting_candidate_runs_and_predict_loads_it_back(tmp_path, path):
    pytest.importorskip(path.split(".")[0])  # CatBoost (mlproj[boosting]) is not in the dev extra
    params = {"iterations": 30} if path.startswith("catboost") else {"n_estimators": 30}
    demo = _project(tmp_path, [{"name": "boost", "estimator": path, "params": params}], allow_imports=[path])
    result = cli("run", cwd=demo)
    assert result.exit_code in (0, 1, 3), result.output
    run = runs_latest(demo)
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["selected_model"] == "boost"
    summary = json.loads((run / "summary.json").read_text())
    boost = next(m for m in summary["models"] if m["name"] == "boost")
    assert boost["estimator"] == path and boost["failed_tasks"] == 0 and boost["simplicity"] == 2
    out = _predict(demo, tmp_path)
    assert out["p_galaxy"].between(0, 1).all() and set(out["predicted_class"]) <= {"galaxy", "other"}
    # the model file holds the library's own format, and only this project's allow_imports opens it
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["allow_imports"] = []
    project["candidates"][0]["estimator"] = "HistGradientBoostingClassifier"
    project["candidates"][0]["params"] = {}
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    refused = cli("predict", str(run), "--allow-stale", "--data", str(tmp_path / "new.csv"), "--out",
                  str(tmp_path / "o2.csv"),
                  cwd=demo)
    assert refused.exit_code == 2 and "allow_imports does not list" in refused.stderr, refused.output
    assert "Traceback" not in refused.output


def test_without_allow_imports_the_project_file_is_refused(tmp_path):
    demo = _project(tmp_path, [{"name": "xgb", "estimator": "xgboost.XGBClassifier"}])
    for command in ("check", "run"):
        result = cli(command, cwd=demo)
        assert result.exit_code == 2, result.output
        assert "mlproj.yaml:" in result.stderr and "(candidates[0].estimator)" in result.stderr
        assert "allow_imports: [xgboost.XGBClassifier]" in result.stderr
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    bare = _project(tmp_path / "b", [{"name": "xgb", "estimator": "XGBClassifier"}])
    result = cli("check", cwd=bare)
    assert result.exit_code == 2 and "xgboost.XGBClassifier" in result.stderr and "SGDClassifier" not in result.stderr


def test_a_pipeline_candidate_runs_and_its_model_file_loads_back(tmp_path):
    steps = [{"estimator": "StandardScaler"}, {"estimator": "PCA", "params": {"n_components": 4}},
             {"estimator": "LogisticRegression", "params": {"max_iter": 1000}}]
    demo = _project(tmp_path, [{"name": "pipe", "estimator": "Pipeline", "steps": steps}])
    result = cli("run", cwd=demo)
    assert result.exit_code in (0, 1, 3), result.output
    run = runs_latest(demo)
    assert json.loads((run / "verdict.json").read_text())["selected_model"] == "pipe"
    out = _predict(demo, tmp_path)
    assert out["p_galaxy"].between(0, 1).all()


def test_a_pipeline_step_that_is_not_allowed_is_refused(tmp_path):
    steps = [{"estimator": "StandardScaler"}, {"estimator": "SelectFromModel"}, {"estimator": "LogisticRegression"}]
    demo = _project(tmp_path, [{"name": "pipe", "estimator": "Pipeline", "steps": steps}])
    result = cli("check", cwd=demo)
    assert result.exit_code == 2 and "(candidates[0].steps[1].estimator)" in result.stderr, result.output
    assert "not an allowed transformer" in result.stderr and "Traceback" not in result.output
