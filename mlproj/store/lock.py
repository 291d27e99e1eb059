"""One `mlproj run` per project folder at a time: a lock file, released by the kernel if the run dies.

An advisory `flock` on `.mlproj/run.lock` is held for the whole run; a second run in the same
folder stops at once with a message naming the running one, instead of interleaving writes. The
lock is the folder's, not one project file's: the project files of a folder have their own runs
(`runs/<project>/`) but share the fit cache `.mlproj/cache/` and the test-use ledger, which a run
sweeps and writes. Readers (`verdict`, `predict`) need no lock: every file they read is replaced
atomically.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from mlproj.errors import RunError, storage_error


@contextmanager
def project_lock(root: Path, project: str | None = None):
    path = Path(root) / ".mlproj" / "run.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8", errors="replace")
    except OSError as exc:
        # A read-only project, `.mlproj` a file, run.lock a folder: say which and what to do.
        raise storage_error(exc, "lock the project with", path) or exc from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(f"another `mlproj run` is already working on this project folder ({holder})",
                           where=str(root), hint="wait for it to finish (the project files of one folder share "
                                                 "its fit cache, so their runs take turns); it keeps every fit in "
                                                 "the cache, so running again afterwards costs nothing") from None
        try:  # who holds the lock, for the message above; the lock itself is the flock
            handle.seek(0)
            handle.truncate()
            who = f"project {project}, " if project else ""
            handle.write(f"{who}pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
            handle.flush()
        except OSError:
            pass  # a full disk: the run itself will say so where it writes what matters
        yield
    finally:
        try:
            handle.close()  # closing releases the lock; a killed process releases it too
        except OSError:
            pass  # the holder text could not be flushed; the descriptor is closed all the same
