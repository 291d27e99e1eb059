"""Tests of mlproj.store.rundir: atomic files, run folders, the latest run and staleness."""

from __future__ import annotations

import errno
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

import mlproj.store.files
from mlproj.errors import RunError, StorageError, printable, storage_error
from mlproj.store.rundir import (
    SHAPES,
    environment,
    find_run,
    make_folder,
    mark_latest,
    publish_run,
    read_json,
    staleness,
    start_run_dir,
    sweep_unfinished_runs,
    write_atomic,
    write_csv,
    write_json,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
HASH = "0123456789abcdef" * 4
VERDICT = {"status": "pass", "exit_code": 0, "criteria": [{"name": "finish_line", "status": "pass", "detail": "d"}]}


def new_run_dir(project_root: Path, config_hash: str, now: datetime | None = None) -> Path:
    """A finished run folder, made as mlproj makes one: written hidden, then published."""
    staging = start_run_dir(project_root, config_hash, now=now)
    write_json(staging / "verdict.json", VERDICT)
    return publish_run(staging)


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


GOOD = {
    "verdict.json": VERDICT,
    "summary.json": {"task": "classification", "folds": 2, "repeats": 1, "confidence": 0.9, "project": "p",
                     "models": [{"name": "dummy", "role": "baseline", "fit_seconds": None, "failed_tasks": 0,
                                 "n_tasks": 2, "errors": []}],
                     "cases": [{"name": "galaxy", "primary": {"name": "roc_auc", "label": "roc_auc"}, "models": {}}],
                     "warnings": [], "failed_fits": 0},
    "environment.json": {"config": {"path": "/p/mlproj.yaml", "hash": HASH}, "data": {"path": "/p/c.csv",
                                                                                      "sha256": HASH},
                         "packages": {"mlproj": "0.1.0"}},
}
DAMAGED = [
    ("summary.json", {}), ("summary.json", []), ("summary.json", None), ("verdict.json", None),
    ("verdict.json", {"status": "tampered", "exit_code": 0, "criteria": []}),
    ("verdict.json", {**VERDICT, "exit_code": True}),
    ("verdict.json", {**VERDICT, "criteria": [{"name": "x", "status": "pass"}]}),
    ("verdict.json", {**VERDICT, "criteria": {}}),
    ("environment.json", {}), ("environment.json", {"config": {"path": 1, "hash": HASH},
                                                     "data": {"path": "/p", "sha256": HASH}}),
    ("summary.json", {**GOOD["summary.json"], "folds": "2"}),
    ("summary.json", {**GOOD["summary.json"], "cases": [{"name": "galaxy", "models": {}}]}),
]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_read_json_accepts_what_mlproj_writes(tmp_path, name):
    write_json(tmp_path / name, GOOD[name])
    assert read_json(tmp_path / name) == GOOD[name]


@pytest.mark.parametrize("name, data", DAMAGED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(DAMAGED)])
def test_read_json_valid_json_of_the_wrong_shape_is_damaged(tmp_path, name, data):
    (tmp_path / name).write_text(json.dumps(data))
    with pytest.raises(RunError, match=f"{name} is damaged") as caught:
        read_json(tmp_path / name)
    assert "Run `mlproj run` again" in str(caught.value)
    assert name in SHAPES


def test_read_json_with_an_explicit_shape_and_files_without_one(tmp_path):
    (tmp_path / "models.json").write_text('{"model": 3}')
    with pytest.raises(RunError, match="'model' has the wrong type"):
        read_json(tmp_path / "models.json", {"model": str})
    assert read_json(tmp_path / "models.json") == {"model": 3}  # no shape known for this name


# --------------------------------------------------------------------------- storage faults

def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    write_json(path, {"old": 1})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mlproj.store.files.os, "fsync", full)
    with pytest.raises(StorageError) as caught:
        write_json(path, {"new": 2})
    message = str(caught.value)
    assert f"cannot write {path}: the disk is full" in message and "Free some space" in message
    assert json.loads(path.read_text()) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
                                         (errno.EDQUOT, "quota")])
def test_a_refused_write_names_the_file_and_the_remedy(tmp_path, monkeypatch, code, words):
    real = os.open

    def refuse(path, flags, *args):
        if flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real(path, flags, *args)

    monkeypatch.setattr(mlproj.store.files.os, "open", refuse)
    with pytest.raises(StorageError) as caught:
        write_atomic(tmp_path / "plan.json", "{}")
    assert f"cannot write {tmp_path / 'plan.json'}: " in str(caught.value) and words in str(caught.value)
    assert not (tmp_path / "plan.json").exists()


def test_a_long_but_legal_name_gets_its_temporary_file(tmp_path):
    path = tmp_path / ("n" * 250)
    write_atomic(path, "x")
    assert path.read_text() == "x"


