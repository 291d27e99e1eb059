"""Tests of mlproj.store.rundir: atomic files, run folders, the latest run and staleness."""

from __future__ import annotations

import errno
import json
import math
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlproj.store.files
from mlproj.errors import ConfigError, RunError, StorageError, printable, storage_error
from mlproj.store.rundir import (
    SHAPES,
    claim_project_runs,
    environment,
    find_run,
    list_runs,
    make_folder,
    mark_latest,
    match_runs,
    project_folder_name,
    project_run_folders,
    project_runs,
    publish_run,
    read_json,
    run_name_parts,
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


def PROJECT(root: Path) -> Path:  # noqa: N802 - reads as the constant it stands for
    """The runs of project `p` in the folder `root`: runs/p/ (rundir.project_runs)."""
    return root / "runs" / "p"


def new_run_dir(project_dir: Path, config_hash: str, now: datetime | None = None) -> Path:
    """A finished run folder, made as mlproj makes one: written hidden, then published."""
    staging = start_run_dir(project_dir, config_hash, now=now)
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
    first = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    second = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    third = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    assert first.name == "20240506T070809Z-01234567"
    assert second.name == "20240506T070809Z-01234567-2"
    assert third.name == "20240506T070809Z-01234567-3"
    assert all(p.is_dir() and p.parent == PROJECT(tmp_path) for p in (first, second, third))
    assert new_run_dir(PROJECT(tmp_path), "f" * 64, now=NOW).name == "20240506T070809Z-ffffffff"
    assert sorted(p.name for p in (PROJECT(tmp_path)).iterdir() if p.name.startswith(".")) == []


def test_new_run_dir_default_time_is_utc(tmp_path):
    path = new_run_dir(PROJECT(tmp_path), HASH)
    stamp = datetime.strptime(path.name.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - stamp).total_seconds()) < 120


def test_a_run_is_written_hidden_and_published_only_with_its_verdict(tmp_path):
    staging = start_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    assert staging.parent == PROJECT(tmp_path) and staging.name.startswith(".20240506T070809Z-01234567.")
    assert staging.name.endswith(".tmp")
    write_json(staging / "summary.json", {"x": 1})
    with pytest.raises(RunError, match="not a complete run"):
        publish_run(staging)
    with pytest.raises(RunError, match="not a finished run: it is still being written"):
        find_run(str(staging), PROJECT(tmp_path))
    write_json(staging / "verdict.json", VERDICT)
    run = publish_run(staging)
    assert run == PROJECT(tmp_path) / "20240506T070809Z-01234567" and not staging.exists()
    assert (run / "summary.json").is_file()


def test_sweep_removes_only_hidden_unfinished_folders(tmp_path):
    done = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(done)
    leftover = start_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    (leftover / "models").mkdir()
    (leftover / "models" / "m.skops").write_bytes(b"half a model")
    (PROJECT(tmp_path) / ".notes.txt.tmp").write_text("a file, not a run folder")
    assert sweep_unfinished_runs(PROJECT(tmp_path)) == 1
    assert not leftover.exists() and done.is_dir() and (PROJECT(tmp_path) / ".notes.txt.tmp").exists()
    assert find_run(None, PROJECT(tmp_path)) == done.resolve()
    assert sweep_unfinished_runs(PROJECT(tmp_path / "nowhere")) == 0


def test_a_folder_without_its_verdict_is_not_a_run(tmp_path):
    run = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(run)
    (run / "verdict.json").unlink()
    with pytest.raises(RunError, match="is not finished: it has no verdict.json"):
        find_run(None, PROJECT(tmp_path))
    with pytest.raises(RunError, match="is not a finished run: it has no verdict.json"):
        find_run(str(run), PROJECT(tmp_path))


def test_mark_latest_and_find_run(tmp_path):
    first = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(first)
    assert find_run(None, PROJECT(tmp_path)) == first.resolve()
    second = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(second)
    assert find_run(None, PROJECT(tmp_path)) == second.resolve()
    assert find_run(str(first), PROJECT(tmp_path)) == first.resolve()
    assert not (PROJECT(tmp_path) / ".latest.tmp").exists()


