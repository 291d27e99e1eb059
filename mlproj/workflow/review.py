"""Re-judge a finished run: read its files, check it is still current, apply the verdict.

No fitting and no scikit-learn: the stored summary holds the paired scores the verdict needs.
The common case, an unchanged project file judged by the mlproj that made the run, needs no
parsing and no statistics at all (the run's own verdict.json is the answer), which keeps
`mlproj verdict` in CI well under a second.

Runs belong to their project file (DESIGN §4): the latest run is `runs/<project>/latest` of
*this* project file, and a run that another project file made is never judged for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlproj import __version__
from mlproj.analyse.types import Summary
from mlproj.errors import ConfigError, MlprojError, RunError
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


def read_summary(run_dir: Path) -> Summary:
    path = run_dir / "summary.json"
    return _typed(path, Summary.from_dict, rundir.read_json(path))


def read_verdict(run_dir: Path) -> Verdict:
    path = run_dir / "verdict.json"
    return _typed(path, Verdict.from_dict, rundir.read_json(path))


def _typed(path: Path, read, data):
    """A run file read into its type; one that is valid JSON of the right outline but not what
    mlproj wrote (a value of the wrong kind deeper inside) is damaged, not a bug."""
    try:
        return read(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RunError(f"{path} is damaged", hint="run `mlproj run` again") from None


def runs_of(config: Path) -> Path:
    """`runs/<project>/` of a project file, from its `name:` (rundir.project_runs), found without
    validating the whole file: `mlproj verdict` stays fast, and a file that does not validate has
    no runs anyway."""
    config = config.resolve()
    return rundir.project_runs(config.parent, _declared_name(config), config)


def _declared_name(config: Path) -> str | None:
    """The top-level `name:` as `mlproj run` reads it (project.name), or None (also for a pipe or
    device, which is never read: it could block)."""
    import yaml

    try:
        if not config.is_file():
            return None
        data = yaml.load(config.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError, ValueError, RecursionError):
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def rejudge(run: str | None, config: Path, *, allow_stale: bool = False) -> Review:
    runs = runs_of(config)
    if run is None and not os.path.lexists(config) and not os.path.lexists(runs / rundir.LATEST):
        raise ConfigError(f"project file {config} not found, so there is no latest run of it to read",
                          hint=_name_project_files(config))
    run_dir = rundir.find_run(run, runs)
    env = rundir.read_json(run_dir / "environment.json")
    if run is None or os.path.lexists(config):
        _check_made_by(run_dir, env, config)
        # Judged against this very file: in a copied or moved project folder the recorded path
        # names the original, whose edits are not this file's.
        env = {**env, "config": {**env["config"], "path": str(config.resolve())}}
    summary = read_summary(run_dir)
    stale = _staleness(env)
    if stale and not allow_stale:
        raise RunError(
            f"run {run_dir.name} is stale: " + "; ".join(stale),
            hint="run `mlproj run` to bring it up to date (unchanged fits come from the cache), "
                 "or pass --allow-stale to see the old run's verdict anyway",
        )
    return Review(run_dir, _judged(run_dir, env, summary), summary, stale, _project_name(summary, run_dir))


def _name_project_files(config: Path) -> str:
    folder = config.resolve().parent
    try:
        found = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
    except OSError:
        found = []
    listed = f" (project files here: {', '.join(found[:8])})" if found else ""
    return f"pass the project file with -c FILE{listed}, or a run folder as RUN"


def _made_by(run_dir: Path, env: dict, config: Path) -> bool:
    """Whether this project file made the run: the path it recorded, or the same file name for a
    run inside this file's own `runs/` (a project folder copied or moved since; what changed in
    the file is then judged as staleness)."""
    recorded, config = Path(env["config"]["path"]), config.resolve()
    if recorded == config:
        return True
    return recorded.name == config.name and run_dir.resolve().is_relative_to(config.parent / rundir.RUNS)


def _check_made_by(run_dir: Path, env: dict, config: Path) -> None:
    if not _made_by(run_dir, env, config):
        raise RunError(f"run {run_dir} was made by the project file {env['config']['path']}, not by {config}: "
                       "it is stale for this project file, whose verdict it is not",
                       hint=f"run `mlproj run -c {config}` to make this project file's own run, or pass "
                            f"-c {env['config']['path']} to see that run's verdict")


def current_run(config: Path) -> Review | None:
    """The latest run if it still answers for this project: same project file (up to comments),
    same catalogue bytes, same mlproj and scikit-learn versions, and complete. Else None.

    `mlproj run` then has nothing to do: every fit and every number would come out the same.
    """
    try:
        run_dir = rundir.find_run(None, runs_of(config))
        env = rundir.read_json(run_dir / "environment.json")
        summary = read_summary(run_dir)
        verdict = read_verdict(run_dir)
    except MlprojError:  # no run, a damaged one, or a name another project file owns (`run` says so)
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
    if env["data"].get("files"):  # several files, a glob or data.test_path (mlproj.data.catalogue)
        from mlproj.data.catalogue import current_files_hash

        return rundir.staleness(env, _current_config_hash(env["config"]), current_files_hash(env["data"]))
    return rundir.staleness(env, _current_config_hash(env["config"]), _current_data_hash(Path(env["data"]["path"])))


def _judged(run_dir: Path, env: dict, summary: Summary) -> Verdict:
    """The verdict on the stored summary: the run's own when this mlproj wrote it, else judged anew."""
    if env.get("packages", {}).get("mlproj") == __version__ and (run_dir / "verdict.json").is_file():
        return read_verdict(run_dir)
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