def test_make_folder_names_the_file_in_the_way(tmp_path):
    (tmp_path / "runs").write_text("a file")
    with pytest.raises(StorageError, match="it is a file, where a folder is needed"):
        make_folder(tmp_path / "runs")
    with pytest.raises(StorageError, match=f"{tmp_path / 'runs'} is a file, where a folder is needed"):
        make_folder(tmp_path / "runs" / "deeper" / "still")


def test_storage_error_maps_only_file_system_faults():
    assert storage_error(OSError(errno.ENOSPC, "full", "/x"), "write").render().startswith(
        "cannot write /x: the disk is full")
    assert "too long" in storage_error(OSError(errno.ENAMETOOLONG, "long", "/x")).render()
    assert "loop" in storage_error(OSError(errno.ELOOP, "loop", "/x")).render()
    assert storage_error(OSError(errno.EPIPE, "pipe")) is None
    assert storage_error(OSError(errno.ENOENT, "gone", "/x")) is None
    assert storage_error(ValueError("no")) is None


def test_printable_escapes_control_characters_and_keeps_unicode():
    assert printable("a\x1b[31mb\x1b]0;t\x07c\x7f\x9b\r") == "a\\x1b[31mb\\x1b]0;t\\x07c\\x7f\\x9b\\x0d"
    assert printable("Ω ü 銀河\tx\ny") == "Ω ü 銀河\tx\ny"
    assert printable("\udcff\ufffe") == "\\udcff\\ufffe"


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
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")) == []


def test_new_run_dir_default_time_is_utc(tmp_path):
    path = new_run_dir(tmp_path, HASH)
    stamp = datetime.strptime(path.name.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 120


def test_a_run_is_written_hidden_and_published_only_with_its_verdict(tmp_path):
    staging = start_run_dir(tmp_path, HASH, now=NOW)
    assert staging.parent == tmp_path / "runs" and staging.name.startswith(".20240506T070809Z-01234567.")
    assert staging.name.endswith(".tmp")
    write_json(staging / "summary.json", {"x": 1})
    with pytest.raises(RunError, match="not a complete run"):
        publish_run(staging)
    with pytest.raises(RunError, match="not a finished run: it is still being written"):
        find_run(str(staging), tmp_path)
    write_json(staging / "verdict.json", VERDICT)
    run = publish_run(staging)
    assert run == tmp_path / "runs" / "20240506T070809Z-01234567" and not staging.exists()
    assert (run / "summary.json").is_file()


def test_sweep_removes_only_hidden_unfinished_folders(tmp_path):
    done = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(done)
    leftover = start_run_dir(tmp_path, HASH, now=NOW)
    (leftover / "models").mkdir()
    (leftover / "models" / "m.skops").write_bytes(b"half a model")
    (tmp_path / "runs" / ".notes.txt.tmp").write_text("a file, not a run folder")
    assert sweep_unfinished_runs(tmp_path) == 1
    assert not leftover.exists() and done.is_dir() and (tmp_path / "runs" / ".notes.txt.tmp").exists()
    assert find_run(None, tmp_path) == done.resolve()
    assert sweep_unfinished_runs(tmp_path / "nowhere") == 0


def test_a_folder_without_its_verdict_is_not_a_run(tmp_path):
    run = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(run)
    (run / "verdict.json").unlink()
    with pytest.raises(RunError, match="is not finished: it has no verdict.json"):
        find_run(None, tmp_path)
    with pytest.raises(RunError, match="is not a finished run: it has no verdict.json"):
        find_run(str(run), tmp_path)


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
    import shutil

    run = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(run)
    shutil.rmtree(run)
    with pytest.raises(RunError, match="missing"):
        find_run(None, tmp_path)


def test_find_run_latest_file_points_at_deleted_run(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "latest").write_text("20240101T000000Z-deadbeef\n")
    with pytest.raises(RunError, match="missing"):
        find_run(None, tmp_path)


def test_latest_as_a_symlink_loop_is_reported(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "latest").symlink_to("latest")
    with pytest.raises(RunError, match="leads back to itself"):
        find_run(None, tmp_path)
    run = new_run_dir(tmp_path, HASH, now=NOW)
    mark_latest(run)  # the next run replaces the loop
    assert find_run(None, tmp_path) == run.resolve()


@pytest.mark.parametrize("content", [b"\xff\xfe\n", b"", b"\n", b"../../etc\n", b"..\n", b"a/b\n",
                                     b".20240506T070809Z-01234567.abcd.tmp\n"])
def test_a_damaged_latest_file_is_reported(tmp_path, content):
    new_run_dir(tmp_path, HASH, now=NOW)
    (tmp_path / "runs" / "latest").write_bytes(content)
    with pytest.raises(RunError, match="runs/latest is damaged"):
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
