"""One `mlproj run` per project at a time: a lock file, released by the kernel if the run dies.

An advisory `flock` on `.mlproj/run.lock` is held for the whole run; a second run on the same
project stops at once with a message naming the running one, instead of interleaving writes.
Readers (`verdict`, `predict`) need no lock: every file they read is replaced atomically.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from mlproj.errors import RunError, storage_error


@contextmanager
def project_lock(root: Path):
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
            raise RunError(f"another `mlproj run` is already working on this project ({holder})",
                           where=str(root), hint="wait for it to finish; it keeps every fit in the cache, "
                                                 "so running again afterwards costs nothing") from None
        try:  # who holds the lock, for the message above; the lock itself is the flock
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
            handle.flush()
        except OSError:
            pass  # a full disk: the run itself will say so where it writes what matters
        yield
    finally:
        try:
            handle.close()  # closing releases the lock; a killed process releases it too
        except OSError:
            pass  # the holder text could not be flushed; the descriptor is closed all the same
