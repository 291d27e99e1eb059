"""Files: atomic writes (a later command never reads a half-written file as complete) and hashes.

Write to a temporary file in the same folder, flush and fsync it, then rename it into place
(DVC's pattern). An interruption leaves at most a `.*.tmp` file, never a truncated target.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: Path, mode: str = "w"):
    """A file handle whose contents replace `path` only when the block ends without an error.

    A file-system fault (full disk, no permission, a folder in the way, a name too long) becomes
    a StorageError naming `path`, and the old contents stay as they were.
    """
    path = Path(path)
    # The name is cut short so that a long (but legal) target name still gets its temporary file.
    tmp = path.with_name(f".{path.name[:100]}.{secrets.token_hex(6)}.tmp")
    try:
        # 0o666 so the umask applies as for any new file (tempfile would make it owner-only).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        _raise_storage_error(exc, path)
        raise
    try:
        text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or vanished folder: nothing was written there either
        if isinstance(exc, OSError):
            _raise_storage_error(exc, path)
        raise


def _raise_storage_error(exc: OSError, path: Path) -> None:
    from mlproj.errors import storage_error

    error = storage_error(exc, "write", path)
    if error is not None:
        raise error from None


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


HASH_CHUNK = 1 << 20


def file_hash(path: Path) -> str:
    """SHA-256 of a file, streamed so that large catalogues are not read into memory twice.

    Only a regular file is hashed (NotRegularFileError otherwise): a FIFO would block and
    /dev/zero would never end."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class NotRegularFileError(OSError):
    """A path that names a folder, FIFO, device or socket where a file's bytes are wanted."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its st_mode."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((word for test, word in kinds if test(mode)), "a special file")


def regular_file(path: Path) -> os.stat_result:
    """os.stat of `path` (following symlinks), or NotRegularFileError if it is not a regular file.

    Never opens the path: opening a FIFO blocks until a writer comes, and opening a device can
    have side effects. OSError (ENOENT, ELOOP, ENAMETOOLONG) and ValueError (a NUL byte) pass."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(errno.EINVAL, f"not a regular file but {file_kind(info.st_mode)}", str(path))
    return info


def open_regular(path: Path):
    """`path` opened for binary reading, only if it is a regular file (checked before opening, and
    again on the open descriptor, in case the path was swapped in between)."""
    regular_file(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"not a regular file but {file_kind(mode)}", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, at most `limit` + 1 of them (more than `limit` means too large)."""
    with open_regular(path) as handle:
        return handle.read(limit + 1)


_PATH_PROBLEMS = {errno.ELOOP: "it is a symbolic link that leads back to itself (a loop)",
                  errno.ENAMETOOLONG: "the name is too long for the file system",
                  errno.ENOENT: "it does not exist", errno.ENOTDIR: "a part of the path is a file, not a folder",
                  errno.EACCES: "permission denied"}


def path_problem(exc: OSError | ValueError) -> str:
    """Why a path cannot be read, in words (without the path, which the caller names)."""
    if isinstance(exc, NotRegularFileError):
        return exc.strerror
    if isinstance(exc, ValueError):  # os.stat of a path with a NUL byte
        return "the path contains a NUL byte"
    return _PATH_PROBLEMS.get(exc.errno) or exc.strerror or type(exc).__name__
