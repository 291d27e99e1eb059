"""The run directory: atomic files that later commands read, and staleness checks.

Runs belong to their project file (DESIGN §4, §5): `runs/<project>/<UTC timestamp>-<config
hash[:8]>/` holds project.yaml, plan.json, results.csv, summary.json, verdict.json and
environment.json, and `runs/<project>/latest` names that project's newest run. `<project>` is
the project file's `name:` made a safe folder name (project_folder_name); the project file that
first ran under a name owns its folder (`runs/<project>/.project-file`), and another project
file of the same folder with the same name is refused, so that several project files in one
folder never see each other's runs. Every file is written to a temporary file in the same folder,
flushed and renamed, so an interrupted run never leaves a half file that looks complete. The run
folder itself is written as `runs/<project>/.<name>.<random>.tmp/` (never taken for a run) and
renamed into place once its verdict.json is in it; a killed run's leftover is swept by the next
run, which holds the folder's lock. A folder without verdict.json is not a run, and a file that
is not what mlproj wrote (even if valid JSON) is reported as damaged where it is read. Runs of
the older layout (`runs/<stamp>-<hash>/` with one `runs/latest` for every project file of the
folder) are never taken for a project's latest run.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import platform
import re
import secrets
import shutil
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from mlproj.errors import ConfigError, MlprojError, RunError, storage_error
from mlproj.store.files import write_text_atomic

RUNS = "runs"
LATEST = "latest"
OWNER = ".project-file"  # in runs/<project>/: the name of the project file whose runs these are
PACKAGES = ("mlproj", "scikit-learn", "numpy", "scipy", "pandas", "pydantic", "joblib", "pyarrow")


def write_atomic(path: Path, text: str) -> None:
    make_folder(path.parent)
    write_text_atomic(path, text)


def make_folder(path: Path) -> None:
    """mkdir -p, with a file-system fault reported as a StorageError naming the folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, "create the folder", path) or exc from None


def write_json(path: Path, data) -> None:
    write_atomic(path, json.dumps(data, indent=2, allow_nan=False, default=_plain) + "\n")


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_atomic(path, buffer.getvalue())


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FOLDER_NAME = 64


def project_folder_name(name: str | None, project_file: Path) -> str:
    """The folder of a project's runs, `runs/<this>/`: its `name:` with anything but letters,
    digits and `. _ -` made a `-` (a name is free text; a folder name must work on every file
    system), else the project file's stem. `latest` (the older layout's marker) gets a suffix."""
    def safe(text: str) -> str:
        return _UNSAFE.sub("-", text).strip("-.")[:MAX_FOLDER_NAME].rstrip("-.")

    folder = safe(name or "") or safe(project_file.stem) or "project"
    return f"{folder}-project" if folder.lower() == LATEST else folder


def project_runs(project_root: Path, name: str | None, project_file: Path, where: str | None = None) -> Path:
    """`runs/<project>/` of this project file (not created).

    The folder belongs to the project file that first ran under that name: another project file
    of the same folder with the same `name:` is a ConfigError (its runs would mix with the
    other's), unless the owner no longer exists (renamed or deleted). Without a name (a project
    file that cannot be read now: deleted, or become a pipe) the folder its runs were written to
    is found by its owner record, so that `mlproj verdict` can say the run is stale.
    """
    if name is None:
        owned = _owned_by(Path(project_root) / RUNS, Path(project_file).name)
        if owned is not None:
            return owned
    folder = Path(project_root) / RUNS / project_folder_name(name, Path(project_file))
    owner = _owner(folder)
    if owner is not None and owner != Path(project_file).name and _exists(Path(project_root) / owner):
        raise ConfigError(
            f"the project name '{name}' is already the name of {owner} in this folder, whose runs are in "
            f"{RUNS}/{folder.name}/; runs of two project files must not mix",
            where=where or str(project_file),
            hint=f"give this project file its own `name:` (if {owner} no longer uses that name, delete "
                 f"{folder / OWNER})")
    return folder


