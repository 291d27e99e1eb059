"""Issue 22, points 5 and 8 end to end: label leaks are one warning (and physical discriminants one
note), identifier columns are named, and a target a metric cannot judge is a data error at `check`;
no raw numpy or pandas warning reaches the console."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlproj.workflow.scaffold import scaffold
from tests.e2e.helpers import cli, cli_subprocess, write_project

MORPHOLOGY = ["concentration", "petro_r50", "fracdev", "mrrcc", "texture"]


def leaky_catalogue(n: int = 1000, seed: int = 3) -> pd.DataFrame:
    """Galaxies and stars with a photometric type equal to the class and a redshift that is 0 for
    every star, beside five morphology columns that separate well (single-feature AUC 0.99-0.999)."""
    rng = np.random.default_rng(seed)
    star = rng.random(n) < 0.45
    frame = {"objid": rng.permutation(np.arange(1_237_000, 1_237_000 + n)),
             "u": rng.normal(19, 1, n) + 0.3 * star, "g": rng.normal(18, 1, n)}
    for name, shift in zip(MORPHOLOGY, (3.6, 3.65, 3.7, 3.75, 3.8)):
        frame[name] = rng.normal(size=n) + shift * star
    frame["type_r"] = np.where(star, 6, 3)
    frame["redshift"] = np.where(star, 0.0, rng.uniform(0.01, 0.3, n).round(5))
    frame["class"] = np.where(star, "STAR", "GALAXY")
    return pd.DataFrame(frame)


def naive_project() -> dict:
    return {
        "name": "naive-stars",
        "objective": {"statement": "Select galaxies, with every column the catalogue has.", "task": "classification"},
        "data": {"path": "cat.csv", "label": "class"},  # no feature list: every numeric column
        "classes": {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"},
        "positive": "galaxy",
        "metric": {"primary": "roc_auc"},
        "finish_line": {"threshold": 0.9, "margin": 0.01},
        "validation": {"folds": 2, "repeats": 1},
        "baselines": ["dummy"],
        "candidates": [{"name": "logistic", "estimator": "LogisticRegression", "scale": True}],
    }


def warning_lines(stderr: str) -> list[str]:
    """Each `warning:` paragraph of stderr as one line (rich wraps long ones)."""
    return [" ".join(p.split()) for p in re.split(r"(?=warning: |note: )", stderr) if p.startswith("warning:")]


def run_folder(folder: Path, stdout: str) -> Path:
    found = re.search(r"Run written to (\S+?);", stdout)
    assert found, stdout
    return (folder / found.group(1)).resolve()


def test_label_leaks_are_one_warning_and_physical_discriminants_one_note(tmp_path: Path):
    leaky_catalogue().to_csv(tmp_path / "cat.csv", index=False)
    write_project(tmp_path, naive_project())
    result = cli("run", cwd=tmp_path)
    assert result.exit_code in (0, 1, 3), result.output
    warnings = warning_lines(result.stderr)
    leaks = [w for w in warnings if "type_r" in w or "redshift" in w]
    assert len(leaks) == 1 and "type_r" in leaks[0] and "redshift" in leaks[0], warnings
    assert "no_label_leak" in leaks[0] and "allowed_strong_features" in leaks[0]
    assert not any(name in w for w in warnings for name in MORPHOLOGY), warnings
    printed = [" ".join(p.split()) for p in re.split(r"(?=warning: |note: )", result.stderr) if p.startswith("note:")]
    assert len(printed) == 1 and all(name in printed[0] for name in MORPHOLOGY), printed
    identifiers = [w for w in warnings if "objid" in w]
    assert len(identifiers) == 1 and "exclude: [objid]" in identifiers[0]

    summary = json.loads((run_folder(tmp_path, result.stdout) / "summary.json").read_text())
    strong = {f["feature"]: f for f in summary["strong_features"]}
    assert set(strong) == {*MORPHOLOGY, "type_r", "redshift"}
    assert {n for n, f in strong.items() if f["label_function"]} == {"type_r", "redshift"}
    assert not any(f["acknowledged"] for f in strong.values())
    assert all(0.99 <= strong[n]["value"] < 0.999 for n in MORPHOLOGY), strong

    # the physical discriminants: one grouped note, where the run keeps its notes
    from mlproj.project.loading import load_project
    from mlproj.workflow.run import prepare

    prepared = prepare(load_project(tmp_path / "mlproj.yaml"))
    notes = [n for n in prepared.dataset.notes if any(name in n for name in MORPHOLOGY)]
    assert len(notes) == 1 and all(name in notes[0] for name in MORPHOLOGY) and "type_r" not in notes[0]
    assert [f.feature for f in prepared.strong_features if f.leaks] == ["type_r", "redshift"]


def test_acknowledged_leaks_are_not_warned_and_unknown_names_are_config_errors(tmp_path: Path):
    leaky_catalogue().to_csv(tmp_path / "cat.csv", index=False)
    project = naive_project()
    project["data"]["allowed_strong_features"] = ["redshift", "type_r"]
    write_project(tmp_path, project)
    checked = cli("check", cwd=tmp_path)
    assert checked.exit_code == 0, checked.output
    assert not any("type_r" in w for w in warning_lines(checked.stderr))
    project["data"]["allowed_strong_features"] = ["redshfit"]
    write_project(tmp_path, project)
    wrong = cli("check", cwd=tmp_path)
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
    assert "redshfit" in wrong.stderr and "did you mean 'redshift'" in wrong.stderr
    assert "allowed_strong_features" in wrong.stderr


def photoz_project(folder: Path, unknown: int = 7) -> Path:
    """The regression template (a photo-z project with relative metrics) with `unknown` spectroscopic
    redshifts written as -1, as many catalogues do."""
    scaffold(folder, "regression", rows=400)
    frame = pd.read_csv(folder / "catalogue.csv")
    frame.loc[frame.index[3:3 + unknown], "z_spec"] = -1.0
    frame.to_csv(folder / "catalogue.csv", index=False)
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["validation"].update({"folds": 2, "repeats": 1})
    project["candidates"] = []
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


def test_undefined_relative_metric_is_a_data_error_at_check_and_run(tmp_path: Path):
    folder = photoz_project(tmp_path / "photoz")
    for command in ("check", "run"):
        result = cli(command, cwd=folder)
        assert result.exit_code == 2, result.output
        text = " ".join(result.stderr.split())
        assert "Traceback" not in result.output and "RuntimeWarning" not in result.output
        for words in ("7 targets", "z_spec", "1 + z_spec > 0", "data rows 4, 5, 6, 7, 8 and 2 more",
                      "data.sentinels: {z_spec: [-1]}"):
            assert words in text, (command, words, text)
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["data"]["sentinels"] = {"z_spec": [-1]}
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    assert cli("check", cwd=folder).exit_code == 0


@pytest.mark.slow
def test_no_raw_numpy_or_pandas_warning_reaches_the_console(tmp_path: Path):
    """As a user sees it (real processes): check, run, verdict and predict of a photo-z project
    with declared sentinels and of the naive leaky classification."""
    folder = photoz_project(tmp_path / "photoz")
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["data"]["sentinels"] = {"z_spec": [-1]}
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    pd.read_csv(folder / "catalogue.csv").drop(columns=["z_spec"]).head(50).to_csv(tmp_path / "new.csv", index=False)
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    leaky_catalogue().to_csv(leaky / "cat.csv", index=False)
    write_project(leaky, naive_project())
    leaky_catalogue(seed=4).drop(columns=["class"]).head(50).to_csv(tmp_path / "new_leaky.csv", index=False)
    for where, new in ((folder, "new.csv"), (leaky, "new_leaky.csv")):
        for args in (("check",), ("run", "-j", "1"), ("verdict",),
                     ("predict", "--data", str(tmp_path / new), "--out", str(tmp_path / f"out_{new}"))):
            done = cli_subprocess(*args, cwd=where)
            assert done.returncode in (0, 1, 3), (args, done.stderr)
            for raw in ("RuntimeWarning", "FutureWarning", "UserWarning", "DeprecationWarning", "warnings.warn"):
                assert raw not in done.stderr, (where.name, args, done.stderr)
