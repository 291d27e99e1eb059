"""The content-addressed cache of fits, and the output of one task that it stores.

An entry is `.mlproj/cache/<key[:2]>/<key>.npz`, written to a temporary file and renamed into
place (DVC's run cache), so an interrupted run never leaves a half entry that looks complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlproj.store.files import atomic_write


@dataclass
class TaskOutput:
    key: str
    predictions: np.ndarray | None  # (n_valid, K) probabilities, or (n_valid,) values
    fit_seconds: float
    error: str | None = None
    cached: bool = False
    stored: str | None = None  # the cache entry holding the predictions, when they are not held here
    search: dict | None = None  # a nested search's chosen values (mlproj.execute.search), when it ran

    def loaded(self) -> np.ndarray | None:
        """The predictions, read back from the cache if they were let go (run_tasks(release=True))."""
        if self.predictions is not None or self.stored is None:
            return self.predictions
        try:
            with np.load(self.stored, allow_pickle=False) as entry:
                return entry["predictions"]
        except (OSError, ValueError, KeyError) as exc:
            from mlproj.errors import RunError

            raise RunError(f"the cache entry {self.stored} disappeared or broke during the run ({exc})",
                           hint="run `mlproj run` again: it refits what is missing") from None


class Cache:
    """`.mlproj/cache/<key[:2]>/<key>.npz`; written to a temporary file and renamed into place.

    Each entry holds its own key: one found under another key's name (files swapped or copied by
    hand, or written by an mlproj before keys were stored) is deleted and refitted, never trusted;
    `mismatched` counts them. An entry that cannot be read is deleted and treated as a miss too:
    never trusted, never fatal. A file system that refuses to store an entry (full disk, read-only,
    a file or folder in the way) is a StorageError; the entries already there stay whole.
    """

    # Workers write through Cache objects of their own, and a worker thread's error reaches the
    # caller only as a failed fit: the first storage fault of each cache is kept here for it.
    _write_failures: dict[Path, Exception] = {}

    def __init__(self, root: Path):
        self.root = Path(root)
        self.mismatched = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def model_path(self, key: str) -> Path:
        """Fitted final models are kept (skops format) so that `mlproj predict` needs no refit."""
        return self.root / key[:2] / f"{key}.skops"

    def get(self, key: str, n_rows: int) -> TaskOutput | None:
        path = self.path(key)
        if path.is_dir() and not path.is_symlink():
            raise self._stray_folder(path)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as entry:
                stored = str(entry["key"][()]) if "key" in entry.files else None
                if stored != key:
                    self.mismatched += 1
                    raise ValueError("the entry holds another key's fit")
                predictions = entry["predictions"]
                fit_seconds = float(entry["fit_seconds"])
                search = json.loads(str(entry["search"][()])) if "search" in entry.files else None
            if predictions.shape[0] != n_rows:
                raise ValueError("row count does not match the plan")
            if search is not None and not isinstance(search, dict):
                raise ValueError("the entry's search choices are not a mapping")
            return TaskOutput(key, predictions, fit_seconds, cached=True, search=search)
        except Exception:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only cache: the refit's put says so
            return None

    def sweep_temporary(self) -> int:
        """Remove half-written entries left by a killed run (only while holding the project lock)."""
        from mlproj.errors import storage_error

        stray = [p for p in self.root.glob("*/.*.tmp") if not p.is_dir()] if self.root.is_dir() else []
        for path in stray:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise storage_error(exc, "remove", path) or exc from None
        return len(stray)

    def prune(self, keep: set[str]) -> tuple[int, int]:
        """Delete entries whose key is not in `keep` (and stray temporary files); (files, bytes) freed.
        Folders inside the cache are not mlproj's: they are left alone."""
        from mlproj.errors import storage_error

        files = freed = 0
        if not self.root.is_dir():
            return 0, 0
        for path in self.root.glob("*/*"):
            key = path.name.split(".")[0]
            if path.is_dir() and not path.is_symlink():
                continue
            if path.name.endswith(".tmp") or key not in keep:
                try:
                    freed += path.lstat().st_size
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    raise storage_error(exc, "remove", path) or exc from None
                files += 1
        return files, freed

    def put(self, output: TaskOutput) -> None:
        if output.error is not None or output.predictions is None:
            return  # failures are retried on the next run, not remembered
        from mlproj.errors import StorageError, storage_error

        path = self.path(output.key)
        try:
            if path.is_dir() and not path.is_symlink():
                raise self._stray_folder(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise storage_error(exc, "create the cache folder", path.parent) or exc from None
            # Only when a search ran, so that other entries stay as they were.
            extra = {} if output.search is None else {"search": np.array(json.dumps(output.search, sort_keys=True))}
            with atomic_write(path, "wb") as stream:  # a full disk leaves the old entry (or none)
                np.savez(stream, predictions=output.predictions, fit_seconds=output.fit_seconds,
                         key=np.array(output.key), **extra)
        except StorageError as exc:
            Cache._write_failures.setdefault(self.root, exc)
            raise

    def write_failure(self) -> Exception | None:
        """The first StorageError a put into this cache raised since the last call (also in a
        worker thread, whose error reaches run_tasks' caller only as a failed fit); then forgotten."""
        return Cache._write_failures.pop(self.root, None)

    @staticmethod
    def _stray_folder(path: Path) -> Exception:
        from mlproj.errors import StorageError

        return StorageError(f"{path} is a folder, where mlproj keeps the cache entry of a fit",
                            hint=f"remove it (rm -r '{path}'): the cache holds only copies of results that "
                                 "mlproj can compute again")
