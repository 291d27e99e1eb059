"""Ctrl-C keeps finished fits; the same project gives the same numbers whatever the -j or hash seed."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.e2e.helpers import cli_subprocess, slow_project


def _cache_entries(folder: Path) -> list[Path]:
    return sorted((folder / ".mlproj" / "cache").rglob("*.npz"))


def _hear_ctrl_c() -> None:
    """In the child: a test run started in the background (`cmd &`, nohup) inherits SIGINT
    ignored, and Python then leaves it ignored; a user's terminal delivers it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_until_cached(demo: Path, *, jobs: int, entries: int) -> subprocess.Popen:
    """`mlproj run` as a subprocess, returned once `entries` fits are in its cache (still running)."""
    process = subprocess.Popen([sys.executable, "-m", "mlproj", "run", "-j", str(jobs)], cwd=demo,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_hear_ctrl_c)
    deadline = time.monotonic() + 120
    while len(_cache_entries(demo)) < entries and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be interrupted"
    return process


def test_ctrl_c_keeps_finished_fits_and_the_next_run_resumes(tmp_path: Path):
    demo = slow_project(tmp_path / "demo", trees=400, repeats=4)
    process = _run_until_cached(demo, jobs=1, entries=3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "kept in the cache" in stderr
    kept = _cache_entries(demo)
    assert len(kept) >= 3
    assert not list((demo / ".mlproj").rglob("*.tmp")), "a half-written cache entry was left behind"
    assert not (demo / "runs").exists(), "an interrupted run must not leave a run directory"

    resumed = cli_subprocess("run", "-j", "1", cwd=demo)
    assert resumed.returncode == 0, resumed.stderr
    reused = int(resumed.stdout.split("reused ")[1].split()[0])
    assert reused >= len(kept)


def test_ctrl_c_with_worker_threads_returns_at_once(tmp_path: Path):
    """Worker threads cannot be killed, so mlproj must not wait for the fits they are running."""
    demo = slow_project(tmp_path / "demo", trees=3000, repeats=2)
    project = yaml.safe_load((demo / "mlproj.yaml").read_text())
    project["baselines"] = ["dummy"]  # the first entries come at once; then only the big forests run
    (demo / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    process = _run_until_cached(demo, jobs=2, entries=2)
    time.sleep(0.5)  # both workers are now inside a 3000-tree fit (seconds each)
    before = _cache_entries(demo)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    # Had mlproj waited for the running fits, they would have finished and written entries.
    assert _cache_entries(demo) == before
    assert not list((demo / ".mlproj").rglob("*.tmp"))
    assert not (demo / "runs").exists()


def _metrics(folder: Path) -> list[dict]:
    with open(folder / "runs" / "latest" / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: v for k, v in row.items() if k not in ("fit_seconds", "cached")} for row in rows]


def test_same_numbers_for_any_jobs_and_hash_seed(tmp_path: Path):
    """-j 1 gives each fit every core, -j 2 one each (the suite's OMP_NUM_THREADS=1 is lifted):
    thread counts, worker kinds and hash seeds must not change a single digit."""
    import os

    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    results = []
    for jobs, hash_seed, workers in (("1", "1", "threads"), ("2", "2", "threads"), ("2", "3", "processes")):
        folder = tmp_path / f"run-{jobs}-{workers}"
        assert cli_subprocess("init", str(folder), cwd=tmp_path).returncode == 0
        project = yaml.safe_load((folder / "mlproj.yaml").read_text())
        project["execution"]["workers"] = workers
        (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        run = subprocess.run([sys.executable, "-m", "mlproj", "run", "-j", jobs], cwd=folder, capture_output=True,
                             text=True, timeout=600, env={**environment, "PYTHONHASHSEED": hash_seed})
        assert run.returncode == 0, run.stderr
        results.append(_metrics(folder))
    assert results[0] == results[1] == results[2]
