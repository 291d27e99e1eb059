"""Re-judge a finished run: read its files, check it is still current, apply the verdict.

No fitting and no scikit-learn: the stored summary holds the paired scores the verdict needs.
The common case, an unchanged project file judged by the mlproj that made the run, needs no
parsing and no statistics at all (the run's own verdict.json is the answer), which keeps
`mlproj verdict` in CI well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlproj import __version__
from mlproj.analyse.types import Summary
from mlproj.errors import MlprojError, RunError
from mlproj.store import rundir
from mlproj.store.files import file_hash
from mlproj.verdict.types import Verdict


@dataclass
class Review:
    run_dir: Path
    verdict: Verdict
    summary: Summary
    stale: list[str]
    project_name: str


def _project_name(summary: Summary, run_dir: Path) -> str:
    return summary.project if summary.project is not None else run_dir.name


def _read_summary(run_dir: Path) -> Summary:
    path = run_dir / "summary.json"
    return _typed(path, Summary.from_dict, rundir.read_json(path))


def _read_verdict(run_dir: Path) -> Verdict:
    path = run_dir / "verdict.json"
    return _typed(path, Verdict.from_dict, rundir.read_json(path))


def _typed(path: Path, read, data):
    """A run file read into its type; one that is valid JSON of the right outline but not what
    mlproj wrote (a value of the wrong kind deeper inside) is damaged, not a bug."""
    try:
        return read(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RunError(f"{path} is damaged", hint="run `mlproj run` again") from None


def rejudge(run: str | None, config: Path, *, allow_stale: bool = False) -> Review:
    run_dir = rundir.find_run(run, config.resolve().parent)
    env = rundir.read_json(run_dir / "environment.json")
    summary = _read_summary(run_dir)
    stale = _staleness(env)
    if stale and not allow_stale:
        raise RunError(
            f"run {run_dir.name} is stale: " + "; ".join(stale),
            hint="run `mlproj run` to bring it up to date (unchanged fits come from the cache), "
                 "or pass --allow-stale to see the old run's verdict anyway",
        )
    return Review(run_dir, _judged(run_dir, env, summary), summary, stale, _project_name(summary, run_dir))


def current_run(config: Path) -> Review | None:
    """The latest run if it still answers for this project: same project file (up to comments),
    same catalogue bytes, same mlproj and scikit-learn versions, and complete. Else None.

    `mlproj run` then has nothing to do: every fit and every number would come out the same.
    """
    try:
        run_dir = rundir.find_run(None, config.resolve().parent)
        env = rundir.read_json(run_dir / "environment.json")
        summary = _read_summary(run_dir)
        verdict = _read_verdict(run_dir)
    except RunError:
        return None
    # Failed fits are retried (a run written before failed_fits was recorded: redone from the cache).
    if summary.failed_fits is None or summary.failed_fits:
        return None
    packages = env.get("packages", {})
    if packages.get("mlproj") != __version__ or packages.get("scikit-learn") != rundir.installed_version("scikit-learn"):
        return None
    if Path(env["config"]["path"]) != config.resolve():
        return None
    stale = _staleness(env)
    if stale:
        return None
    return Review(run_dir, verdict, summary, [], _project_name(summary, run_dir))


def _staleness(env: dict) -> list[str]:
    return rundir.staleness(env, _current_config_hash(env["config"]), _current_data_hash(Path(env["data"]["path"])))


def _judged(run_dir: Path, env: dict, summary: Summary) -> Verdict:
    """The verdict on the stored summary: the run's own when this mlproj wrote it, else judged anew."""
    if env.get("packages", {}).get("mlproj") == __version__ and (run_dir / "verdict.json").is_file():
        return _read_verdict(run_dir)
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
    from mlproj.project.loading import load_project

    try:
        return load_project(path).config_hash
    except MlprojError:
        return None


def _current_data_hash(path: Path) -> str | None:
    try:
        return file_hash(path)
    except OSError:
        return None
