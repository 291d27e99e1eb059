"""Model variants and nested search from a project file, end to end: a variant is fitted on the
same folds, compared with its candidate and preferred when equivalent and simpler; a search's
chosen values per fold are in summary.json and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from tests.e2e.helpers import cli, runs_latest


def _project(tmp_path: Path, candidates: list[dict], margin: float = 0.01) -> Path:
    demo = tmp_path / "demo"
    assert cli("init", str(demo), "--template", "classification").exit_code == 0
    pd.read_csv(demo / "catalogue.csv").head(900).to_csv(demo / "catalogue.csv", index=False)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["validation"].update({"folds": 3, "repeats": 1})
    project["finish_line"]["margin"] = margin
    project["baselines"] = ["dummy"]
    project["candidates"] = candidates
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return demo


def test_an_equivalent_simpler_variant_is_compared_and_selected(tmp_path):
    demo = _project(tmp_path, [{"name": "rf", "estimator": "RandomForestClassifier",
                                "params": {"n_estimators": 60},
                                "variants": {"few": {"n_estimators": 15}, "shallow": {"max_depth": 2}}}],
                    margin=0.3)
    result = cli("run", cwd=demo)
    assert result.exit_code in (0, 1, 3), result.output
    run = runs_latest(demo)
    plan = json.loads((run / "plan.json").read_text())
    fits = {m["name"]: m["fits"] for m in plan["models"]}
    assert fits["rf.few"] == fits["rf"] == fits["rf.shallow"] == 3
    verdict = json.loads((run / "verdict.json").read_text())
    pairs = {(c["a"], c["b"]) for c in verdict["comparisons"]}
    selected = verdict["selected_model"]
    assert selected in ("rf.few", "rf.shallow")  # equivalent within ±0.3 and simpler than rf
    assert ("rf", selected) in pairs
    summary = json.loads((run / "summary.json").read_text())
    few = next(m for m in summary["models"] if m["name"] == "rf.few")
    assert few["parent"] == "rf" and few["settings"] == -1 and few["params"]["n_estimators"] == 15
    assert "parent" not in next(m for m in summary["models"] if m["name"] == "rf")
    report = (run / "report.md").read_text()
    section = report[report.index("## Model variants"):]
    assert "| rf.few | rf | n_estimators=15 |" in section and "| rf.shallow | rf | max_depth=2 |" in section
    assert "simpler variant" in verdict["selection_reason"] or "simpler" in verdict["selection_reason"]


def test_a_nested_search_records_its_choice_per_fold(tmp_path):
    demo = _project(tmp_path, [{"name": "hgb", "estimator": "HistGradientBoostingClassifier",
                                "params": {"max_iter": 30},
                                "search": {"max_leaf_nodes": [3, 15]}, "search_folds": 2}])
    result = cli("run", cwd=demo)
    assert result.exit_code in (0, 1, 3), result.output
    run = runs_latest(demo)
    summary = json.loads((run / "summary.json").read_text())
    choices = summary["search"]["hgb"]
    assert [(c["repeat"], c["fold"]) for c in choices] == [(0, 0), (0, 1), (0, 2), (0, -1)]  # -1: the final fit
    assert all(set(c["params"]) == {"max_leaf_nodes"} and c["params"]["max_leaf_nodes"] in (3, 15)
               for c in choices)
    report = (run / "report.md").read_text()
    section = report[report.index("## Nested search"):]
    assert "| 0 | 2 | max_leaf_nodes=" in section and "final fit" in section
    # the choice is part of the cached fit: a re-run is up to date and keeps it
    again = cli("run", "--rerun", cwd=demo)
    assert again.exit_code in (0, 1, 3) and "Nothing to fit" in again.output, again.output
    assert json.loads((runs_latest(demo) / "summary.json").read_text())["search"] == summary["search"]
