"""Tests of mlproj.store.tables: columns of numbers kept with a run, written atomically."""

from __future__ import annotations

import numpy as np
import pytest

from mlproj.errors import RunError
from mlproj.store.tables import read_columns, write_columns


def test_columns_round_trip(tmp_path):
    columns = {"row": np.arange(5), "y": np.array([0, 1, 1, 0, 1]), "hgb|p[star]": np.linspace(0, 1, 5, dtype=np.float32)}
    path = tmp_path / "evaluation" / "development.parquet"
    write_columns(path, columns)
    back = read_columns(path)
    assert list(back) == list(columns)
    for name, values in columns.items():
        np.testing.assert_array_equal(back[name], values)
        assert back[name].dtype == values.dtype
    assert not list(path.parent.glob(".*.tmp"))


def test_a_missing_or_damaged_file_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="missing"):
        read_columns(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(RunError, match="damaged"):
        read_columns(bad)
