"""Columns of numbers stored with a run (Parquet): what the report's figures are drawn from.

A run keeps the per-object predictions its figures need (`evaluation/`), so `mlproj report`
can draw them again after the cache is pruned and others can check them (paper §6.2). Parquet
holds typed columns compactly and is read column by column; pyarrow is a dependency already.
Written atomically like every file a later command reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlproj.errors import RunError, storage_error
from mlproj.store.files import atomic_write


def write_columns(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length 1-d arrays as the columns of a Parquet file, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: np.asarray(values) for name, values in columns.items()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, "create the folder", path.parent) or exc from None
    with atomic_write(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")


def read_columns(path: Path) -> dict[str, np.ndarray]:
    """The columns of a file written by `write_columns`; a damaged one is a RunError naming it."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise RunError(f"{path} is missing", hint="run `mlproj run --rerun` to write the run again") from None
    except OSError as exc:
        error = storage_error(exc, "read", path)
        if error is not None:
            raise error from None
        raise RunError(f"{path} is damaged ({exc})", hint="run `mlproj run --rerun` to write the run again") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors for a damaged file have no common base
        raise RunError(f"{path} is damaged ({type(exc).__name__})",
                       hint="run `mlproj run --rerun` to write the run again") from None
    return {name: table.column(name).to_numpy() for name in table.column_names}
