"""Re-judge a finished run: read its files, check it is still current, apply the verdict.

No fitting and no scikit-learn: the stored summary holds the paired scores the verdict needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from mlproj import rundir
from mlproj.config import load_project
from mlproj.errors import MlprojError, RunError
from mlproj.verdict import judge


@dataclass
class Review:
    run_dir: Path
    verdict: dict
    summary: dict
    stale: list[str]
    project_name: str


def rejudge(run: str | None, config: Path, *, allow_stale: bool = False) -> Review:
    run_dir = rundir.find_run(run, config.resolve().parent)
    env = rundir.read_json(run_dir / "environment.json")
    summary = rundir.read_json(run_dir / "summary.json")
    stale = rundir.staleness(env, _current_config_hash(Path(env["config"]["path"])),
                             _current_data_hash(Path(env["data"]["path"])))
    if stale and not allow_stale:
        raise RunError(
            f"run {run_dir.name} is stale: " + "; ".join(stale),
            hint="run `mlproj run` to bring it up to date (unchanged fits come from the cache), "
                 "or pass --allow-stale to judge the old run anyway",
        )
    project_name = summary.get("project", run_dir.name)
    return Review(run_dir, judge(summary), summary, stale, project_name)


def _current_config_hash(path: Path) -> str | None:
    try:
        return load_project(path).config_hash
    except MlprojError:
        return None


def _current_data_hash(path: Path) -> str | None:
    from mlproj.data import file_hash

    try:
        return file_hash(path)
    except OSError:
        return None


def write_junit(path: Path, verdict: dict, project_name: str) -> None:
    """One test case per criterion: CI systems show failures and undetermined ones (as skipped)."""
    criteria = verdict["criteria"]
    suite = ElementTree.Element("testsuite", name=f"mlproj.{project_name}", tests=str(len(criteria)),
                                failures=str(sum(c["status"] == "fail" for c in criteria)),
                                skipped=str(sum(c["status"] == "undetermined" for c in criteria)))
    for criterion in criteria:
        case = ElementTree.SubElement(suite, "testcase", classname=f"mlproj.{project_name}", name=criterion["name"])
        if criterion["status"] == "fail":
            ElementTree.SubElement(case, "failure", message=criterion["detail"]).text = criterion["detail"]
        elif criterion["status"] == "undetermined":
            ElementTree.SubElement(case, "skipped", message="undetermined: " + criterion["detail"])
        ElementTree.SubElement(case, "system-out").text = criterion["detail"]
    root = ElementTree.Element("testsuites", name="mlproj")
    root.append(suite)
    ElementTree.indent(root)
    try:
        rundir.write_atomic(Path(path), ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n")
    except OSError as exc:
        raise MlprojError(f"cannot write the JUnit report {path}: {exc.strerror}") from None
