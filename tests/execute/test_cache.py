"""Tests of mlproj.execute.cache: entries written whole, checked against their key, and never trusted
when they cannot be read."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from mlproj.errors import StorageError
from mlproj.execute.cache import Cache, TaskOutput

KEY = "ab" + "0" * 62


def test_cache_round_trip(tmp_path):
    cache = Cache(tmp_path)
    predictions = np.random.default_rng(0).random((7, 3))
    cache.put(TaskOutput(KEY, predictions, 1.25))
    assert cache.path(KEY) == tmp_path / "ab" / f"{KEY}.npz"
    hit = cache.get(KEY, 7)
    assert hit is not None and hit.cached and hit.error is None and hit.key == KEY
    np.testing.assert_array_equal(hit.predictions, predictions)
    assert hit.fit_seconds == pytest.approx(1.25)
    assert [p.name for p in (tmp_path / "ab").iterdir()] == [f"{KEY}.npz"]  # no temporary files left


def test_cache_regression_vector_round_trip(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.array([0.5, 1.5, -2.0]), 0.1))
    np.testing.assert_array_equal(cache.get(KEY, 3).predictions, [0.5, 1.5, -2.0])


def test_cache_miss(tmp_path):
    assert Cache(tmp_path).get(KEY, 3) is None


def test_corrupted_entry_is_deleted_and_missed(tmp_path):
    cache = Cache(tmp_path)
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00garbage, not an npz file\xff" * 10)
    assert cache.get(KEY, 3) is None
    assert not path.exists()


def test_truncated_entry_is_deleted_and_missed(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.ones((50, 2)), 0.1))
    path = cache.path(KEY)
    path.write_bytes(path.read_bytes()[:40])
    assert cache.get(KEY, 50) is None
    assert not path.exists()


def test_entry_with_wrong_row_count_is_missed(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.ones((5, 2)), 0.1))
    assert cache.get(KEY, 6) is None
    assert not cache.path(KEY).exists()


def test_entry_with_missing_field_is_missed(tmp_path):
    cache = Cache(tmp_path)
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:
        np.savez(handle, something_else=np.ones(3))
    assert cache.get(KEY, 3) is None


def test_failed_outputs_are_not_cached(tmp_path):
    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, None, 0.1, error="ValueError: boom"))
    cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1, error="ValueError: boom"))
    assert not cache.path(KEY).exists()
    assert cache.get(KEY, 3) is None


OTHER = "cd" + "1" * 62


def test_swapped_entries_of_the_same_size_are_missed_and_counted(tmp_path):
    cache = Cache(tmp_path)
    mine, theirs = np.full((4, 2), 0.9), np.full((4, 2), 0.5)
    cache.put(TaskOutput(KEY, mine, 0.1))
    cache.put(TaskOutput(OTHER, theirs, 0.1))
    first, second = cache.path(KEY), cache.path(OTHER)
    swap = first.with_name("swap")
    first.rename(swap)
    second.rename(first)
    swap.rename(second)
    assert cache.get(KEY, 4) is None and cache.get(OTHER, 4) is None
    assert cache.mismatched == 2
    assert not first.exists() and not second.exists()  # refitted, then trusted again
    cache.put(TaskOutput(KEY, mine, 0.1))
    np.testing.assert_array_equal(cache.get(KEY, 4).predictions, mine)
    assert cache.mismatched == 2


def test_an_entry_without_its_key_is_refitted_once(tmp_path):
    cache = Cache(tmp_path)
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:  # as written before entries held their key
        np.savez(handle, predictions=np.ones((3, 2)), fit_seconds=0.1)
    assert cache.get(KEY, 3) is None and cache.mismatched == 1
    assert not path.exists()


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_keeps_the_cached_entry_whole(tmp_path, monkeypatch):
    import mlproj.store.files

    cache = Cache(tmp_path)
    cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    monkeypatch.setattr(mlproj.store.files.os, "fsync", _disk_full)
    with pytest.raises(StorageError, match="the disk is full") as caught:
        cache.put(TaskOutput(KEY, np.zeros((3, 2)), 0.2))
    assert str(cache.path(KEY)) in str(caught.value)
    monkeypatch.undo()
    np.testing.assert_array_equal(cache.get(KEY, 3).predictions, np.ones((3, 2)))
    assert [p.name for p in cache.path(KEY).parent.iterdir()] == [f"{KEY}.npz"]  # no temporary left
    assert cache.write_failure() is caught.value and cache.write_failure() is None


def test_a_full_disk_while_an_entry_is_written(tmp_path, monkeypatch):
    def half_then_full(stream, **arrays):
        stream.write(b"PK\x03\x04 half an archive")
        _disk_full()

    monkeypatch.setattr(np, "savez", half_then_full)
    cache = Cache(tmp_path)
    with pytest.raises(StorageError, match="the disk is full"):
        cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    monkeypatch.undo()
    assert not cache.path(KEY).exists() and list(cache.path(KEY).parent.iterdir()) == []


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_a_cache_that_cannot_be_written(tmp_path, monkeypatch, code, words):
    real = os.mkdir

    def refuse(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "cache")):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse)
    with pytest.raises(StorageError, match=words) as caught:
        Cache(tmp_path / "cache").put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    assert str(tmp_path / "cache" / "ab") in str(caught.value) and "make it writable" in str(caught.value).lower()


def test_a_cache_that_is_a_file(tmp_path):
    (tmp_path / "cache").write_text("not a folder")
    cache = Cache(tmp_path / "cache")
    assert cache.get(KEY, 3) is None
    with pytest.raises(StorageError, match=f"{tmp_path / 'cache'} is a file, where a folder is needed"):
        cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    assert cache.sweep_temporary() == 0 and cache.prune(set()) == (0, 0)


def test_a_stray_folder_in_the_cache(tmp_path):
    cache = Cache(tmp_path)
    cache.path(KEY).mkdir(parents=True)
    with pytest.raises(StorageError, match="is a folder, where mlproj keeps the cache entry"):
        cache.get(KEY, 3)
    with pytest.raises(StorageError, match="Remove it"):
        cache.put(TaskOutput(KEY, np.ones((3, 2)), 0.1))
    (tmp_path / "ab" / ".half.npz.1234.tmp").mkdir()
    assert cache.sweep_temporary() == 0 and cache.prune(set()) == (0, 0)  # folders are not mlproj's to delete
    assert cache.path(KEY).is_dir()


def test_sweep_removes_only_half_written_entries(tmp_path):
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab" / ".abcd.npz.1234.tmp").write_bytes(b"half")
    (tmp_path / "ab" / "abcd.npz").write_bytes(b"whole")
    assert Cache(tmp_path).sweep_temporary() == 1
    assert [p.name for p in (tmp_path / "ab").iterdir()] == ["abcd.npz"]
