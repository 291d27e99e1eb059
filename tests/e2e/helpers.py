"""Running the real CLI in tests, in-process (fast) or as a subprocess (true to a user)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from mlproj.cli import app

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path | None = None):
    """Invoke the CLI in-process from `cwd`; returns the click Result (exit_code, stdout, stderr)."""
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        return runner.invoke(app, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def cli_subprocess(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlproj", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def write_project(folder: Path, project: dict, name: str = "mlproj.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


TINY_PROJECT = {
    "name": "tiny",
    "objective": {"statement": "s", "task": "classification"},
    "data": {"path": "cat.csv", "label": "class", "features": ["u", "g"]},
    "classes": {"galaxy": "class == 'GALAXY'", "star": "class == 'STAR'"},
    "positive": "galaxy",
    "metric": {"primary": "roc_auc"},
    "finish_line": {"threshold": 0.8},
    "validation": {"folds": 2, "repeats": 1},
    "baselines": ["dummy"],
}  # the smallest valid classification project, for tests of hostile or damaged input


DELETE = object()  # a value for `changed` that removes the key


def changed(project: dict, **changes) -> dict:
    """A deep copy of `project` with `section__field=value` changes (DELETE removes the key)."""
    project = yaml.safe_load(yaml.safe_dump(project))
    for dotted, value in changes.items():
        target = project
        *parents, last = dotted.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return project


def copy_config(config: Path, folder: Path, **overrides) -> Path:
    """A repository config copied into `folder`, its data path made absolute (runs stay out of the repo)."""
    project = yaml.safe_load(config.read_text())
    project["data"]["path"] = str((config.parent / project["data"]["path"]).resolve())
    return write_project(folder, changed(project, **overrides))


def slow_project(folder: Path, *, trees: int = 300, repeats: int = 3) -> Path:
    """`mlproj init` plus a big random forest: a run long enough to interrupt."""
    init = cli_subprocess("init", str(folder), "--template", "classification", cwd=folder.parent)
    assert init.returncode == 0, init.stderr
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["candidates"] = [{"name": "big_forest", "estimator": "RandomForestClassifier",
                              "params": {"n_estimators": trees}}]
    project["validation"].update({"folds": 5, "repeats": repeats})
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


def runs_latest(folder: Path, config: str = "mlproj.yaml") -> Path:
    """`runs/<project>/latest` of a project file in `folder` (its name: the file's `name:`)."""
    from mlproj.workflow.review import runs_of

    return runs_of(folder / config) / "latest"


def latest(folder: Path, name: str, config: str = "mlproj.yaml") -> dict:
    return json.loads((runs_latest(folder, config) / name).read_text())
