"""Shared fixtures: where the real catalogues live, a way to run the real CLI, and a count of the
Python work a function does (speed checked by construction, never by the clock: DESIGN §8)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Tests run in parallel (pytest -n 2) on 2 cores: one OpenMP thread per fit avoids the spin-wait
# slowdown of oversubscribed histogram gradient boosting. Subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Drawing a run's figures costs about 2 s of CPU; the ~150 whole-project runs of the suite test
# other things. The tests of the report and its figures turn them on (the `figures` fixture).
os.environ["MLPROJ_FIGURES"] = "off"
SHARED_DATA = Path(os.environ.get("MLPROJ_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real catalogues are not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def figures(monkeypatch):
    """Runs in this test draw their figures, as a user's do."""
    monkeypatch.setenv("MLPROJ_FIGURES", "on")


def minimal_project_text(task: str = "classification", extra: str = "") -> str:
    """The smallest valid project file of a task (label column `c`), plus `extra` YAML lines."""
    if task == "classification":
        rest = ("classes: {galaxy: \"c == 'G'\", star: \"c == 'S'\"}\npositive: galaxy\n"
                "metric: {primary: roc_auc}\n")
    else:
        rest = "metric: {primary: rmse}\n"
    return (f"name: p\nobjective: {{statement: s, task: {task}}}\ndata: {{path: x.csv, label: c}}\n{rest}"
            "finish_line: {threshold: 0.5}\n" + extra)


def count_python_steps(function, *args, **kwargs) -> tuple[object, int]:
    """(function(*args, **kwargs), Python lines and calls it executed).

    A deterministic stand-in for a timing: work that numpy does inside one call counts once, a
    Python loop over rows counts every iteration. So "the steps do not grow with n" says "no
    Python loop over objects" on any machine, however busy. Warm up first: a first call's imports
    (scipy.stats parses docstrings) are not the function's work.
    """
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        count += 1
        return trace

    previous = sys.gettrace()  # a coverage tool's tracer, if any, comes back afterwards
    sys.settrace(trace)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, count


@pytest.fixture
def python_steps():
    """`count_python_steps`, as a fixture."""
    return count_python_steps


def within(seconds: float, function, *args):
    """function(*args) in a daemon thread: a hang fails the test instead of hanging the suite."""
    import threading

    outcome = {}

    def target():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__}{args} did not return within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
