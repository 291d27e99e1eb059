"""The run directory: atomic files that later commands read, and staleness checks.

`runs/<UTC timestamp>-<config hash[:8]>/` holds project.yaml, plan.json, results.csv,
summary.json, verdict.json and environment.json; `runs/latest` names the newest run. Every file
is written to a temporary file in the same folder, flushed and renamed, so an interrupted run
never leaves a half file that looks complete.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from mlproj.errors import RunError
from mlproj.files import write_text_atomic

RUNS = "runs"
LATEST = "latest"
PACKAGES = ("mlproj", "scikit-learn", "numpy", "scipy", "pandas", "pydantic", "joblib", "pyarrow")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


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


def new_run_dir(project_root: Path, config_hash: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    base = project_root / RUNS / f"{stamp}-{config_hash[:8]}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def mark_latest(run_dir: Path) -> None:
    """`runs/latest`: a symlink where the file system allows it, else a one-line file."""
    link = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.tmp"
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(run_dir.name, target_is_directory=True)
    except OSError:
        write_atomic(link, run_dir.name + "\n")
        return
    if link.is_dir() and not link.is_symlink():
        tmp.unlink()
        raise RunError(f"{link} is a folder; cannot mark the latest run", hint="rename it")
    os.replace(tmp, link)


def find_run(run: str | None, project_root: Path) -> Path:
    """The run folder a command should read: RUN if given, else the project's latest run."""
    if run:
        path = Path(run)
        if not path.is_dir():
            raise RunError(f"run folder {run} does not exist", hint="pass a folder under runs/, or omit RUN for the latest")
        return path.resolve()
    latest = project_root / RUNS / LATEST
    if latest.is_symlink() or latest.is_dir():
        path = latest.resolve()
    elif latest.is_file():
        path = project_root / RUNS / latest.read_text().strip()
    else:
        raise RunError(f"no runs yet in {project_root / RUNS}", hint="run `mlproj run` first")
    if not path.is_dir():
        raise RunError(f"the latest run {path} is missing", hint="run `mlproj run` again")
    return path


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing from run {path.parent}",
                       hint="the run did not finish; run `mlproj run` again (it resumes from the cache)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunError(f"{path} is damaged", hint="run `mlproj run` again") from None


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
