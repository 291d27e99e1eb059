"""Nothing lost, nothing interleaved: SIGKILL part-way, then resume; two runs at once."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlproj.store.lock import project_lock
from tests.e2e.helpers import cli, cli_subprocess, runs_latest, slow_project


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / ".mlproj" / "cache").rglob("*.npz"))


def _metrics(folder: Path) -> list[dict]:
    with open(runs_latest(folder) / "results.csv") as handle:
        return [{k: v for k, v in row.items() if k not in ("fit_seconds", "cached")} for row in csv.DictReader(handle)]


def _start(folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mlproj", "run", "-j", "1"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_entries(folder: Path, process: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 180
    while len(_entries(folder)) < count and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be interrupted"


@pytest.mark.slow
def test_sigkill_part_way_then_resume_gives_the_uninterrupted_numbers(tmp_path: Path):
    killed = slow_project(tmp_path / "killed")
    process = _start(killed)
    _wait_for_entries(killed, process, 4)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    kept = _entries(killed)
    assert len(kept) >= 4
    assert not runs_latest(killed).exists()
    resumed = cli_subprocess("run", "-j", "1", cwd=killed)
    assert resumed.returncode == 0, resumed.stderr
    assert int(resumed.stdout.split("reused ")[1].split()[0]) >= len(kept)
    assert not list((killed / ".mlproj").rglob("*.tmp"))

    clean = slow_project(tmp_path / "clean")
    assert cli_subprocess("run", "-j", "1", cwd=clean).returncode == 0
    assert _metrics(killed) == _metrics(clean)


@pytest.mark.slow
def test_a_second_run_on_the_same_project_reports_the_lock(tmp_path: Path):
    demo = tmp_path / "demo"
    assert cli("init", str(demo)).exit_code == 0
    with project_lock(demo):
        result = cli("run", cwd=demo)
    assert result.exit_code == 2
    assert "another `mlproj run` is already working on this project" in " ".join(result.stderr.split())
    assert "pid" in result.stderr
    assert cli("run", cwd=demo).exit_code == 0  # the lock is released with its holder


@pytest.mark.slow
def test_two_runs_at_once_leave_a_consistent_run_directory(tmp_path: Path):
    demo = slow_project(tmp_path / "demo")
    first = _start(demo)
    _wait_for_entries(demo, first, 1)
    second = cli_subprocess("run", "-j", "1", cwd=demo)
    assert second.returncode == 2 and "already working" in second.stderr
    assert "Traceback" not in second.stderr
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    runs = [p for p in runs_latest(demo).parent.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1
    for name in ("results.csv", "summary.json", "verdict.json", "environment.json", "plan.json"):
        assert (runs[0] / name).is_file()
    assert cli("verdict", cwd=demo).exit_code in (0, 1, 3)
