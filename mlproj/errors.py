"""Errors a user can cause.

Every such error carries a message written for a scientist: what is wrong, where
(file, line, field or column) and what to do about it. The CLI turns them into
exit code 2 without a traceback; anything else is a bug in mlproj.
"""

from __future__ import annotations


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


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."
