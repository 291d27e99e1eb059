"""The example CI workflow (examples/ci/) does what it says: its steps, run as written on the
star-galaxy example, pass on a PASS verdict and fail the job otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import REPO

WORKFLOW = REPO / "examples" / "ci" / "mlproj-verdict.yml"


def steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return job["steps"]


def run_steps(folder: Path) -> list[tuple[str, int]]:
    """Each `run:` step after the install, in `folder`, with the workflow's environment and the
    mlproj of this checkout first on PATH; stops at the first failing step, as a job does."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, **yaml.safe_load(WORKFLOW.read_text())["env"], "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = []
    for step in steps():
        if "run" not in step or "pip install" in step["run"]:
            continue
        result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=folder, env=env, capture_output=True, text=True,
                                timeout=600)
        done.append((step["name"], result.returncode))
        if result.returncode:
            break
    return done


def test_the_workflow_installs_runs_and_gates_on_the_verdict():
    names = [s.get("name", "") for s in steps()]
    assert any("Install" in n for n in names)
    commands = " ".join(s.get("run", "") for s in steps())
    assert "mlproj run" in commands and "mlproj verdict" in commands and "GITHUB_STEP_SUMMARY" in commands


@pytest.mark.slow
def test_the_workflow_passes_a_passing_project_and_fails_a_failing_one(tmp_path):
    passing = tmp_path / "passing"
    shutil.copytree(REPO / "examples" / "star-galaxy", passing)
    results = run_steps(passing)
    assert [code for _, code in results] == [0, 0, 0], results
    summary = (passing / "summary.md").read_text()
    assert "PASS" in summary and "finish\\_line" not in summary and "finish_line" in summary
    ET.parse(passing / "mlproj-verdict.xml")

    failing = tmp_path / "failing"
    shutil.copytree(REPO / "examples" / "star-galaxy", failing)
    project = yaml.safe_load((failing / "mlproj.yaml").read_text())
    project["finish_line"]["threshold"] = 0.999  # out of reach of a 3000-object catalogue
    (failing / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    results = run_steps(failing)
    assert results[-1][0] == "Verdict" and results[-1][1] in (1, 3), results
    assert "FAIL" in (failing / "summary.md").read_text() or "UNDETERMINED" in (failing / "summary.md").read_text()
