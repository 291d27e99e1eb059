"""Issue 22, point 1 end to end: runs belong to their project file (DESIGN §4, §5).

Several project files in one folder never see each other's runs: `verdict -c A.yaml` and
`predict -c A.yaml` read A's latest run (`runs/<A's name>/latest`), whichever project file ran
last; a run of another project file is refused as stale; runs of the older layout (one
`runs/latest` for the whole folder) are never taken for a project's latest run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlproj.data.simulate import star_galaxy_catalogue
from tests.e2e.helpers import REPO, TINY_PROJECT, changed, cli, latest, runs_latest, write_project

SDSS_SELECTIONS = REPO / "configs" / "sdss-selections.yaml"
SDSS_PURITY = REPO / "configs" / "sdss-galaxy-purity.yaml"


def _one_line(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def two_projects(tmp_path_factory):
    """One folder, one catalogue, two project files run one after the other: `easy.yaml` passes
    with a logistic regression on five magnitudes, `strict.yaml` (two magnitudes, a finish line no
    model reaches) fails with a shallow tree."""
    folder = tmp_path_factory.mktemp("two") / "folder"
    folder.mkdir()
    star_galaxy_catalogue(600, seed=1).to_csv(folder / "cat.csv", index=False)
    base = changed(TINY_PROJECT, data__features=["u", "g", "r", "i", "z"],
                   classes={"galaxy": "class == 'GALAXY'", "other": "class in ['STAR', 'QSO']"},
                   validation__folds=3)
    write_project(folder, changed(base, name="easy galaxies", finish_line={"threshold": 0.6, "margin": 0.01},
                                  candidates=[{"name": "lr", "estimator": "LogisticRegression"}]), "easy.yaml")
    write_project(folder, changed(base, name="strict-galaxies", finish_line={"threshold": 0.9999, "margin": 0.0},
                                  data__features=["u", "g"],
                                  candidates=[{"name": "tree", "estimator": "DecisionTreeClassifier",
                                               "params": {"max_depth": 2}}]), "strict.yaml")
    easy = cli("run", "-c", "easy.yaml", "-j", "1", cwd=folder)
    strict = cli("run", "-c", "strict.yaml", "-j", "1", cwd=folder)  # ran last: the folder's newest run
    assert easy.exit_code == strict.exit_code == 0, (easy.output, strict.output)  # `run` exits 0 with any verdict
    assert "VERDICT: PASS" in easy.stdout and "VERDICT: FAIL" in strict.stdout, (easy.output, strict.output)
    return folder


def test_each_project_file_has_its_own_runs_and_latest(two_projects):
    folder = two_projects
    assert runs_latest(folder, "easy.yaml").parent == folder / "runs" / "easy-galaxies"  # `name:`, made safe
    assert runs_latest(folder, "strict.yaml").parent == folder / "runs" / "strict-galaxies"
    for config in ("easy.yaml", "strict.yaml"):
        env = latest(folder, "environment.json", config)
        assert Path(env["config"]["path"]) == (folder / config).resolve()
    assert not (folder / "runs" / "latest").exists()  # no run of the folder as a whole


def test_verdict_reports_the_run_of_its_own_project_file(two_projects):
    folder = two_projects
    easy = cli("verdict", "-c", "easy.yaml", cwd=folder)
    strict = cli("verdict", "-c", "strict.yaml", cwd=folder)
    # Before runs belonged to their project file, both showed the strict run (exit 1).
    assert easy.exit_code == 0 and "VERDICT: PASS" in easy.stdout, easy.output
    assert "Run: runs/easy-galaxies/" in easy.stdout and "selected lr" in easy.stdout
    assert strict.exit_code == 1 and "VERDICT: FAIL" in strict.stdout, strict.output
    assert "Run: runs/strict-galaxies/" in strict.stdout
    as_json = cli("verdict", "-c", "easy.yaml", "--json", cwd=folder)
    assert json.loads(as_json.stdout)["selected_model"] == "lr"


def test_predict_applies_the_model_of_its_own_project_file(two_projects):
    folder = two_projects
    for config, model in (("easy.yaml", "lr"), ("strict.yaml", "tree")):
        assert latest(folder, "verdict.json", config)["selected_model"] == model
        result = cli("predict", "-c", config, "--data", "cat.csv", "--out", f"{model}.csv", cwd=folder)
        assert result.exit_code == 0, result.output
        assert f"predictions of {model} " in result.stdout


def test_a_run_of_another_project_file_is_stale(two_projects):
    folder = two_projects
    strict_run = runs_latest(folder, "strict.yaml").resolve()
    for command in (["verdict", str(strict_run)], ["verdict", str(strict_run), "--allow-stale"],
                    ["predict", str(strict_run), "--data", "cat.csv", "--out", "p.csv"]):
        result = cli(*command, "-c", "easy.yaml", cwd=folder)
        assert result.exit_code == 2, (command, result.output)
        message = _one_line(result.stderr)
        assert "was made by the project file" in message and "strict.yaml, not by easy.yaml" in message
        assert "Traceback" not in result.output
    assert not (folder / "p.csv").exists()
    # Its own project file reads it by its folder or by its name among its runs.
    assert cli("verdict", str(strict_run), "-c", "strict.yaml", cwd=folder).exit_code == 1
    assert cli("verdict", strict_run.name, "-c", "strict.yaml", cwd=folder).exit_code == 1
    assert cli("verdict", strict_run.name, "-c", "easy.yaml", cwd=folder).exit_code == 2  # not one of easy's


def test_runs_lists_only_the_project_files_own_runs(two_projects):
    folder = two_projects
    listed = cli("runs", "-c", "easy.yaml", cwd=folder)
    assert listed.exit_code == 0, listed.output
    assert "runs/easy-galaxies" in listed.stdout and "strict" not in listed.stdout
    assert "◀ latest" in listed.stdout and "pass" in listed.stdout and "selected lr" in listed.stdout


def test_a_second_project_file_with_the_same_name_is_refused_before_any_fit(two_projects, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(two_projects, folder, symlinks=True)
    shutil.copy(folder / "easy.yaml", folder / "easy-copy.yaml")  # the usual way to try a variant
    before = sorted(p.name for p in (folder / "runs").iterdir())
    result = cli("run", "-c", "easy-copy.yaml", "-j", "1", cwd=folder)
    assert result.exit_code == 2, result.output
    message = _one_line(result.stderr)
    assert "easy-copy.yaml:" in message and "(name)" in message
    assert "'easy galaxies' is already the name of easy.yaml in this folder" in message
    assert "its own `name:`" in message and "Traceback" not in result.output
    assert "fitting" not in result.stdout and "Fitted" not in result.stdout
    assert sorted(p.name for p in (folder / "runs").iterdir()) == before
    for command in ("verdict", "check"):
        refused = cli(command, "-c", "easy-copy.yaml", cwd=folder)
        assert refused.exit_code == 2 and "already the name of easy.yaml" in _one_line(refused.stderr), command


def test_cache_prune_keeps_the_fits_of_the_other_project_files(two_projects, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(two_projects, folder, symlinks=True)
    pruned = cli("cache", "prune", "-c", "easy.yaml", cwd=folder)
    assert pruned.exit_code == 0, pruned.output
    assert "kept the fits of the current plan and of the latest runs of strict-galaxies" in _one_line(pruned.stdout)
    again = cli("run", "-c", "strict.yaml", "--rerun", "-j", "1", cwd=folder)
    assert again.exit_code == 0 and "Nothing to fit" in again.stdout, again.output


def test_runs_of_the_older_layout_are_not_taken_for_a_projects_latest(two_projects, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(two_projects, folder, symlinks=True)
    shutil.rmtree(folder / "runs" / "easy-galaxies")
    old = folder / "runs" / "20261201T000000Z-0123abcd"  # what an older mlproj wrote: runs/<run> + runs/latest
    shutil.copytree(runs_latest(folder, "strict.yaml").resolve(), old)
    (folder / "runs" / "latest").symlink_to(old.name, target_is_directory=True)
    for command in (["verdict"], ["predict", "--data", "cat.csv", "--out", "p.csv"]):
        result = cli(*command, "-c", "easy.yaml", cwd=folder)
        assert result.exit_code == 2, result.output
        message = _one_line(result.stderr)
        assert "older mlproj layout" in message and "run `mlproj run` again" in message.lower(), message
    assert not (folder / "p.csv").exists()
    # The older run, named on purpose, is still read, for the project file that made it.
    assert cli("verdict", str(old), "-c", "strict.yaml", cwd=folder).exit_code == 1


def test_a_run_whose_project_file_was_deleted_is_stale(two_projects, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(two_projects, folder, symlinks=True)
    (folder / "easy.yaml").unlink()
    result = cli("verdict", "-c", "easy.yaml", cwd=folder)
    assert result.exit_code == 2 and "stale" in result.stderr and "can no longer be read" in _one_line(result.stderr)
    assert cli("verdict", "-c", "strict.yaml", cwd=folder).exit_code == 1  # the other's, untouched


def test_verdict_without_the_project_file_names_the_ones_there(two_projects):
    result = cli("verdict", cwd=two_projects)  # no mlproj.yaml in this folder
    assert result.exit_code == 2
    message = _one_line(result.stderr)
    assert "project file mlproj.yaml not found" in message and "easy.yaml, strict.yaml" in message


# --------------------------------------------------------------------------- the real catalogues


@pytest.mark.slow
def test_verdict_of_each_real_config_reports_its_own_run(tmp_path):
    """The case of the issue: in one folder, `run -c sdss-selections.yaml`, then `run -c
    sdss-galaxy-purity.yaml`; `verdict -c sdss-selections.yaml` showed the purity run."""
    import yaml

    for config in (SDSS_SELECTIONS, SDSS_PURITY):
        project = yaml.safe_load(config.read_text())
        project["data"]["path"] = str((config.parent / project["data"]["path"]).resolve())
        write_project(tmp_path, project, config.name)
        result = cli("run", "-c", config.name, "-j", "2", cwd=tmp_path)
        assert result.exit_code == 0, result.output
    runs = {}
    for config in (SDSS_SELECTIONS, SDSS_PURITY):
        verdict = cli("verdict", "-c", config.name, "--json", cwd=tmp_path)
        own = latest(tmp_path, "verdict.json", config.name)
        env = latest(tmp_path, "environment.json", config.name)
        assert Path(env["config"]["path"]).name == config.name
        assert verdict.exit_code == own["exit_code"] and json.loads(verdict.stdout) == own
        shown = cli("verdict", "-c", config.name, cwd=tmp_path)
        runs[config.name] = shown.stdout.split("Run: ")[1].split()[0]
        assert runs[config.name].startswith(f"runs/{yaml.safe_load(config.read_text())['name']}/")
    assert len(set(runs.values())) == 2