def test_mark_latest_falls_back_to_a_file(tmp_path, monkeypatch):
    run = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)

    def refuse(self, *args, **kwargs):
        raise OSError("symlinks not supported")

    monkeypatch.setattr(Path, "symlink_to", refuse)
    mark_latest(run)
    latest = PROJECT(tmp_path) / "latest"
    assert latest.is_file() and not latest.is_symlink()
    assert latest.read_text().strip() == run.name
    assert find_run(None, PROJECT(tmp_path)) == run


def test_mark_latest_replaces_fallback_file_with_link(tmp_path, monkeypatch):
    first = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "symlink_to", lambda *a, **k: (_ for _ in ()).throw(OSError("no")))
        mark_latest(first)
    second = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(second)
    assert find_run(None, PROJECT(tmp_path)) == second.resolve()


def test_find_run_without_runs(tmp_path):
    with pytest.raises(RunError, match="no runs yet"):
        find_run(None, PROJECT(tmp_path))
    PROJECT(tmp_path).mkdir(parents=True)
    with pytest.raises(RunError, match="no runs yet"):
        find_run(None, PROJECT(tmp_path))


def test_find_run_explicit_missing(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        find_run(str(PROJECT(tmp_path) / "nope"), PROJECT(tmp_path))


def test_find_run_latest_points_at_deleted_run(tmp_path):
    import shutil

    run = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(run)
    shutil.rmtree(run)
    with pytest.raises(RunError, match="missing"):
        find_run(None, PROJECT(tmp_path))


def test_find_run_latest_file_points_at_deleted_run(tmp_path):
    PROJECT(tmp_path).mkdir(parents=True)
    (PROJECT(tmp_path) / "latest").write_text("20240101T000000Z-deadbeef\n")
    with pytest.raises(RunError, match="missing"):
        find_run(None, PROJECT(tmp_path))


def test_latest_as_a_symlink_loop_is_reported(tmp_path):
    PROJECT(tmp_path).mkdir(parents=True)
    (PROJECT(tmp_path) / "latest").symlink_to("latest")
    with pytest.raises(RunError, match="leads back to itself"):
        find_run(None, PROJECT(tmp_path))
    run = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(run)  # the next run replaces the loop
    assert find_run(None, PROJECT(tmp_path)) == run.resolve()


@pytest.mark.parametrize("content", [b"\xff\xfe\n", b"", b"\n", b"../../etc\n", b"..\n", b"a/b\n",
                                     b".20240506T070809Z-01234567.abcd.tmp\n"])
def test_a_damaged_latest_file_is_reported(tmp_path, content):
    new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    (PROJECT(tmp_path) / "latest").write_bytes(content)
    with pytest.raises(RunError, match="runs/p/latest is damaged"):
        find_run(None, PROJECT(tmp_path))


def test_mark_latest_refuses_real_folder_named_latest(tmp_path):
    run = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    (PROJECT(tmp_path) / "latest").mkdir()
    with pytest.raises(RunError):
        mark_latest(run)


# --------------------------------------------------------------------------- runs belong to their project file

def test_project_folder_name_is_the_name_made_safe_else_the_file_stem():
    assert project_folder_name("galaxy-purity", Path("a.yaml")) == "galaxy-purity"
    assert project_folder_name("SDSS selections: r < 17.7", Path("a.yaml")) == "SDSS-selections-r-17.7"
    assert project_folder_name("../../etc", Path("a.yaml")) == "etc"
    assert project_folder_name("日本", Path("sdss-selections.yaml")) == "sdss-selections"
    assert project_folder_name(None, Path("configs/mlz-photoz.yaml")) == "mlz-photoz"
    assert project_folder_name("...", Path("....yaml")) == "project"
    assert project_folder_name("latest", Path("a.yaml")) == "latest-project"  # the older layout's marker


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text()), st.text(min_size=1).map(lambda t: t.replace("/", "").replace("\0", "")))
def test_project_folder_name_is_always_one_plain_folder(name, stem):
    folder = project_folder_name(name, Path((stem or "x") + ".yaml"))
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", folder)
    assert 0 < len(folder) <= 72 and folder.lower() != "latest" and not folder.startswith(".")
    assert folder not in (".", "..") and "/" not in folder


