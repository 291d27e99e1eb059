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


def copy_config(config: Path, folder: Path, **overrides) -> Path:
    """A repository config copied into `folder`, its data path made absolute (runs stay out of the repo)."""
    project = yaml.safe_load(config.read_text())
    project["data"]["path"] = str((config.parent / project["data"]["path"]).resolve())
    for dotted, value in overrides.items():
        target = project
        *parents, last = dotted.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return write_project(folder, project)


def latest(folder: Path, name: str) -> dict:
    return json.loads((folder / "runs" / "latest" / name).read_text())
