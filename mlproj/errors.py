"""Errors a user can cause.

Every such error carries a message written for a scientist: what is wrong, where
(file, line, field or column) and what to do about it. The CLI turns them into
exit code 2 without a traceback; anything else is a bug in mlproj.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path


class MlprojError(Exception):
    """Base class of all user-facing errors (exit code 2)."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        """One paragraph: location, problem, remedy."""
        parts = []
        if self.where:
            parts.append(f"{self.where}:")
        parts.append(self.message)
        text = _sentence(" ".join(parts))
        if self.hint:
            hint = self.hint.strip()
            text += " " + _sentence(hint[:1].upper() + hint[1:])
        return text


class ConfigError(MlprojError):
    """The project file is invalid (syntax, schema, expression, estimator)."""


class DataError(MlprojError):
    """The catalogue cannot be used as the project file says."""


class RunError(MlprojError):
    """A run cannot be made (every fit failed) or its folder is missing, incomplete or stale."""


class StorageError(MlprojError):
    """The file system refused a file mlproj reads or writes: full disk, no permission, a file
    where a folder should be, a symlink loop, a name too long."""


# errno -> (what it means, what to do): the faults of the machine or of the project folder that a
# user can fix, unlike a bug. Everything else (an interruption, a closed pipe) stays what it is.
_STORAGE_FAULTS = {
    errno.ENOSPC: ("the disk is full (no space left on the device)",
                   "free some space on that disk (`mlproj cache prune` removes fits the project no longer "
                   "uses), then run the command again"),
    errno.EDQUOT: ("the disk quota is exceeded",
                   "free some space within your quota (`mlproj cache prune` removes fits the project no longer "
                   "uses), then run the command again"),
    errno.EACCES: ("permission denied", "make it {able} for you (chmod/chown), or work on a copy of the project "
                                        "in a folder you own"),
    errno.EPERM: ("the operation is not permitted", "make it {able} for you (chmod/chown), or work on a copy of "
                                                    "the project in a folder you own"),
    errno.EROFS: ("the file system is read-only", "make it writable (remount it), or work on a copy of the "
                                                  "project in a writable folder"),
    errno.ENAMETOOLONG: ("the name is too long for the file system", "use a shorter file or folder name"),
    errno.ELOOP: ("it is a symbolic link that leads back to itself (a loop)", "remove or fix the symbolic link"),
    errno.EISDIR: ("it is a folder, where a file is needed", "remove or rename that folder"),
    errno.ENOTDIR: ("it is a file, where a folder is needed", "remove or rename that file"),
    errno.EEXIST: ("it is a file, where a folder is needed", "remove or rename that file"),
}
STORAGE_ERRNOS = frozenset(_STORAGE_FAULTS)


def storage_error(exc: OSError, action: str = "use", path: Path | str | None = None) -> StorageError | None:
    """The StorageError for a file-system fault (`cannot <action> <path>: <meaning>. <remedy>`), or
    None when `exc` is no such fault. `path`: the file mlproj meant (default: the one the error names)."""
    if not isinstance(exc, OSError) or exc.errno not in _STORAGE_FAULTS:
        return None
    meaning, hint = _STORAGE_FAULTS[exc.errno]
    where = path if path is not None else exc.filename
    if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        named = [Path(name) for name in (exc.filename, exc.filename2) if name is not None]
        blocking = next(filter(None, (_in_the_way(p, folder=exc.errno != errno.EISDIR) for p in named)), None)
        if blocking is not None and where is not None and Path(where) != blocking:
            meaning = meaning.replace("it is", f"{printable(str(blocking))} is", 1)
        elif blocking is not None:
            where = blocking
    hint = hint.format(able=_able(action))
    if where is None:
        return StorageError(f"cannot {action} a file: {meaning}", hint=hint)
    return StorageError(f"cannot {action} {printable(str(where))}: {meaning}", hint=hint)


def _able(action: str) -> str:
    return "readable" if action.startswith("read") else "writable"


def _in_the_way(path: Path, *, folder: bool) -> Path | None:
    """The path that blocks `path`: the first of it and its parents that exists and is not a folder
    (folder=True), or `path` itself when it is a folder (folder=False)."""
    if not folder:
        return path if path.is_dir() else None
    for candidate in (*reversed(path.parents), path):
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


# C0 and C1 control characters except tab and newline, DEL, lone surrogates (undecodable bytes of a
# file name) and the two non-characters XML 1.0 forbids.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """`text` safe for a terminal and for XML: control characters become `\\x1b`-style escapes (a
    project name or column header could otherwise recolour the terminal, retitle its window, or make
    a JUnit report ill-formed XML); every other character, any Unicode, is kept."""
    return _UNPRINTABLE.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."
