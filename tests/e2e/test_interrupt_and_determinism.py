"""Ctrl-C keeps finished fits; the same project gives the same numbers whatever the -j or hash seed.

The interrupt tests do not race the clock: the CLI runs with fits of KNeighborsClassifier that end
normally for the first few calls and then never end, so the test knows exactly which fits have
finished when it presses Ctrl-C, and a Ctrl-C that waited for a running fit would hang.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.e2e.helpers import cli_subprocess, runs_latest

# `mlproj` whose KNeighborsClassifier fits after the first MLPROJ_TEST_FITS_THAT_END ones say so
# (a file in MLPROJ_TEST_STUCK) and then wait for the end of the process.
_STUCK_FITS = """
import os, pathlib, threading
from sklearn.neighbors import KNeighborsClassifier

real_fit, calls, lock = KNeighborsClassifier.fit, [0], threading.Lock()

def fit(self, *args, **kwargs):
    with lock:
        calls[0] += 1
        call = calls[0]
    if call <= int(os.environ["MLPROJ_TEST_FITS_THAT_END"]):
        return real_fit(self, *args, **kwargs)
    (pathlib.Path(os.environ["MLPROJ_TEST_STUCK"]) / str(call)).touch()
    threading.Event().wait(600)
    raise RuntimeError("a fit that Ctrl-C should have ended or abandoned was waited for")

KNeighborsClassifier.fit = fit
from mlproj.cli import entry
entry()
"""


def _cache_entries(folder: Path) -> list[Path]:
    return sorted((folder / ".mlproj" / "cache").rglob("*.npz"))


def _hear_ctrl_c() -> None:
    """In the child: a test run started in the background (`cmd &`, nohup) inherits SIGINT
    ignored, and Python then leaves it ignored; a user's terminal delivers it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _knn_project(folder: Path, baselines: list[str]) -> Path:
    assert cli_subprocess("init", str(folder), "--template", "classification", cwd=folder.parent).returncode == 0
    project = yaml.safe_load((folder / "mlproj.yaml").read_text())
    project["baselines"] = baselines
    project["candidates"] = [{"name": "knn", "estimator": "KNeighborsClassifier"}]
    (folder / "mlproj.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return folder


def _interrupt_when_stuck(demo: Path, *, jobs: int, fits_that_end: int, stuck: int) -> subprocess.CompletedProcess:
    """`mlproj run -j jobs`, sent Ctrl-C once `stuck` fits are stuck (after `fits_that_end` ended)."""
    marks = demo.parent / "stuck"
    marks.mkdir()
    env = {**os.environ, "MLPROJ_TEST_FITS_THAT_END": str(fits_that_end), "MLPROJ_TEST_STUCK": str(marks)}
    process = subprocess.Popen([sys.executable, "-c", _STUCK_FITS, "run", "-j", str(jobs)], cwd=demo,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_hear_ctrl_c, env=env)
    deadline = time.monotonic() + 120  # bounds the wait only; the condition is asserted below
    while len(list(marks.iterdir())) < stuck and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail(f"the run ended before its fits got stuck: {process.communicate()[1]}")
    assert len(list(marks.iterdir())) == stuck, "the fits did not get stuck in time"
    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("Ctrl-C waited for the running fits, which never end")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _assert_complete(entry: Path) -> None:
    """A cache entry under its own name is whole: write-then-rename never shows a half file."""
    with np.load(entry, allow_pickle=False) as stored:
        assert str(stored["key"][()]) == entry.name.removesuffix(".npz")
        assert stored["predictions"].shape[0] > 0


@pytest.mark.slow
def test_ctrl_c_keeps_finished_fits_and_the_next_run_resumes(tmp_path: Path):
    demo = _knn_project(tmp_path / "demo", ["dummy"])  # the slowest model, knn, is fitted first
    interrupted = _interrupt_when_stuck(demo, jobs=1, fits_that_end=3, stuck=1)
    assert interrupted.returncode == 130, interrupted.stderr
    assert "Traceback" not in interrupted.stderr
    assert "kept in the cache" in interrupted.stderr
    kept = _cache_entries(demo)
    assert len(kept) == 3  # one after the other: each finished fit is written before the next starts
    for entry in kept:
        _assert_complete(entry)
    assert not (demo / "runs").exists(), "an interrupted run must not leave a run directory"

    # What is guaranteed is not "no temporary file": an interrupt (or SIGKILL) may land between
    # writing an entry's temporary file and renaming it. It is that such a file is never read as an
    # entry and that the next run sweeps it away. Plant one, so that this case is tested every time.
    stray = kept[0].with_name(f".{kept[0].name}.0123456789ab.tmp")
    stray.write_bytes(kept[0].read_bytes()[:100])
    resumed = cli_subprocess("run", "-j", "1", cwd=demo)
    assert resumed.returncode == 0, resumed.stderr
    assert int(resumed.stdout.split("reused ")[1].split()[0]) == len(kept)
    assert not list((demo / ".mlproj").rglob("*.tmp")), "the next run must sweep temporary files"
    for entry in kept:
        _assert_complete(entry)


@pytest.mark.slow
def test_ctrl_c_with_worker_threads_returns_at_once(tmp_path: Path):
    """Worker threads cannot be killed, so mlproj must not wait for the fits they are running:
    here both workers are inside fits that never end."""
    demo = _knn_project(tmp_path / "demo", [])
    interrupted = _interrupt_when_stuck(demo, jobs=2, fits_that_end=0, stuck=2)
    assert interrupted.returncode == 130, interrupted.stderr
    assert "Traceback" not in interrupted.stderr
    assert _cache_entries(demo) == []  # no fit finished, so none was written, not even in part
    assert not list((demo / ".mlproj").rglob("*.tmp"))
    assert not (demo / "runs").exists()


def _metrics(folder: Path) -> list[dict]:
    with open(runs_latest(folder) / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: v for k, v in row.items() if k not in ("fit_seconds", "cached")} for row in rows]


@pytest.mark.slow
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