def test_two_project_files_with_one_name_do_not_share_runs(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("name: same\n")
    b.write_text("name: same\n")
    runs = project_runs(tmp_path, "same", a)
    assert runs == tmp_path / "runs" / "same"
    claim_project_runs(runs, a)
    assert project_runs(tmp_path, "same", a) == runs  # its owner may, again and again
    with pytest.raises(ConfigError, match="already the name of a.yaml in this folder") as refused:
        project_runs(tmp_path, "same", b, where="b.yaml:1 (name)")
    assert refused.value.where == "b.yaml:1 (name)" and "its own `name:`" in refused.value.hint
    assert project_runs(tmp_path, "other", b) == tmp_path / "runs" / "other"
    # A project file that cannot be read now (deleted, a pipe): its runs are found by their owner.
    assert project_runs(tmp_path, None, a) == runs
    assert project_runs(tmp_path, None, tmp_path / "never-ran.yaml") == tmp_path / "runs" / "never-ran"
    a.unlink()  # renamed or deleted: its runs folder is free again (its runs say who made them)
    runs_b = project_runs(tmp_path, "same", b)
    claim_project_runs(runs_b, b)
    assert (runs_b / ".project-file").read_text().strip() == "b.yaml"


def test_the_latest_run_of_the_older_layout_is_never_taken(tmp_path):
    old = tmp_path / "runs" / "20240101T000000Z-deadbeef"
    write_json(old / "verdict.json", VERDICT)
    (tmp_path / "runs" / "latest").symlink_to(old.name)
    with pytest.raises(RunError, match="older mlproj layout") as refused:
        find_run(None, PROJECT(tmp_path))
    assert "run `mlproj run` again" in refused.value.hint
    assert find_run(str(old), PROJECT(tmp_path)) == old.resolve()  # by its folder, on purpose: still readable
    (tmp_path / "runs" / "latest").unlink()
    with pytest.raises(RunError, match="older mlproj layout"):  # a run folder right in runs/ is one too
        find_run(None, PROJECT(tmp_path))
    run = new_run_dir(PROJECT(tmp_path), HASH, now=NOW)
    mark_latest(run)
    assert find_run(None, PROJECT(tmp_path)) == run.resolve()


def test_each_project_has_its_own_latest_and_a_run_is_named_by_its_folder(tmp_path):
    a_runs, b_runs = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    first_a = new_run_dir(a_runs, HASH, now=NOW)
    mark_latest(first_a)
    b = new_run_dir(b_runs, "f" * 64, now=NOW)
    mark_latest(b)
    second_a = new_run_dir(a_runs, HASH, now=NOW)
    mark_latest(second_a)
    assert find_run(None, a_runs) == second_a.resolve() and find_run(None, b_runs) == b.resolve()
    assert find_run(first_a.name, a_runs) == first_a.resolve()
    with pytest.raises(RunError, match="does not exist"):
        find_run(first_a.name, b_runs)  # a name is looked up among this project's runs only
    assert list_runs(a_runs) == [first_a, second_a]
    assert project_run_folders(tmp_path / "runs") == [a_runs, b_runs]



# --------------------------------------------------------------------------- run ids

def _runs_with_ids(root: Path) -> tuple[Path, Path, Path, Path]:
    """Runs of project p: two of one configuration in the same second (the second gets `-2`),
    one of another configuration a day later, with its full hash in environment.json."""
    runs = PROJECT(root)
    first = new_run_dir(runs, HASH, now=NOW)
    again = new_run_dir(runs, HASH, now=NOW)
    other_hash = "3fa2c1e0" + "9" * 56
    other = new_run_dir(runs, other_hash, now=datetime(2024, 5, 7, 0, 0, 0, tzinfo=timezone.utc))
    write_json(other / "environment.json", environment(root / "p.yaml", other_hash, root / "cat.csv", "d" * 64))
    mark_latest(other)
    unfinished = start_run_dir(runs, "3fa2c1ff" + "0" * 56, now=NOW)  # hidden, being written: never a match
    return first, again, other, unfinished


def test_a_run_is_found_by_its_hash_or_a_unique_prefix(tmp_path):
    first, again, other, _ = _runs_with_ids(tmp_path)
    runs = PROJECT(tmp_path)
    for run_id in ("3fa2c1", "3fa2c1e0", "3FA2C1", "3fa2c1e0" + "9" * 56, "20240507", other.name):
        assert find_run(run_id, runs) == other.resolve(), run_id
    assert find_run("01234567-2", runs) == again.resolve()  # the hash part with its `-n`
    assert find_run(first.name, runs) == first.resolve()  # an exact folder name wins over prefixes
    assert match_runs("3fa2c1e0" + "8" * 56, runs) == []  # the right 8 characters, another hash


def test_an_ambiguous_run_id_names_the_candidates(tmp_path):
    first, again, _, _ = _runs_with_ids(tmp_path)
    with pytest.raises(RunError, match="run 0123 is ambiguous: it matches 2 runs") as refused:
        find_run("0123", PROJECT(tmp_path))
    assert first.name in refused.value.message and again.name in refused.value.message
    assert "`mlproj runs` lists them" in refused.value.hint
    with pytest.raises(RunError, match="matches 3 runs"):
        find_run("2024", PROJECT(tmp_path))


def test_an_unknown_run_id_is_the_missing_folder_and_a_path_is_never_an_id(tmp_path):
    _, _, other, unfinished = _runs_with_ids(tmp_path)
    with pytest.raises(RunError, match="run folder 3fa2c1ff does not exist") as refused:
        find_run("3fa2c1ff", PROJECT(tmp_path))  # only the hidden, unfinished run has that hash
    assert "config hash" in refused.value.hint
    assert match_runs(unfinished.name[:12], PROJECT(tmp_path)) == []
    with pytest.raises(RunError, match="does not exist"):
        find_run(f"elsewhere/{other.name[:8]}", PROJECT(tmp_path))  # a path is a path, not a prefix
    with pytest.raises(RunError, match="does not exist"):
        find_run("3fa2c1", tmp_path / "runs" / "q")  # a project's ids are looked up among its own runs only


def test_runs_of_one_second_are_listed_in_the_order_they_were_written(tmp_path):
    later_hash_first = new_run_dir(PROJECT(tmp_path), "f" * 64, now=NOW)
    then = new_run_dir(PROJECT(tmp_path), "0" * 64, now=NOW)
    for run, second in ((later_hash_first, 1), (then, 2)):  # file times as far apart as two real runs
        os.utime(run / "verdict.json", ns=(second * 10**9, second * 10**9))
    assert then.name < later_hash_first.name
    assert list_runs(PROJECT(tmp_path)) == [later_hash_first, then]
    renamed = PROJECT(tmp_path) / "a run renamed by hand"
    write_json(renamed / "verdict.json", VERDICT)
    assert list_runs(PROJECT(tmp_path))[-1] == renamed

def test_run_name_parts():
    assert run_name_parts("20240506T070809Z-01234567") == (NOW, "01234567")
    assert run_name_parts("20240506T070809Z-01234567-12") == (NOW, "01234567")
    assert run_name_parts("20241306T070809Z-01234567") == (None, "01234567")  # month 13
    assert run_name_parts("my best run") == (None, None)
    assert run_name_parts(".20240506T070809Z-01234567.abcd.tmp") == (None, None)


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


def test_the_lock_is_the_folders_and_names_the_project_holding_it(tmp_path):
    from mlproj.store.lock import project_lock

    # The project files of a folder share its fit cache: a run of another project waits its turn.
    with project_lock(tmp_path, "galaxy-purity"):
        with pytest.raises(RunError, match=r"already working on this project folder \(project galaxy-purity, pid"):
            with project_lock(tmp_path, "sdss-selections"):
                pass
    with project_lock(tmp_path, "sdss-selections"):  # released with its holder
        pass
