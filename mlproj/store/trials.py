"""The record of trials, `runs/trials.csv`: one line per run, also of what did not work (paper §6.2).

Every `mlproj run` of every project file in the folder appends its line; the report lists a
project's lines. The file is rewritten atomically under the folder's run lock (store.lock), so
two runs never interleave and an interruption never leaves half a line. Columns added by a later
mlproj are appended to the header; lines written before keep their values.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from mlproj.errors import RunError, storage_error
from mlproj.store.files import write_text_atomic

FILE = "trials.csv"
COLUMNS = ("time", "project", "run", "config_hash", "models", "selected", "metric", "mean", "se", "decisions",
           "verdict")


def read_trials(path: Path) -> list[dict[str, str]]:
    """The lines of a trials file (none yet: an empty list)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise RunError(f"{path} is damaged (not UTF-8 text)",
                       hint="restore it from a backup, or move it away to start a new record") from None
    except OSError as exc:
        raise storage_error(exc, "read", path) or exc from None
    try:
        # A line with more fields than the header (edited by hand) keeps the fields it has names for.
        return [{k: v for k, v in row.items() if k is not None} for row in csv.DictReader(io.StringIO(text))]
    except csv.Error as exc:
        raise RunError(f"{path} is damaged ({exc})",
                       hint="restore it from a backup, or move it away to start a new record") from None


def append_trial(path: Path, trial: dict[str, object]) -> None:
    """Add one line (missing columns empty), rewriting the file atomically."""
    rows = read_trials(path)
    header = list(dict.fromkeys([*(rows[0] if rows else ()), *COLUMNS, *trial]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    writer.writerow({k: "" if v is None else v for k, v in trial.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, buffer.getvalue())
