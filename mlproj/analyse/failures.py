"""How failed fits are reported: by `mlproj run` before its tables and by the verdict's warnings.

Kept apart from mlproj.verdict.judge, which imports the statistics (numpy): `mlproj verdict` on an
up-to-date run prints these lines without importing it.
"""

from __future__ import annotations

from mlproj.analyse.types import Summary


def failed_fit_warnings(summary: Summary) -> list[str]:
    """One line per model with failed fits; a model whose every fit failed takes no part."""
    lines = []
    for model in summary.models:
        failed, total = model.failed_tasks, model.n_tasks
        if failed:
            left_out = ": it takes no part in the selection and comparisons" if failed == total else ""
            lines.append(f"{model.name}: {failed} of {total} fits failed ({'; '.join(model.errors[:2])})" + left_out)
    return lines
