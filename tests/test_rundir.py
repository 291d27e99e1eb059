"""Tests of mlproj.rundir: atomic files, run folders, the latest run and staleness."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from mlproj.errors import RunError
from mlproj.rundir import (environment, find_run, mark_latest, new_run_dir, read_json, staleness, write_atomic,
                           write_csv, write_json)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
HASH = "0123456789abcdef" * 4


# --------------------------------------------------------------------------- atomic writes

def test_write_atomic_writes_and_replaces_without_temp_files(tmp_path):
    path = tmp_path / "sub" / "file.txt"
    write_atomic(path, "first\n")
    assert path.read_text() == "first\n"
    write_atomic(path, "second ü\n")
    assert path.read_text(encoding="utf-8") == "second ü\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.txt"]


def test_write_atomic_failure_keeps_old_content_and_no_temp(tmp_path):
    path = tmp_path / "file.txt"
    write_atomic(path, "good")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "bad \udc80 surrogate")
    assert path.read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_write_atomic_keeps_newlines_verbatim(tmp_path):
    path = tmp_path / "f.csv"
    write_atomic(path, "a\r\nb\n")
    assert path.read_bytes() == b"a\r\nb\n"


def test_write_json_round_trip_and_numpy_values(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": 1, "b": [0.5, None], "n": np.int64(3), "f": np.float32(0.25), "p": Path("/x")})
    assert read_json(path) == {"a": 1, "b": [0.5, None], "n": 3, "f": 0.25, "p": "/x"}
    assert path.read_text().endswith("\n")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("nan")])
def test_write_json_refuses_non_finite(tmp_path, bad):
    path = tmp_path / "x.json"
    with pytest.raises(ValueError):
        write_json(path, {"value": bad})
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_json_refuses_unknown_objects(tmp_path):
    with pytest.raises(TypeError, match="cannot write object"):
        write_json(tmp_path / "x.json", {"value": object()})


def test_write_csv(tmp_path):
    path = tmp_path / "r.csv"
    write_csv(path, [{"model": "a", "score": 0.5}, {"model": "b", "score": 0.25}])
    assert path.read_text() == "model,score\na,0.5\nb,0.25\n"
    write_csv(path, [])
    assert path.read_text() == ""


def test_read_json_missing_and_damaged(tmp_path):
    with pytest.raises(RunError, match="missing"):
        read_json(tmp_path / "verdict.json")
    (tmp_path / "verdict.json").write_text("{not json")
    with pytest.raises(RunError, match="damaged"):
        read_json(tmp_path / "verdict.json")


# --------------------------------------------------------------------------- run folders

def test_new_run_dir_name_and_uniqueness(tmp_path):
    first = new_run_dir(tmp_path, HASH, now=NOW)
    second = new_run_dir(tmp_path, HASH, now=NOW)
    third = new_run_dir(tmp_path, HASH, now=NOW)
    assert first.name == "20240506T070809Z-01234567"
    assert second.name == "20240506T070809Z-01234567-2"
    assert third.name == "20240506T070809Z-01234567-3"
    assert all(p.is_dir() and p.parent == tmp_path / "runs" for p in (first, second, third))
    assert new_run_dir(tmp_path, "f" * 64, now=NOW).name == "20240506T070809Z-ffffffff"


def test_new_run_dir_default_time_is_utc(tmp_path):
    path = new_run_dir(tmp_path, HASH)
    stamp = datetime.strptime(path.name.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 120


def test_mark_latest_and_find_run(tmp_path):
    first = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(first)
    assert find_run(None, tmp_path) == first.resolve()
    second = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(second)
    assert find_run(None, tmp_path) == second.resolve()
    assert find_run(str(first), tmp_path) == first.resolve()
    assert not (tmp_path / "runs" / ".latest.tmp").exists()


def test_mark_latest_falls_back_to_a_file(tmp_path, monkeypatch):
    run = new_run_dir(tmp_path, HASH, now=NOW)

    def refuse(self, *args, **kwargs):
        raise OSError("symlinks not supported")

    monkeypatch.setattr(Path, "symlink_to", refuse)
    mark_latest(run)
    latest = tmp_path / "runs" / "latest"
    assert latest.is_file() and not latest.is_symlink()
    assert latest.read_text().strip() == run.name
    assert find_run(None, tmp_path) == run


def test_mark_latest_replaces_fallback_file_with_link(tmp_path, monkeypatch):
    first = new_run_dir(tmp_path, HASH, now=NOW)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "symlink_to", lambda *a, **k: (_ for _ in ()).throw(OSError("no")))
        mark_latest(first)
    second = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(second)
    assert find_run(None, tmp_path) == second.resolve()


def test_find_run_without_runs(tmp_path):
    with pytest.raises(RunError, match="no runs yet"):
        find_run(None, tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(RunError, match="no runs yet"):
        find_run(None, tmp_path)


def test_find_run_explicit_missing(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        find_run(str(tmp_path / "runs" / "nope"), tmp_path)


def test_find_run_latest_points_at_deleted_run(tmp_path):
    run = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(run)
    run.rmdir()
    with pytest.raises(RunError, match="missing"):
        find_run(None, tmp_path)


def test_find_run_latest_file_points_at_deleted_run(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "latest").write_text("20240101T000000Z-deadbeef\n")
    with pytest.raises(RunError, match="missing"):
        find_run(None, tmp_path)


def test_mark_latest_refuses_real_folder_named_latest(tmp_path):
    run = new_run_dir(tmp_path, HASH, now=NOW)
    (tmp_path / "runs" / "latest").mkdir()
    with pytest.raises(RunError):
        mark_latest(run)


# --------------------------------------------------------------------------- environment and staleness

def test_environment_record(tmp_path):
    env = environment(tmp_path / "mlproj.yaml", HASH, tmp_path / "cat.csv", "d" * 64, "f" * 64)
    json.dumps(env, allow_nan=False)
    assert env["config"] == {"path": str(tmp_path / "mlproj.yaml"), "hash": HASH, "file_sha256": "f" * 64}
    assert env["data"] == {"path": str(tmp_path / "cat.csv"), "sha256": "d" * 64}
    assert {"numpy", "scikit-learn", "pandas"} <= set(env["packages"])
    assert env["python"].count(".") == 2


def test_staleness_reasons(tmp_path):
    env = environment(Path("p/mlproj.yaml"), HASH, Path("p/cat.csv"), "d" * 64)
    assert staleness(env, HASH, "d" * 64) == []
    [reason] = staleness(env, "e" * 64, "d" * 64)
    assert "project file p/mlproj.yaml changed" in reason
    [reason] = staleness(env, HASH, "e" * 64)
    assert "catalogue p/cat.csv changed" in reason
    [reason] = staleness(env, None, "d" * 64)
    assert "can no longer be read" in reason
    [reason] = staleness(env, HASH, None)
    assert "catalogue p/cat.csv is missing" in reason
    assert len(staleness(env, None, None)) == 2
    assert len(staleness(env, "e" * 64, "e" * 64)) == 2