def _owned_by(runs: Path, file_name: str) -> Path | None:
    """The project folder in `runs/` whose owner record names `file_name` (the one with the newest
    latest run if its name changed over time), or None."""
    try:
        owned = [p for p in runs.iterdir() if p.is_dir() and not p.is_symlink() and _owner(p) == file_name]
    except OSError:
        return None

    def newest(folder: Path) -> float:
        try:
            return (folder / LATEST).lstat().st_mtime
        except OSError:
            return 0.0

    return max(owned, key=newest, default=None)


def _owner(folder: Path) -> str | None:
    try:
        text = (folder / OWNER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text and not any(c in text for c in "/\\\0\n") else None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return True  # cannot tell: better a clear refusal than mixed runs


def claim_project_runs(folder: Path, project_file: Path) -> None:
    """Record which project file's runs `folder` holds (project_runs checks it)."""
    if _owner(folder) != Path(project_file).name:
        write_atomic(folder / OWNER, Path(project_file).name + "\n")


def start_run_dir(project_dir: Path, config_hash: str, now: datetime | None = None) -> Path:
    """A new, empty, hidden folder to write a run into: `runs/<project>/.<stamp>-<hash[:8]>.<random>.tmp/`.

    `project_dir`: the project's `runs/<project>/` (project_runs). publish_run renames the folder
    to `runs/<project>/<stamp>-<hash[:8]>/` once it is complete; until then no command takes it
    for a run, and an interruption leaves only a hidden folder that the next run sweeps
    (sweep_unfinished_runs).
    """
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    runs = Path(project_dir)
    make_folder(runs)
    path = runs / f".{stamp}-{config_hash[:8]}.{secrets.token_hex(4)}.tmp"
    try:
        path.mkdir()
    except OSError as exc:
        raise storage_error(exc, "create the run folder", path) or exc from None
    return path


def is_unfinished(path: Path) -> bool:
    """A folder start_run_dir made (or any hidden `.tmp` folder): never a run."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def publish_run(staging: Path) -> Path:
    """Rename a complete run folder from start_run_dir into place: `runs/<project>/<stamp>-<hash[:8]>[-n]/`."""
    if not (staging / "verdict.json").is_file():
        raise RunError(f"{staging} has no verdict.json: it is not a complete run and is not published")
    base = staging.name[1:].rsplit(".", 2)[0]
    path, n = staging.parent / base, 1
    while os.path.lexists(path):
        n += 1
        path = staging.parent / f"{base}-{n}"
    _sync_folder(staging)
    try:
        os.rename(staging, path)
    except OSError as exc:
        raise storage_error(exc, "write the run folder", path) or exc from None
    _sync_folder(staging.parent)
    return path


def _sync_folder(path: Path) -> None:
    """fsync a folder, so that a rename in it survives a crash (where the file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_unfinished_runs(project_dir: Path) -> int:
    """Remove the hidden folders of runs of this project (`runs/<project>/`) that were killed or
    failed while being written.

    Only while holding the folder's lock (mlproj.store.lock): no other run is alive then, so every
    such folder is a leftover. Best effort: what cannot be removed stays hidden.
    """
    runs = Path(project_dir)
    try:
        leftovers = [p for p in runs.iterdir() if is_unfinished(p) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return 0
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return len(leftovers)


def discard_run_dir(staging: Path) -> None:
    """Remove a run folder that could not be completed (a full disk, an interruption)."""
    shutil.rmtree(staging, ignore_errors=True)


def mark_latest(run_dir: Path) -> None:
    """`runs/<project>/latest`: a symlink where the file system allows it, else a one-line file."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.tmp"
    try:
        tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(exc, "mark the latest run in", tmp) or exc from None
    try:
        tmp.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:
        write_atomic(link, run_dir.name + "\n")
        return
    if link.is_dir() and not link.is_symlink():
        tmp.unlink()
        raise RunError(f"{link} is a folder; cannot mark the latest run", hint="rename it")
    try:
        os.replace(tmp, link)
    except OSError as exc:
        raise storage_error(exc, "mark the latest run in", link) or exc from None


def find_run(run: str | None, project_dir: Path) -> Path:
    """The run folder a command should read: RUN if given, else the project's latest run,
    `runs/<project>/latest`.

    RUN is a path, a run's folder name in `project_dir`, or a run id: the run's config hash, or a
    unique prefix of a run's folder name or of its hash part (`mlproj verdict 3fa2c1`), looked up
    among this project's finished runs only (match_runs). Only a finished run counts: a folder
    with its verdict.json, not a hidden one being written. Runs of the older layout (one
    `runs/latest` for every project file of the folder) are never taken for the latest: nothing
    says which project file made them.
    """
    project_dir = Path(project_dir)
    if run:
        path = Path(run)
        plain = path.name == run and run not in (".", "..")
        if not path.is_dir() and plain and (project_dir / run).is_dir():
            path = project_dir / run
        if not path.is_dir() and plain:
            path = _run_by_id(run, project_dir) or path
        if not path.is_dir():
            raise RunError(f"run folder {run} does not exist",
                           hint=f"pass a folder under {project_dir}, a run's config hash or a unique prefix of "
                                "its folder name (`mlproj runs` lists them), or omit RUN for this project "
                                "file's latest run")
        _check_finished(path, f"{run} is not a finished run")
        return path.resolve()
    latest = project_dir / LATEST
    try:
        if latest.is_symlink() or latest.is_dir():
            path = latest.resolve()
        elif latest.is_file():
            path = project_dir / _latest_name(latest)
        elif older_layout(project_dir.parent):
            raise RunError(f"no runs yet in {project_dir}, the runs of this project file; the runs in "
                           f"{project_dir.parent} were made by an older mlproj layout, with one `latest` for "
                           "every project file of the folder, which cannot tell whose run it is",
                           hint="run `mlproj run` again with the same -c (unchanged fits come from the cache); "
                                f"an old run can still be read by its folder: `mlproj verdict {project_dir.parent}/<run>`")
        else:
            raise RunError(f"no runs yet in {project_dir}", hint="run `mlproj run` first (with the same -c)")
        if not path.is_dir():
            raise RunError(f"the latest run {path} is missing", hint="run `mlproj run` again")
    except RuntimeError:  # Python < 3.13 reports a symlink loop so
        raise _latest_loops(latest) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _latest_loops(latest) from None
        raise storage_error(exc, "read", latest) or exc from None
    _check_finished(path, f"the latest run {path} is not finished")
    return path


RUN_NAME = re.compile(r"(?P<stamp>\d{8}T\d{6}Z)-(?P<hash>[0-9a-f]{8})(?:-(?P<n>[0-9]+))?")


def run_name_parts(name: str) -> tuple[datetime | None, str | None]:
    """(UTC start time, config hash[:8]) of a run folder named `<YYYYmmddTHHMMSSZ>-<hash8>[-n]`
    (publish_run), or (None, None) for a folder named otherwise (renamed by hand)."""
    match = RUN_NAME.fullmatch(name)
    if match is None:
        return None, None
    try:
        started = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:  # the right digits, not a date (month 13)
        started = None
    return started, match["hash"]


def match_runs(run_id: str, project_dir: Path) -> list[Path]:
    """The finished runs of `project_dir` a run id names: a prefix of the folder name, of its hash
    part (with its `-n`), or of the run's full config hash (environment.json). An exact folder
    name wins over prefixes, so a run stays reachable by its name whatever the others are called."""
    runs = list_runs(project_dir)
    exact = [p for p in runs if p.name == run_id]
    if exact:
        return exact
    wanted = run_id.lower()  # a hash copied from elsewhere may be in capitals
    found = []
    for path in runs:
        _, short = run_name_parts(path.name)
        after_stamp = path.name.split("-", 1)[1] if short is not None else ""
        if path.name.startswith(run_id) or (short is not None and after_stamp.startswith(wanted)):
            found.append(path)
        elif short is not None and len(wanted) > len(short) and wanted.startswith(short) \
                and _config_hash(path).startswith(wanted):
            found.append(path)
    return found


def _config_hash(run_dir: Path) -> str:
    """The full config hash a run recorded ("" if environment.json cannot be read: it cannot match)."""
    try:
        return str(read_json(run_dir / "environment.json")["config"]["hash"]).lower()
    except MlprojError:
        return ""


def _run_by_id(run_id: str, project_dir: Path) -> Path | None:
    found = match_runs(run_id, project_dir)
    if len(found) > 1:
        shown = ", ".join(p.name for p in found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
        raise RunError(f"run {run_id} is ambiguous: it matches {len(found)} runs in {project_dir} ({shown})",
                       hint="give more of the run's folder name (`mlproj runs` lists them), or the folder itself")
    return found[0] if found else None


def older_layout(runs: Path) -> bool:
    """Whether `runs/` holds runs of the layout before runs belonged to their project file: a
    `runs/latest` link or file, or a run folder (with its verdict.json) right in `runs/`."""
    try:
        if (runs / LATEST).is_symlink() or (runs / LATEST).is_file():
            return True
        return any(p.is_dir() and not p.is_symlink() and not is_unfinished(p) and (p / "verdict.json").is_file()
                   for p in runs.iterdir())
    except OSError:
        return False


def project_run_folders(runs: Path) -> list[Path]:
    """The `runs/<project>/` folders of the projects in `runs/` (those with a latest run)."""
    try:
        return sorted(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink() and not is_unfinished(p)
                      and os.path.lexists(p / LATEST))
    except OSError:
        return []


def list_runs(project_dir: Path) -> list[Path]:
    """The finished runs of one project, oldest first (their folder names start with the UTC time)."""
    try:
        return sorted((p for p in Path(project_dir).iterdir() if p.is_dir() and not p.is_symlink()
                       and not is_unfinished(p) and (p / "verdict.json").is_file()), key=_run_order)
    except OSError:
        return []


def _run_order(run_dir: Path) -> tuple[str, int, str]:
    """Sort key of a run: its start time to the second, then when its verdict was written. Runs
    started in the same second would otherwise be ordered by their config hash."""
    stamped = RUN_NAME.fullmatch(run_dir.name) is not None
    try:
        written = (run_dir / "verdict.json").stat().st_mtime_ns
    except OSError:
        written = 0
    return (run_dir.name[:16] if stamped else run_dir.name, written, run_dir.name)


def _check_finished(path: Path, what: str) -> None:
    if is_unfinished(path):
        why = "it is still being written, or was left by a run that was killed"
    elif not (path / "verdict.json").is_file():
        why = "it has no verdict.json"
    else:
        return
    raise RunError(f"{what}: {why}", hint="a run interrupted or stopped by an error (a full disk) is not complete; "
                                          "run `mlproj run` again (it resumes from the cache), or name another "
                                          "run folder")


def _latest_loops(latest: Path) -> RunError:
    return RunError(f"{latest} is a symbolic link that leads back to itself (a loop)",
                    hint=f"remove it (rm '{latest}'): the next `mlproj run` marks the latest run again, and "
                         "`mlproj verdict RUN` reads any run by its folder")


def _latest_name(latest: Path) -> str:
    """The run named by a `runs/<project>/latest` file (where symlinks are not allowed): one plain folder name."""
    try:
        name = latest.read_bytes().decode("utf-8").strip()
    except UnicodeDecodeError:
        name = ""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0\n") or is_unfinished(Path(name)):
        raise RunError(f"{latest} is damaged (it should hold the name of the latest run folder)",
                       hint="run `mlproj run` again") from None
    return name


STATUS = frozenset({"pass", "fail", "undetermined"})
NUMBER = (int, float)
# What mlproj wrote, as far as the commands that read these files rely on it: required keys (a
# trailing "?" marks an optional one) and their types. [shape]: a list of such items.
SHAPES = {
    "verdict.json": {"status": STATUS, "exit_code": int, "criteria": [{"name": str, "status": STATUS, "detail": str}],
                     "selected_model?": (str, type(None)), "selections?": [dict], "warnings?": [str]},
    "summary.json": {"task": str, "folds": int, "repeats": int, "confidence": NUMBER, "project?": str,
                     "models": [{"name": str, "role": str, "fit_seconds?": (int, float, type(None)),
                                 "failed_tasks?": int, "n_tasks?": int, "errors?": [str]}],
                     "cases": [{"name": str, "primary": {"name": str, "label": str}, "models": dict}],
                     "warnings?": [str], "failed_fits?": int},
    "environment.json": {"config": {"path": str, "hash": str, "file_sha256?": str},
                         "data": {"path": str, "sha256": str}, "packages?": {}},
}


def read_json(path: Path, shape=None):
    """A run file, checked against its shape (SHAPES by file name, or `shape`): a file that is
    missing, truncated, not UTF-8 or not what mlproj wrote is a RunError naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing from run {path.parent}",
                       hint="the run did not finish; run `mlproj run` again (it resumes from the cache)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise RunError(f"{path} is damaged", hint="run `mlproj run` again") from None
    except OSError as exc:
        raise storage_error(exc, "read", path) or exc from None
    shape = SHAPES.get(path.name) if shape is None else shape
    problem = None if shape is None else shape_problem(data, shape)
    if problem:
        raise RunError(f"{path} is damaged ({problem})", hint="run `mlproj run` again")
    return data


def shape_problem(value, shape, where: str = "") -> str | None:
    """Why `value` does not have `shape` (see SHAPES), or None."""
    it = f"'{where}'" if where else "the file"
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{it} is not a mapping"
        for key, inner in shape.items():
            name = key.rstrip("?")
            if name not in value:
                if key.endswith("?"):
                    continue
                return f"'{where + '.' if where else ''}{name}' is missing"
            problem = shape_problem(value[name], inner, f"{where + '.' if where else ''}{name}")
            if problem:
                return problem
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"{it} is not a list"
        for index, item in enumerate(value):
            problem = shape_problem(item, shape[0], f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(shape, frozenset):
        return None if isinstance(value, str) and value in shape else f"{it} is not one of {', '.join(sorted(shape))}"
    types = shape if isinstance(shape, tuple) else (shape,)
    if isinstance(value, bool) and bool not in types:
        return f"{it} has the wrong type"
    return None if isinstance(value, types) else f"{it} has the wrong type"


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(config_path: Path, config_hash: str, data_path: Path, data_hash: str,
                config_file_sha256: str = "") -> dict:
    versions = {name: installed_version(name) for name in PACKAGES}
    versions = {name: version for name, version in versions.items() if version is not None}
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "config": {"path": str(config_path), "hash": config_hash, "file_sha256": config_file_sha256},
        "data": {"path": str(data_path), "sha256": data_hash},
    }


def staleness(env: dict, current_config_hash: str | None, current_data_hash: str | None) -> list[str]:
    """Reasons a run no longer matches its project (empty when it is current)."""
    reasons = []
    if current_config_hash is None:
        reasons.append(f"the project file {env['config']['path']} can no longer be read")
    elif current_config_hash != env["config"]["hash"]:
        reasons.append(f"the project file {env['config']['path']} changed after the run")
    if current_data_hash is None:
        reasons.append(f"the catalogue {env['data']['path']} is missing")
    elif current_data_hash != env["data"]["sha256"]:
        reasons.append(f"the catalogue {env['data']['path']} changed after the run")
    return reasons
