"""Bad input a scientist can produce: each ends in exit 2 and one paragraph naming the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.e2e.helpers import DELETE, changed, cli, cli_subprocess

GOOD = {
    "name": "bad-input",
    "objective": {"statement": "Separate stars from galaxies.", "task": "classification"},
    "data": {"path": "cat.csv", "label": "class", "features": ["u", "g", "r"]},
    "classes": {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"},
    "positive": "galaxy",
    "metric": {"primary": {"name": "tpr_at_fpr", "fpr": 0.05}, "secondary": ["roc_auc"]},
    "finish_line": {"threshold": 0.8, "margin": 0.01},
    "validation": {"folds": 3, "repeats": 1, "test_size": 0.2},
    "baselines": ["dummy"],
    "execution": {"n_jobs": 1},
}


def catalogue(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    is_galaxy = rng.random(n) < 0.5
    frame = pd.DataFrame({f: rng.normal(18, 1, n) + is_galaxy * 0.5 for f in "ugr"})
    frame["class"] = np.where(is_galaxy, "GALAXY", "STAR")
    return frame


def with_bad_u_cells(path: Path) -> None:
    """Two cells of the magnitude u that are not numbers, in data rows 5 and 17."""
    frame = catalogue().astype({"u": object})
    frame.loc[4, "u"], frame.loc[16, "u"] = "--", "21.3e"
    frame.to_csv(path, index=False)


def with_changes(**changes) -> dict:
    return changed(GOOD, **changes)


def _project_text(project: dict) -> str:
    return yaml.safe_dump(project, sort_keys=False)


# Each case: id, project text (or dict), catalogue writer, words the message must contain.
CASES = [
    ("yaml-syntax", "name: x\nobjective: {statement: s, task: classification\n", None, ["YAML syntax error", ":3"]),
    ("unknown-key", with_changes(finish_line={"threshold": 0.8, "margn": 0.01}), None, ["margn", "did you mean 'margin'", ":"]),
    ("wrong-type", with_changes(finish_line={"threshold": "high"}), None, ["finish_line.threshold", "valid number"]),
    ("missing-field", with_changes(metric=DELETE), None, ["metric", "missing"]),
    ("missing-column", with_changes(data__features=["u", "g", "rr"]), None, ["'rr'", "not in the catalogue", "did you mean"]),
    ("missing-label", with_changes(data__label="klass"), None, ["label column 'klass'", "class"]),
    ("unsafe-expression", with_changes(classes={"galaxy": "__import__('os').system('touch CANARY')", "star": "class == 'STAR'"}), None,
     ["classes.galaxy", "not allowed"]),
    ("attribute-expression", with_changes(data__derived={"x": "u.__class__"}), None, ["data.derived.x", "attribute"]),
    ("unknown-expression-column", with_changes(data__derived={"x": "u - gg"}), None, ["'gg'", "did you mean"]),
    ("unknown-estimator", with_changes(candidates=[{"name": "hgb", "estimator": "HistGradientBoostingClassifer"}]), None,
     ["unknown estimator", "HistGradientBoostingClassifier", "candidates[0].estimator"]),
    ("wrong-kind-estimator", with_changes(candidates=[{"name": "rf", "estimator": "RandomForestRegressor"}]), None,
     ["regressor", "classification project"]),
    ("bad-estimator-param", with_changes(candidates=[{"name": "rf", "estimator": "RandomForestClassifier", "params": {"n_trees": 5}}]),
     None, ["no parameter 'n_trees'"]),
    ("unknown-metric", with_changes(metric={"primary": "tpr_at_fp"}), None, ["tpr_at_fp", "did you mean 'tpr_at_fpr'"]),
    ("bad-metric-param", with_changes(metric={"primary": {"name": "tpr_at_fpr", "fpr": 2}}), None, ["fpr", "metric.primary"]),
    ("one-class-label", with_changes(classes={"galaxy": "class == 'GALAXY'", "star": "class == 'QSO'"}), None, ["'star' matches no rows"]),
    ("one-class-after-definitions", with_changes(classes={"galaxy": "class != 'NOTHING'", "star": "class == 'NOTHING'"}), None, ["matches no rows"]),
    ("too-few-rows-for-folds", with_changes(validation={"folds": 60, "repeats": 1}), None, ["too few objects per class", "validation.folds"]),
    ("overlapping-classes", with_changes(classes={"galaxy": "u > 0", "star": "class == 'STAR'"}), None, ["match two classes"]),
    ("missing-file", with_changes(data__path="nothere.csv"), None, ["nothere.csv", "does not exist"]),
    ("empty-file", GOOD, lambda p: p.write_text(""), ["is empty"]),
    ("header-only", GOOD, lambda p: p.write_text("u,g,r,class\n"), ["no rows"]),
    ("non-numeric-feature", GOOD, lambda p: catalogue().assign(r="bright").to_csv(p, index=False), ["feature 'r' is not numeric"]),
    ("ragged-csv", GOOD, lambda p: p.write_text("u,g,r,class\n1,2,3,STAR\n1,2,3,4,5,GALAXY\n"), ["cannot read catalogue"]),
    ("non-utf8", GOOD, lambda p: p.write_bytes(b"u,g,r,class\n1,2,3,\xff\xfe\n"), ["not UTF-8"]),
    ("infinite-feature", GOOD, lambda p: catalogue().assign(u=np.inf).to_csv(p, index=False), ["infinite"]),
    ("missing-values-for-logistic", with_changes(baselines=["dummy", "standard"]),
     lambda p: catalogue().assign(u=lambda f: f.u.where(f.index % 7 != 0)).to_csv(p, index=False),
     ["missing values", "u (", "logistic"]),
    ("group-strategy-without-groups", with_changes(validation={"folds": 3, "repeats": 1, "strategy": "group"}), None,
     ["needs data.groups", "validation.strategy"]),
    ("selection-unknown-class", with_changes(selections=[{"name": "qsos", "positive": "qso", "metric": {"primary": "roc_auc"},
                                                          "finish_line": {"threshold": 0.9}}]), None,
     ["positive class 'qso'", "selections[0].positive"]),
    ("historical-without-section", with_changes(baselines=["dummy", "historical"]), None, ["historical", "section"]),
    ("historical-missing-column", with_changes(baselines=["dummy", "historical"],
                                               historical={"column": "stellarity", "kind": "score"}), None,
     ["historical column 'stellarity'"]),
    ("too-few-groups", with_changes(data__groups="u", validation={"folds": 3, "repeats": 1, "strategy": "group"}),
     lambda p: catalogue().assign(u=lambda f: (f.index % 3).astype(float)).to_csv(p, index=False), ["distinct groups"]),
    ("unsupported-format", with_changes(data__path="cat.xlsx"), None, ["unsupported file type"]),
    ("positive-not-a-class", with_changes(positive="galaxies"), None, ["'galaxies'", "did you mean 'galaxy'"]),
    ("empty-project-file", "", None, ["empty"]),
    ("python-tag", "name: !!python/object/apply:os.system ['touch CANARY']\n", None, ["tag", "not allowed"]),
    ("label-as-feature", with_changes(data__features=["u", "g", "class"]), None, ["label column 'class'", "feature"]),
    ("bad-cells-in-feature", GOOD, with_bad_u_cells,
     ["data.features", "feature 'u' has 2 cells that are not numbers", "'--' in data row 5", "'21.3e' in data row 17"]),
    ("bad-cells-in-derived-input", with_changes(data__derived={"u_g": "u - g"}), with_bad_u_cells,
     ["data.derived.u_g", "column 'u'", "2 cells that are not numbers", "'--' in data row 5"]),
    ("derived-nan-for-every-row", with_changes(data__derived={"lu": "log10(u - 100)"}), None,
     ["data.derived.lu", "is NaN for every row"]),
    ("derived-infinite-for-every-row", with_changes(data__derived={"ratio": "u / 0"}), None,
     ["data.derived.ratio", "is infinite for every row"]),
    # project text with square brackets or :codes: is shown as written (no rich markup, no emoji)
    ("data-path-is-a-folder", with_changes(data__path="."), None, ["is a folder, not a catalogue file"]),
    ("brackets-shown-as-written", with_changes(classes={"galaxy": "class in [galaxy]", "star": "class == 'STAR'"}),
     None, ['"class in [galaxy]"', "('[galaxy]')"]),
    ("line-100-shown-as-written", "#\n" * 98 + "name: a\nname: b\n", None, ["mlproj.yaml:100", "appears twice"]),
]


@pytest.mark.parametrize("case_id,project,write_catalogue,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_a_message(tmp_path: Path, case_id, project, write_catalogue, words):
    text = project if isinstance(project, str) else _project_text(project)
    (tmp_path / "mlproj.yaml").write_text(text)
    cat = tmp_path / "cat.csv"
    if write_catalogue is None:
        catalogue().to_csv(cat, index=False)
    else:
        write_catalogue(cat)
    result = cli("check", cwd=tmp_path)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert message.startswith("error:"), message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in: {message}"
    assert not (tmp_path / "CANARY").exists()


def test_missing_values_are_fine_for_estimators_that_handle_them(tmp_path: Path):
    project = with_changes(candidates=[{"name": "hgb", "estimator": "HistGradientBoostingClassifier",
                                         "params": {"max_iter": 20}}])
    (tmp_path / "mlproj.yaml").write_text(_project_text(project))
    catalogue().assign(u=lambda f: f.u.where(f.index % 7 != 0)).to_csv(tmp_path / "cat.csv", index=False)
    result = cli("run", cwd=tmp_path)
    assert result.exit_code == 0, result.output


def test_rows_without_a_label_are_dropped_and_reported_not_counted_as_the_other_class(tmp_path: Path):
    project = with_changes(classes={"galaxy": "class == 'GALAXY'", "star": "class != 'GALAXY'"})
    (tmp_path / "mlproj.yaml").write_text(_project_text(project))
    frame = catalogue()
    stars = int((frame["class"] == "STAR").sum())
    frame.loc[frame.index[:12], "class"] = ""  # empty cells in the CSV
    frame.to_csv(tmp_path / "cat.csv", index=False)
    unlabelled_stars = stars - int((frame["class"] == "STAR").sum())
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "dropped 12 rows with a missing label" in result.stdout
    assert f"star {stars - unlabelled_stars};" in result.stdout
    run = cli("run", cwd=tmp_path)  # the run says so too, not only `check`
    assert run.exit_code == 0, run.output
    assert "Dropped 12 rows with a missing label." in run.stdout


def test_good_project_is_accepted(tmp_path: Path):
    (tmp_path / "mlproj.yaml").write_text(_project_text(GOOD))
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout


def test_missing_project_file_as_a_real_process(tmp_path: Path):
    """Through a real process: no traceback reaches the terminal, the documented code is returned."""
    result = cli_subprocess("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "mlproj.yaml does not exist" in " ".join(result.stderr.split())
    assert "mlproj init" in result.stderr


@pytest.mark.slow
def test_unsafe_expression_as_a_real_process_executes_nothing(tmp_path: Path):
    project = with_changes(data__derived={"x": "__import__('os').system('touch CANARY')"})
    (tmp_path / "mlproj.yaml").write_text(_project_text(project))
    catalogue().to_csv(tmp_path / "cat.csv", index=False)
    result = cli_subprocess("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "CANARY").exists()


def test_verdict_without_runs(tmp_path: Path):
    (tmp_path / "mlproj.yaml").write_text(_project_text(GOOD))
    result = cli("verdict", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no runs yet" in result.stderr
