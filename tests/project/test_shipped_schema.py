"""The JSON Schema validates what we ship, points editors to itself, and still refuses mistakes.

Every shipped project file (templates, examples, configs) validates against `mlproj schema`
with an independent validator (jsonschema), starts with the yaml-language-server line, and the
committed mlproj.schema.json beside it is the current schema (regenerate with `mlproj schema`).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlproj.project.loading import load_project
from mlproj.science.metrics import METRICS
from mlproj.workflow.schema import SCHEMA_FILE, SCHEMA_LINE, project_schema

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "mlproj" / "templates").glob("*.yaml"), *(ROOT / "examples").glob("*/mlproj.yaml"),
                  *(ROOT / "configs").glob("*.yaml")])


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = project_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, document) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_every_kind_of_shipped_file_is_found():
    assert len(SHIPPED) >= 9
    assert {p.parent.name for p in SHIPPED} >= {"templates", "star-galaxy", "photo-z", "configs"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_file_validates_and_points_to_the_schema(validator, path: Path):
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == SCHEMA_LINE
    assert _errors(validator, yaml.safe_load(text)) == []
    if path.parent.name != "templates":  # a template's schema is written by `mlproj init`
        assert (path.parent / SCHEMA_FILE).is_file(), f"{path.parent / SCHEMA_FILE} is missing: `mlproj schema >` it"
    load_project(path)  # and mlproj itself agrees


@pytest.mark.parametrize("folder", ["configs", "examples/star-galaxy", "examples/photo-z"])
def test_committed_schema_is_the_current_one(folder: str):
    committed = json.loads((ROOT / folder / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert committed == project_schema(), (
        f"{folder}/{SCHEMA_FILE} is out of date: regenerate it with `mlproj schema > {folder}/{SCHEMA_FILE}`")
    shipped = {c["estimator"] for p in SHIPPED for c in (yaml.safe_load(p.read_text()) or {}).get("candidates", [])}
    assert shipped <= set(committed["$defs"]["CandidateSpec"]["properties"]["estimator"]["anyOf"][0]["enum"])


def test_the_schema_lists_exactly_the_installed_allow_list():
    # The schema's names are kept in a module so that `mlproj schema` needs no scikit-learn;
    # this fails when they drift from the scikit-learn CI pins (rewrite the module then).
    from mlproj.plan.estimators import allowed_estimators
    from mlproj.project.estimator_names import ESTIMATOR_NAMES

    for task, names in ESTIMATOR_NAMES.items():
        assert list(names) == sorted(allowed_estimators(task)), task


def test_metric_and_estimator_names_are_enums(validator):
    schema = validator.schema
    metric = schema["$defs"]["MetricSpec"]["anyOf"]
    assert set(metric[0]["enum"]) == set(METRICS)
    assert {"HistGradientBoostingClassifier", "RandomForestRegressor", "LogisticRegression"} <= set(
        schema["$defs"]["CandidateSpec"]["properties"]["estimator"]["anyOf"][0]["enum"])


@pytest.fixture
def project() -> dict:
    return yaml.safe_load((ROOT / "examples" / "star-galaxy" / "mlproj.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("metric", ["roc_auc", {"name": "tpr_at_fpr", "fpr": 0.01}, {"name": "tpr_at_fpr"},
                                    {"name": "tpr_at_fpr", "params": {"fpr": 0.05}},
                                    {"name": "sigma_nmad", "relative": False}])
def test_metric_forms_are_accepted(validator, project, metric):
    project["metric"]["primary"] = metric
    assert _errors(validator, project) == []


@pytest.mark.parametrize("metric", ["roc_acu", {"name": "tpr_at_fpr", "fnr": 0.01}, {"fpr": 0.01},
                                    {"name": "sigma_nmad", "relative": "yes"}, 3])
def test_metric_mistakes_are_refused(validator, project, metric):
    project["metric"]["primary"] = metric
    assert _errors(validator, project)


@pytest.mark.parametrize("change", [
    lambda p: p["candidates"][0].update(estimator="XGBClassifer"),
    lambda p: p.update(unknown_section={}),
    lambda p: p["validation"].update(folds=1),
    lambda p: p["finish_line"].update(margin=-0.1),
    lambda p: p.update(report={"figures": "sometimes"}),
])
def test_schema_refuses_mistakes(validator, project, change):
    change(project)
    assert _errors(validator, project)


def test_report_settings_validate(validator, project):
    project["report"] = {"figures": False, "latex": True, "metrics_file": "metrics.json",
                         "corner_features": ["u", "g"]}
    assert _errors(validator, project) == []
