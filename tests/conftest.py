"""Shared fixtures: where the real catalogues live, and a way to run the real CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Tests run in parallel (pytest -n 2) on 2 cores: one OpenMP thread per fit avoids the spin-wait
# slowdown of oversubscribed histogram gradient boosting. Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
SHARED_DATA = Path(os.environ.get("MLPROJ_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real catalogues are not at {SHARED_DATA}")
    return SHARED_DATA


def minimal_project_text(task: str = "classification", extra: str = "") -> str:
    """The smallest valid project file of a task (label column `c`), plus `extra` YAML lines."""
    if task == "classification":
        rest = ("classes: {galaxy: \"c == 'G'\", star: \"c == 'S'\"}\npositive: galaxy\n"
                "metric: {primary: roc_auc}\n")
    else:
        rest = "metric: {primary: rmse}\n"
    return (f"name: p\nobjective: {{statement: s, task: {task}}}\ndata: {{path: x.csv, label: c}}\n{rest}"
            "finish_line: {threshold: 0.5}\n" + extra)
