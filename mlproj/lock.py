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

from mlproj.errors import RunError


@contextmanager
def project_lock(root: Path):
    path = Path(root) / ".mlproj" / "run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(f"another `mlproj run` is already working on this project ({holder})",
                           where=str(root), hint="wait for it to finish; it keeps every fit in the cache, "
                                                 "so running again afterwards costs nothing") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock; a killed process releases it too