@dataclass(frozen=True)
class RunRow:
    """One line of `mlproj runs`: the run, when, which configuration, what it selected and its verdict."""

    name: str
    status: str  # pass | fail | undetermined | damaged
    selected: str | None
    latest: bool
    started: datetime | None = None  # UTC, from the folder name (None: a folder renamed by hand)
    config_hash: str | None = None  # its first 8 characters, from the folder name
    metric: str | None = None  # the main selection's primary metric (its label)
    mean: float | None = None  # ... its cross-validated mean and corrected SE
    se: float | None = None


def runs_table(config: Path) -> tuple[Path, list[RunRow]]:
    """This project file's finished runs, oldest first (`mlproj runs`); a run whose verdict.json
    cannot be read is listed as damaged, not skipped.

    Only verdict.json is read, as JSON: its main selection holds the selected model and its
    primary score, so listing many runs parses no summary and imports no statistics."""
    folder = runs_of(config)
    try:
        latest = rundir.find_run(None, folder)
    except MlprojError:
        latest = None
    rows = []
    for path in rundir.list_runs(folder):
        started, config_hash = rundir.run_name_parts(path.name)
        is_latest = latest is not None and path.resolve() == latest.resolve()
        try:
            verdict = rundir.read_json(path / "verdict.json")
        except MlprojError:
            rows.append(RunRow(path.name, "damaged", None, is_latest, started, config_hash))
            continue
        selected, metric, mean, se = _headline(verdict)
        rows.append(RunRow(path.name, verdict["status"], selected, is_latest, started, config_hash, metric, mean, se))
    return folder, rows


def _headline(verdict: dict) -> tuple[str | None, str | None, float | None, float | None]:
    """(selected model, primary metric, mean, SE) of the main selection, selections[0]; the
    top-level fields for a run written before selections were recorded. A value of the wrong
    kind (a file edited by hand) is shown as missing rather than failing the whole listing."""
    selections = verdict.get("selections") or []
    main = selections[0] if selections and isinstance(selections[0], dict) else verdict
    primary = main.get("primary") if isinstance(main.get("primary"), dict) else {}

    def number(value) -> float | None:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    selected, metric = main.get("selected_model"), primary.get("name")
    return (selected if isinstance(selected, str) else None, metric if isinstance(metric, str) else None,
            number(primary.get("mean")), number(primary.get("se")))


def fits_of_other_projects(root: Path, own: Path) -> dict[str, set[str]]:
    """The cache keys of the latest run of every other project in the folder, which `mlproj
    cache prune` keeps: the cache is the folder's, shared by its project files. The
    cross-validation fits are in the run's plan.json; its final fits, in the test-use ledger
    entries of the run's configuration."""
    finals: dict[str, set[str]] = {}
    try:
        for entry in json.loads((root / ".mlproj" / "test-uses.json").read_text(encoding="utf-8")):
            finals.setdefault(entry.get("config"), set()).update(k for k in entry.get("fits", []) if isinstance(k, str))
    except (OSError, ValueError, TypeError, AttributeError, RecursionError):
        pass  # no ledger, or a damaged one (`mlproj run` reports it): only the final fits are refitted
    kept = {}
    for folder in rundir.project_run_folders(root / rundir.RUNS):
        if folder.resolve() == own.resolve():
            continue
        try:
            run_dir = rundir.find_run(None, folder)
            plan = rundir.read_json(run_dir / "plan.json", {"tasks": [{"key": str}]})
            config_hash = rundir.read_json(run_dir / "environment.json")["config"]["hash"]
        except MlprojError:
            continue  # a damaged or unfinished run: nothing of it to keep
        kept[folder.name] = {task["key"] for task in plan["tasks"]} | finals.get(config_hash, set())
        kept[folder.name] |= {t["key"] for t in plan.get("ablation_tasks") or [] if isinstance(t, dict)
                              and isinstance(t.get("key"), str)}
    return kept
