"""Re-judge a finished run: read its files, check it is still current, apply the verdict.

No fitting and no scikit-learn: the stored summary holds the paired scores the verdict needs.
The common case, an unchanged project file judged by the mlproj that made the run, needs no
parsing and no statistics at all (the run's own verdict.json is the answer), which keeps
`mlproj verdict` in CI well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from mlproj import __version__
from mlproj.errors import MlprojError, RunError
from mlproj.store import rundir
from mlproj.store.files import file_hash


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
    stale = _staleness(env)
    if stale and not allow_stale:
        raise RunError(
            f"run {run_dir.name} is stale: " + "; ".join(stale),
            hint="run `mlproj run` to bring it up to date (unchanged fits come from the cache), "
                 "or pass --allow-stale to see the old run's verdict anyway",
        )
    project_name = summary.get("project", run_dir.name)
    return Review(run_dir, _judged(run_dir, env, summary), summary, stale, project_name)


def current_run(config: Path) -> Review | None:
    """The latest run if it still answers for this project: same project file (up to comments),
    same catalogue bytes, same mlproj and scikit-learn versions, and complete. Else None.

    `mlproj run` then has nothing to do: every fit and every number would come out the same.
    """
    try:
        run_dir = rundir.find_run(None, config.resolve().parent)
        env = rundir.read_json(run_dir / "environment.json")
        summary = rundir.read_json(run_dir / "summary.json")
        verdict = rundir.read_json(run_dir / "verdict.json")
    except RunError:
        return None
    if summary.get("failed_fits", 1):  # failed fits are retried (runs before this key: redone from the cache)
        return None
    packages = env.get("packages", {})
    if packages.get("mlproj") != __version__ or packages.get("scikit-learn") != rundir.installed_version("scikit-learn"):
        return None
    if Path(env["config"]["path"]) != config.resolve():
        return None
    stale = _staleness(env)
    if stale:
        return None
    return Review(run_dir, verdict, summary, [], summary.get("project", run_dir.name))


def _staleness(env: dict) -> list[str]:
    return rundir.staleness(env, _current_config_hash(env["config"]), _current_data_hash(Path(env["data"]["path"])))


def _judged(run_dir: Path, env: dict, summary: dict) -> dict:
    """The verdict on the stored summary: the run's own when this mlproj wrote it, else judged anew."""
    if env.get("packages", {}).get("mlproj") == __version__ and (run_dir / "verdict.json").is_file():
        return rundir.read_json(run_dir / "verdict.json")
    from mlproj.verdict.judge import judge

    return judge(summary)


def _current_config_hash(recorded: dict) -> str | None:
    """The resolved-config hash of the project file now; parsed only if its bytes changed."""
    path = Path(recorded["path"])
    try:
        if recorded.get("file_sha256") and file_hash(path) == recorded["file_sha256"]:
            return recorded["hash"]
    except OSError:
        return None
    from mlproj.project.config import load_project

    try:
        return load_project(path).config_hash
    except MlprojError:
        return None


def _current_data_hash(path: Path) -> str | None:
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
